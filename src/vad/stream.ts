// One stream's VAD: buffers frames of any length into 32 ms windows, asks the energy pre-filter about each,
// hands the rest to its runner for batched Silero inference, and turns the results into events in order.
//
// Timing: push() only buffers. Windows are classified when the runner drains (after the current event-loop
// turn by default, or at runner.flush()), so onEvent is called after push() has returned, never inside it;
// per stream, windows are processed strictly in order and events arrive in offset order. A window that is
// being inferred when the stream is reset or closed is dropped on return (an epoch check), so a closed
// stream never calls back.
//
// Samples live in one growable buffer addressed by absolute positions (`base` is the position of buf[0]):
// windows are read in place and the buffer is compacted only when a push would not fit, so steady-state
// pushes allocate nothing. Non-finite samples become 0 and samples are clamped to [-1, 1] on the way in.
//
// Skipped windows: the pre-filter's silence windows count as probability 0 and are not run, so the model's
// recurrent state does not see them. Through a short run (under STATE_RESET_WINDOWS, a pause inside speech)
// the state is kept: Silero's own state would still carry the speech it just heard. After a long run it is
// set to the model's idle state, the state Silero reaches on about 1 s of silence. Zeros (the state at
// stream start) were worse stand-ins: Silero needs a few windows from zeros before it trusts speech, so
// onsets after every skipped run came late. Measured on the first 300 Asterisk prompts, each played twice
// with 1 s of silence between, against the same audio with no pre-filter: windows flipping from speech
// (p >= 0.5) to silence (p < 0.35) were 755 when resetting to zeros at every skipped window, 196 when always
// keeping the state, 92 with this rule (20 dB quieter: 5792, 616, 144). A stream whose first windows are
// skipped gets the idle state at once: its zero state means "heard nothing", and it has heard silence. The 64/32 samples of
// context are audio, not state, so they are always taken from the real end of the previous window.
import { ClosedError, TheoError } from '../errors/index.js';
import { SpeechDetector, type VadEvent, type VadEventCounts } from './detector.js';
import { EnergyPrefilter } from './energy.js';
import { STATE_LAYERS, STATE_SIZE, STATE_WIDTH, type BatchBuffers } from './model.js';
import type { ResolvedVadOptions, VadOptions, VadSampleRate } from './options.js';

export type VadEventListener = (event: VadEvent) => void;
/** Per-window tap: offset of the window's first sample, its probability, whether the pre-filter skipped it. */
export type VadWindowListener = (offset: number, probability: number, skipped: boolean) => void;

export interface VadStreamOptions extends VadOptions {
  onWindow?: VadWindowListener;
}

export interface VadStreamStats {
  windowsInferred: number;
  windowsSkipped: number;
  /** Windows whose inference failed: counted as silence. */
  windowsFailed: number;
  events: VadEventCounts;
}

export interface VadStream {
  readonly sampleRate: VadSampleRate;
  readonly options: Readonly<ResolvedVadOptions>;
  /** Whether a segment is open, as of the last window processed (it lags push() by the pending windows). */
  readonly speaking: boolean;
  /** Samples pushed since the start or the last reset. */
  readonly offset: number;
  /** Samples classified so far (event offsets are at most this). */
  readonly processedOffset: number;
  /** Whole windows buffered and not yet classified. */
  readonly pendingWindows: number;
  readonly stats: Readonly<VadStreamStats>;
  readonly closed: boolean;
  /** Buffers `frame` (any length; empty is a no-op). Throws ClosedError after close(). */
  push(frame: Float32Array): void;
  /**
   * End of stream: the last partial window is padded with zeros and classified, then an open segment ends
   * (at the offset where silence began, or at the end of the audio). Resolves once those events have been
   * delivered. The stream stays usable; what is pushed next starts from fresh model state.
   */
  flush(): Promise<void>;
  /** Drops buffered audio and all state without events; offsets restart at 0. */
  reset(): void;
  /** Detaches from the runner; no callback fires afterwards. Safe to call twice. */
  close(): void;
}

/** Runner-wide counters the streams add to. */
export interface VadTotals {
  windowsInferred: number;
  windowsSkipped: number;
  windowsFailed: number;
  listenerErrors: number;
  events: VadEventCounts;
}

/** What a stream needs from its runner. */
export interface StreamHost {
  readonly totals: VadTotals;
  /** The stream has a whole window (or a due flush) to process. */
  enqueue(stream: StreamImpl): void;
  detach(stream: StreamImpl): void;
  listenerError(err: unknown): void;
  /** The model state to resume from after a long skipped run (see the header). */
  idleState(rate: VadSampleRate): Float32Array;
}

interface FlushMark {
  /** Absolute position the flush applies at (end of the padded window). */
  at: number;
  /** Zeros added to complete the last window. */
  pad: number;
  resolve: () => void;
}

const HEAD_UNKNOWN = 0;
const HEAD_SKIP = 1;
const HEAD_INFER = 2;
/** Skipped windows in a row after which the model state becomes the idle state (320 ms, about min silence). */
export const STATE_RESET_WINDOWS = 10;
/** Initial buffer: 8 windows (256 ms); it grows by doubling if a caller pushes faster than it drains. */
const INITIAL_WINDOWS = 8;

export class StreamImpl implements VadStream {
  readonly sampleRate: VadSampleRate;
  readonly options: Readonly<ResolvedVadOptions>;
  readonly stats: VadStreamStats;
  /** In the runner's ready list (runner-owned flag). */
  queued = false;
  private readonly host: StreamHost;
  private readonly onEvent: VadEventListener;
  private readonly onWindow: VadWindowListener | undefined;
  private readonly win: number;
  private readonly ctx: number;
  private readonly prefilter: EnergyPrefilter | null;
  private readonly detector: SpeechDetector;
  private readonly context: Float32Array;
  private readonly state = new Float32Array(STATE_SIZE);
  /** The state's layers as views (made once), so batches copy them with set(). */
  private readonly stateLayers: readonly Float32Array[] = Array.from({ length: STATE_LAYERS }, (_, l) => this.state.subarray(l * STATE_WIDTH, (l + 1) * STATE_WIDTH));
  /** The state holds the idle state already (no need to copy it again). */
  private stateIdle = false;
  /** The state is still the zero state of a stream start: the model has heard nothing yet. */
  private stateFresh = true;
  /** Windows skipped since the last one the model ran on. */
  private skipRun = 0;
  private buf: Float32Array;
  private base = 0;
  private written = 0;
  private consumed = 0;
  private pushed = 0;
  private head = HEAD_UNKNOWN;
  private marks: FlushMark[] = [];
  private isClosed = false;
  /** Bumped by reset() and close(): results and events of an older epoch are dropped. */
  private epochNo = 0;
  /** Epoch of the window being dispatched: events from a window that a listener reset are dropped. */
  private dispatchEpoch = 0;

  constructor(host: StreamHost, opts: ResolvedVadOptions, onEvent: VadEventListener, onWindow?: VadWindowListener) {
    this.host = host;
    this.options = opts;
    this.sampleRate = opts.sampleRate;
    this.onEvent = onEvent;
    this.onWindow = onWindow;
    this.win = opts.windowSamples;
    this.ctx = opts.contextSamples;
    this.prefilter = opts.prefilter ? new EnergyPrefilter(this.win, this.sampleRate, opts.prefilter) : null;
    this.detector = new SpeechDetector(opts, this.dispatch);
    this.context = new Float32Array(this.ctx);
    this.buf = new Float32Array(INITIAL_WINDOWS * this.win);
    this.stats = { windowsInferred: 0, windowsSkipped: 0, windowsFailed: 0, events: this.detector.counts };
  }

  get speaking(): boolean {
    return this.detector.speaking;
  }

  get offset(): number {
    return this.pushed;
  }

  get processedOffset(): number {
    return this.detector.offset;
  }

  get pendingWindows(): number {
    return this.isClosed ? 0 : Math.floor((this.written - this.consumed) / this.win);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get epoch(): number {
    return this.epochNo;
  }

  push(frame: Float32Array): void {
    if (this.isClosed) throw new ClosedError('VAD stream');
    if (!(frame instanceof Float32Array)) {
      throw new TheoError('invalid_argument', `VAD push() takes a Float32Array of samples in [-1, 1], got ${Object.prototype.toString.call(frame)}`);
    }
    const n = frame.length;
    if (n === 0) return;
    this.ensure(n);
    const buf = this.buf;
    const at = this.written - this.base;
    // The common case (every sample finite and in [-1, 1]) is checked first and copied in one set().
    let clean = true;
    for (let i = 0; i < n; i++) {
      const v = frame[i] as number;
      if (!(v >= -1 && v <= 1)) {
        clean = false;
        break;
      }
    }
    if (clean) buf.set(frame, at);
    else {
      for (let i = 0; i < n; i++) {
        let v = frame[i] as number;
        if (v - v !== 0) v = 0;
        else if (v > 1) v = 1;
        else if (v < -1) v = -1;
        buf[at + i] = v;
      }
    }
    this.written += n;
    this.pushed += n;
    if (this.written - this.consumed >= this.win) this.host.enqueue(this);
  }

  flush(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    const partial = (this.written - this.consumed) % this.win;
    const pad = partial === 0 ? 0 : this.win - partial;
    if (pad > 0) {
      this.ensure(pad);
      const at = this.written - this.base;
      this.buf.fill(0, at, at + pad);
      this.written += pad;
    }
    return new Promise<void>((resolve) => {
      this.marks.push({ at: this.written, pad, resolve });
      this.host.enqueue(this);
    });
  }

  reset(): void {
    if (this.isClosed) return;
    this.epochNo++;
    this.base = this.written = this.consumed = this.pushed = 0;
    this.head = HEAD_UNKNOWN;
    this.detector.reset();
    this.clearModelState();
    this.resolveMarks();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.epochNo++;
    this.resolveMarks();
    this.buf = new Float32Array(0);
    this.base = this.written = this.consumed = 0;
    this.host.detach(this);
  }

  // ---- runner side -------------------------------------------------------------------------------------

  /** Whether anything is left to do: a whole window or a flush not yet settled. */
  hasWork(): boolean {
    return !this.isClosed && (this.written - this.consumed >= this.win || this.marks.length > 0);
  }

  /**
   * Settles due flushes and processes leading windows that the pre-filter skips (delivering their events);
   * true when the head window needs the model.
   */
  prepare(): boolean {
    for (;;) {
      if (this.isClosed) return false;
      this.settleMarks();
      if (this.isClosed || this.written - this.consumed < this.win) return false;
      if (this.head === HEAD_UNKNOWN) {
        this.head = this.prefilter && this.prefilter.isSilence(this.buf, this.consumed - this.base) ? HEAD_SKIP : HEAD_INFER;
      }
      if (this.head === HEAD_INFER) return true;
      this.stats.windowsSkipped++;
      this.host.totals.windowsSkipped++;
      if (++this.skipRun >= STATE_RESET_WINDOWS || this.stateFresh) this.idleState();
      this.consume(0, true);
    }
  }

  /** Whether the head window is whole and waiting for the model. */
  inferable(): boolean {
    return !this.isClosed && this.head === HEAD_INFER && this.written - this.consumed >= this.win;
  }

  /** Writes the head window (with its context) as row i, and the state, into a batch of n. */
  gather(b: BatchBuffers, n: number, i: number): void {
    const o = i * b.rowSamples;
    const r = this.consumed - this.base;
    const input = b.input;
    input.set(this.context, o);
    // A copy loop rather than set(subarray): no view object per window.
    const buf = this.buf;
    const at = o + this.ctx;
    for (let k = 0, win = this.win; k < win; k++) input[at + k] = buf[r + k] as number;
    for (let l = 0; l < STATE_LAYERS; l++) b.state.set(this.stateLayers[l] as Float32Array, (l * n + i) * STATE_WIDTH);
  }

  /** Takes row i of a finished batch of n for the head window, unless the stream was reset or closed since. */
  scatter(b: BatchBuffers, n: number, i: number, epoch: number): void {
    if (this.isClosed || epoch !== this.epochNo) return;
    for (let l = 0; l < STATE_LAYERS; l++) this.state.set(b.stateOutRows[l * n + i] as Float32Array, l * STATE_WIDTH);
    this.stateIdle = false;
    this.stateFresh = false;
    this.skipRun = 0;
    this.stats.windowsInferred++;
    this.host.totals.windowsInferred++;
    this.consume(b.probability[i] as number, false);
  }

  /** The head window's inference failed: it counts as silence and the state restarts. */
  fail(epoch: number): void {
    if (this.isClosed || epoch !== this.epochNo) return;
    this.stats.windowsFailed++;
    this.host.totals.windowsFailed++;
    this.clearModelState();
    this.consume(0, false);
  }

  // ---- internals ---------------------------------------------------------------------------------------

  /** Makes room for n more samples: compacts, then grows (doubling) only if compaction is not enough. */
  private ensure(n: number): void {
    const r = this.consumed - this.base;
    const w = this.written - this.base;
    if (w + n <= this.buf.length) return;
    if (r > 0) {
      this.buf.copyWithin(0, r, w);
      this.base += r;
    }
    const used = w - r;
    if (used + n > this.buf.length) {
      const grown = new Float32Array(Math.max(this.buf.length * 2, used + n));
      grown.set(this.buf.subarray(0, used));
      this.buf = grown;
    }
  }

  /** The head window is done with probability p: context moves on, the detector sees it. */
  private consume(p: number, skipped: boolean): void {
    const win = this.win;
    const ctx = this.ctx;
    const r = this.consumed - this.base;
    for (let k = 0; k < ctx; k++) this.context[k] = this.buf[r + win - ctx + k] as number;
    this.consumed += win;
    this.head = HEAD_UNKNOWN;
    const mark = this.marks[0];
    const real = mark && mark.at === this.consumed ? win - mark.pad : win;
    this.dispatchEpoch = this.epochNo;
    if (this.onWindow) {
      try {
        this.onWindow(this.detector.offset, p, skipped);
      } catch (err) {
        this.listenerFailed(err);
      }
    }
    if (this.dispatchEpoch !== this.epochNo) return;
    this.detector.push(p, real);
  }

  private settleMarks(): void {
    for (;;) {
      const mark = this.marks[0];
      if (!mark || mark.at > this.consumed) return;
      this.marks.shift();
      this.dispatchEpoch = this.epochNo;
      this.detector.flush();
      this.clearModelState();
      mark.resolve();
      if (this.isClosed) return;
    }
  }

  private idleState(): void {
    if (!this.stateIdle) {
      this.state.set(this.host.idleState(this.sampleRate));
      this.stateIdle = true;
      this.stateFresh = false;
    }
  }

  /** Back to the state of a stream start: zero state and context. */
  private clearModelState(): void {
    this.skipRun = 0;
    this.state.fill(0);
    this.stateIdle = false;
    this.stateFresh = true;
    this.context.fill(0);
  }

  private resolveMarks(): void {
    const marks = this.marks;
    this.marks = [];
    for (const m of marks) m.resolve();
  }

  private listenerFailed(err: unknown): void {
    this.host.totals.listenerErrors++;
    this.host.listenerError(err);
  }

  /** Detector events to the listener: dropped once the stream is closed or was reset by a listener meanwhile. */
  private readonly dispatch = (e: VadEvent): void => {
    if (this.isClosed || this.dispatchEpoch !== this.epochNo) return;
    const events = this.host.totals.events;
    events[e.type]++;
    if (e.forced && e.type === 'speech_end') events.forced++;
    try {
      this.onEvent(e);
    } catch (err) {
      this.listenerFailed(err);
    }
  };
}
