// The shared Silero runner: one model (one InferenceSession) for every VAD stream of a process, passed to
// whoever needs it. It collects the windows that many streams have ready and runs one inference per sample
// rate for all of them (`sr` is a scalar input, so rates never share a batch), then gives each stream its
// probability and recurrent state back.
//
// Draining: a stream whose push() completes a window is queued and a drain is scheduled:
//   'immediate' (default): setImmediate, i.e. after the poll phase of this event-loop turn, so the frames
//     of every call that arrived in the same turn (one RTP datagram each) share one batch, while a lone
//     stream waits no longer than the rest of the turn. A microtask would run after each I/O callback and
//     batch almost nothing.
//   'microtask': after the current callback (lowest latency, batches only pushes made in one callback).
//   'manual': only runner.flush() drains (deterministic tests and benchmarks).
// A drain works in rounds: each queued stream settles its skipped windows and flushes, and offers its next
// window; one run per rate takes at most one window per stream (window k+1 needs window k's state), split
// into runs of model.maxBatch. Rounds repeat until no stream has a whole window left. Only one drain runs
// at a time, so each stream's windows and events stay in order.
import { ClosedError, TheoError } from '../errors/index.js';
import type { VadEventCounts } from './detector.js';
import { STATE_SIZE, type VadModel } from './model.js';
import { resolveVadOptions, type VadSampleRate } from './options.js';
import { loadSileroModel, type SileroModelOptions } from './silero-model.js';
import { StreamImpl, type StreamHost, type VadEventListener, type VadStream, type VadStreamOptions, type VadTotals } from './stream.js';

export type DrainSchedule = 'immediate' | 'microtask' | 'manual';

export interface SileroRunnerOptions extends SileroModelOptions {
  /** When queued windows are processed (default 'immediate'). */
  schedule?: DrainSchedule;
  /** A listener threw, or a batch failed (its windows count as silence). Default: counted only. */
  onError?: (err: unknown) => void;
}

export interface VadRunnerStats {
  /** Open streams. */
  streams: number;
  /** Streams waiting for the next drain. */
  queuedStreams: number;
  /** Whole windows buffered in open streams and not yet classified. */
  pendingWindows: number;
  windowsInferred: number;
  windowsSkipped: number;
  windowsFailed: number;
  /** Model runs (each is one batch). */
  inferences: number;
  modelErrors: number;
  listenerErrors: number;
  events: VadEventCounts;
}

const RATES: readonly VadSampleRate[] = [8000, 16000];

/**
 * A list of streams with an explicit length over an array that only grows: emptying it every round must
 * not give the backing store back (setting an array's length to 0 can), so steady state allocates nothing.
 */
class StreamList {
  items: StreamImpl[] = [];
  length = 0;

  push(s: StreamImpl): void {
    this.items[this.length++] = s;
  }

  at(i: number): StreamImpl {
    return this.items[i] as StreamImpl;
  }

  /** Keeps the first n entries; drops references past them so closed streams can be collected. */
  truncate(n: number): void {
    for (let i = n; i < this.length; i++) this.items[i] = undefined as unknown as StreamImpl;
    this.length = n;
  }

  remove(s: StreamImpl): void {
    const i = this.items.indexOf(s);
    if (i < 0 || i >= this.length) return;
    this.items.copyWithin(i, i + 1, this.length);
    this.truncate(this.length - 1);
  }
}

/** One batch in flight: members and the epochs they had when gathered. */
class BatchSlots {
  readonly members = new StreamList();
  readonly epochs: number[] = [];

  add(s: StreamImpl): void {
    this.epochs[this.members.length] = s.epoch;
    this.members.push(s);
  }
}

export class SileroRunner implements StreamHost {
  readonly totals: VadTotals = {
    windowsInferred: 0,
    windowsSkipped: 0,
    windowsFailed: 0,
    listenerErrors: 0,
    events: { speech_start: 0, speech_end: 0, forced: 0 },
  };
  private readonly model: VadModel;
  private readonly scheduleMode: DrainSchedule;
  private readonly onError: (err: unknown) => void;
  private readonly streams = new Set<StreamImpl>();
  /** Streams with work, in the order they became ready. */
  private readonly ready = new StreamList();
  private readonly byRate: Record<VadSampleRate, StreamList> = { 8000: new StreamList(), 16000: new StreamList() };
  private readonly slots = new BatchSlots();
  private readonly zeros = new Float32Array(STATE_SIZE);
  private scheduled = false;
  private immediate: NodeJS.Immediate | null = null;
  private draining: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private inferences = 0;
  private modelErrors = 0;

  /** The runner owns `model` and closes it with itself. */
  constructor(model: VadModel, opts: Pick<SileroRunnerOptions, 'schedule' | 'onError'> = {}) {
    this.model = model;
    this.scheduleMode = opts.schedule ?? 'immediate';
    if (!['immediate', 'microtask', 'manual'].includes(this.scheduleMode)) {
      throw new TheoError('invalid_argument', `VAD runner schedule must be 'immediate', 'microtask' or 'manual', got ${String(this.scheduleMode)}`);
    }
    this.onError = opts.onError ?? (() => undefined);
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  get stats(): VadRunnerStats {
    let pendingWindows = 0;
    for (const s of this.streams) pendingWindows += s.pendingWindows;
    const t = this.totals;
    return {
      streams: this.streams.size,
      queuedStreams: this.ready.length,
      pendingWindows,
      windowsInferred: t.windowsInferred,
      windowsSkipped: t.windowsSkipped,
      windowsFailed: t.windowsFailed,
      inferences: this.inferences,
      modelErrors: this.modelErrors,
      listenerErrors: t.listenerErrors,
      events: { ...t.events },
    };
  }

  /**
   * A new stream at 8 or 16 kHz. Throws TheoError('invalid_argument') for bad options (another rate, a
   * threshold outside (0, 1), ...) and ClosedError once the runner is closed. See VadStream for timing.
   */
  createStream(opts: VadStreamOptions, onEvent: VadEventListener): VadStream {
    if (this.closing) throw new ClosedError('VAD runner');
    if (typeof onEvent !== 'function') throw new TheoError('invalid_argument', 'VAD createStream() needs an onEvent callback');
    const s = new StreamImpl(this, resolveVadOptions(opts), onEvent, opts.onWindow);
    this.streams.add(s);
    return s;
  }

  /** Processes every queued window and flush now; resolves when none is left (including ones queued meanwhile). */
  async flush(): Promise<void> {
    for (;;) {
      if (this.draining) {
        await this.draining;
        continue;
      }
      if (this.closing || this.ready.length === 0) return;
      await this.startDrain();
    }
  }

  /** Closes every stream, waits for a run in flight, releases the model. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---- StreamHost --------------------------------------------------------------------------------------

  enqueue(stream: StreamImpl): void {
    if (!stream.queued) {
      stream.queued = true;
      this.ready.push(stream);
    }
    if (this.scheduled || this.draining || this.closing || this.scheduleMode === 'manual') return;
    this.scheduled = true;
    if (this.scheduleMode === 'immediate') this.immediate = setImmediate(this.onSchedule);
    else queueMicrotask(this.onSchedule);
  }

  detach(stream: StreamImpl): void {
    this.streams.delete(stream);
    // A drain drops closed streams itself; outside one, drop it now so nothing keeps it reachable.
    if (stream.queued && !this.draining) {
      this.ready.remove(stream);
      stream.queued = false;
    }
  }

  listenerError(err: unknown): void {
    this.report(err);
  }

  idleState(rate: VadSampleRate): Float32Array {
    return this.model.idleState?.(rate) ?? this.zeros;
  }

  // ---- drain -------------------------------------------------------------------------------------------

  private readonly onSchedule = (): void => {
    this.scheduled = false;
    this.immediate = null;
    if (this.closing || this.draining || this.ready.length === 0) return;
    this.startDrain().catch((err: unknown) => this.report(err));
  };

  private startDrain(): Promise<void> {
    this.draining ??= this.drain();
    return this.draining;
  }

  private async drain(): Promise<void> {
    // startDrain() stores the promise before this first await returns, so `draining` is set throughout.
    await Promise.resolve();
    try {
      while (this.ready.length > 0 && !this.closing) await this.round();
    } finally {
      this.draining = null;
    }
  }

  private async round(): Promise<void> {
    const ready = this.ready;
    let keep = 0;
    // Listeners run inside prepare() and may push to, close or create streams: `ready` may grow meanwhile,
    // and the loop reads its length each time.
    for (let k = 0; k < ready.length; k++) {
      const s = ready.at(k);
      if (s.prepare()) {
        ready.items[keep++] = s;
        this.byRate[s.sampleRate].push(s);
      } else {
        s.queued = false;
      }
    }
    ready.truncate(keep);
    for (const rate of RATES) {
      const group = this.byRate[rate];
      for (let from = 0; from < group.length && !this.closing; from += this.model.maxBatch) {
        await this.runBatch(rate, group, from, Math.min(group.length, from + this.model.maxBatch));
      }
      group.truncate(0);
    }
    // Streams whose window was just consumed may have no whole window left.
    keep = 0;
    for (let k = 0; k < ready.length; k++) {
      const s = ready.at(k);
      if (s.hasWork()) ready.items[keep++] = s;
      else s.queued = false;
    }
    ready.truncate(keep);
  }

  private async runBatch(rate: VadSampleRate, group: StreamList, from: number, to: number): Promise<void> {
    const slots = this.slots;
    const members = slots.members;
    const buffers = this.model.buffers(rate);
    // A listener earlier in this round may have reset or closed a stream after it offered its window.
    for (let k = from; k < to; k++) {
      const s = group.at(k);
      if (s.inferable()) slots.add(s);
    }
    const n = members.length;
    if (n === 0) return;
    for (let i = 0; i < n; i++) members.at(i).gather(buffers, n, i);
    let failed: unknown = null;
    try {
      this.inferences++;
      await this.model.run(rate, n);
    } catch (err) {
      failed = err ?? new Error('VAD model run failed');
    }
    if (failed !== null) {
      this.modelErrors++;
      this.report(new TheoError('engine_failed', `VAD inference failed for ${n} windows at ${rate} Hz; they count as silence`, { rate, n }, { cause: failed }));
    }
    for (let i = 0; i < n; i++) {
      const s = members.at(i);
      const epoch = slots.epochs[i] as number;
      if (failed === null) s.scatter(buffers, n, i, epoch);
      else s.fail(epoch);
    }
    members.truncate(0);
  }

  private async shutdown(): Promise<void> {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.scheduled = false;
    for (const s of [...this.streams]) s.close();
    if (this.draining) await this.draining.catch(() => undefined);
    this.ready.truncate(0);
    await this.model.close();
  }

  private report(err: unknown): void {
    try {
      this.onError(err);
    } catch {
      // An error handler that throws has nowhere left to report to.
    }
  }
}

/** Loads Silero v5 (one InferenceSession, 1 intra-op and 1 inter-op thread by default) and wraps it in a runner. */
export async function createSileroRunner(opts: SileroRunnerOptions = {}): Promise<SileroRunner> {
  const model = await loadSileroModel(opts);
  return new SileroRunner(model, opts);
}
