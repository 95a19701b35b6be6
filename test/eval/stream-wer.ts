// npm run eval:stream — word error rate of a model's *streaming* path against its batch path, on the same
// audio, and how the per-utterance cepstral mean of PocketSphinx streams is chosen (see STREAM_PRIME_MS in
// src/engines/pocketsphinx/engine.ts).
//
// Corpus: the English prompts of asterisk-core-sounds-en-wav (8 kHz) scored against core-sounds-en.txt,
// 2N prompts spread evenly over the sorted list, split into two interleaved halves: the *fit* half (even
// positions) is what the model's `telephony_cmn` was measured on (--fit prints it), the *eval* half (odd
// positions) is scored. Each prompt goes through the session's preprocessing (DC, resample to the model's
// rate) and then, in-process:
//   batch:            engine.transcribe (the clip's own cepstral mean)
//   stream telephony: engine.openStream({ audioQuality: 'telephony' }), 20 ms pushes, endUtterance
//   stream primed:    the same without the quality hint: the first stream_prime_ms set the mean
// Reported per path: WER; for streams also where the first partial came (ms of audio pushed), CPU time
// spent until it, and the final pass (endUtterance) time.
//
// Options: --limit N (eval prompts, default 100), --model NAME (default pocketsphinx-en-us), --fit (print the
// mean cepstrum of the fit half as a telephony_cmn value and exit).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { preprocessFile } from '../../src/audio/stages/pipeline.js';
import { float32ToInt16 } from '../../src/audio/resample.js';
import { readWavFloat } from '../../src/audio/wav.js';
import type { Engine, StreamOptions } from '../../src/engines/engine.js';
import { createEngineFor } from '../../src/engines/factory.js';
import { Decoder } from '../../src/engines/pocketsphinx/native.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { corpusAvailable, listPrompts, normalizeText, wordErrors, type Prompt } from '../helpers/corpus.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values: args } = parseArgs({ options: { limit: { type: 'string', default: '100' }, model: { type: 'string', default: 'pocketsphinx-en-us' }, fit: { type: 'boolean', default: false } } });
if (!corpusAvailable()) {
  console.error('the corpus is missing: install asterisk-core-sounds-en-wav and asterisk-core-sounds-en');
  process.exit(2);
}
const entry = ModelRegistry.scan(resolve(ROOT, 'models')).get(args.model);
if (!entry) {
  console.error(`no model '${args.model}' in models/`);
  process.exit(2);
}
const rate = entry.manifest.sampleRate;
const limit = Number(args.limit);
const all = listPrompts();
const step = all.length / (2 * limit);
const spread = Array.from({ length: 2 * limit }, (_, i) => all[Math.floor(i * step)] as Prompt);
const fitSet = spread.filter((_, i) => i % 2 === 0);
const evalSet = spread.filter((_, i) => i % 2 === 1);

function load(p: Prompt): Float32Array {
  const w = readWavFloat(readFileSync(p.path));
  return preprocessFile(w.samples, w.sampleRate, { outputRate: rate, gain: false, denoise: false }).samples;
}

if (args.fit) {
  const { hmm, lm, dict } = entry.files;
  if (!hmm || !lm || !dict || entry.manifest.engine !== 'pocketsphinx') throw new Error('--fit needs a pocketsphinx model');
  const decoder = Decoder.create({ hmm, lm, dict });
  const mean = new Float64Array(13);
  for (const p of fitSet) {
    const m = decoder.cepstralMean(float32ToInt16(load(p)));
    if (!m) throw new Error('this PocketSphinx build gives no cepstral mean (no CMN control)');
    for (let j = 0; j < 13; j++) mean[j] = (mean[j] as number) + (m[j] as number) / fitSet.length;
  }
  decoder.free();
  console.log(`telephony_cmn over ${fitSet.length} prompts: "${Array.from(mean, (v) => v.toFixed(2)).join(',')}"`);
  process.exit(0);
}

const audio = evalSet.map(load);
const seconds = audio.reduce((s, a) => s + a.length / rate, 0);
const percentile = (a: number[], p: number): number => [...a].sort((x, y) => x - y)[Math.max(0, Math.ceil((p / 100) * a.length) - 1)] ?? Number.NaN;

function score(texts: string[]): string {
  let errors = 0;
  let words = 0;
  texts.forEach((t, i) => {
    const e = wordErrors(normalizeText((evalSet[i] as Prompt).text), normalizeText(t));
    errors += e.errors;
    words += e.refWords;
  });
  return `${((100 * errors) / words).toFixed(2)}% (${errors} errors / ${words} words)`;
}

async function batch(engine: Engine): Promise<string> {
  const texts: string[] = [];
  for (const a of audio) texts.push((await engine.transcribe(a, { task: 'transcribe', hotWords: [], temperature: 0, wordTimestamps: false })).text);
  return score(texts);
}

async function stream(engine: Engine, quality: StreamOptions['audioQuality']): Promise<string> {
  const texts: string[] = [];
  const firstAt: number[] = [];
  const firstCpu: number[] = [];
  const finalMs: number[] = [];
  const frame = Math.round(rate / 50);
  for (const a of audio) {
    let pushed = 0;
    let first: number | undefined;
    let cpu = 0;
    const s = engine.openStream?.({ task: 'transcribe', hotWords: [], interimResults: true, ...(quality ? { audioQuality: quality } : {}) }, (h) => {
      if (h.kind === 'partial') first ??= pushed;
    });
    if (!s) throw new Error(`${args.model} has no streams`);
    for (let at = 0; at < a.length; at += frame) {
      const waiting = first === undefined;
      const t0 = performance.now();
      pushed = Math.min(a.length, at + frame);
      s.push(a.subarray(at, at + frame));
      if (waiting) cpu += performance.now() - t0;
    }
    const t0 = performance.now();
    texts.push((await s.endUtterance()).text);
    finalMs.push(performance.now() - t0);
    s.close();
    if (first !== undefined) {
      firstAt.push((first / rate) * 1000);
      firstCpu.push(cpu);
    }
  }
  const p = (a: number[]): string => `${percentile(a, 50).toFixed(0)} / ${percentile(a, 95).toFixed(0)}`;
  return `${score(texts)} | ${firstAt.length}/${audio.length} | ${p(firstAt)} | ${p(firstCpu)} | ${p(finalMs)}`;
}

const engine = await createEngineFor(entry);
await engine.load();
console.log(`${args.model}: ${evalSet.length} eval prompts (${seconds.toFixed(1)} s), ${fitSet.length} fit prompts; options ${JSON.stringify(entry.manifest.defaults.options ?? {})}\n`);
console.log('| path | WER | utterances with a partial | first partial at, ms of audio p50 / p95 | CPU ms until it p50 / p95 | final pass ms p50 / p95 |');
console.log('|---|---:|---:|---:|---:|---:|');
console.log(`| batch | ${await batch(engine)} | | | | |`);
console.log(`| stream, telephony | ${await stream(engine, 'telephony')} |`);
console.log(`| stream, primed | ${await stream(engine, undefined)} |`);
await engine.close();
