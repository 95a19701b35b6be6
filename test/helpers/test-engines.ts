// Fake engines for worker tests, loaded by `theo worker --engine-module test/helpers/test-engines.ts`
// (the worker runs under `node --import tsx`). The manifest's `defaults.options.testEngine` picks one:
//   echo   text = "samples=N rms=R" of the audio; streams with partials ("partial N") and finals
//   slow   like echo, but sleeps `delayMs` (default 2000) in 20 ms steps first, honouring the AbortSignal
//   crash  like slow, but a clip whose first sample is exactly CRASH_MAGIC makes it throw outside any promise
//   batch  echo without openStream (the worker buffers utterances and calls transcribe)
//   block  like echo, but busy-waits `delayMs` first without yielding (a long native call: the worker's
//          event loop, Health included, is stuck meanwhile)
// `loadMs` delays load() (Health says LOADING meanwhile); `failLoad` makes load() reject; `failLoadWhile`
// (a path) makes it reject while that file exists: a broken model a test repairs by removing the file.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine, EngineCapabilities, EngineResult, EngineStream, StreamHypothesis, StreamOptions, TranscribeOptions } from '../../src/engines/engine.js';
import { CancelledError, TheoError } from '../../src/errors/index.js';
import { MANIFEST_FILE, readManifest, type ModelEntry } from '../../src/registry/manifest.js';
import type { WorkerCommandFactory } from '../../src/workers/manager.js';

export const CRASH_MAGIC = 0.123;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function describeAudio(audio: Float32Array): string {
  let sum = 0;
  for (const s of audio) sum += s * s;
  const rms = audio.length > 0 ? Math.sqrt(sum / audio.length) : 0;
  return `samples=${audio.length} rms=${rms.toFixed(3)}`;
}

interface TestEngineOptions {
  kind: 'echo' | 'slow' | 'crash' | 'batch' | 'block';
  sampleRate: number;
  delayMs: number;
  loadMs: number;
  failLoad: boolean;
  failLoadWhile: string | undefined;
}

class TestEngine implements Engine {
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  openStream?: (options: StreamOptions, onHypothesis: (h: StreamHypothesis) => void) => EngineStream;

  constructor(private readonly o: TestEngineOptions) {
    this.name = `test-${o.kind}`;
    this.capabilities = {
      architecture: 'ctc',
      nativePartials: o.kind !== 'batch',
      languages: ['en'],
      translate: false,
      segmentTimestamps: true,
      wordTimestamps: false,
      hotWords: false,
      languageDetection: false,
      sampleRate: o.sampleRate,
    };
    if (o.kind !== 'batch') this.openStream = (options, onHypothesis) => new EchoStream(o.sampleRate, options, onHypothesis);
  }

  async load(): Promise<void> {
    if (this.o.loadMs > 0) await sleep(this.o.loadMs);
    if (this.o.failLoad) throw new TheoError('model_invalid', 'test engine: failLoad is set');
    if (this.o.failLoadWhile !== undefined && existsSync(this.o.failLoadWhile)) throw new TheoError('model_invalid', `test engine: ${this.o.failLoadWhile} exists`);
  }

  async transcribe(audio: Float32Array, options: TranscribeOptions): Promise<EngineResult> {
    if (this.o.kind === 'crash' && audio[0] === Math.fround(CRASH_MAGIC)) {
      // An engine bug outside any promise chain: the worker must die, not hang.
      setTimeout(() => {
        throw new Error('test engine crashed on the magic input');
      }, 0);
      await sleep(60_000);
    }
    if (this.o.kind === 'slow' || this.o.kind === 'crash') {
      for (let waited = 0; waited < this.o.delayMs; waited += 20) {
        if (options.signal?.aborted) throw new CancelledError('test engine: aborted', { waited });
        await sleep(20);
      }
    }
    if (this.o.kind === 'block') {
      const until = Date.now() + this.o.delayMs;
      while (Date.now() < until) {
        // busy: nothing else runs in this process
      }
    }
    if (options.signal?.aborted) throw new CancelledError('test engine: aborted');
    if (audio.length === 1 && audio[0] === -1) throw new TheoError('engine_failed', 'test engine: asked to fail');
    const duration = audio.length / this.o.sampleRate;
    const text = describeAudio(audio);
    return {
      text,
      language: options.language ?? 'en',
      duration,
      segments: [{ id: 0, start: 0, end: duration, text, tokens: [1, 2, 3], temperature: options.temperature, avgLogprob: -0.1, compressionRatio: 1, noSpeechProb: 0 }],
      confidence: 0.9,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Partials "partial N" (samples pushed in this utterance so far) after every push; the final describes the utterance. */
class EchoStream implements EngineStream {
  private chunks: Float32Array[] = [];
  private start = 0;
  private pushed = 0;
  private prompt: string | undefined;

  constructor(
    private readonly rate: number,
    options: StreamOptions,
    private readonly onHypothesis: (h: StreamHypothesis) => void,
  ) {
    this.prompt = options.prompt;
  }

  push(pcm: Float32Array): void {
    this.chunks.push(pcm);
    this.pushed += pcm.length;
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    this.onHypothesis({ kind: 'partial', text: `partial ${n}`, start: this.start / this.rate, end: this.pushed / this.rate });
  }

  endUtterance(): Promise<StreamHypothesis> {
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const audio = new Float32Array(n);
    let o = 0;
    for (const c of this.chunks) {
      audio.set(c, o);
      o += c.length;
    }
    this.chunks = [];
    const h: StreamHypothesis = { kind: 'final', text: `${this.prompt ? `[${this.prompt}] ` : ''}${describeAudio(audio)}`, start: this.start / this.rate, end: this.pushed / this.rate, confidence: 0.8 };
    this.start = this.pushed;
    return Promise.resolve(h);
  }

  updatePrompt(prompt: string | undefined): void {
    this.prompt = prompt;
  }

  close(): void {
    this.chunks = [];
  }
}

export function createEngine(entry: ModelEntry): Engine {
  const opts = entry.manifest.defaults.options ?? {};
  const kind = opts.testEngine ?? 'echo';
  if (kind !== 'echo' && kind !== 'slow' && kind !== 'crash' && kind !== 'batch' && kind !== 'block') throw new TheoError('model_invalid', `unknown testEngine '${String(kind)}'`);
  return new TestEngine({
    kind,
    sampleRate: entry.manifest.sampleRate,
    delayMs: typeof opts.delayMs === 'number' ? opts.delayMs : 2000,
    loadMs: typeof opts.loadMs === 'number' ? opts.loadMs : 0,
    failLoad: opts.failLoad === true,
    failLoadWhile: typeof opts.failLoadWhile === 'string' ? opts.failLoadWhile : undefined,
  });
}

// ---- Running test workers -------------------------------------------------------------------------
// Workers run the TypeScript sources under tsx (`node --import tsx`), so the tests need no build:
// a one-line ESM script calls the CLI's main() with the worker arguments.

export const TEST_ENGINES_MODULE = fileURLToPath(import.meta.url);
const ROOT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const MAIN_SCRIPT = "const { main } = await import('./src/cli/main.ts'); await main(['node', 'theo', ...process.argv.slice(1)]);";

/** `node --import tsx -e <main>` plus these arguments, run from the project root. */
export function theoTsxArgs(args: readonly string[]): string[] {
  return ['--import', 'tsx', '--input-type=module', '-e', MAIN_SCRIPT, ...args];
}

/** Writes models/NAME/theo.yaml for a test engine under `root`; returns its entry. */
export function writeTestModel(root: string, name: string, options: Record<string, string | number | boolean>, sampleRate = 16000): ModelEntry {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const manifest = {
    name,
    engine: 'whisper',
    architecture: 'ctc',
    files: {},
    sampleRate,
    languages: ['en'],
    defaults: { options },
  };
  const file = join(dir, MANIFEST_FILE);
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  return readManifest(file);
}

/** The manager's command for test workers: `theo worker` under tsx with this module's engines. */
export const testWorkerCommand: WorkerCommandFactory = (entry, ctx) => ({
  file: process.execPath,
  args: theoTsxArgs(['worker', '--model', entry.manifest.name, '--model-dir', entry.dir, '--host', ctx.host, '--port', String(ctx.port), '--engine-module', TEST_ENGINES_MODULE, '--log-level', 'warn', '--watch-stdin', '--token-stdin']),
  cwd: ROOT_DIR,
});

export interface SpawnedWorker {
  child: ChildProcess;
  port: number;
  address: string;
  /** What its calls must carry. */
  token: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnTestWorkerOptions {
  /** Default: a random one. */
  token?: string;
  /** How the worker gets it: the first line of stdin (as `theo serve` does, the default), or THEO_WORKER_TOKEN. */
  tokenVia?: 'stdin' | 'env';
  /** Listen address (default 127.0.0.1). */
  host?: string;
  env?: NodeJS.ProcessEnv;
}

/** Spawns `theo worker` for `entry` and waits for its listening line. */
export async function spawnTestWorker(entry: ModelEntry, extraArgs: readonly string[] = [], o: SpawnTestWorkerOptions = {}): Promise<SpawnedWorker> {
  const token = o.token ?? randomBytes(24).toString('base64url');
  const via = o.tokenVia ?? 'stdin';
  const cmd = testWorkerCommand(entry, { host: o.host ?? '127.0.0.1', port: 0, logLevel: 'warn' });
  const args = cmd.args.filter((a) => a !== '--watch-stdin' && (via === 'stdin' || a !== '--token-stdin'));
  const env = { ...process.env, ...(via === 'env' ? { THEO_WORKER_TOKEN: token } : {}), ...o.env };
  const child = spawn(cmd.file, [...args, ...extraArgs], { cwd: cmd.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined); // a worker that exits at once closes its stdin under the write
  child.stdin.end(via === 'stdin' ? `${token}\n` : '');
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not report its port; stderr: ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"event":"listening","port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code ?? signal}) before listening; stderr: ${err}`));
    });
  });
  return { child, port, address: `127.0.0.1:${port}`, token, stdout: () => out, stderr: () => err, exited };
}

/** True while a process with that pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true (generous timeouts: no wall-clock assertions). */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
