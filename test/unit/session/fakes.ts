// Fakes for the ports a live session talks to (src/session/ports.ts): a clock the test moves, a VAD whose
// events the test schedules at chosen offsets, and a worker link whose streams the test drives (events
// in, breaks, ends) and whose frames it records; and `thrown`, for assertions on errors. No worker process, no ONNX.
import { expect } from 'vitest';
import type { EngineCapabilities } from '../../../src/engines/engine.js';
import { POCKETSPHINX_CAPABILITIES } from '../../../src/engines/pocketsphinx/engine.js';
import { CancelledError, WorkerUnavailableError } from '../../../src/errors/index.js';
import type {
  PassResult,
  SessionVad,
  SessionVadFactory,
  SttStreamConfig,
  SttStreamEvent,
  SttStreamFrame,
  VadSpeechEvent,
  WorkerLink,
  WorkerStream,
} from '../../../src/session/ports.js';

export const HMM_CAPS: Readonly<EngineCapabilities> = POCKETSPHINX_CAPABILITIES;

/** A Whisper-like engine: no native partials (LocalAgreement), prompt conditioning. */
export const ENCDEC_CAPS: Readonly<EngineCapabilities> = Object.freeze({ ...HMM_CAPS, architecture: 'encoder-decoder', nativePartials: false });

/** Lets every pending promise job and I/O callback run (a worker event reaches the session in a few jobs). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ---- clock ---------------------------------------------------------------------------------------

export class FakeClock {
  t: number;
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  readonly now = (): number => this.t;
  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }
}

// ---- VAD -----------------------------------------------------------------------------------------

interface Scheduled {
  ev: VadSpeechEvent;
  firesAt: number;
  later: boolean;
}

/**
 * One session's detector. The test schedules events with `at()`: an event fires once `firesAt` samples
 * (default: its own offset) have been pushed, inside that push (as the real detector may), or after the
 * push returns with `later`. `emit()` fires one at once.
 */
export class FakeVadStream implements SessionVad {
  pushed = 0;
  readonly blocks: Float32Array[] = [];
  readonly emitted: VadSpeechEvent[] = [];
  flushes = 0;
  closes = 0;
  /** flush() ends an open segment with speech_end at the end of the audio, as the real detector does. */
  endOnFlush = true;
  private readonly schedule: Scheduled[] = [];
  private inSpeech = false;

  constructor(
    readonly sampleRate: number,
    private readonly onEvent: (ev: VadSpeechEvent) => void,
  ) {}

  get speaking(): boolean {
    return this.inSpeech;
  }

  at(type: VadSpeechEvent['type'], offset: number, opts: { firesAt?: number; forced?: boolean; later?: boolean } = {}): this {
    const ev: VadSpeechEvent = opts.forced === undefined ? { type, offset } : { type, offset, forced: opts.forced };
    this.schedule.push({ ev, firesAt: opts.firesAt ?? offset, later: opts.later ?? false });
    this.schedule.sort((a, b) => a.firesAt - b.firesAt);
    return this;
  }

  emit(type: VadSpeechEvent['type'], offset: number, forced?: boolean): void {
    this.deliver(forced === undefined ? { type, offset } : { type, offset, forced });
  }

  push(samples: Float32Array): void {
    this.blocks.push(samples.slice());
    this.pushed += samples.length;
    while (this.schedule.length > 0 && (this.schedule[0] as Scheduled).firesAt <= this.pushed) {
      const s = this.schedule.shift() as Scheduled;
      if (s.later) setImmediate(() => this.deliver(s.ev));
      else this.deliver(s.ev);
    }
  }

  flush(): Promise<void> {
    this.flushes++;
    if (this.endOnFlush && this.inSpeech) this.deliver({ type: 'speech_end', offset: this.pushed });
    return Promise.resolve();
  }

  close(): void {
    this.closes++;
  }

  /** What was pushed over [from, to), as the session's ring holds it (Int16, same rounding). */
  int16(from: number, to: number): Int16Array {
    const out = new Int16Array(to - from);
    let base = 0;
    for (const b of this.blocks) {
      for (let i = Math.max(from, base); i < Math.min(to, base + b.length); i++) {
        const v = (b[i - base] as number) * 32768;
        out[i - from] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
      }
      base += b.length;
    }
    return out;
  }

  private deliver(ev: VadSpeechEvent): void {
    this.inSpeech = ev.type === 'speech_start';
    this.emitted.push(ev);
    this.onEvent(ev);
  }
}

export class FakeVadFactory {
  readonly streams: FakeVadStream[] = [];
  readonly create: SessionVadFactory = (sampleRate, onEvent) => {
    const s = new FakeVadStream(sampleRate, onEvent);
    this.streams.push(s);
    return s;
  };

  get last(): FakeVadStream {
    const s = this.streams[this.streams.length - 1];
    if (!s) throw new Error('no VAD stream was created');
    return s;
  }
}

// ---- worker --------------------------------------------------------------------------------------

export interface RecordedFrame {
  /** A copy taken when the frame was written. */
  pcm: Int16Array;
  /** The array the session handed over (to check it was not reused afterwards). */
  original: Int16Array;
  offsetSamples: number;
  isLast: boolean;
}

export function crash(message = 'worker crashed'): WorkerUnavailableError {
  return new WorkerUnavailableError('m', 'crashed', message);
}

/** A TranscribeStream the test drives: push partial/final events, break it, or end it. */
export class FakeWorkerStream implements WorkerStream {
  readonly frames: RecordedFrame[] = [];
  readonly prompts: Array<{ prompt: string; hotWords: string[] }> = [];
  ended = false;
  cancelled = false;
  /** write() answers false while this is false (a stream that stopped taking frames). */
  accepting = true;
  private readonly queue: SttStreamEvent[] = [];
  private waiter: { resolve: (r: IteratorResult<SttStreamEvent>) => void; reject: (e: unknown) => void } | undefined;
  private error: Error | undefined;
  private done = false;

  constructor(
    readonly config: SttStreamConfig,
    readonly index: number,
  ) {}

  get broken(): boolean {
    return this.error !== undefined;
  }

  write(frame: SttStreamFrame): boolean {
    if (!this.accepting || this.ended || this.cancelled || this.done || this.error !== undefined) return false;
    if (!(frame.pcm instanceof Int16Array)) throw new Error('the session writes Int16Array frames');
    this.frames.push({ pcm: frame.pcm.slice(), original: frame.pcm, offsetSamples: frame.offsetSamples ?? -1, isLast: frame.isLast ?? false });
    return true;
  }

  updatePrompt(prompt: string, hotWords: readonly string[] = []): void {
    this.prompts.push({ prompt, hotWords: [...hotWords] });
  }

  end(): void {
    this.ended = true;
  }

  cancel(): void {
    this.cancelled = true;
    this.fail(new CancelledError('stream cancelled'));
  }

  partial(segmentId: number, text: string): void {
    this.push({ kind: 'partial', sessionId: this.config.sessionId, segmentId, text, startMs: 0, endMs: 0, language: 'en', confidence: 0, words: [] });
  }

  final(segmentId: number, text: string, extra: Partial<SttStreamEvent> = {}): void {
    this.push({ kind: 'final', sessionId: this.config.sessionId, segmentId, text, startMs: 0, endMs: 0, language: 'en', confidence: 0.9, words: [], ...extra });
  }

  /** Breaks the stream: iteration throws `err` (a crashed worker by default). */
  fail(err: Error = crash()): void {
    if (this.error !== undefined || this.done) return;
    this.error = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  /** The worker ends the stream (iteration completes). */
  finish(): void {
    if (this.error !== undefined || this.done) return;
    this.done = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<SttStreamEvent> {
    return {
      next: () => {
        const ev = this.queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.error !== undefined) return Promise.reject(this.error);
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
      return: () => {
        this.done = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** Audio frames and is_last marks as text: contiguous frames merge into "from-to", is_last is "last@offset". */
  timeline(): string[] {
    const out: string[] = [];
    let from = -1;
    let to = -1;
    const close = (): void => {
      if (from >= 0) out.push(`${from}-${to}`);
      from = -1;
    };
    for (const f of this.frames) {
      if (f.isLast) {
        close();
        out.push(`last@${f.offsetSamples}`);
      } else if (from >= 0 && f.offsetSamples === to) {
        to += f.pcm.length;
      } else {
        close();
        from = f.offsetSamples;
        to = from + f.pcm.length;
      }
    }
    close();
    return out;
  }

  /** The samples sent over [from, to) (each offset taken from the last frame that covered it). */
  samples(from: number, to: number): Int16Array {
    const out = new Int16Array(to - from);
    const seen = new Uint8Array(to - from);
    for (const f of this.frames) {
      for (let i = 0; i < f.pcm.length; i++) {
        const o = f.offsetSamples + i;
        if (o >= from && o < to) {
          out[o - from] = f.pcm[i] as number;
          seen[o - from] = 1;
        }
      }
    }
    const hole = seen.indexOf(0);
    if (hole >= 0) throw new Error(`no frame covered offset ${from + hole}`);
    return out;
  }

  private push(ev: SttStreamEvent): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: ev, done: false });
    } else {
      this.queue.push(ev);
    }
  }
}

export type ServingMode = 'now' | 'manual' | 'timeout' | 'down';

/** The workers of one model: streams the test drives, whenServing the test controls. */
export class FakeWorkerLink implements WorkerLink {
  readonly streams: FakeWorkerStream[] = [];
  /** Every open() call's config, failed ones included. */
  readonly opens: SttStreamConfig[] = [];
  readonly servingCalls: number[] = [];
  /** open() throws WorkerUnavailableError this many more times. */
  openFailures = 0;
  /**
   * 'now': whenServing resolves at once; 'manual': when the test calls allowServing(); 'timeout': rejects after
   * timeoutMs (real time); 'down': rejects at once, as the worker manager does for a model whose workers all failed.
   */
  serving: ServingMode = 'now';
  /** Moved by timeoutMs when a whenServing times out, so a session on this clock sees the time pass. */
  clock: FakeClock | undefined;
  onOpen: ((s: FakeWorkerStream) => void) | undefined;
  transcribe?: (pcm: Int16Array, options: { language?: string | undefined; prompt?: string | undefined; signal: AbortSignal }) => Promise<PassResult>;
  private servingWaiters: Array<() => void> = [];

  open(config: SttStreamConfig): WorkerStream {
    this.opens.push({ ...config, ...(config.hotWords ? { hotWords: [...config.hotWords] } : {}) });
    if (this.openFailures > 0) {
      this.openFailures--;
      throw new WorkerUnavailableError('m', 'restarting', "no worker serves 'm' now");
    }
    const s = new FakeWorkerStream(this.opens[this.opens.length - 1] as SttStreamConfig, this.streams.length);
    this.streams.push(s);
    this.onOpen?.(s);
    return s;
  }

  whenServing(timeoutMs: number): Promise<void> {
    this.servingCalls.push(timeoutMs);
    if (this.serving === 'now') return Promise.resolve();
    if (this.serving === 'manual') return new Promise((resolve) => this.servingWaiters.push(resolve));
    if (this.serving === 'down') return Promise.reject(new WorkerUnavailableError('m', 'failed', "model 'm' is down: its worker went down 6 times within 60 s; next retry in 5 s", { retryAfter: 5 }));
    return new Promise((_, reject) => {
      setTimeout(() => {
        this.clock?.advance(timeoutMs);
        reject(new WorkerUnavailableError('m', 'deadline', `no worker for 'm' within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  /** Serving from now on; pending whenServing calls resolve. */
  allowServing(): void {
    this.serving = 'now';
    for (const w of this.servingWaiters.splice(0)) w();
  }

  get pendingServing(): number {
    return this.servingWaiters.length;
  }

  get last(): FakeWorkerStream {
    const s = this.streams[this.streams.length - 1];
    if (!s) throw new Error('no worker stream was opened');
    return s;
  }

  stream(i: number): FakeWorkerStream {
    const s = this.streams[i];
    if (!s) throw new Error(`worker stream ${i} was not opened (${this.streams.length} were)`);
    return s;
  }
}

/** What f throws; fails the test when it does not throw. */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return expect.fail('did not throw');
}
