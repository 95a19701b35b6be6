// Live-session latency with the real default model: real speech (Asterisk prompts joined with pauses) fed at
// real-time pace in 20 ms frames (realtime: true) through SessionManager → Session (preprocessing, shared
// Silero VAD, ring buffer, WAL, post-processing) → gRPC → a PocketSphinx worker process, as
// createSessionStack wires it. Three parts:
//
// 1. TTFB: first transcript.partial after the VAD's vad.speech_start event, and after the true speech onset
//    (energy above -40 dBFS in 10 ms frames, as test/e2e/streaming.test.ts computes it; measured from the
//    moment the frame holding the onset was pushed).
// 2. Final delay: transcript.final after the vad.speech_end event, and after the true speech end. Theo's own
//    share = (is_last written to the worker stream − the VAD's speech_end reaching the session) + (final
//    emitted − the worker's final arriving at the client). Measured without touching src/: the bench builds
//    the SessionManager itself, exactly as src/session/stack.ts does, but with a link that wraps
//    workerLinkFor(...) and timestamps every write and every event as the worker stream yields it, and a VAD
//    factory that timestamps each speech event as it reaches the session. The session metrics
//    theo_session_ttfb_seconds and theo_session_final_delay_seconds of that run are read back and compared
//    with the same quantities computed here.
//    Baseline in the same run: the engine's own latency. The exact frames the session wrote to its worker
//    stream (same bytes, same offsets, same is_last, same relative times) are replayed on a new stream
//    straight through SttClient.openStream (no Session, no VAD): first partial after the utterance's first
//    audio, final after is_last.
// 3. Crash detection: a session of the real stack (stack.sessions, nothing wrapped) streams while its worker
//    is SIGKILLed on the first partial of an utterance; time from kill() to session.recovering and to the
//    session.recovered that sticks (the new stream then delivers), for each kill.
//
// The session and its baseline alternate in rounds (prompt i goes to round i mod rounds), so that both see
// the same machine load; the first round starts with one warm-up prompt that is not scored.
//
// Usage: npx tsx test/bench/latency.bench.ts [--utterances 24] [--rounds 3] [--kills 5] [--no-build] [--json FILE]
// Workers run from dist: the bench runs `npm run -s build` first unless --no-build.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Histogram, Registry } from 'prom-client';
import { loadDenoiser } from '../../src/audio/stages/denoise.js';
import { loadConfig, type TheoConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createRegistry } from '../../src/observability/metrics.js';
import { createPostprocessor } from '../../src/postprocess/pipeline.js';
import { capabilitiesOf } from '../../src/registry/capabilities.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import type { SessionEvent } from '../../src/session/events.js';
import { SessionManager } from '../../src/session/manager.js';
import { createSessionMetrics } from '../../src/session/metrics.js';
import type { SessionVadFactory, SttStreamConfig, SttStreamEvent, VadSpeechEvent, WorkerLink, WorkerStream } from '../../src/session/ports.js';
import type { Session } from '../../src/session/session.js';
import { createSessionStack, vadFactoryFor, type SessionStack } from '../../src/session/stack.js';
import { workerLinkFor } from '../../src/session/worker-link.js';
import { readSpeech } from '../helpers/audio.js';
import { PROMPTS_DIR, corpusAvailable, listPrompts } from '../helpers/corpus.js';
import { ROOT } from '../helpers/theo.js';
import { fmt, percentile } from './stats.js';

const MODEL = 'pocketsphinx-en-us';
const RATE = 8000;
const FRAME = RATE / 50;
const FRAME_MS = 20;
/** PocketSphinx's rate: the session's ring offsets count samples at it (VAD offsets are mapped to it). */
const MODEL_RATE = 16000;
const LEAD_S = 0.5;
const PAUSES_S = [0.8, 1.2, 1.6];
const TTFB_TARGET_MS = 300;
const FINAL_TARGET_MS = 500;
const SHARE_TARGET_MS = 20;
const DETECT_TARGET_MS = 100;

const { values: args } = parseArgs({
  options: {
    utterances: { type: 'string', default: '24' },
    rounds: { type: 'string', default: '3' },
    kills: { type: 'string', default: '5' },
    json: { type: 'string', default: 'test/bench/results/latency.json' },
    'no-build': { type: 'boolean', default: false },
  },
  strict: true,
});
const UTTERANCES = Number(args.utterances);
const ROUNDS = Number(args.rounds);
const KILLS = Number(args.kills);
if (!Number.isInteger(UTTERANCES) || UTTERANCES < 1) throw new Error(`--utterances must be a positive integer, got '${args.utterances}'`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer, got '${args.rounds}'`);
if (!Number.isInteger(KILLS) || KILLS < 0) throw new Error(`--kills must be a non-negative integer, got '${args.kills}'`);

// ---- audio -------------------------------------------------------------------------------------

interface Prompt {
  name: string;
  pcm: Int16Array;
  /** Energy truth inside the prompt, samples: first speech sample, one past the last. */
  start: number;
  end: number;
}

/** Energy truth (above -40 dBFS in 10 ms frames) and the longest quiet run inside it, samples. */
function speechSpan(x: Int16Array): { start: number; end: number; maxGap: number } {
  const f = RATE / 100;
  let first = -1;
  let last = -1;
  let maxGap = 0;
  for (let i = 0; i + f <= x.length; i += f) {
    let s = 0;
    for (let j = 0; j < f; j++) s += ((x[i + j] as number) / 32768) ** 2;
    if (10 * Math.log10(s / f + 1e-12) > -40) {
      if (first < 0) first = i;
      else maxGap = Math.max(maxGap, i - last);
      last = i + f;
    }
  }
  return { start: first, end: last, maxGap };
}

/**
 * n + 1 prompts spread evenly over the corpus (the first is a warm-up, not scored): 1 to 3.5 s of speech
 * with no quiet run over 150 ms inside, so that each is one utterance for a VAD with 300 ms min silence.
 */
function choosePrompts(n: number): Prompt[] {
  const candidates: Prompt[] = [];
  for (const p of listPrompts()) {
    let pcm: Int16Array;
    try {
      pcm = readSpeech(p.name);
    } catch {
      continue;
    }
    const s = speechSpan(pcm);
    const len = (s.end - s.start) / RATE;
    if (s.start < 0 || len < 1 || len > 3.5 || s.maxGap > 0.15 * RATE) continue;
    candidates.push({ name: p.name, pcm, start: s.start, end: s.end });
  }
  if (candidates.length < n + 1) throw new Error(`only ${candidates.length} suitable prompts in ${PROMPTS_DIR}`);
  return Array.from({ length: n + 1 }, (_, i) => candidates[Math.floor((i * candidates.length) / (n + 1))] as Prompt);
}

interface Joined {
  pcm: Int16Array;
  /** Absolute energy truth of each prompt, input samples; index 0 is the warm-up. */
  spans: Array<{ name: string; start: number; end: number }>;
  /** Input sample where each prompt's audio begins (a pause has just ended). */
  boundaries: number[];
}

function join(prompts: Prompt[], totalSeconds = 0): Joined {
  const parts: Int16Array[] = [new Int16Array(LEAD_S * RATE)];
  const spans: Joined['spans'] = [];
  const boundaries: number[] = [];
  let at = LEAD_S * RATE;
  for (let i = 0; ; i++) {
    const p = prompts[i % prompts.length] as Prompt;
    if (i >= prompts.length && at >= totalSeconds * RATE) break;
    const pause = Math.round((PAUSES_S[i % PAUSES_S.length] as number) * RATE);
    boundaries.push(at);
    spans.push({ name: p.name, start: at + p.start, end: at + p.end });
    parts.push(p.pcm, new Int16Array(pause));
    at += p.pcm.length + pause;
  }
  const pcm = new Int16Array(at);
  let o = 0;
  for (const p of parts) {
    pcm.set(p, o);
    o += p.length;
  }
  return { pcm, spans, boundaries };
}

// ---- instrumentation ---------------------------------------------------------------------------

/** Time the last input frame was pushed into a session (the VAD hook reads it). */
let lastPushAt = 0;

interface WriteRec {
  t: number;
  pcm: Int16Array;
  offsetSamples: number;
  isLast: boolean;
  accepted: boolean;
}

interface EventRec {
  /** When the stream's iterator resolved with the event (the gRPC 'data' callback of the same turn). */
  t: number;
  kind: 'partial' | 'final';
  segmentId: number;
  text: string;
  /** When the consumer asked for the next event: its handling of this one is over. */
  handledAt?: number;
}

class StreamLog {
  readonly writes: WriteRec[] = [];
  readonly events: EventRec[] = [];
  constructor(
    readonly config: SttStreamConfig,
    readonly openedAt: number,
  ) {}
}

/** The same WorkerStream with every write and every yielded event timestamped into `log`. */
function instrument(inner: WorkerStream, log: StreamLog): WorkerStream {
  return {
    write(frame) {
      const t = performance.now();
      const accepted = inner.write(frame);
      const pcm = frame.pcm instanceof Int16Array ? Int16Array.from(frame.pcm) : new Int16Array(frame.pcm.slice().buffer);
      log.writes.push({ t, pcm, offsetSamples: frame.offsetSamples ?? 0, isLast: frame.isLast ?? false, accepted });
      return accepted;
    },
    updatePrompt: (prompt, hotWords) => inner.updatePrompt(prompt, hotWords),
    end: () => inner.end(),
    cancel: () => inner.cancel(),
    [Symbol.asyncIterator](): AsyncIterator<SttStreamEvent> {
      const it = inner[Symbol.asyncIterator]();
      return {
        next: async () => {
          const prev = log.events.at(-1);
          if (prev && prev.handledAt === undefined) prev.handledAt = performance.now();
          const r = await it.next();
          if (!r.done) log.events.push({ t: performance.now(), kind: r.value.kind, segmentId: r.value.segmentId, text: r.value.text });
          return r;
        },
        return: async () => (it.return ? it.return() : { done: true, value: undefined }),
      };
    },
  };
}

interface VadRec {
  t: number;
  type: VadSpeechEvent['type'];
  /** Model-rate samples. */
  offset: number;
  /** When the newest input frame had been pushed. */
  lastPush: number;
}

/** What the instrumented session manager records for the one session it runs at a time. */
class Recorder {
  streams: StreamLog[] = [];
  vad: VadRec[] = [];
  reset(): void {
    this.streams = [];
    this.vad = [];
  }
}

interface Observation {
  t: number;
  ms: number;
}

/**
 * A SessionManager wired exactly as createSessionStack wires one, with the link and the VAD instrumented,
 * and every ttfb / final-delay observation the session makes recorded with its time.
 */
async function instrumentedManager(config: Readonly<TheoConfig>, stack: SessionStack, rec: Recorder) {
  const registry = createRegistry({ defaultMetrics: false });
  const entry = ModelRegistry.scan(config.models.dir).get(MODEL);
  const capabilities = capabilitiesOf(entry.manifest);
  const real = workerLinkFor(stack.workers, MODEL);
  const link: WorkerLink = {
    open(cfg) {
      const log = new StreamLog(cfg, performance.now());
      rec.streams.push(log);
      return instrument(real.open(cfg), log);
    },
    whenServing: (ms) => real.whenServing(ms),
    ...(real.transcribe ? { transcribe: real.transcribe.bind(real) } : {}),
  };
  const vadReal = vadFactoryFor(stack.vad, config.vad);
  const vad: SessionVadFactory = (rate, onEvent, settings) =>
    vadReal(rate, (ev) => {
      // In model-rate samples, as the session maps them (its VAD runs at the call's 8 kHz).
      rec.vad.push({ t: performance.now(), type: ev.type, offset: (ev.offset * MODEL_RATE) / rate, lastPush: lastPushAt });
      onEvent(ev);
    }, settings);
  const pre = config.preprocess;
  const denoiser = pre.enabled && pre.denoise !== false ? await loadDenoiser({ onWarning: (m) => console.error(m) }) : undefined;
  const metrics = createSessionMetrics(registry);
  const observed = { ttfb: [] as Observation[], finalDelay: [] as Observation[] };
  for (const key of ['ttfb', 'finalDelay'] as const) {
    const h = metrics[key] as unknown as { observe(v: number): void };
    const observe = h.observe.bind(h);
    h.observe = (v: number) => {
      observed[key].push({ t: performance.now(), ms: v * 1000 });
      observe(v);
    };
  }
  const manager = new SessionManager({
    sessions: config.sessions,
    vad: config.vad,
    preprocess: pre,
    itn: config.postprocess.itn,
    link: () => ({ link, capabilities }),
    vadFactory: vad,
    postprocessor: createPostprocessor({ hotWordThreshold: config.postprocess.hotWordThreshold }),
    metrics,
    denoiser,
    onWarning: (m) => console.error(`warning: ${m}`),
  });
  return { manager, registry, observed };
}

// ---- feeding -----------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface Fed {
  /** performance.now() at which each 20 ms frame was pushed. */
  pushTimes: Float64Array;
  frames: number;
  /** How late frames were pushed against their real-time schedule, ms. */
  lateMs: number[];
}

/**
 * Pushes `pcm` in 20 ms frames at real-time pace (each frame when its time has come; frames a late timer
 * skipped go out at once, in order). `stop.when()` is asked at the first frame at or past each of the
 * (ascending) sample boundaries `stop.at`; true ends the feed there.
 */
async function feedRealtime(session: Session, pcm: Int16Array, stop?: { at: number[]; when: () => boolean }): Promise<Fed> {
  let nextStop = 0;
  const frames = Math.ceil(pcm.length / FRAME);
  const pushTimes = new Float64Array(frames);
  const lateMs: number[] = [];
  const t0 = performance.now();
  let k = 0;
  while (k < frames) {
    const now = performance.now();
    while (k < frames && t0 + k * FRAME_MS <= now) {
      if (stop && nextStop < stop.at.length && k * FRAME >= (stop.at[nextStop] as number)) {
        while (nextStop < stop.at.length && k * FRAME >= (stop.at[nextStop] as number)) nextStop++;
        if (stop.when()) return { pushTimes: pushTimes.subarray(0, k), frames: k, lateMs };
      }
      session.push(pcm.subarray(k * FRAME, Math.min(pcm.length, (k + 1) * FRAME)));
      const t = performance.now();
      pushTimes[k] = t;
      lastPushAt = t;
      lateMs.push(t - (t0 + k * FRAME_MS));
      k++;
    }
    if (k < frames) await sleep(t0 + k * FRAME_MS - performance.now());
  }
  return { pushTimes, frames, lateMs };
}

interface Timed {
  t: number;
  ev: SessionEvent;
}

function collect(session: Session): { events: Timed[]; closed: Promise<void> } {
  const events: Timed[] = [];
  const closed = new Promise<void>((resolveClosed) =>
    session.on('event', (ev) => {
      events.push({ t: performance.now(), ev });
      if (ev.type === 'session.closed') resolveClosed();
    }),
  );
  return { events, closed };
}

// ---- analysis ----------------------------------------------------------------------------------

interface StreamSegment {
  firstWrite?: number;
  /** When the segment's first 0.5 s of audio had been written (PocketSphinx holds that back to prime each utterance). */
  primed?: number;
  written?: number;
  isLast?: number;
  firstPartial?: number;
  final?: number;
  handled?: number;
}

/**
 * Partials that carry the id of the segment after the one they belong to: they come before the previous
 * segment's final on the stream, where no audio of their segment can have been decoded yet (the worker
 * handles a stream's messages in order). Seen when a worker numbers the partials emitted while it
 * finalises an utterance with the next segment's id.
 */
function mislabelledOf(log: StreamLog): Set<EventRec> {
  const finalsLater = new Set<number>();
  const out = new Set<EventRec>();
  for (let i = log.events.length - 1; i >= 0; i--) {
    const e = log.events[i] as EventRec;
    if (e.kind === 'final') finalsLater.add(e.segmentId);
    else if (finalsLater.has(e.segmentId - 1)) out.add(e);
  }
  return out;
}

/** Per segment id: first audio written, is_last written, first partial and final as the iterator gave them. */
function segmentsOf(log: StreamLog): Map<number, StreamSegment> {
  const mislabelled = mislabelledOf(log);
  const out = new Map<number, StreamSegment>();
  const get = (id: number): StreamSegment => {
    let s = out.get(id);
    if (!s) out.set(id, (s = {}));
    return s;
  };
  let seg = log.config.firstSegmentId ?? 0;
  for (const w of log.writes) {
    if (!w.accepted) continue;
    const s = get(seg);
    if (w.pcm.length > 0) s.firstWrite ??= w.t;
    s.written = (s.written ?? 0) + w.pcm.length;
    if (s.written >= MODEL_RATE / 2) s.primed ??= w.t;
    if (w.isLast) {
      s.isLast = w.t;
      seg++;
    }
  }
  for (const e of log.events) {
    const s = get(e.segmentId);
    if (e.kind === 'partial') {
      if (!mislabelled.has(e)) s.firstPartial ??= e.t;
    }
    else {
      s.final ??= e.t;
      s.handled ??= e.handledAt;
    }
  }
  return out;
}

interface Row {
  prompt: string;
  segmentId: number;
  ttfbVadMs?: number;
  ttfbTrueMs?: number;
  finalVadMs: number;
  finalTrueMs: number;
  vadStartLagMs: number;
  vadEndLagMs: number;
  engineTtfbMs?: number;
  enginePrimedMs?: number;
  engineFinalMs: number;
  baseTtfbMs?: number;
  baseFinalMs: number;
  isLastShareMs: number;
  isLastAfterEventMs: number;
  emitShareMs: number;
  handledShareMs: number;
  vadDecisionMs: number;
}

const d = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a - b);

function stat(xs: Array<number | undefined>): { n: number; p50: number; p95: number; max: number; mean: number } {
  const s = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), max: s.at(-1) ?? NaN, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function histogramMean(h: Histogram | undefined): Promise<{ mean: number; count: number }> {
  if (!h) return { mean: NaN, count: 0 };
  const v = (await h.get()).values;
  const sum = v.find((x) => x.metricName?.endsWith('_sum'))?.value ?? NaN;
  const count = v.find((x) => x.metricName?.endsWith('_count'))?.value ?? 0;
  return { mean: (sum / count) * 1000, count };
}

/** CPU seconds (user + system) a process has used so far, from /proc; NaN where that cannot be read. */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

// ---- phases ------------------------------------------------------------------------------------

async function replay(stack: SessionStack, log: StreamLog, id: string): Promise<StreamLog> {
  await stack.workers.whenServing(MODEL, 60_000);
  const out = new StreamLog({ ...log.config, sessionId: id }, performance.now());
  const stream = instrument(stack.workers.client(MODEL).openStream(out.config), out);
  const pump = (async () => {
    for await (const _ of stream);
  })();
  const t0 = out.openedAt;
  for (const w of log.writes) {
    if (!w.accepted) continue;
    const wait = t0 + (w.t - log.openedAt) - performance.now();
    if (wait > 0.5) await sleep(wait);
    stream.write({ pcm: w.pcm, offsetSamples: w.offsetSamples, isLast: w.isLast });
  }
  stream.end();
  await pump;
  return out;
}

interface Kill {
  restartsBefore: number;
  killAt: number;
  /** kill() → the worker manager's first state change (it saw the process exit or a failed call). */
  managerMs: number;
  detectMs: number;
  recoveredMs: number;
  rounds: number;
}

interface CrashResult {
  kills: Kill[];
  finals: number;
  segments: number;
  errors: string[];
  /** Worker restarts the kills do not explain (the supervisor's own: a Health check failing three times). */
  otherRestarts: number;
  forceCommits: number;
}

async function counterValue(registry: Registry, name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return NaN;
  return (await m.get()).values.reduce((a, v) => a + v.value, 0);
}

async function crashPhase(stack: SessionStack, registry: Registry, prompts: Prompt[], kills: number): Promise<CrashResult> {
  const joined = join(prompts.slice(1), 240);
  const restarts0 = stack.workers.status().find((w) => w.model === MODEL)?.restarts ?? 0;
  const forced0 = await counterValue(registry, 'theo_segments_force_committed_total');
  const session = stack.sessions.create({ model: MODEL, inputRate: RATE, realtime: true });
  const done: Kill[] = [];
  let current: (Kill & { lastRecovered?: number }) | undefined;
  let delivered = true;
  const errors: string[] = [];
  let finals = 0;
  let segments = 0;
  const settle = (): void => {
    if (current?.lastRecovered !== undefined) {
      current.recoveredMs = current.lastRecovered - current.killAt;
      done.push(current);
      current = undefined;
    }
  };
  const { closed } = collect(session);
  const onState = (st: { model: string; state: string }): void => {
    if (current && st.model === MODEL && st.state !== 'serving' && Number.isNaN(current.managerMs)) current.managerMs = performance.now() - current.killAt;
  };
  stack.workers.on('state', onState);
  session.on('event', (ev) => {
    const t = performance.now();
    if (ev.type === 'vad.speech_start') segments++;
    if (ev.type === 'transcript.final') finals++;
    if (ev.type === 'error') errors.push(`${ev.code}: ${ev.message}`);
    if (ev.type === 'session.recovering' && current) {
      if (Number.isNaN(current.detectMs)) current.detectMs = t - current.killAt;
      current.rounds++;
      current.lastRecovered = undefined;
      delivered = false;
    }
    if (ev.type === 'session.recovered' && current) current.lastRecovered = t;
    if ((ev.type === 'transcript.partial' || ev.type === 'transcript.final') && !delivered && current?.lastRecovered !== undefined) {
      delivered = true;
      settle();
    }
    if (ev.type === 'transcript.partial' && delivered && !current && done.length < kills) {
      const w = stack.workers.status().find((s) => s.model === MODEL);
      if (w?.pid === undefined || w.state !== 'serving') return;
      current = { restartsBefore: w.restarts, killAt: performance.now(), managerMs: NaN, detectMs: NaN, recoveredMs: NaN, rounds: 0 };
      process.kill(w.pid, 'SIGKILL');
    }
  });
  // Stops at the first prompt boundary once every kill has recovered (or 30 s after the last kill).
  await feedRealtime(session, joined.pcm, { at: joined.boundaries, when: () => done.length + (current ? 1 : 0) >= kills && (!current || performance.now() - current.killAt > 30_000) });
  await session.finish();
  await session.close('end of audio');
  await closed;
  stack.workers.off('state', onState);
  if (current) {
    current.recoveredMs = (current.lastRecovered ?? NaN) - current.killAt;
    done.push(current);
  }
  const restarts = (stack.workers.status().find((w) => w.model === MODEL)?.restarts ?? 0) - restarts0;
  return { kills: done, finals, segments, errors, otherRestarts: restarts - done.length, forceCommits: (await counterValue(registry, 'theo_segments_force_committed_total')) - forced0 };
}

// ---- one round: a session over some prompts, then the same frames replayed as the baseline ------------

interface MetricRow {
  segmentId: number;
  kind: 'ttfb' | 'final';
  metricMs: number;
  benchMs: number;
}

interface RoundResult {
  rows: Row[];
  metricRows: MetricRow[];
  skipped: string[];
  errors: string[];
  streams: number;
  streamMislabelled: number;
  baseMislabelled: number;
  shownMislabelled: Array<{ segmentId: number; text: string }>;
  cpu: { worker: number; main: number; wall: number; load1: [number, number] };
  lateMs: number[];
  /** Event-loop delay of the session process during the session, ms: how long a worker message could wait unseen. */
  loopDelay: { p50: number; p99: number; max: number };
  workerRestarts: number;
  lastError: string | undefined;
  audioSeconds: number;
  finals: string[];
}

interface Context {
  stack: SessionStack;
  manager: SessionManager;
  rec: Recorder;
  observed: { ttfb: Observation[]; finalDelay: Observation[] };
}

async function latencyRound(ctx: Context, prompts: Prompt[], warm: boolean, round: number): Promise<RoundResult> {
  const { stack, manager, rec, observed } = ctx;
  const joined = join(prompts);
  rec.reset();
  observed.ttfb.splice(0);
  observed.finalDelay.splice(0);
  const status = (): { restarts: number; pid: number | undefined; lastError: string | undefined } => {
    const w = stack.workers.status().find((x) => x.model === MODEL);
    return { restarts: w?.restarts ?? 0, pid: w?.pid, lastError: w?.lastError };
  };
  await stack.workers.whenServing(MODEL, 60_000);
  const before = status();
  console.error(`round ${round + 1}: session over ${prompts.length} prompts${warm ? ' (the first a warm-up)' : ''}, ${fmt(joined.pcm.length / RATE, 1)} s at real-time pace, then the baseline replay...`);

  const load0 = loadavg()[0] as number;
  const cpu0 = { worker: cpuSecondsOf(before.pid), main: cpuSecondsOf(process.pid), wall: performance.now() };
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const session = manager.create({ model: MODEL, inputRate: RATE, realtime: true });
  const { events, closed } = collect(session);
  const fed = await feedRealtime(session, joined.pcm);
  await session.finish();
  await session.close('end of audio');
  await closed;
  loop.disable();
  const loopDelay = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
  const cpu = {
    worker: cpuSecondsOf(before.pid) - cpu0.worker,
    main: cpuSecondsOf(process.pid) - cpu0.main,
    wall: (performance.now() - cpu0.wall) / 1000,
    load1: [load0, loadavg()[0] as number] as [number, number],
  };
  const theoStreams = [...rec.streams];
  const vadRecs = [...rec.vad];

  // Baseline: the same frames, at the same times, straight to a worker stream.
  const baseStreams: StreamLog[] = [];
  for (const [i, log] of theoStreams.entries()) baseStreams.push(await replay(stack, log, `latency-baseline-${round}-${i}`));
  const after = status();
  const workerRestarts = after.restarts - before.restarts;
  if (workerRestarts > 0) console.error(`warning: the worker restarted ${workerRestarts} time(s) during round ${round + 1}: ${after.lastError}`);

  const theoSeg = new Map<number, StreamSegment>();
  for (const l of theoStreams) for (const [k, v] of segmentsOf(l)) if (v.final !== undefined || !theoSeg.has(k)) theoSeg.set(k, v);
  const baseSeg = new Map<number, StreamSegment>();
  for (const l of baseStreams) for (const [k, v] of segmentsOf(l)) if (v.final !== undefined || !baseSeg.has(k)) baseSeg.set(k, v);

  const pushAt = (sample: number): number => fed.pushTimes[Math.min(fed.frames - 1, Math.max(0, Math.floor(sample / FRAME)))] as number;
  const msToInput = (ms: number): number => Math.round((ms / 1000) * RATE);
  const starts = new Map<number, Timed>();
  const ends = new Map<number, Timed>();
  const partials = new Map<number, Timed>();
  const finalsBySeg = new Map<number, Timed>();
  /** transcript.partial events of segment k emitted before segment k-1's final: the previous utterance's words. */
  const shownMislabelled: Array<{ segmentId: number; text: string }> = [];
  for (const e of events) {
    const ev = e.ev;
    if (ev.type === 'vad.speech_start') starts.set(ev.segmentId, e);
    else if (ev.type === 'vad.speech_end') ends.set(ev.segmentId, e);
    else if (ev.type === 'transcript.partial') {
      if (starts.has(ev.segmentId - 1) && !finalsBySeg.has(ev.segmentId - 1)) shownMislabelled.push({ segmentId: ev.segmentId, text: ev.text });
      else if (!partials.has(ev.segmentId)) partials.set(ev.segmentId, e);
    } else if (ev.type === 'transcript.final') finalsBySeg.set(ev.segmentId, e);
  }
  const errors = events.flatMap((e) => (e.ev.type === 'error' ? [`${e.ev.code}: ${e.ev.message}`] : []));

  // Each VAD segment belongs to the prompt its start falls in (up to 400 ms before the energy onset).
  const byPrompt = joined.spans.map(() => [] as number[]);
  for (const [seg, e] of starts) {
    if (e.ev.type !== 'vad.speech_start') continue;
    const s = msToInput(e.ev.startMs);
    const i = joined.spans.findIndex((p) => s >= p.start - 0.4 * RATE && s < p.end);
    if (i >= 0) byPrompt[i]?.push(seg);
  }
  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const [i, span] of joined.spans.entries()) {
    if (warm && i === 0) continue;
    const segs = byPrompt[i] ?? [];
    if (segs.length !== 1) {
      skipped.push(`${span.name} (${segs.length} VAD segments)`);
      continue;
    }
    const seg = segs[0] as number;
    const st = starts.get(seg);
    const en = ends.get(seg);
    const fi = finalsBySeg.get(seg);
    const ts = theoSeg.get(seg);
    const bs = baseSeg.get(seg);
    if (st?.ev.type !== 'vad.speech_start' || en?.ev.type !== 'vad.speech_end' || !fi || ts?.final === undefined || ts.isLast === undefined || bs?.final === undefined || bs.isLast === undefined) {
      skipped.push(`${span.name} (incomplete)`);
      continue;
    }
    const endMs = en.ev.endMs;
    const cb = vadRecs.find((v) => v.type === 'speech_end' && Math.abs((v.offset / MODEL_RATE) * 1000 - endMs) <= 1.5);
    const pa = partials.get(seg);
    rows.push({
      prompt: span.name,
      segmentId: seg,
      ttfbVadMs: d(pa?.t, st.t),
      ttfbTrueMs: d(pa?.t, pushAt(span.start)),
      finalVadMs: fi.t - en.t,
      finalTrueMs: fi.t - pushAt(span.end - 1),
      vadStartLagMs: st.t - pushAt(span.start),
      vadEndLagMs: en.t - pushAt(span.end - 1),
      engineTtfbMs: d(ts.firstPartial, ts.firstWrite),
      enginePrimedMs: d(ts.firstPartial, ts.primed),
      engineFinalMs: ts.final - ts.isLast,
      baseTtfbMs: d(bs.firstPartial, bs.firstWrite),
      baseFinalMs: bs.final - bs.isLast,
      isLastShareMs: cb ? ts.isLast - cb.t : NaN,
      isLastAfterEventMs: ts.isLast - en.t,
      emitShareMs: fi.t - ts.final,
      handledShareMs: (ts.handled ?? NaN) - ts.final,
      vadDecisionMs: cb ? cb.t - cb.lastPush : NaN,
    });
  }

  // The session's own metrics. Each observation is matched to its segment (ttfb: the transcript event the
  // session emits right after observing; final delay: the final it has just emitted) and set against the
  // metric's definition computed on the bench's clock: from when the input frame holding the VAD's start
  // (end) offset was pushed to the session's first transcript event of the segment (its final).
  const transcriptEvents = events.filter((e) => e.ev.type === 'transcript.partial' || e.ev.type === 'transcript.final');
  const segOf = (e: Timed | undefined): number | undefined => (e && 'segmentId' in e.ev ? e.ev.segmentId : undefined);
  const metricRows: MetricRow[] = [];
  for (const o of observed.ttfb) {
    const seg = segOf(transcriptEvents.find((e) => e.t >= o.t));
    const st = seg === undefined ? undefined : starts.get(seg);
    const first = transcriptEvents.find((e) => segOf(e) === seg);
    if (seg === undefined || st?.ev.type !== 'vad.speech_start' || !first) continue;
    metricRows.push({ segmentId: seg, kind: 'ttfb', metricMs: o.ms, benchMs: first.t - pushAt(msToInput(st.ev.startMs)) });
  }
  for (const o of observed.finalDelay) {
    const fi = [...transcriptEvents].reverse().find((e) => e.t <= o.t && e.ev.type === 'transcript.final');
    const seg = segOf(fi);
    const en = seg === undefined ? undefined : ends.get(seg);
    if (seg === undefined || !fi || en?.ev.type !== 'vad.speech_end') continue;
    metricRows.push({ segmentId: seg, kind: 'final', metricMs: o.ms, benchMs: fi.t - pushAt(msToInput(en.ev.endMs) - 1) });
  }

  return {
    rows,
    metricRows,
    skipped,
    errors,
    streams: theoStreams.length,
    streamMislabelled: theoStreams.reduce((n, l) => n + mislabelledOf(l).size, 0),
    baseMislabelled: baseStreams.reduce((n, l) => n + mislabelledOf(l).size, 0),
    shownMislabelled,
    cpu,
    lateMs: fed.lateMs,
    loopDelay,
    workerRestarts,
    lastError: after.lastError,
    audioSeconds: joined.pcm.length / RATE,
    finals: [...finalsBySeg.values()].map((f) => (f.ev.type === 'transcript.final' ? f.ev.text : '')),
  };
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!corpusAvailable() || !existsSync('/usr/share/pocketsphinx/model/en-us')) {
    console.error('needs the Debian packages asterisk-core-sounds-en-wav, asterisk-core-sounds-en and pocketsphinx-en-us');
    process.exit(2);
  }
  if (!args['no-build']) {
    console.error('building dist (npm run -s build)...');
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const prompts = choosePrompts(UTTERANCES);
  const rounds = Math.min(ROUNDS, UTTERANCES);
  const config = loadConfig({
    overrides: { models: { dir: `${ROOT}/models` }, log: { level: 'warn' }, workers: { maxRestarts: Math.max(5, KILLS + 1) } },
  });
  const entry = ModelRegistry.scan(config.models.dir).get(MODEL);
  const stackRegistry = createRegistry({ defaultMetrics: false });
  const stack = await createSessionStack({ config, models: [entry], logger: createLogger({ level: 'warn' }), registry: stackRegistry });
  try {
    await stack.workers.whenServing(MODEL, 120_000);
    const rec = new Recorder();
    const { manager, registry, observed } = await instrumentedManager(config, stack, rec);
    const ctx: Context = { stack, manager, rec, observed };

    // 1 + 2: rounds alternate a session and its baseline replay; prompt i goes to round i mod rounds.
    const results: RoundResult[] = [];
    for (let r = 0; r < rounds; r++) {
      const mine = prompts.slice(1).filter((_, i) => i % rounds === r);
      results.push(await latencyRound(ctx, r === 0 ? [prompts[0] as Prompt, ...mine] : mine, r === 0, r));
    }
    await manager.shutdown();
    const ttfbHist = await histogramMean(registry.getSingleMetric('theo_session_ttfb_seconds') as Histogram | undefined);
    const finalHist = await histogramMean(registry.getSingleMetric('theo_session_final_delay_seconds') as Histogram | undefined);

    // 3: crash detection on the real stack's own session manager.
    console.error(`crash: ${KILLS} SIGKILLs of the worker during utterances...`);
    const crash: CrashResult = KILLS > 0 ? await crashPhase(stack, stackRegistry, prompts, KILLS) : { kills: [], finals: 0, segments: 0, errors: [], otherRestarts: 0, forceCommits: 0 };

    // ---- report ----
    const rows = results.flatMap((r) => r.rows);
    const metricRows = results.flatMap((r) => r.metricRows);
    const sum = (f: (r: RoundResult) => number): number => results.reduce((a, r) => a + f(r), 0);
    const audio = sum((r) => r.audioSeconds);
    const late = stat(results.flatMap((r) => r.lateMs));
    const skipped = results.flatMap((r) => r.skipped);
    const errors = results.flatMap((r) => r.errors);
    const restarts = sum((r) => r.workerRestarts);
    const shown = results.flatMap((r) => r.shownMislabelled);
    const loads = results.flatMap((r) => r.cpu.load1);
    const row = (label: string, xs: Array<number | undefined>, target?: number): string => {
      const s = stat(xs);
      const met = target === undefined ? '' : s.p95 <= target ? `≤ ${target}: met at p95` : s.p50 <= target ? `≤ ${target}: p50 only` : `≤ ${target}: not met`;
      return `| ${label} | ${s.n} | ${fmt(s.p50, 1)} | ${fmt(s.p95, 1)} | ${fmt(s.max, 1)} | ${met} |`;
    };
    const head = '| measure (ms) | n | p50 | p95 | max | target |\n|---|---:|---:|---:|---:|---|';
    console.log(`\n## Live session latency, PocketSphinx: ${rows.length} utterances scored of ${UTTERANCES}, ${rounds} round(s), ${fmt(audio, 1)} s of audio at real-time pace\n`);
    console.log(
      `load average (1 min) at the rounds' starts and ends: ${loads.map((l) => fmt(l, 2)).join(', ')}; CPU during the sessions (${fmt(sum((r) => r.cpu.wall), 1)} s): worker ${fmt(sum((r) => r.cpu.worker), 1)} s, session process ${fmt(sum((r) => r.cpu.main), 1)} s`,
    );
    console.log(`frames pushed late against the real-time schedule: p50 ${fmt(late.p50, 2)} ms, p95 ${fmt(late.p95, 2)} ms, max ${fmt(late.max, 1)} ms`);
    console.log(
      `session process event-loop delay per round, p50 / p99 / max ms: ${results.map((r) => `${fmt(r.loopDelay.p50, 1)} / ${fmt(r.loopDelay.p99, 1)} / ${fmt(r.loopDelay.max, 1)}`).join('; ')}`,
    );
    if (skipped.length > 0) console.log(`not scored: ${skipped.join('; ')}`);
    if (errors.length > 0) console.log(`session errors: ${errors.join('; ')}`);
    if (results.some((r) => r.streams !== 1)) console.log(`worker streams per session: ${results.map((r) => r.streams).join(', ')} (more than 1: a recovery)`);
    if (restarts > 0) console.log(`**the worker restarted ${restarts} time(s) during the latency rounds** (${results.map((r) => r.lastError).find(Boolean)}): those rounds' numbers are not clean`);
    const noPartial = rows.filter((r) => r.ttfbVadMs === undefined).length;

    console.log('\n### TTFB: first partial\n');
    console.log(head);
    console.log(row('Theo: after vad.speech_start event', rows.map((r) => r.ttfbVadMs), TTFB_TARGET_MS));
    console.log(row('Theo: after true speech onset', rows.map((r) => r.ttfbTrueMs), TTFB_TARGET_MS));
    console.log(row('(VAD: speech_start event after true onset)', rows.map((r) => r.vadStartLagMs)));
    console.log(row('engine in Theo run: after first audio written', rows.map((r) => r.engineTtfbMs)));
    console.log(row('engine baseline (replay): after first audio', rows.map((r) => r.baseTtfbMs)));
    console.log(row('(engine in Theo run: after the first 0.5 s was written)', rows.map((r) => r.enginePrimedMs)));
    if (noPartial > 0) console.log(`\n${noPartial} utterance(s) had no partial before their final (not in the TTFB rows).`);

    console.log('\n### Final delay\n');
    console.log(head);
    console.log(row('Theo: after vad.speech_end event', rows.map((r) => r.finalVadMs), FINAL_TARGET_MS));
    console.log(row('Theo: after true speech end', rows.map((r) => r.finalTrueMs), FINAL_TARGET_MS));
    console.log(row('(VAD: speech_end event after true end)', rows.map((r) => r.vadEndLagMs)));
    console.log(row('engine in Theo run: final after is_last', rows.map((r) => r.engineFinalMs)));
    console.log(row('engine baseline (replay): final after is_last', rows.map((r) => r.baseFinalMs)));

    console.log("\n### Theo's own share of the final delay\n");
    console.log(head);
    console.log(row('is_last written after VAD speech_end reached the session', rows.map((r) => r.isLastShareMs)));
    console.log(row('final emitted after worker final arrived', rows.map((r) => r.emitShareMs)));
    console.log(row("**Theo's share (sum)**", rows.map((r) => r.isLastShareMs + r.emitShareMs), SHARE_TARGET_MS));
    console.log(row('worker final fully handled (+ WAL, ring commit)', rows.map((r) => r.handledShareMs)));
    console.log(row('(is_last written after the vad.speech_end event)', rows.map((r) => r.isLastAfterEventMs)));
    console.log(row('(VAD: newest frame pushed → speech_end callback)', rows.map((r) => r.vadDecisionMs)));

    const pair = (label: string, theo: Array<number | undefined>, base: Array<number | undefined>): string => {
      const a = stat(theo);
      const b = stat(base);
      const dd = stat(theo.map((t, i) => d(t, base[i])));
      return `| ${label} | ${fmt(a.p50, 1)} | ${fmt(b.p50, 1)} | ${fmt(a.p50 - b.p50, 1)} | ${fmt(a.p50 / b.p50, 2)} | ${fmt(dd.p50, 1)} | ${fmt(dd.p95, 1)} |`;
    };
    console.log('\n### Theo against the engine (same utterances, same frames, alternating rounds)\n');
    console.log('| measure | Theo p50 ms | engine p50 ms | difference | ratio | paired diff p50 | paired diff p95 |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    console.log(pair('TTFB: after speech_start event / engine after first audio', rows.map((r) => r.ttfbVadMs), rows.map((r) => r.baseTtfbMs)));
    console.log(pair('final: after speech_end event / engine after is_last', rows.map((r) => r.finalVadMs), rows.map((r) => r.baseFinalMs)));
    console.log(pair('final: engine in Theo run / engine baseline, after is_last', rows.map((r) => r.engineFinalMs), rows.map((r) => r.baseFinalMs)));

    console.log('\n### Session metrics against this bench (every segment, incl. the warm-up; ms)\n');
    console.log('| metric | observations (histogram count) | metric p50 | metric mean | same definition, bench clock, p50 | metric − bench per segment: p50 / min / max | the bench measure above, p50 |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const [kind, name, h, scored] of [
      ['ttfb', 'theo_session_ttfb_seconds', ttfbHist, rows.map((r) => r.ttfbTrueMs)],
      ['final', 'theo_session_final_delay_seconds', finalHist, rows.map((r) => r.finalTrueMs)],
    ] as const) {
      const mine = metricRows.filter((m) => m.kind === kind);
      const diffs = mine.map((x) => x.metricMs - x.benchMs);
      const m = stat(mine.map((x) => x.metricMs));
      const dd = stat(diffs);
      console.log(
        `| ${name} | ${mine.length} (${h.count}) | ${fmt(m.p50, 1)} | ${fmt(h.mean, 1)} | ${fmt(stat(mine.map((x) => x.benchMs)).p50, 1)} | ${fmt(dd.p50, 1)} / ${fmt(Math.min(...diffs), 1)} / ${fmt(dd.max, 1)} | ${fmt(stat([...scored]).p50, 1)} |`,
      );
    }
    console.log(
      `\npartials numbered with the next segment's id (they precede the previous segment's final): ${sum((r) => r.streamMislabelled)} on the sessions' worker streams, ${sum((r) => r.baseMislabelled)} on the baselines'; shown to session listeners as the next utterance's partial: ${shown.length}${shown.length > 0 ? ` (e.g. segment ${shown[0]?.segmentId}: ${JSON.stringify(shown[0]?.text)})` : ''}`,
    );

    const det = stat(crash.kills.map((k) => k.detectMs));
    const mgr = stat(crash.kills.map((k) => k.managerMs));
    const recd = stat(crash.kills.map((k) => k.recoveredMs));
    console.log(`\n### Crash detection (${crash.kills.length} SIGKILLs; ${crash.finals} finals for ${crash.segments} speech starts)\n`);
    console.log('| kill | worker restarts before | kill → session.recovering ms | kill → worker manager sees it ms | kill → session.recovered ms | recovery rounds |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const [i, k] of crash.kills.entries()) console.log(`| ${i + 1} | ${k.restartsBefore} | ${fmt(k.detectMs, 1)} | ${fmt(k.managerMs, 1)} | ${fmt(k.recoveredMs, 0)} | ${k.rounds} |`);
    console.log(`| **p50 / max** | | **${fmt(det.p50, 1)} / ${fmt(det.max, 1)}** (target < ${DETECT_TARGET_MS}) | ${fmt(mgr.p50, 1)} / ${fmt(mgr.max, 1)} | ${fmt(recd.p50, 0)} / ${fmt(recd.max, 0)} | |`);
    if (crash.otherRestarts > 0 || crash.forceCommits > 0) {
      console.log(`\nduring the crash run the supervisor also restarted the worker ${crash.otherRestarts} time(s) itself (Health failing), and the session force-committed ${crash.forceCommits} time(s)`);
    }
    if (crash.errors.length > 0) console.log(`crash session errors (${crash.errors.length}): ${crash.errors.slice(0, 5).join('; ')}${crash.errors.length > 5 ? '; ...' : ''}`);

    const json = resolve(ROOT, args.json);
    mkdirSync(dirname(json), { recursive: true });
    writeFileSync(
      json,
      JSON.stringify(
        {
          utterances: UTTERANCES,
          rounds,
          audioSeconds: audio,
          feedLateMs: late,
          skipped,
          errors,
          workerRestarts: restarts,
          rows,
          metrics: { ttfbHistogram: ttfbHist, finalDelayHistogram: finalHist, perSegment: metricRows },
          mislabelledPartials: { stream: sum((r) => r.streamMislabelled), baseline: sum((r) => r.baseMislabelled), shown },
          perRound: results.map((r) => ({ cpu: r.cpu, loopDelay: r.loopDelay, streams: r.streams, workerRestarts: r.workerRestarts, finals: r.finals })),
          crash,
        },
        null,
        2,
      ),
    );
  } finally {
    await stack.close();
  }
}

await main();
