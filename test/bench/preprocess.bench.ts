// Audio preprocessing cost per second of audio: each stage alone and the whole chain (denoise off and on),
// for 8 kHz and 44.1 kHz input to 16 kHz, streamed in 20 ms frames and as one whole-file call, next to a
// plain Float32Array copy of the same audio in the same run.
// Run: npx tsx test/bench/preprocess.bench.ts  (writes test/bench/results/preprocess.json)
import { existsSync } from 'node:fs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createDcBlocker } from '../../src/audio/stages/dc.js';
import { loadDenoiser } from '../../src/audio/stages/denoise.js';
import { createGainNormalizer } from '../../src/audio/stages/gain.js';
import { createPreprocessor } from '../../src/audio/stages/pipeline.js';
import { createResampler, resamplerInfo, resamplerUsesSimd, setResamplerJsFallback } from '../../src/audio/stages/resample.js';
import type { AudioStage } from '../../src/audio/stages/stage.js';
import { resample } from '../../src/audio/resample.js';
import { Prng } from '../../src/util/prng.js';
import { SOUNDS, readSpeech } from '../helpers/audio.js';
import { fmt, summarize } from './stats.js';

const OUT_RATE = 16000;
const SECONDS = 10;
const WARMUP_ROUNDS = 5;
const ROUNDS = 30;

interface Row {
  inputRate: number;
  operation: string;
  mode: 'frames' | 'file';
  usPerAudioSecond: ReturnType<typeof summarize>;
  xRealTime: number;
  xCopy: number;
}

/** SECONDS of speech (a prompt repeated, or a modulated tone without the sounds) at `rate`, with a little noise. */
function audio(rate: number): Float32Array {
  let base: Float32Array;
  if (existsSync(SOUNDS)) {
    base = Float32Array.from(readSpeech('queue-thankyou'), (v) => v / 32768);
  } else {
    base = new Float32Array(16000);
    for (let i = 0; i < base.length; i++) base[i] = 0.3 * Math.sin(i / 5) * Math.abs(Math.sin(i / 2000));
  }
  const up = rate === 8000 ? base : resample(base, 8000, rate);
  const out = new Float32Array(SECONDS * rate);
  const rng = new Prng(rate);
  for (let i = 0; i < out.length; i++) out[i] = (up[i % up.length] as number) + 0.003 * (2 * rng.next() - 1);
  return out;
}

type Runner = (x: Float32Array, mode: 'frames' | 'file') => void;

/** A stage or preprocessor fed the whole signal, in frames or at once, then flushed (which also resets it). */
function through(stage: Pick<AudioStage, 'process' | 'flush'>, frame: number): Runner {
  return (x, mode) => {
    if (mode === 'file') stage.process(x);
    else for (let off = 0; off < x.length; off += frame) stage.process(x.subarray(off, Math.min(x.length, off + frame)));
    stage.flush();
  };
}

let sink = 0;
const copy: Runner = (x, mode) => {
  if (mode === 'file') sink += x.slice().length;
  else for (let off = 0; off < x.length; off += x.length / (SECONDS * 50)) sink += x.slice(off, off + x.length / (SECONDS * 50)).length;
};

const denoiser = await loadDenoiser({ onWarning: (m) => console.warn(m) });
if (!denoiser) console.warn('RNNoise unavailable: the denoise rows are left out');
if (!resamplerUsesSimd()) console.warn('WebAssembly SIMD unavailable: the resampler rows measure the JS loop');

const started = Date.now();
const rows: Row[] = [];
for (const rate of [8000, 44100]) {
  const x = audio(rate);
  const x16 = resample(x, rate, OUT_RATE);
  const frameIn = rate / 50;
  const frame16 = OUT_RATE / 50;
  setResamplerJsFallback(true);
  const jsResampler = createResampler(rate, OUT_RATE);
  setResamplerJsFallback(false);
  const cases: { name: string; input: Float32Array; run: Runner }[] = [
    { name: 'Float32Array copy (baseline)', input: x, run: copy },
    { name: 'dc', input: x, run: through(createDcBlocker(rate), frameIn) },
    { name: `resample (${resamplerInfo(rate, OUT_RATE).taps} taps, SIMD)`, input: x, run: through(createResampler(rate, OUT_RATE), frameIn) },
    { name: 'resample (JS loop)', input: x, run: through(jsResampler, frameIn) },
    { name: 'gain (at 16 kHz)', input: x16, run: through(createGainNormalizer(OUT_RATE), frame16) },
    ...(denoiser ? [{ name: 'denoise (at 16 kHz)', input: x16, run: through(denoiser.create(OUT_RATE), frame16) }] : []),
    { name: 'chain, denoise off', input: x, run: through(createPreprocessor({ inputRate: rate, outputRate: OUT_RATE, denoise: false }), frameIn) },
    ...(denoiser
      ? [{ name: 'chain, denoise on', input: x, run: through(createPreprocessor({ inputRate: rate, outputRate: OUT_RATE, denoise: true, denoiser }), frameIn) }]
      : []),
  ];
  for (const mode of ['frames', 'file'] as const) {
    const samples = cases.map((): number[] => []);
    // Cases take turns round by round, so drift in CPU frequency or load hits them alike.
    for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
      for (let k = 0; k < cases.length; k++) {
        const j = (k + r) % cases.length;
        const c = cases[j]!;
        const t0 = process.hrtime.bigint();
        c.run(c.input, mode);
        const us = Number(process.hrtime.bigint() - t0) / 1000 / SECONDS;
        if (r >= WARMUP_ROUNDS) samples[j]!.push(us);
      }
    }
    const stats = samples.map((s) => summarize(s));
    const copyP50 = stats[0]!.p50;
    cases.forEach((c, j) => {
      const s = stats[j]!;
      rows.push({ inputRate: rate, operation: c.name, mode, usPerAudioSecond: s, xRealTime: 1e6 / s.p50, xCopy: s.p50 / copyP50 });
    });
  }
}

console.log('\n## Audio preprocessing: cost per second of audio (-> 16 kHz)\n');
console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, Node ${process.version}; ${SECONDS} s of audio per round, ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up rounds; frames = 20 ms blocks\n`);
console.log('| input | operation | mode | us per audio s p50 | p95 | x real time | x copy |');
console.log('|---:|---|---|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.inputRate} Hz | ${r.operation} | ${r.mode} | ${fmt(r.usPerAudioSecond.p50)} | ${fmt(r.usPerAudioSecond.p95)} | ${fmt(r.xRealTime, 0)} | ${fmt(r.xCopy, 1)} |`,
  );
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
if (sink < 0) console.log(sink);

const outDir = new URL('./results/', import.meta.url);
mkdirSync(outDir, { recursive: true });
writeFileSync(
  new URL('preprocess.json', outDir),
  `${JSON.stringify({ bench: 'preprocess', date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cpus: cpus().length, seconds: SECONDS, rounds: ROUNDS, outputRate: OUT_RATE, simd: resamplerUsesSimd(), rows }, null, 2)}\n`,
);
