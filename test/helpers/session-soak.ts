// The child process of test/integration/session-soak.test.ts, run as
//   node --expose-gc --import tsx test/helpers/session-soak.ts soak [minutes] | leaks   [--no-gain]
// so that memory and handle counts are measured in a process of its own, not inside vitest. It prints one
// line `SOAK_RESULT {json}` with what it measured; the test parses and asserts.
//
//   soak:  one 8 kHz session (resampled to the 16 kHz model rate, the production preprocessing chain but
//          RNNoise) with the real Silero runner and a fake worker, fed 30 minutes of real speech on a fake
//          clock. --no-gain turns the gain stage off, to compare by hand.
//   leaks: 20 concurrent sessions × 10 segments, then 200 create / one segment / close cycles, through a
//          SessionManager with its own shared timer; then shutdown and the runner's close.
//
// The fake worker (SoakLink) answers each utterance's is_last with a final a fixed time later on the fake
// clock, sends a partial every 0.5 s of audio, and checks every frame is contiguous with the last. It
// keeps counters only, never the audio, so it holds no memory that grows with the session.
import { createHook } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadDenoiser } from '../../src/audio/stages/denoise.js';
import { configSchema, type TheoConfig } from '../../src/config/schema.js';
import type { EngineCapabilities } from '../../src/engines/engine.js';
import { POCKETSPHINX_CAPABILITIES } from '../../src/engines/pocketsphinx/engine.js';
import { CancelledError } from '../../src/errors/index.js';
import { createPostprocessor } from '../../src/postprocess/pipeline.js';
import type { SessionEvent } from '../../src/session/events.js';
import { SessionManager } from '../../src/session/manager.js';
import type { SttStreamConfig, SttStreamEvent, SttStreamFrame, WorkerLink, WorkerStream } from '../../src/session/ports.js';
import type { Session } from '../../src/session/session.js';
import { vadFactoryFor } from '../../src/session/stack.js';
import { Prng } from '../../src/util/prng.js';
import { createSileroRunner, type SileroRunner } from '../../src/vad/runner.js';
import { corpusAvailable, listPrompts, readPromptAudio } from './corpus.js';

export const INPUT_RATE = 8000;
export const MODEL_RATE = 16000;
export const FRAME_MS = 20;
const FRAME = (INPUT_RATE * FRAME_MS) / 1000;
/** Fake-clock time between an utterance's is_last and the worker's final. */
export const WORKER_DELAY_MS = 120;
/** The audio loops over a cycle of exactly this length, so the first and the last 5 minutes are the same audio. */
export const CYCLE_S = 300;
const T0 = 1_700_000_000_000;

export const CAPS: Readonly<EngineCapabilities> = POCKETSPHINX_CAPABILITIES;

// ---- fake clock and worker ------------------------------------------------------------------------

export class Clock {
  t = T0;
  readonly now = (): number => this.t;
}

interface Due {
  at: number;
  ev: SttStreamEvent;
}

/** One TranscribeStream: frames are checked and counted; finals and partials are released by tick(). */
export class SoakStream implements WorkerStream {
  ended = false;
  cancelled = false;
  /** Iteration completed (after end()) or failed (after cancel()). */
  finished = false;
  finals = 0;
  partials = 0;
  samples = 0;
  /** Frames that did not start where the previous one of their utterance ended. */
  gaps = 0;
  /** is_last marks sent without any audio before them. */
  emptyUtterances = 0;
  private segment: number;
  private segStart = -1;
  private expected = -1;
  private segSamples = 0;
  private nextPartialAt = MODEL_RATE / 2;
  private readonly due: Due[] = [];
  private readonly queue: SttStreamEvent[] = [];
  private waiter: { resolve: (r: IteratorResult<SttStreamEvent>) => void; reject: (e: unknown) => void } | undefined;

  constructor(
    readonly config: SttStreamConfig,
    private readonly clock: Clock,
    private readonly text: string,
  ) {
    this.segment = config.firstSegmentId ?? 0;
  }

  /** Events still to come (due later, or queued for the iterator). */
  get outstanding(): number {
    return this.due.length + this.queue.length;
  }

  write(frame: SttStreamFrame): boolean {
    if (this.ended || this.cancelled) return false;
    const n = frame.pcm instanceof Int16Array ? frame.pcm.length : frame.pcm.length / 2;
    const off = frame.offsetSamples ?? -1;
    if (frame.isLast) {
      if (this.segSamples === 0) this.emptyUtterances++;
      this.schedule(WORKER_DELAY_MS, 'final', this.segSamples);
      this.segment++;
      this.segStart = this.expected = -1;
      this.segSamples = 0;
      this.nextPartialAt = MODEL_RATE / 2;
      return true;
    }
    if (this.segStart < 0) this.segStart = off;
    else if (off !== this.expected) this.gaps++;
    this.expected = off + n;
    this.segSamples += n;
    this.samples += n;
    if (this.segSamples >= this.nextPartialAt) {
      this.nextPartialAt += MODEL_RATE / 2;
      this.schedule(FRAME_MS, 'partial', this.segSamples);
    }
    return true;
  }

  updatePrompt(): void {}

  end(): void {
    if (this.ended) return;
    this.ended = true;
    // A worker finalises what it has, then ends the stream.
    for (const d of this.due.splice(0)) this.deliver(d.ev);
    this.complete();
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.due.length = 0;
    if (this.finished) return;
    this.finished = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(new CancelledError('stream cancelled'));
  }

  /** Releases what is due by `now`; true when something was. */
  tick(now: number): boolean {
    let any = false;
    while (this.due.length > 0 && (this.due[0] as Due).at <= now) {
      this.deliver((this.due.shift() as Due).ev);
      any = true;
    }
    return any;
  }

  [Symbol.asyncIterator](): AsyncIterator<SttStreamEvent> {
    return {
      next: () => {
        const ev = this.queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.cancelled && !this.ended) return Promise.reject(new CancelledError('stream cancelled'));
        if (this.finished) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
      return: () => {
        this.complete();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private schedule(afterMs: number, kind: 'final' | 'partial', samples: number): void {
    const ms = Math.round((samples / MODEL_RATE) * 1000);
    const ev: SttStreamEvent = {
      kind,
      sessionId: this.config.sessionId,
      segmentId: this.segment,
      text: kind === 'final' ? this.text : 'please enter',
      startMs: 0,
      endMs: ms,
      language: 'en',
      confidence: 0.9,
      words: [],
    };
    if (kind === 'final') this.finals++;
    else this.partials++;
    this.due.push({ at: this.clock.t + afterMs, ev });
  }

  private deliver(ev: SttStreamEvent): void {
    if (this.finished) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: ev, done: false });
    } else {
      this.queue.push(ev);
    }
  }

  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    const w = this.waiter;
    this.waiter = undefined;
    // Events already queued are still read: next() returns them before done.
    w?.resolve({ value: undefined, done: true });
  }
}

export class SoakLink implements WorkerLink {
  readonly streams: SoakStream[] = [];
  /** Streams opened (all kept, to check at the end: a few hundred small objects at most). */
  opened = 0;
  constructor(
    private readonly clock: Clock,
    private readonly text = 'please enter your account number followed by the pound key',
  ) {}

  open(config: SttStreamConfig): WorkerStream {
    const s = new SoakStream(config, this.clock, this.text);
    this.streams.push(s);
    this.opened++;
    return s;
  }

  whenServing(): Promise<void> {
    return Promise.resolve();
  }

  tick(now: number): boolean {
    let any = false;
    for (const s of this.streams) if (s.tick(now)) any = true;
    return any;
  }
}

// ---- audio ------------------------------------------------------------------------------------------

/** Deterministic PRNG (the project's mulberry32). */
function rng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

/** Where the speech is in `x` (10 ms frames above -40 dBFS), and the longest pause inside it, in samples. */
function speechSpan(x: Float32Array, rate: number): { start: number; end: number; longestGap: number } {
  const f = rate / 100;
  let first = -1;
  let last = -1;
  let longestGap = 0;
  for (let i = 0; i + f <= x.length; i += f) {
    let s = 0;
    for (let j = 0; j < f; j++) s += (x[i + j] as number) ** 2;
    if (10 * Math.log10(s / f + 1e-12) > -40) {
      if (first < 0) first = i;
      else longestGap = Math.max(longestGap, i - last);
      last = i + f;
    }
  }
  return { start: first, end: last, longestGap };
}

export interface Truth {
  /** Input-rate sample offsets of the speech in the session's input, from its first sample. */
  start: number;
  end: number;
  name: string;
}

export interface Cycle {
  samples: Float32Array;
  truth: Truth[];
}

/** Prompts that are one utterance (no pause inside over 150 ms) of minS to maxS seconds of speech, at 8 kHz. */
function singleUtterancePrompts(minS: number, maxS: number): Array<{ name: string; audio: Float32Array; span: ReturnType<typeof speechSpan> }> {
  return listPrompts()
    .map((p) => ({ name: p.name, audio: readPromptAudio(p.path, INPUT_RATE) }))
    .map((p) => ({ ...p, span: speechSpan(p.audio, INPUT_RATE) }))
    .filter((p) => p.span.start >= 0 && p.span.longestGap <= 0.15 * INPUT_RATE && p.span.end - p.span.start >= minS * INPUT_RATE && p.span.end - p.span.start <= maxS * INPUT_RATE);
}

/**
 * CYCLE_S seconds at 8 kHz: Asterisk prompts that are one utterance each (no pause inside over 150 ms, 0.5
 * to 4 s of speech), in a seeded order, each followed by 0.5 to 3 s of line noise (about -66 dBFS RMS).
 */
export function buildCycle(seed = 7): Cycle {
  const rand = rng(seed);
  const candidates = singleUtterancePrompts(0.5, 4);
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  const total = CYCLE_S * INPUT_RATE;
  const samples = new Float32Array(total);
  for (let i = 0; i < total; i++) samples[i] = (rand() - 0.5) * 0.0017; // uniform: RMS ≈ 0.0005 ≈ -66 dBFS
  const truth: Truth[] = [];
  let at = Math.round(0.5 * INPUT_RATE);
  for (const p of candidates) {
    const pause = Math.round((0.5 + rand() * 2.5) * INPUT_RATE);
    // The cycle ends with at least 1 s of noise, so each cycle starts from the same VAD state.
    if (at + p.audio.length + pause + INPUT_RATE > total) break;
    for (let i = 0; i < p.audio.length; i++) samples[at + i] = (samples[at + i] as number) + (p.audio[i] as number);
    truth.push({ start: at + p.span.start, end: at + p.span.end, name: p.name });
    at += p.audio.length + pause;
  }
  return { samples, truth };
}

// ---- helpers ----------------------------------------------------------------------------------------

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc');
  g();
  g();
}

function percentile(xs: Float64Array, p: number): number {
  const sorted = Float64Array.from(xs).sort();
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

/** The defaults; `--no-gain` on the command line turns the gain stage off (to compare, by hand). */
function config(): TheoConfig {
  return configSchema.parse(process.argv.includes('--no-gain') ? { preprocess: { gain: false } } : {});
}

function resourceCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

const PROCESS_EVENTS = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'uncaughtException', 'unhandledRejection', 'warning'] as const;

function processListeners(): Record<string, number> {
  return Object.fromEntries(PROCESS_EVENTS.map((e) => [e, process.listenerCount(e)]));
}

function managerFor(cfg: TheoConfig, runner: SileroRunner, link: SoakLink, clock: Clock, extra: { tickMs?: number; denoiser?: Awaited<ReturnType<typeof loadDenoiser>>; warnings: string[]; listenerErrors: string[] }): SessionManager {
  return new SessionManager({
    sessions: cfg.sessions,
    vad: cfg.vad,
    preprocess: cfg.preprocess,
    itn: cfg.postprocess.itn,
    link: () => ({ link, capabilities: CAPS }),
    vadFactory: vadFactoryFor(runner, cfg.vad),
    postprocessor: createPostprocessor(),
    denoiser: extra.denoiser,
    now: clock.now,
    ...(extra.tickMs === undefined ? {} : { tickMs: extra.tickMs }),
    onWarning: (m) => extra.warnings.push(m),
    onListenerError: (e, err) => extra.listenerErrors.push(`${e}: ${String(err)}`),
  });
}

// ---- soak -------------------------------------------------------------------------------------------

interface Seg {
  id: number;
  startMs: number;
  endMs: number;
  startAt: number;
  endAt: number;
  finalAt: number;
  finals: number;
  forced: boolean;
}

async function soak(minutes: number): Promise<Record<string, unknown>> {
  const wall0 = performance.now();
  const cfg = config();
  const cycle = buildCycle();
  const frames = Math.round((minutes * 60 * 1000) / FRAME_MS);
  const cycleFrames = (CYCLE_S * 1000) / FRAME_MS;
  const warmupFrames = Math.round((3 * 60 * 1000) / FRAME_MS);
  const windowFrames = Math.round((5 * 60 * 1000) / FRAME_MS);
  const clock = new Clock();
  const link = new SoakLink(clock);
  const runner = await createSileroRunner();
  const warnings: string[] = [];
  const listenerErrors: string[] = [];
  // No RNNoise: it costs ~0.65 ms per 20 ms frame here and would dominate the run time (the leak test runs
  // it); the rest of the chain (DC filter, 8 -> 16 kHz resampler, gain) runs as in production. The manager
  // has no timer of its own (tickMs 0): the loop below ticks it on the fake clock.
  const manager = managerFor(cfg, runner, link, clock, { tickMs: 0, warnings, listenerErrors });
  const session = manager.create({ model: 'soak', inputRate: INPUT_RATE, realtime: true, denoise: false });

  // What is recorded per frame is allocated and written up front (a fresh typed array's zero pages become
  // resident only when first written: ~2 MB over the run that would read as growth); per segment, a few
  // numbers.
  const pushUs = new Float64Array(frames).fill(-1);
  const frameUs = new Float64Array(frames).fill(-1);
  const fill = new Float32Array(frames).fill(-1);
  const outstanding = new Uint16Array(frames).fill(1);
  const segs: Seg[] = [];
  const errors: string[] = [];
  const other: Record<string, number> = {};
  let awaiting = 0;
  let closed: { reason: string; segments: number; droppedSamples: number } | undefined;
  session.on('event', (ev: SessionEvent) => {
    const at = clock.t - T0;
    switch (ev.type) {
      case 'vad.speech_start':
        segs.push({ id: ev.segmentId, startMs: ev.startMs, endMs: -1, startAt: at, endAt: -1, finalAt: -1, finals: 0, forced: false });
        break;
      case 'vad.speech_end': {
        const s = segs.findLast((x) => x.id === ev.segmentId);
        if (s) {
          s.endMs = ev.endMs;
          s.endAt = at;
          s.forced = ev.forced;
        } else errors.push(`speech_end of unknown segment ${ev.segmentId}`);
        awaiting++;
        break;
      }
      case 'transcript.final': {
        const s = segs.findLast((x) => x.id === ev.segmentId);
        if (s) {
          s.finals++;
          if (s.finalAt < 0) s.finalAt = at;
        } else errors.push(`final of unknown segment ${ev.segmentId}`);
        awaiting--;
        break;
      }
      case 'error':
        errors.push(`${ev.code}: ${ev.message}`);
        break;
      case 'session.closed':
        closed = { reason: ev.reason, segments: ev.segments, droppedSamples: ev.droppedSamples };
        break;
      default:
        other[ev.type] = (other[ev.type] ?? 0) + 1;
    }
  });

  let before: NodeJS.MemoryUsage | undefined;
  const rssSeries: Array<[number, number]> = [];
  gc(); // the prompts decoded to build the cycle
  for (let k = 0; k < frames; k++) {
    if (k === warmupFrames) {
      gc();
      before = process.memoryUsage();
    }
    // RSS every 5 minutes (after gc), to show the trend and not only its two ends.
    if (k > 0 && k % windowFrames === 0) {
      gc();
      rssSeries.push([(k * FRAME_MS) / 60_000, process.memoryUsage().rss]);
    }
    const o = (k % cycleFrames) * FRAME;
    const frame = cycle.samples.subarray(o, o + FRAME);
    clock.t += FRAME_MS;
    const t0 = performance.now();
    session.push(frame);
    const t1 = performance.now();
    // The runner drains on setImmediate; at real-time pace that happens within the frame's 20 ms.
    await runner.flush();
    if (link.tick(clock.t)) await settle();
    if (k % 5 === 4) manager.tick(clock.t); // the shared 100 ms timer
    frameUs[k] = (performance.now() - t0) * 1000;
    pushUs[k] = (t1 - t0) * 1000;
    fill[k] = session.stats().bufferFill;
    outstanding[k] = awaiting + (segs.length > 0 && segs[segs.length - 1]!.endAt < 0 ? 1 : 0);
  }
  gc();
  const after = process.memoryUsage();
  rssSeries.push([minutes, after.rss]);
  const statsAtEnd = session.stats();
  const runnerAtEnd = runner.stats;

  // End of input: the open utterance (none expected) is finalised; the worker answers on the fake clock.
  let finished = false;
  const finishing = session.finish().then(() => {
    finished = true;
  });
  while (!finished) {
    clock.t += FRAME_MS;
    link.tick(clock.t);
    await settle();
  }
  await finishing;
  await manager.close(session.id, 'end of audio');
  await manager.shutdown();
  await runner.close();

  // Latencies per utterance fed: the segment whose speech end is nearest the true end.
  const n = Math.round(frames / cycleFrames);
  const lat: Array<{ cycle: number; i: number; vadEndLag: number; endErr: number; startErr: number; finalLag: number }> = [];
  const unmatched: string[] = [];
  for (let c = 0; c < n; c++) {
    for (const [i, t] of cycle.truth.entries()) {
      const base = c * CYCLE_S * 1000;
      const startMs = base + (t.start / INPUT_RATE) * 1000;
      const endMs = base + (t.end / INPUT_RATE) * 1000;
      const s = segs.find((x) => x.startMs <= endMs && x.endMs >= startMs);
      if (!s || s.endAt < 0 || s.finalAt < 0) {
        unmatched.push(`${c}:${i}:${t.name}`);
        continue;
      }
      lat.push({ cycle: c, i, vadEndLag: s.endAt - endMs, endErr: s.endMs - endMs, startErr: s.startMs - startMs, finalLag: s.finalAt - s.endAt });
    }
  }
  // How the VAD cut the first cycle: prompts it split into several segments, segments over no prompt.
  const cycleMs = CYCLE_S * 1000;
  const inFirst = segs.filter((s) => s.startMs < cycleMs);
  const overlaps = (s: Seg, t: Truth): boolean => s.startMs <= (t.end / INPUT_RATE) * 1000 && s.endMs >= (t.start / INPUT_RATE) * 1000;
  const split = cycle.truth.filter((t) => inFirst.filter((s) => overlaps(s, t)).length > 1).map((t) => `${t.name}:${inFirst.filter((s) => overlaps(s, t)).length}`);
  const stray = inFirst.filter((s) => !cycle.truth.some((t) => overlaps(s, t))).length;
  const first = lat.filter((l) => l.cycle === 0);
  const last = lat.filter((l) => l.cycle === n - 1);
  const summary = (xs: typeof lat, k: 'vadEndLag' | 'endErr' | 'startErr' | 'finalLag') => {
    const v = xs.map((x) => x[k]);
    return { min: round(Math.min(...v)), max: round(Math.max(...v)), mean: round(v.reduce((a, b) => a + b, 0) / v.length) };
  };
  // The last cycle is the same audio as the first: how many utterances' latencies differ, and by how much.
  let perUtteranceMaxDiff = 0;
  for (const l of last) {
    const f = first.find((x) => x.i === l.i);
    if (f) perUtteranceMaxDiff = Math.max(perUtteranceMaxDiff, Math.abs(l.vadEndLag - f.vadEndLag), Math.abs(l.finalLag - f.finalLag), Math.abs(l.endErr - f.endErr));
  }
  const win = (a: ArrayLike<number>, from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => a[from + i] as number);
  const maxOf = (xs: number[]): number => xs.reduce((a, b) => Math.max(a, b), 0);
  const firstW = [0, windowFrames] as const;
  const lastW = [frames - windowFrames, frames] as const;
  const ids = segs.map((s) => s.id);
  return {
    mode: 'soak',
    minutes,
    wallMs: Math.round(performance.now() - wall0),
    promptsPerCycle: cycle.truth.length,
    cycles: n,
    utterancesFed: n * cycle.truth.length,
    segments: segs.length,
    idsContinuous: ids.every((id, i) => id === i),
    finalsPerSegment: { min: Math.min(...segs.map((s) => s.finals)), max: Math.max(...segs.map((s) => s.finals)) },
    forcedEnds: segs.filter((s) => s.forced).length,
    segmentsPerCycle: segs.filter((s) => s.startMs < cycleMs).length,
    split,
    stray,
    unmatched,
    errors,
    warnings,
    listenerErrors,
    events: other,
    closed,
    droppedSamples: statsAtEnd.droppedSamples,
    inputSamples: statsAtEnd.inputSamples,
    expectedInputSamples: frames * FRAME,
    workerGaps: link.streams.reduce((a, s) => a + s.gaps, 0),
    workerEmptyUtterances: link.streams.reduce((a, s) => a + s.emptyUtterances, 0),
    workerStreams: link.opened,
    workerFinals: link.streams.reduce((a, s) => a + s.finals, 0),
    duplicatesDropped: statsAtEnd.duplicatesDropped,
    recoveries: statsAtEnd.recoveries,
    runnerAtEnd: { streams: runnerAtEnd.streams, pendingWindows: runnerAtEnd.pendingWindows, inferred: runnerAtEnd.windowsInferred, skipped: runnerAtEnd.windowsSkipped, failed: runnerAtEnd.windowsFailed, modelErrors: runnerAtEnd.modelErrors },
    memory: {
      rssBefore: before?.rss,
      rssAfter: after.rss,
      rssGrowth: after.rss - (before?.rss ?? 0),
      heapBefore: before?.heapUsed,
      heapAfter: after.heapUsed,
      heapGrowth: after.heapUsed - (before?.heapUsed ?? 0),
      heapTotalBefore: before?.heapTotal,
      heapTotalAfter: after.heapTotal,
      externalGrowth: after.external - (before?.external ?? 0),
      arrayBuffersGrowth: after.arrayBuffers - (before?.arrayBuffers ?? 0),
      /** [minute, RSS] after gc at minutes 5, 10, ..., 30. */
      rssSeries,
    },
    pushUs: {
      first: { p50: round(percentile(pushUs.subarray(...firstW), 0.5)), p99: round(percentile(pushUs.subarray(...firstW), 0.99)) },
      last: { p50: round(percentile(pushUs.subarray(...lastW), 0.5)), p99: round(percentile(pushUs.subarray(...lastW), 0.99)) },
    },
    frameUs: {
      first: { p50: round(percentile(frameUs.subarray(...firstW), 0.5)), p99: round(percentile(frameUs.subarray(...firstW), 0.99)) },
      last: { p50: round(percentile(frameUs.subarray(...lastW), 0.5)), p99: round(percentile(frameUs.subarray(...lastW), 0.99)) },
    },
    latencyMs: {
      first: { vadEndLag: summary(first, 'vadEndLag'), endErr: summary(first, 'endErr'), startErr: summary(first, 'startErr'), finalLag: summary(first, 'finalLag') },
      last: { vadEndLag: summary(last, 'vadEndLag'), endErr: summary(last, 'endErr'), startErr: summary(last, 'startErr'), finalLag: summary(last, 'finalLag') },
      perUtteranceMaxDiff: round(perUtteranceMaxDiff),
    },
    fill: { firstMax: round(maxOf(win(fill, ...firstW)), 4), lastMax: round(maxOf(win(fill, ...lastW)), 4), end: round(statsAtEnd.bufferFill, 4) },
    outstanding: { firstMax: maxOf(win(outstanding, ...firstW)), lastMax: maxOf(win(outstanding, ...lastW)) },
  };
}

// ---- leaks ------------------------------------------------------------------------------------------

/**
 * Timers (Timeout, Immediate) created after this call and not yet destroyed (fired or cleared), by type
 * and the first frame outside Node's internals that created them. getActiveResourcesInfo() does not see
 * unref()'d timers; these hooks do.
 */
function trackTimers(): { live: () => Record<string, number>; stop: () => void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout' && type !== 'Immediate') return;
      const lines = (new Error().stack ?? '').split('\n').slice(2);
      const frame = lines.find((l) => !l.includes('node:') && !l.includes('AsyncHook.init'));
      const where = frame?.trim().replace(/^at /, '').replace(/\(?(file:\/\/)?\/[^)]*?\/(src|test|node_modules)\//, '$2/').replace(/\)$/, '') ?? '?';
      live.set(id, `${type} ${where}`);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    live: () => {
      const out: Record<string, number> = {};
      for (const t of live.values()) out[t] = (out[t] ?? 0) + 1;
      return out;
    },
    stop: () => hook.disable(),
  };
}

async function leaks(): Promise<Record<string, unknown>> {
  const wall0 = performance.now();
  const cfg = config();
  // Short prompts that are one utterance, trimmed to their speech plus 50 ms either side.
  const prompts = singleUtterancePrompts(0.5, 1.2).map((p) => p.audio.subarray(Math.max(0, p.span.start - 400), Math.min(p.audio.length, p.span.end + 400)));
  const noise = (n: number): Float32Array => {
    const r = rng(n);
    return Float32Array.from({ length: n }, () => (r() - 0.5) * 0.0017);
  };
  const gap = noise(Math.round(0.6 * INPUT_RATE));
  const lead = noise(Math.round(0.2 * INPUT_RATE));

  const warnings: string[] = [];
  const listenerErrors: string[] = [];
  const denoiser = await loadDenoiser({ onWarning: (m) => warnings.push(m) });
  // Baseline: modules loaded, RNNoise's wasm compiled; nothing of the runtime created yet.
  await settle();
  gc();
  const resourcesBefore = resourceCounts();
  const listenersBefore = processListeners();
  const timers = trackTimers();

  const clock = new Clock();
  const link = new SoakLink(clock);
  const runner = await createSileroRunner();
  const refs: Array<WeakRef<Session>> = [];
  interface Rec {
    finals: number[];
    closed: number;
    errors: string[];
    listenersAfterClose: number;
  }
  const phase1: Rec[] = [];
  const phase2: Rec[] = [];
  let maxConcurrent = 0;

  /** A session with a recorder; RNNoise runs in the ones asked ('auto': on for 8 kHz input). */
  const open = (manager: SessionManager, into: Rec[], denoise: boolean): { s: Session; rec: Rec } => {
    const s = manager.create({ model: 'leak', inputRate: INPUT_RATE, realtime: true, denoise: denoise ? 'auto' : false });
    const rec: Rec = { finals: [], closed: 0, errors: [], listenersAfterClose: -1 };
    into.push(rec);
    s.on('event', (ev) => {
      if (ev.type === 'transcript.final') rec.finals.push(ev.segmentId);
      else if (ev.type === 'session.closed') rec.closed++;
      else if (ev.type === 'error') rec.errors.push(`${ev.code}: ${ev.message}`);
    });
    refs.push(new WeakRef(s));
    maxConcurrent = Math.max(maxConcurrent, manager.size);
    return { s, rec };
  };
  /** Feeds `audio` to every session in 20 ms frames on the fake clock, the VAD and the worker keeping up. */
  const feed = async (sessions: Session[], audio: Float32Array): Promise<void> => {
    for (let o = 0; o < audio.length; o += FRAME) {
      clock.t += FRAME_MS;
      const frame = audio.subarray(o, Math.min(audio.length, o + FRAME));
      for (const s of sessions) s.push(frame);
      await runner.flush();
      if (link.tick(clock.t)) await settle();
    }
  };
  /** Awaits `p` while the fake worker's clock runs (close() waits for finals the worker gives on it). */
  const whileWorking = async (p: Promise<unknown>): Promise<void> => {
    let done = false;
    const settled = p.then(() => {
      done = true;
    });
    while (!done) {
      clock.t += FRAME_MS;
      link.tick(clock.t);
      await settle();
    }
    await settled;
  };

  // 1. 20 concurrent sessions × 10 segments (4 with RNNoise), through a manager with its own shared timer;
  //    the last segment is still open when the manager shuts down.
  // 2. 200 create / one short segment / close cycles (every 4th with RNNoise); half close in the pause
  //    after the speech, half while it is still open.
  // Each phase runs in a function of its own, so that no local variable of this frame keeps a session.
  const runPhase1 = async (): Promise<{ listenersOnOpen: number; size: number }> => {
    const manager = managerFor(cfg, runner, link, clock, { denoiser, warnings, listenerErrors });
    const group = Array.from({ length: 20 }, (_, i) => open(manager, phase1, i % 5 === 0));
    const sessions = group.map((g) => g.s);
    await feed(sessions, lead);
    for (let seg = 0; seg < 10; seg++) {
      await feed(sessions, prompts[seg % prompts.length] as Float32Array);
      if (seg < 9) await feed(sessions, gap);
    }
    const listenersOnOpen = Math.min(...sessions.map((s) => s.listenerCount('event')));
    await whileWorking(manager.shutdown('test over'));
    for (const g of group) g.rec.listenersAfterClose = g.s.listenerCount('event');
    return { listenersOnOpen, size: manager.size };
  };
  const { listenersOnOpen, size: size1 } = await runPhase1();
  await settle();
  gc();
  const afterPhase1 = process.memoryUsage();

  const runPhase2 = async (): Promise<number> => {
    const manager = managerFor(cfg, runner, link, clock, { denoiser, warnings, listenerErrors });
    for (let i = 0; i < 200; i++) {
      const { s, rec } = open(manager, phase2, i % 4 === 0);
      await feed([s], lead);
      await feed([s], prompts[(i * 7) % prompts.length] as Float32Array);
      if (i % 2 === 0) await feed([s], gap);
      await whileWorking(manager.close(s.id, 'hangup'));
      rec.listenersAfterClose = s.listenerCount('event');
    }
    await manager.shutdown();
    return manager.size;
  };
  const size2 = await runPhase2();
  await runner.close();
  const runnerStats = runner.stats;
  await settle();
  gc();
  const afterPhase2 = process.memoryUsage();

  // Right after everything closed, then once the 1 s grace a closed session gives its worker stream
  // before cancelling it has run out.
  const timersRightAfter = timers.live();
  const resourcesRightAfter = resourceCounts();
  await new Promise((r) => setTimeout(r, 1200));
  await settle();
  gc();
  await settle();
  gc();
  const timersLater = timers.live();
  timers.stop();
  const all = [...phase1, ...phase2];

  return {
    mode: 'leaks',
    wallMs: Math.round(performance.now() - wall0),
    sessions: all.length,
    maxConcurrent,
    phase1Finals: phase1.map((r) => r.finals.length),
    phase2Segments: phase2.reduce((a, r) => a + r.finals.length, 0),
    phase2MaxFinals: Math.max(...phase2.map((r) => r.finals.length)),
    segments: all.reduce((a, r) => a + r.finals.length, 0),
    finalsContinuous: all.every((r) => r.finals.every((id, i) => id === i)),
    closedOnce: all.every((r) => r.closed === 1),
    sessionErrors: all.flatMap((r) => r.errors),
    warnings: [...new Set(warnings)],
    listenerErrors,
    listenersOnOpen,
    listenersAfterClose: all.reduce((a, r) => a + r.listenersAfterClose, 0),
    managerSizes: [size1, size2],
    sessionsAlive: refs.filter((r) => r.deref() !== undefined).length,
    aliveIdx: refs.map((r, i) => (r.deref() ? i : -1)).filter((i) => i >= 0),
    runner: { streams: runnerStats.streams, queuedStreams: runnerStats.queuedStreams, pendingWindows: runnerStats.pendingWindows, closed: runner.closed, modelErrors: runnerStats.modelErrors, listenerErrors: runnerStats.listenerErrors },
    worker: {
      streams: link.opened,
      notFinished: link.streams.filter((s) => !s.finished).length,
      notEnded: link.streams.filter((s) => !s.ended && !s.cancelled).length,
      gaps: link.streams.reduce((a, s) => a + s.gaps, 0),
      outstanding: link.streams.reduce((a, s) => a + s.outstanding, 0),
    },
    resourcesBefore,
    resourcesRightAfter,
    resourcesAfter: resourceCounts(),
    timersRightAfter,
    timersLater,
    listenersBefore,
    listenersAfter: processListeners(),
    heapGrowthOver200Cycles: afterPhase2.heapUsed - afterPhase1.heapUsed,
    arrayBuffersGrowthOver200Cycles: afterPhase2.arrayBuffers - afterPhase1.arrayBuffers,
  };
}

// ---- main -------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!corpusAvailable()) {
    process.stdout.write(`SOAK_RESULT ${JSON.stringify({ skipped: 'asterisk-core-sounds-en-wav is not installed' })}\n`);
    return;
  }
  const mode = process.argv[2];
  const minutes = Number(process.argv[3] ?? 30);
  if (mode !== 'soak' && mode !== 'leaks') throw new Error('usage: session-soak.ts soak [minutes] | leaks [--no-gain]');
  if (mode === 'soak' && (!Number.isInteger(minutes / 5) || minutes < 10)) throw new Error('soak minutes: a multiple of 5 (the audio cycle), at least 10');
  const result = mode === 'leaks' ? await leaks() : await soak(minutes);
  process.stdout.write(`SOAK_RESULT ${JSON.stringify(result)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
