// npm run eval:wer — word error rate and real-time factor of Theo's batch pipeline against the same
// model decoding the same files in-process (the baseline), over the English prompts of Debian's
// asterisk-core-sounds-en-wav scored against core-sounds-en.txt (see test/helpers/corpus.ts).
//
//   direct: read the WAV bytes, decodeAudio to the engine's rate, engine.transcribe — in this process;
//           the clock covers decode + transcribe of each file.
//   theo:   `theo serve --preload` as a child process; each file's bytes POSTed to
//           /v1/audio/transcriptions (multipart, response_format=json); the clock covers each request
//           end to end (upload, multipart, decode, preprocessing, scheduler, worker IPC, transcribe,
//           response). Two variants, one after the other on the same server: preprocessing off
//           (preprocess=false: only the resampler) and on (the server's defaults: DC removal while the input has
//           an offset, RNNoise while a telephone line is noisy; gain is off by default). Both send itn=false, so the text is the recogniser's.
//
// Both paths run one file at a time, after one untimed warm-up file. WER = word errors / reference words
// over all files (normalizeText on both sides); RTF = processing seconds / audio seconds.
//
// Options: --limit N (N prompts spread evenly over the sorted list), --noise-snr DB (add white noise at DB
// dB below each prompt's speech level, seeded per prompt, to every path's input: a noisy telephone line),
// --model NAME (default pocketsphinx-en-us), --json FILE (default test/bench/results/wer.json), --rtp-ports A-B (default
// 42940-42959), --no-build (skip `npm run -s build`).
// Exit status: 0 done; 1 Theo's WER (preprocessing off) is worse than the baseline's, or preprocessing on is
// worse than off, by more than 0.5 percentage points; 2 setup error (corpus or model missing, server did not start).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeAudio } from '../../src/audio/decode.js';
import { encodeWav, readWavFloat } from '../../src/audio/wav.js';
import { createEngineFor } from '../../src/engines/factory.js';
import type { TranscribeOptions } from '../../src/engines/engine.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { Prng } from '../../src/util/prng.js';
import { PROMPTS_DIR, TRANSCRIPTS_FILE, corpusAvailable, listPrompts, normalizeText, wordErrors, type Prompt } from '../helpers/corpus.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const THEO_BIN = resolve(ROOT, 'bin/theo.js');
/** Theo may be this much worse than the baseline (absolute WER) before the run fails. */
const TOLERANCE = 0.005;

interface PathResult {
  text: string;
  ms: number;
  errors: number;
  error?: string;
}

/** The Theo variants: label, and the form fields each request adds. */
const VARIANTS = [
  { key: 'theo', label: 'Theo, preprocessing off', fields: { preprocess: 'false', itn: 'false' } },
  { key: 'theoPre', label: 'Theo, preprocessing on (defaults: DC and RNNoise, each engaged only when needed)', fields: { itn: 'false' } },
] as const;
type PathKey = 'direct' | (typeof VARIANTS)[number]['key'];

interface FileResult {
  name: string;
  audioSeconds: number;
  reference: string;
  direct: PathResult;
  theo: PathResult;
  theoPre: PathResult;
  refWords: number;
}

interface PathSummary {
  files: number;
  failed: number;
  refWords: number;
  errors: number;
  wer: number;
  audioSeconds: number;
  processingSeconds: number;
  rtf: number;
  p50Ms: number;
  p95Ms: number;
}

class SetupError extends Error {}

function parseOptions(): { limit: number | undefined; noiseSnr: number | undefined; model: string; json: string; rtpPorts: string; build: boolean; argv: string[] } {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      limit: { type: 'string' },
      'noise-snr': { type: 'string' },
      model: { type: 'string', default: 'pocketsphinx-en-us' },
      json: { type: 'string', default: 'test/bench/results/wer.json' },
      'rtp-ports': { type: 'string', default: '42940-42959' },
      'no-build': { type: 'boolean', default: false },
    },
    strict: true,
  });
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new SetupError(`--limit must be a positive integer, got '${values.limit}'`);
  }
  let noiseSnr: number | undefined;
  if (values['noise-snr'] !== undefined) {
    noiseSnr = Number(values['noise-snr']);
    if (!Number.isFinite(noiseSnr) || noiseSnr < -10 || noiseSnr > 80) throw new SetupError(`--noise-snr must be a number of dB in [-10, 80], got '${values['noise-snr']}'`);
  }
  return { limit, noiseSnr, model: values.model, json: values.json, rtpPorts: values['rtp-ports'], build: !values['no-build'], argv };
}

/**
 * The prompt with white Gaussian noise added at `snrDb` below its speech level (RMS of the 10 ms frames above
 * -40 dBFS), seeded, as a 16-bit WAV at the prompt's rate.
 */
function withNoise(wavBytes: Buffer, snrDb: number, seed: number): Buffer {
  const wav = readWavFloat(wavBytes);
  const x = wav.samples;
  const frame = Math.max(1, Math.round(wav.sampleRate / 100));
  let energy = 0;
  let count = 0;
  for (let i = 0; i + frame <= x.length; i += frame) {
    let e = 0;
    for (let j = 0; j < frame; j++) e += x[i + j]! ** 2;
    if (e / frame > 1e-4) {
      energy += e;
      count += frame;
    }
  }
  const sigma = Math.sqrt(energy / Math.max(1, count)) / 10 ** (snrDb / 20);
  const rng = new Prng(seed);
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const v = Math.round((x[i]! + g * sigma) * 32768);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return encodeWav({ sampleRate: wav.sampleRate, channels: 1, samples: out });
}

/** `n` prompts spread evenly over the list (all of them when n is undefined or not smaller). */
function pick(prompts: Prompt[], n: number | undefined): Prompt[] {
  if (n === undefined || n >= prompts.length) return prompts;
  const step = prompts.length / n;
  return Array.from({ length: n }, (_, i) => prompts[Math.floor(i * step)]!);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function summarise(results: FileResult[], path: PathKey): PathSummary {
  const refWords = results.reduce((s, r) => s + r.refWords, 0);
  const errors = results.reduce((s, r) => s + r[path].errors, 0);
  const audioSeconds = results.reduce((s, r) => s + r.audioSeconds, 0);
  const processingSeconds = results.reduce((s, r) => s + r[path].ms, 0) / 1000;
  const ms = results.map((r) => r[path].ms).sort((a, b) => a - b);
  return {
    files: results.length,
    failed: results.filter((r) => r[path].error !== undefined).length,
    refWords,
    errors,
    wer: refWords === 0 ? 0 : errors / refWords,
    audioSeconds,
    processingSeconds,
    rtf: audioSeconds === 0 ? 0 : processingSeconds / audioSeconds,
    p50Ms: percentile(ms, 50),
    p95Ms: percentile(ms, 95),
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<number | null>;
}

/** `theo serve --preload` on a free HTTP port; resolves once it prints `theo listening on URL`. */
async function startServer(model: string, rtpPorts: string): Promise<Server> {
  const child = spawn(process.execPath, [THEO_BIN, 'serve', '--preload', '--port', '0', '--rtp-ports', rtpPorts, '--model', model], {
    cwd: ROOT,
    env: { ...process.env, THEO_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 64_000) err = err.slice(-32_000);
  });
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new SetupError(`theo serve did not print 'listening on' within 180 s; stderr: ${err}`));
    }, 180_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /theo listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new SetupError(`theo serve exited (${String(code)}) before listening; stderr: ${err}`));
    });
  });
  child.stdout.resume();
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function postFile(url: string, model: string, name: string, bytes: Buffer, fields: Record<string, string>): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: 'audio/wav' }), `${name.replace(/\//g, '_')}.wav`);
  form.append('model', model);
  form.append('response_format', 'json');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
  const body = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.slice(0, 300)}`);
  const parsed = JSON.parse(body) as { text?: unknown };
  if (typeof parsed.text !== 'string') throw new Error(`response without text: ${body.slice(0, 300)}`);
  return parsed.text;
}

function progress(label: string, i: number, n: number, t0: number): void {
  if (i === n || i % 25 === 0) process.stderr.write(`  ${label}: ${i}/${n} files, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

const fmt = (x: number, d: number): string => x.toFixed(d);
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

function table(direct: PathSummary, variants: Array<{ label: string; s: PathSummary }>): string {
  const row = (label: string, s: PathSummary): string =>
    `| ${label} | ${s.files} | ${s.failed} | ${s.refWords} | ${s.errors} | **${pct(s.wer)}** | ${fmt(s.audioSeconds, 1)} | ${fmt(s.processingSeconds, 1)} | **${fmt(s.rtf, 3)}** | ${fmt(s.p50Ms, 0)} | ${fmt(s.p95Ms, 0)} |`;
  return [
    '| path | files | failed | ref words | word errors | WER | audio s | processing s | RTF | p50 ms | p95 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    row('direct (engine in-process, baseline)', direct),
    ...variants.map((v) => row(`${v.label} (\`theo serve\`, HTTP API)`, v.s)),
  ].join('\n');
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (!corpusAvailable()) throw new SetupError(`the corpus is missing (${PROMPTS_DIR}, ${TRANSCRIPTS_FILE}): apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en`);
  if (opts.build) {
    process.stderr.write('building dist (npm run -s build)...\n');
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }

  const all = listPrompts();
  const prompts = pick(all, opts.limit);
  const entry = ModelRegistry.scan(resolve(ROOT, 'models')).get(opts.model);
  if (entry.state !== 'available') throw new SetupError(`model '${opts.model}' is not available: ${entry.reason ?? 'files missing'}`);
  process.stderr.write(`${prompts.length} of ${all.length} prompts, model ${opts.model}\n`);

  const topts: TranscribeOptions = { task: 'transcribe', language: entry.manifest.defaults.language, hotWords: [], temperature: 0, wordTimestamps: false };
  const files = prompts.map((p, i) => {
    const bytes = readFileSync(p.path);
    return { prompt: p, bytes: opts.noiseSnr === undefined ? bytes : withNoise(bytes, opts.noiseSnr, i + 1) };
  });
  if (opts.noiseSnr !== undefined) process.stderr.write(`white noise added at ${opts.noiseSnr} dB below each prompt's speech level\n`);
  const results: FileResult[] = files.map(({ prompt }) => ({
    name: prompt.name,
    audioSeconds: 0,
    reference: prompt.text,
    refWords: wordErrors(prompt.text, '').refWords,
    direct: { text: '', ms: 0, errors: 0 },
    theo: { text: '', ms: 0, errors: 0 },
    theoPre: { text: '', ms: 0, errors: 0 },
  }));

  // Baseline: the engine in this process.
  const engine = await createEngineFor(entry);
  await engine.load();
  const rate = engine.capabilities.sampleRate;
  try {
    const warm = files[0]!;
    await engine.transcribe((await decodeAudio(warm.bytes, { targetRate: rate })).samples, topts);
    const t0 = performance.now();
    for (const [i, f] of files.entries()) {
      const r = results[i]!;
      const start = performance.now();
      try {
        const audio = await decodeAudio(f.bytes, { targetRate: rate });
        const out = await engine.transcribe(audio.samples, topts);
        r.direct.ms = performance.now() - start;
        r.direct.text = out.text;
        r.audioSeconds = audio.duration;
      } catch (err) {
        r.direct.ms = performance.now() - start;
        r.direct.error = errorText(err);
      }
      progress('direct', i + 1, files.length, t0);
    }
  } finally {
    await engine.close();
  }

  // Theo: the server as a child process, one request at a time.
  process.stderr.write('starting theo serve --preload...\n');
  const server = await startServer(opts.model, opts.rtpPorts);
  const kill = (): void => void server.child.kill('SIGKILL');
  process.once('exit', kill);
  let exitCode: number | null = null;
  try {
    for (const v of VARIANTS) {
      const warm = files[0]!;
      await postFile(server.url, opts.model, warm.prompt.name, warm.bytes, v.fields);
      const t0 = performance.now();
      for (const [i, f] of files.entries()) {
        const r = results[i]![v.key];
        const start = performance.now();
        try {
          r.text = await postFile(server.url, opts.model, f.prompt.name, f.bytes, v.fields);
        } catch (err) {
          r.error = errorText(err);
        }
        r.ms = performance.now() - start;
        progress(v.key, i + 1, files.length, t0);
      }
    }
  } finally {
    exitCode = await server.stop();
    process.off('exit', kill);
  }

  for (const r of results) {
    for (const key of ['direct', 'theo', 'theoPre'] as const) r[key].errors = wordErrors(r.reference, r[key].text).errors;
  }
  const direct = summarise(results, 'direct');
  const theo = summarise(results, 'theo');
  const theoPre = summarise(results, 'theoPre');
  const differing = results.filter((r) => normalizeText(r.direct.text) !== normalizeText(r.theo.text));
  const preDiffering = results.filter((r) => normalizeText(r.theo.text) !== normalizeText(r.theoPre.text));
  const deltaPts = (theo.wer - direct.wer) * 100;
  const preDeltaPts = (theoPre.wer - theo.wer) * 100;
  const command = `npm run eval:wer${opts.argv.length > 0 ? ` -- ${opts.argv.join(' ')}` : ''}`;

  const jsonPath = resolve(ROOT, opts.json);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        command,
        machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
        model: opts.model,
        corpus: { dir: PROMPTS_DIR, transcripts: TRANSCRIPTS_FILE, prompts: all.length, evaluated: results.length },
        direct,
        theo,
        theoPreprocessed: theoPre,
        werDeltaPoints: deltaPts,
        preprocessingDeltaPoints: preDeltaPts,
        differingFiles: differing.length,
        preprocessingDifferingFiles: preDiffering.length,
        serverExitCode: exitCode,
        files: results,
      },
      null,
      2,
    )}\n`,
  );

  const lines = [
    '',
    `## WER: ${opts.model} on ${results.length} of ${all.length} asterisk-core-sounds-en prompts${opts.noiseSnr === undefined ? '' : `, white noise at ${opts.noiseSnr} dB SNR`}`,
    '',
    table(direct, VARIANTS.map((v) => ({ label: v.label, s: summarise(results, v.key) }))),
    '',
    `Theo (preprocessing off) − direct WER: ${deltaPts >= 0 ? '+' : ''}${deltaPts.toFixed(2)} percentage points. Files whose normalised texts differ between the paths: ${differing.length} of ${results.length}.`,
    `Preprocessing on − off WER: ${preDeltaPts >= 0 ? '+' : ''}${preDeltaPts.toFixed(2)} percentage points; ${preDiffering.length} files differ. Theo (on) / direct RTF: ${direct.rtf === 0 ? 'n/a' : (theoPre.rtf / direct.rtf).toFixed(2)}x.`,
    `Theo / direct RTF: ${direct.rtf === 0 ? 'n/a' : (theo.rtf / direct.rtf).toFixed(2)}x. Per-file results: ${opts.json}`,
    `Reproduce: ${command}`,
  ];
  for (const r of differing.slice(0, 10)) lines.push(`  differs: ${r.name}: direct "${normalizeText(r.direct.text)}" / theo "${normalizeText(r.theo.text)}"`);
  if (differing.length > 10) lines.push(`  ... and ${differing.length - 10} more (see ${opts.json})`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (exitCode !== 0) process.stderr.write(`note: theo serve exited with ${String(exitCode)} on SIGTERM\n`);

  if (theoPre.wer - theo.wer > TOLERANCE) {
    process.stderr.write(`FAIL: with preprocessing on the WER (${pct(theoPre.wer)}) is worse than with it off (${pct(theo.wer)}) by ${preDeltaPts.toFixed(2)} points.\n`);
    return 1;
  }
  if (theo.wer - direct.wer > TOLERANCE) {
    process.stderr.write(
      `FAIL: Theo's WER (${pct(theo.wer)}) is worse than the baseline's (${pct(direct.wer)}) by ${deltaPts.toFixed(2)} points, more than the ${TOLERANCE * 100} allowed; ` +
        `${theo.failed} Theo request(s) failed, ${differing.length} file(s) differ.\n`,
    );
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`eval:wer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  },
);
