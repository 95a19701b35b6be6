// One live transcription session, source-agnostic: PCM frames in (WebSocket, RTP call, CLI), domain events
// out. Each frame is preprocessed, written to the ring buffer and given to the VAD, all at the session's
// audio rate: the input's own when Silero runs natively at it and it is below the model's (an 8 kHz call
// for a 16 kHz model), else the model's. A speech start opens an utterance: its audio (from a little before
// the start) streams to a worker over one TranscribeStream per session, at the session's rate (the worker
// resamples what it is sent, so silence is never resampled); a speech end sends is_last and the worker
// answers with the final. Finals are post-processed and committed: the WAL records the segment and the
// ring buffer may reuse the audio.
//
// Crash recovery: audio of every utterance not yet final stays in the ring buffer. When the worker stream
// breaks, the session reopens one on a serving worker with first_segment_id = the first uncommitted
// segment and sends those utterances again; finals of segments already committed are dropped, so every
// segment is emitted exactly once, in order.
import { EventEmitter } from 'node:events';
import type { EngineCapabilities, EngineWord } from '../engines/engine.js';
import { TheoError, errorMessage, isTheoError, isWorkerUnavailableError } from '../errors/index.js';
import { float32ToInt16, int16ToFloat32 } from '../audio/resample.js';
import { createPreprocessor, type DenoiserFactory, type Preprocessor } from '../audio/stages/pipeline.js';
import type { AudioQuality } from '../audio/stages/stage.js';
import type { Postprocessor } from '../postprocess/pipeline.js';
import type { SessionsConfig, VadConfig } from '../config/schema.js';
import { safeEmit } from '../util/events.js';
import type { CallMetadata, SessionEvent } from './events.js';
import type { SessionMetrics } from './metrics.js';
import type { SessionVadFactory, SessionVad, VadSpeechEvent, WorkerLink, WorkerStream } from './ports.js';
import type { SttStreamEvent } from '../workers/client.js';
import { RingBuffer } from './ring-buffer.js';
import { SessionStateMachine, type SessionState } from './state-machine.js';
import type { SessionWal } from './wal.js';
import { LocalAgreement } from './local-agreement.js';
import { SegmentContext } from './context.js';

export interface SessionOptions {
  id: string;
  model: string;
  capabilities: EngineCapabilities;
  /** Rate of the frames given to push(). */
  inputRate: number;
  /** How the audio reaches us; default from the input rate. */
  quality?: AudioQuality;
  language?: string | undefined;
  hotWords?: readonly string[];
  /** Post-process finals (ITN, entities); hot word correction runs whenever hot words are set. */
  itn: boolean;
  /** Emit partials. */
  interimResults: boolean;
  /** Input arrives at real-time pace (a call, a microphone): running ahead is rate-limited. False: a file fed as fast as it can be. */
  realtime: boolean;
  /**
   * Push-to-talk: the client's commit ends each utterance (the VAD ends one only after a long pause), so the
   * open utterance streams to the worker as the VAD decides it rather than held back for an end that will
   * not come, and a commit only has to finalise.
   */
  pushToTalk?: boolean;
  preprocess: { enabled: boolean; dc: boolean | 'auto'; gain: boolean; denoise: boolean | 'auto' };
  vad: VadConfig;
  sessions: SessionsConfig;
  /** The call this session transcribes: stamped on every event. */
  call?: CallMetadata | undefined;
}

export interface SessionDeps {
  link: WorkerLink;
  vad: SessionVadFactory;
  wal: SessionWal;
  postprocessor: Postprocessor;
  metrics?: SessionMetrics | undefined;
  denoiser?: DenoiserFactory | undefined;
  /** Wall clock, ms (Date.now by default); tests pass a fake one. */
  now?: () => number;
  onWarning?: (message: string) => void;
  onListenerError?: (event: string, err: unknown) => void;
}

export interface SessionEvents {
  event: [SessionEvent];
}

interface Utterance {
  segmentId: number;
  /** Ring offsets (samples at the session's rate): [start, end); end undefined while speech goes on. */
  start: number;
  end: number | undefined;
  /** Sent to the current worker stream up to here. */
  sent: number;
  lastSent: boolean;
  forced: boolean;
  /** Wall time the audio at `start`/`end` arrived (for ttfb / final delay). */
  startWall: number;
  endWall: number;
  answered: boolean;
  /** Committed because the buffer filled before its final came: it cannot be resent after a crash. */
  forceCommitted: boolean;
  /** Cut by commit(discard): its partials and final are not emitted and it is no context for later ones. */
  discarded: boolean;
}

export interface SessionStats {
  state: SessionState;
  inputSamples: number;
  droppedSamples: number;
  segments: number;
  recoveries: number;
  duplicatesDropped: number;
  bufferFill: number;
  /** Bytes this session holds (buffer and scratch), fixed at creation. */
  memoryBytes: number;
}

/** Margin on what a late speech start can still claim before the VAD's decided offset (dips, windows). */
const START_MARGIN_MS = 250;
const SEND_CHUNK_MS = 500;
const EMPTY = new Float32Array(0);

export class Session extends EventEmitter<SessionEvents> {
  readonly id: string;
  readonly model: string;
  readonly inputRate: number;
  /** The model's rate. */
  readonly sampleRate: number;
  /**
   * The rate the session keeps audio at (preprocessing output, ring buffer, VAD, worker stream): the input's
   * own when Silero runs natively at it and it is below the model's (an 8 kHz call for a 16 kHz model: the
   * VAD costs ~1.7x less, the ring half the memory, and the upsampled band holds nothing more), else the
   * model's. The worker resamples to the model's rate.
   */
  readonly audioRate: number;
  readonly quality: AudioQuality;
  private readonly opts: SessionOptions;
  private readonly deps: SessionDeps;
  private readonly now: () => number;
  private readonly machine: SessionStateMachine;
  private readonly ring: RingBuffer;
  private readonly pre: Preprocessor;
  private readonly vadStream: SessionVad;
  private readonly context: SegmentContext;
  private readonly agreement: LocalAgreement | undefined;
  readonly createdAt: number;
  readonly call: CallMetadata | undefined;
  private hotWords: string[];
  private stream: WorkerStream | undefined;
  /** Bumped whenever a stream is replaced, so a stale pump stops. */
  private epoch = 0;
  private recovering: Promise<void> | undefined;
  private readonly pending: Utterance[] = [];
  private nextSegmentId = 0;
  private lastCommittedSegment = -1;
  private segments = 0;
  private recoveries = 0;
  private duplicates = 0;
  private inputSamples = 0;
  private dropped = 0;
  private firstFrameWall: number | undefined;
  private lastWriteWall = 0;
  private backpressure: 'ok' | 'rate_limited' | 'dropping' = 'ok';
  private closing: Promise<void> | undefined;
  private closeReason = '';
  /** Cleanup done and session.closed emitted. */
  private finished = false;
  private passInFlight: AbortController | undefined;
  private lastPassWall = 0;
  private f32 = new Float32Array(0);
  private i16 = new Int16Array(0);
  /** Largest frame sent to a worker, samples. */
  private readonly sendChunk: number;
  private drainWaiters: Array<() => void> = [];
  /** session.created, held until the constructor's caller could attach listeners (see emitCreated). */
  private createdEvent: SessionEvent | undefined;
  /** A fatal error (fail()): no final can come any more, so close() does not wait for one. */
  private failed = false;
  private finalWaiters: Array<() => void> = [];

  constructor(opts: SessionOptions, deps: SessionDeps) {
    super();
    this.id = opts.id;
    this.model = opts.model;
    this.opts = opts;
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.inputRate = opts.inputRate;
    this.sampleRate = opts.capabilities.sampleRate;
    this.audioRate = (opts.inputRate === 8000 || opts.inputRate === 16000) && opts.inputRate < this.sampleRate ? opts.inputRate : this.sampleRate;
    this.createdAt = this.now();
    this.call = opts.call;
    const p = opts.preprocess;
    this.pre = createPreprocessor({
      inputRate: opts.inputRate,
      outputRate: this.audioRate,
      dc: p.enabled ? p.dc : false,
      gain: p.enabled && p.gain,
      denoise: p.enabled ? p.denoise : false,
      ...(opts.quality ? { quality: opts.quality } : {}),
      ...(deps.denoiser ? { denoiser: deps.denoiser } : {}),
      ...(deps.onWarning ? { onWarning: deps.onWarning } : {}),
    });
    this.quality = this.pre.quality;
    this.ring = new RingBuffer({ capacity: opts.sessions.bufferSeconds * this.audioRate, forceCommitRatio: opts.sessions.forceCommitRatio });
    this.sendChunk = Math.round((SEND_CHUNK_MS / 1000) * this.audioRate);
    this.machine = new SessionStateMachine({ timeouts: opts.sessions.timeouts, nowMs: this.now(), ...(deps.onListenerError ? { onListenerError: (err: unknown) => deps.onListenerError?.('state', err) } : {}) });
    this.machine.onTransition((t) => this.emitEvent({ type: 'session.state', from: t.from, to: t.to, reason: t.detail ? `${t.reason}: ${t.detail}` : t.reason }));
    this.hotWords = [...(opts.hotWords ?? [])];
    this.context = new SegmentContext({ maxTokens: opts.sessions.contextTokens });
    this.context.setHotWords(opts.capabilities.hotWords ? [] : this.hotWords);
    this.agreement =
      !opts.capabilities.nativePartials && opts.interimResults && opts.sessions.localAgreement > 0 && deps.link.transcribe
        ? new LocalAgreement({ n: opts.sessions.localAgreement })
        : undefined;
    this.vadStream = deps.vad(this.audioRate, (ev) => this.onVad(ev), opts.vad);
    deps.metrics?.activeSessions.inc();
    // Emitted here nobody could hear it: it goes out on the next microtask, or before any other event.
    this.createdEvent = { type: 'session.created', model: this.model, inputRate: this.inputRate, sampleRate: this.sampleRate, sessionId: this.id, at: this.createdAt, ...(this.call ? { call: this.call } : {}) };
    queueMicrotask(() => this.emitCreated());
  }

  get state(): SessionState {
    return this.machine.state;
  }

  get closed(): boolean {
    return this.finished;
  }

  stats(): SessionStats {
    return {
      state: this.machine.state,
      inputSamples: this.inputSamples,
      droppedSamples: this.dropped,
      segments: this.segments,
      recoveries: this.recoveries,
      duplicatesDropped: this.duplicates,
      bufferFill: this.ring.fill,
      memoryBytes: this.ring.capacity * 2 + this.f32.byteLength + this.i16.byteLength,
    };
  }

  /** Hot words for the next utterances (merged into the prompt, or passed natively where the engine biases). */
  setHotWords(words: readonly string[]): void {
    this.hotWords = [...words];
    this.context.setHotWords(this.opts.capabilities.hotWords ? [] : this.hotWords);
    this.stream?.updatePrompt(this.context.prompt(), this.opts.capabilities.hotWords ? this.hotWords : []);
  }

  /** A DTMF digit from the session's source (a call's RFC 4733 events): reported as a `dtmf` event. */
  dtmf(digit: string, durationMs: number): void {
    if (this.closed) return;
    this.emitEvent({ type: 'dtmf', digit, durationMs: Math.round(durationMs), atMs: Math.round((this.inputSamples / this.inputRate) * 1000) });
  }

  /** Asks for HOLD (a call on hold): the silence timeout no longer closes, the hold timeout does. */
  hold(reason = 'requested'): void {
    const s = this.machine.state;
    if (s === 'ACTIVE' || s === 'SILENCE') {
      this.machine.transition('HOLD', 'hold_requested', this.now(), reason);
      this.emitEvent({ type: 'session.hold', reason });
    }
  }

  /**
   * Takes one frame at the input rate: Int16 PCM, or float samples in [-1, 1]. Returns false when the caller
   * should slow down (input ahead of real time, or a backlog); frames past the backlog bound are dropped
   * (counted and reported), never queued without bound. Frames after close() are refused (false).
   */
  push(frame: Int16Array | Float32Array): boolean {
    const s = this.machine.state;
    if (s === 'CLOSING' || s === 'CLOSED') return false;
    const n = frame.length;
    if (n === 0) return true;
    const now = this.now();
    if (!this.checkBacklog(n, now)) return false;
    const f = this.toFloat(frame);
    this.inputSamples += n;
    const out = this.pre.processView(f);
    // Stages that left the frame as it came (DC removal on a line without offset) hand it back as it is: the
    // Int16 frame then goes to the ring without a conversion.
    this.writeRing(out, now, out === f && frame instanceof Int16Array ? frame : undefined, this.pre.detectView);
    return this.backpressure === 'ok';
  }

  /** Resolves when the session may take more input (fast mode), or at once. */
  whenReady(): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Finalises the open utterance now (a client's explicit commit): it ends where the audio is (`forced`) and
   * speech that goes on continues as the next utterance. With `discard` (a client clearing its buffer) the
   * utterance's text is never emitted: what the worker was already sent is dropped when its final comes.
   * Returns the committed segment id, or undefined when no utterance is open.
   */
  commit(discard = false): number | undefined {
    const open = this.openUtterance();
    if (!open || this.closing || this.finished) return undefined;
    const now = this.now();
    open.discarded = discard;
    this.endUtterance(open, this.ring.writeOffset, true, now);
    this.startUtterance(this.ring.writeOffset, now, true);
    return open.segmentId;
  }

  /** Resolves once every utterance that ended has its final (or the session closed). */
  whenIdle(): Promise<void> {
    if (this.pending.every((u) => u.end === undefined) || this.closed || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.finalWaiters.push(resolve));
  }

  /** Timeouts and periodic work; the session manager calls it from one shared timer. */
  tick(now: number = this.now()): void {
    if (this.closed) return;
    const t = this.machine.tick(now);
    if (t) {
      if (t.to === 'HOLD') this.emitEvent({ type: 'session.hold', reason: t.reason });
      if (t.to === 'CLOSING') void this.close(t.reason);
      if (t.to === 'CLOSED') this.finishClose();
    }
    this.maybePass(now);
  }

  /**
   * End of input without closing: what the preprocessor and the VAD still hold is decided, an open utterance
   * is finalised, and the promise resolves once every final is in (or the session closed). A source that
   * knows its audio is over (a file, a hung-up call) calls this, then close().
   */
  async finish(): Promise<void> {
    if (this.closing || this.finished) return;
    this.flushPreprocessor();
    await this.vadStream.flush();
    const open = this.openUtterance();
    if (open) this.endUtterance(open, this.ring.writeOffset, false, this.now());
    await this.whenIdle();
  }

  /**
   * Ends the session: an open utterance is finalised, pending finals are awaited (at most the CLOSING
   * timeout), then the worker stream ends and session.closed is emitted. Safe to call more than once.
   */
  close(reason = 'closed'): Promise<void> {
    if (this.closing) return this.closing;
    this.closeReason = reason;
    this.closing = this.runClose();
    return this.closing;
  }

  private async runClose(): Promise<void> {
    this.machine.close(this.closeReason.startsWith('error') ? 'error' : 'close_requested', this.now(), this.closeReason);
    try {
      this.flushPreprocessor();
      await this.vadStream.flush();
      const open = this.openUtterance();
      if (open) this.endUtterance(open, this.ring.writeOffset, false, this.now());
      const timeout = this.opts.sessions.timeouts.closingMs;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeout).unref();
      });
      const drained = await Promise.race([this.whenIdle().then(() => true), timedOut]);
      // Drained first: the closing timer would otherwise outlive the session by up to closingMs.
      clearTimeout(timer);
      this.finishClose(drained ? 'drained' : 'closing_timeout');
      return;
    } catch (err) {
      this.deps.onWarning?.(`session ${this.id}: close: ${errorMessage(err)}`);
    }
    this.finishClose();
  }

  private finishClose(reason: 'drained' | 'closing_timeout' = 'drained'): void {
    if (this.finished) return;
    this.finished = true;
    const pendingFinals = this.pending.filter((u) => !u.forceCommitted).map((u) => u.segmentId);
    if (pendingFinals.length > 0) {
      this.emitEvent({
        type: 'error',
        code: 'final_missing',
        message: `session closed before the finals of segment(s) ${pendingFinals.join(', ')} arrived`,
        recoverable: false,
      });
    }
    this.epoch++;
    const stream = this.stream;
    this.stream = undefined;
    stream?.end();
    if (stream) setTimeout(() => stream.cancel(), 1000).unref();
    this.passInFlight?.abort();
    this.vadStream.close();
    this.pre.dispose();
    this.deps.wal.remove(this.id);
    if (this.machine.state === 'CLOSING') this.machine.transition('CLOSED', this.closeReason.startsWith('error') ? 'error' : reason, this.now(), this.closeReason);
    const durationMs = this.now() - this.createdAt;
    this.deps.metrics?.activeSessions.dec();
    this.deps.metrics?.sessionDuration.observe(durationMs / 1000);
    this.emitEvent({
      type: 'session.closed',
      reason: this.closeReason || 'closed',
      durationMs,
      segments: this.segments,
      droppedSamples: this.dropped,
      recoveries: this.recoveries,
    });
    for (const w of this.finalWaiters.splice(0)) w();
    for (const w of this.drainWaiters.splice(0)) w();
    this.removeAllListeners();
  }

  // ---- input -----------------------------------------------------------------------------------

  /** An Int16 frame as floats, in a scratch array of the frame's length (frames of one source have one length: no allocation per frame). */
  private toFloat(frame: Int16Array | Float32Array): Float32Array {
    if (frame instanceof Float32Array) return frame;
    if (this.f32.length !== frame.length) this.f32 = new Float32Array(frame.length);
    return int16ToFloat32(frame, this.f32);
  }

  /** Real-time input ahead of the clock by more than the bound is rate-limited, by twice the bound dropped. */
  private checkBacklog(n: number, now: number): boolean {
    if (!this.opts.realtime) return true;
    this.firstFrameWall ??= now;
    const bound = this.opts.sessions.maxBacklogMs;
    const aheadMs = ((this.inputSamples + n) / this.inputRate) * 1000 - (now - this.firstFrameWall);
    if (aheadMs > 2 * bound) {
      this.dropped += n;
      this.deps.metrics?.droppedSamples.inc(n);
      this.setBackpressure('dropping', aheadMs);
      return false;
    }
    if (aheadMs > bound) this.setBackpressure('rate_limited', aheadMs);
    else if (aheadMs < bound / 2) this.setBackpressure('ok', aheadMs);
    return true;
  }

  private setBackpressure(state: 'ok' | 'rate_limited' | 'dropping', backlogMs: number): void {
    if (state === this.backpressure) return;
    this.backpressure = state;
    this.emitEvent({ type: 'session.backpressure', state, backlogMs: Math.round(backlogMs), droppedSamples: this.dropped });
  }

  private isReady(): boolean {
    if (this.closed) return true;
    if (this.opts.realtime) return this.backpressure === 'ok';
    // A file fed as fast as possible: wait while ended utterances' finals are outstanding beyond a few, or
    // hold much of the buffer. Only such a final wakes a waiter: with none outstanding (the fill is an open
    // utterance's, or force-committed ones whose finals may never come) waiting would never end.
    const awaiting = this.pending.filter((u) => u.end !== undefined && !u.forceCommitted).length;
    return awaiting === 0 || (this.ring.fill < 0.5 && awaiting < 4);
  }

  /**
   * What the preprocessor still holds goes to the ring: a resampler's look-ahead (the VAD hears it too) and a
   * denoiser's partial frame (audio the VAD has heard already).
   */
  private flushPreprocessor(): void {
    const tail = this.pre.flush();
    if (tail.length > 0) this.writeRing(tail, this.now(), undefined, this.audioRate === this.inputRate ? EMPTY : tail);
  }

  /**
   * Writes preprocessed samples to the ring, and gives the VAD its view of the same span (`vad`: before
   * denoise and gain; as long as `samples` but for what a denoiser holds back). `pcm`: `samples` as Int16
   * when the caller has them (no conversion needed).
   */
  private writeRing(samples: Float32Array, now: number, pcm: Int16Array | undefined, vad: Float32Array): void {
    const n = samples.length;
    let accepted = 0;
    if (n > 0) {
      this.maybeForceCommit(n, now);
      accepted = this.ring.write(pcm ?? this.toInt16(samples));
      if (accepted < n) {
        this.dropped += n - accepted;
        this.deps.metrics?.droppedSamples.inc(n - accepted);
        this.setBackpressure('dropping', 0);
      }
      this.lastWriteWall = now;
    }
    // What the ring refused, the VAD does not hear either, so their offsets stay in step.
    const heard = Math.max(0, vad.length - (n - accepted));
    if (heard > 0) this.vadStream.push(heard === vad.length ? vad : vad.subarray(0, heard));
    if (n === 0) return;
    const open = this.openUtterance();
    if (open) this.sendUpTo(open, this.liveLimit());
    this.commitSilence();
  }

  /** Samples the VAD has decided (events up to here are out). */
  private decided(): number {
    const processed = this.vadStream.processedOffset;
    return processed === undefined ? this.ring.writeOffset : Math.min(this.ring.writeOffset, processed);
  }

  /** Float samples in [-1, 1] as Int16 (rounded, clamped) in a scratch array of their length, valid until the next call. */
  private toInt16(samples: Float32Array): Int16Array {
    if (this.i16.length !== samples.length) this.i16 = new Int16Array(samples.length);
    return float32ToInt16(samples, this.i16);
  }

  /**
   * How far an open utterance may be sent while it goes on. Its end, when the VAD reports it, is where the
   * silence began plus the pad; silence that began more than min-silence before the decided offset would
   * already have been reported, so up to decided - minSilence + pad is inside the utterance whatever comes.
   * Sending no further keeps every utterance's audio (and so its words) the same however the VAD's
   * batching is timed, before and after a crash recovery.
   */
  private liveLimit(): number {
    if (this.opts.pushToTalk) return this.decided();
    const hold = Math.max(0, Math.round(((this.opts.vad.minSilenceMs - this.opts.vad.speechPadMs) / 1000) * this.audioRate));
    return Math.max(0, this.decided() - hold);
  }

  /** When uncommitted audio nears the buffer's size, the open utterance is finalised and everything ended is committed. */
  private maybeForceCommit(incoming: number, now: number): void {
    if (!this.ring.needsForceCommit(incoming)) return;
    const open = this.openUtterance();
    if (open) {
      this.endUtterance(open, this.ring.writeOffset, true, now);
      this.deps.metrics?.forceCommits.inc();
      // Speech goes on: the next utterance starts where this one ended.
      this.startUtterance(this.ring.writeOffset, now, true);
    }
    for (const u of this.pending) {
      if (u.end === undefined || u.forceCommitted) continue;
      u.forceCommitted = true;
      this.ring.commit(Math.max(this.ring.committedOffset, u.end));
    }
  }

  /** Between utterances, audio older than what a late speech start could still claim is committed. */
  private commitSilence(): void {
    if (this.openUtterance()) return;
    const keep = Math.round(((this.opts.vad.speechPadMs + this.opts.vad.minSpeechMs + START_MARGIN_MS) / 1000) * this.audioRate);
    let fence = this.decided() - keep;
    const first = this.pending.find((u) => !u.forceCommitted);
    if (first) fence = Math.min(fence, first.start);
    if (fence > this.ring.committedOffset) this.ring.commit(fence);
  }

  // ---- VAD -----------------------------------------------------------------------------------------

  private onVad(ev: VadSpeechEvent): void {
    if (this.closed) return;
    this.deps.metrics?.vadEvents.inc({ type: ev.type });
    const now = this.now();
    const offset = ev.offset;
    if (ev.type === 'speech_start') {
      if (this.openUtterance()) return;
      this.startUtterance(offset, now, ev.forced ?? false);
    } else {
      const open = this.openUtterance();
      if (open) this.endUtterance(open, offset, ev.forced ?? false, now);
    }
  }

  private startUtterance(offset: number, now: number, continued: boolean): void {
    const pad = continued ? 0 : Math.round((this.opts.vad.speechPadMs / 1000) * this.audioRate);
    const last = this.pending[this.pending.length - 1];
    const start = Math.max(offset - pad, this.ring.committedOffset, this.ring.oldestOffset, last?.end ?? 0, 0);
    const u: Utterance = {
      segmentId: this.nextSegmentId++,
      start,
      end: undefined,
      sent: start,
      lastSent: false,
      forced: false,
      startWall: this.wallOf(offset, now),
      endWall: 0,
      answered: false,
      forceCommitted: false,
      discarded: false,
    };
    this.pending.push(u);
    const s = this.machine.state;
    if (s === 'INIT' || s === 'SILENCE' || s === 'HOLD') this.machine.transition('ACTIVE', 'speech_start', now);
    this.emitEvent({ type: 'vad.speech_start', segmentId: u.segmentId, startMs: this.ms(offset) });
    this.agreement?.reset();
    this.lastPassWall = now;
    if (!this.stream && !this.recovering) this.openStream('first speech');
    else this.sendUpTo(u, this.liveLimit());
  }

  private endUtterance(u: Utterance, offset: number, forced: boolean, now: number): void {
    // A cut inside speech (max segment length, a forced commit) ends exactly there: the next utterance goes on from it.
    const pad = forced ? 0 : Math.round((this.opts.vad.speechPadMs / 1000) * this.audioRate);
    const padded = Math.min(this.ring.writeOffset, offset + pad);
    u.end = Math.max(padded, u.sent, u.start);
    u.forced = forced;
    u.endWall = this.wallOf(Math.min(offset, u.end), now);
    this.sendUpTo(u, u.end);
    this.sendLast(u);
    this.passInFlight?.abort();
    this.passInFlight = undefined;
    const s = this.machine.state;
    if (s === 'ACTIVE') this.machine.transition('SILENCE', 'speech_end', now, forced ? 'segment cut' : undefined);
    this.emitEvent({ type: 'vad.speech_end', segmentId: u.segmentId, endMs: this.ms(Math.min(offset, u.end)), forced });
    if (forced && s === 'ACTIVE' && this.machine.state === 'SILENCE' && !this.closing) {
      // A forced cut inside speech: the session stays active.
      this.machine.transition('ACTIVE', 'speech_start', now, 'speech continues');
    }
  }

  /** Wall time at which the sample at `offset` arrived (the last write minus the audio after it). */
  private wallOf(offset: number, now: number): number {
    const behind = ((this.ring.writeOffset - offset) / this.audioRate) * 1000;
    return (this.opts.realtime ? this.lastWriteWall : now) - (this.opts.realtime ? Math.max(0, behind) : 0);
  }

  private openUtterance(): Utterance | undefined {
    const u = this.pending[this.pending.length - 1];
    return u && u.end === undefined ? u : undefined;
  }

  // ---- worker stream ---------------------------------------------------------------------------

  private streamConfig(firstSegmentId: number): Parameters<WorkerLink['open']>[0] {
    const native = this.opts.capabilities.hotWords;
    return {
      sessionId: this.id,
      sampleRate: this.audioRate,
      ...(this.opts.language ? { language: this.opts.language } : {}),
      prompt: this.context.prompt(),
      hotWords: native ? this.hotWords : [],
      interimResults: this.opts.interimResults && this.opts.capabilities.nativePartials,
      task: 'transcribe',
      firstSegmentId,
      audioQuality: this.quality,
    };
  }

  private openStream(reason: string): void {
    try {
      this.attach(this.deps.link.open(this.streamConfig(this.firstUncommittedId())), false);
    } catch (err) {
      this.startRecovery(`${reason}: ${errorMessage(err)}`, false);
    }
  }

  private firstUncommittedId(): number {
    return this.pending.find((u) => !u.forceCommitted)?.segmentId ?? this.nextSegmentId;
  }

  /** Makes `stream` current, sends every pending utterance's audio again from its start, and pumps its events. */
  private attach(stream: WorkerStream, resend: boolean): number {
    this.stream = stream;
    const epoch = ++this.epoch;
    let resent = 0;
    for (const u of this.pending) {
      if (u.forceCommitted) continue;
      if (resend || u.sent < u.start) u.sent = Math.max(u.start, this.ring.oldestOffset);
      u.lastSent = false;
      const before = u.sent;
      this.sendUpTo(u, u.end ?? this.liveLimit());
      resent += u.sent - before;
      if (u.end !== undefined) this.sendLast(u);
    }
    void this.pump(stream, epoch);
    return resent;
  }

  private sendUpTo(u: Utterance, to: number): void {
    const stream = this.stream;
    if (!stream || u.lastSent) return;
    while (u.sent < to) {
      const n = Math.min(to - u.sent, this.sendChunk);
      // Each frame gets its own array: a stream may keep it past write() (grpc-js holds a message
      // unserialised while the call starts, e.g. the burst of a resend after a recovery).
      const pcm = this.ring.read(u.sent, u.sent + n);
      if (!stream.write({ pcm, offsetSamples: u.sent })) return;
      u.sent += n;
    }
  }

  private sendLast(u: Utterance): void {
    const stream = this.stream;
    if (!stream || u.lastSent) return;
    if (stream.write({ pcm: new Int16Array(0), offsetSamples: u.sent, isLast: true })) u.lastSent = true;
  }

  private async pump(stream: WorkerStream, epoch: number): Promise<void> {
    try {
      for await (const ev of stream) {
        if (epoch !== this.epoch) return;
        this.onWorkerEvent(ev);
      }
      if (epoch === this.epoch && !this.closed) this.startRecovery('the worker ended the stream', true);
    } catch (err) {
      if (epoch !== this.epoch || this.closed) return;
      if (isTheoError(err) && err.code === 'invalid_argument') {
        this.fail(err);
        return;
      }
      this.startRecovery(errorMessage(err), true);
    }
  }

  private onWorkerEvent(ev: SttStreamEvent): void {
    const u = this.pending.find((x) => x.segmentId === ev.segmentId);
    if (!u) {
      if (ev.segmentId <= this.lastCommittedSegment) this.duplicates++;
      return;
    }
    const now = this.now();
    if (!u.answered) {
      u.answered = true;
      this.deps.metrics?.ttfb.observe(Math.max(0, now - u.startWall) / 1000);
    }
    if (ev.kind === 'partial') {
      // A partial may still come after the speech end (the worker lags the audio): it is news until the final.
      if (!this.opts.interimResults || u.discarded) return;
      this.emitEvent({ type: 'transcript.partial', segmentId: u.segmentId, text: ev.text, stable: '', startMs: this.ms(u.start), endMs: this.ms(u.sent) });
      return;
    }
    this.commitFinal(u, ev.text, ev.confidence, ev.language, ev.words, now);
  }

  private commitFinal(u: Utterance, raw: string, confidence: number, language: string, words: EngineWord[], now: number): void {
    const i = this.pending.indexOf(u);
    // Finals come in segment order on one stream; anything before this one that never got a final is given up.
    const skipped = this.pending.splice(0, i + 1);
    skipped.pop();
    for (const s of skipped) {
      this.emitEvent({ type: 'error', code: 'final_missing', message: `segment ${s.segmentId} got no final`, recoverable: true });
    }
    this.lastCommittedSegment = u.segmentId;
    const end = u.end ?? u.sent;
    if (!u.discarded) this.emitFinal(u, raw, confidence, language, words, end, now);
    const next = this.pending.find((x) => !x.forceCommitted);
    const fence = Math.min(end, next?.start ?? end);
    if (fence > this.ring.committedOffset) this.ring.commit(fence);
    this.deps.wal.commit({ sessionId: this.id, segmentId: u.segmentId, offset: this.ring.committedOffset, timestamp: now });
    if (this.opts.capabilities.architecture === 'encoder-decoder') this.stream?.updatePrompt(this.context.prompt(), this.opts.capabilities.hotWords ? this.hotWords : []);
    if (this.pending.every((x) => x.end === undefined)) for (const w of this.finalWaiters.splice(0)) w();
    if (this.isReady()) for (const w of this.drainWaiters.splice(0)) w();
  }

  private emitFinal(u: Utterance, raw: string, confidence: number, language: string, words: EngineWord[], end: number, now: number): void {
    this.segments++;
    const text = this.deps.postprocessor.apply(raw, { itn: this.opts.itn, hotWords: this.hotWords, language: language || this.opts.language || 'en' });
    this.emitEvent({
      type: 'transcript.final',
      segmentId: u.segmentId,
      text,
      rawText: raw,
      startMs: this.ms(u.start),
      endMs: this.ms(end),
      language,
      confidence,
      words,
    });
    this.deps.metrics?.observeConfidence(confidence);
    if (u.endWall > 0) this.deps.metrics?.finalDelay.observe(Math.max(0, now - u.endWall) / 1000);
    if (raw.trim()) this.context.addFinal(raw);
  }

  private startRecovery(reason: string, broken: boolean): void {
    // A recovery still settling has already attached its stream: that stream breaking needs a new one.
    if (this.closed || (this.recovering && !this.stream)) return;
    const stream = this.stream;
    this.stream = undefined;
    this.epoch++;
    stream?.cancel();
    if (broken) {
      this.recoveries++;
      this.deps.metrics?.recoveries.inc();
    }
    this.emitEvent({ type: 'session.recovering', reason, nextSegmentId: this.firstUncommittedId(), resentSamples: 0 });
    const recovering = this.recover(reason).finally(() => {
      if (this.recovering === recovering) this.recovering = undefined;
    });
    this.recovering = recovering;
  }

  private async recover(reason: string): Promise<void> {
    const deadline = this.now() + this.opts.sessions.recoveryTimeoutMs;
    let lastError = reason;
    while (!this.closed) {
      const left = deadline - this.now();
      if (left <= 0) break;
      try {
        await this.deps.link.whenServing(left);
      } catch (err) {
        lastError = errorMessage(err);
        // The model is down (its workers keep crashing): say so now rather than when the window runs out.
        if (isWorkerUnavailableError(err) && err.reason === 'failed') return this.fail(err);
        if (this.now() >= deadline) break;
        await delay(Math.min(200, Math.max(1, deadline - this.now())));
        continue;
      }
      if (this.closed) return;
      try {
        const stream = this.deps.link.open(this.streamConfig(this.firstUncommittedId()));
        const resent = this.attach(stream, true);
        this.emitEvent({ type: 'session.recovered', reason, nextSegmentId: this.firstUncommittedId(), resentSamples: resent });
        return;
      } catch (err) {
        lastError = errorMessage(err);
        await delay(50);
      }
    }
    if (!this.closed) this.fail(new TheoError('worker_unavailable', `no worker for '${this.model}' within ${this.opts.sessions.recoveryTimeoutMs} ms: ${lastError}`));
  }

  private fail(err: unknown): void {
    const code = isTheoError(err) ? err.code : 'engine_failed';
    this.failed = true;
    for (const w of this.finalWaiters.splice(0)) w();
    this.emitEvent({ type: 'error', code, message: errorMessage(err), recoverable: false });
    void this.close(`error: ${code}`);
  }

  // ---- LocalAgreement partials (engines without native partials) ----------------------------------

  private maybePass(now: number): void {
    const link = this.deps.link;
    const la = this.agreement;
    const u = this.openUtterance();
    if (!la || !u || !link.transcribe || this.passInFlight || now - this.lastPassWall < this.opts.sessions.partialIntervalMs) return;
    const to = this.ring.writeOffset;
    if (to - u.start < this.audioRate / 2) return;
    this.lastPassWall = now;
    const controller = new AbortController();
    this.passInFlight = controller;
    const pcm = this.ring.read(u.start, to, new Int16Array(to - u.start));
    link
      .transcribe(pcm, { sampleRate: this.audioRate, language: this.opts.language, prompt: this.context.prompt(), signal: controller.signal })
      .then((r) => {
        if (controller.signal.aborted || this.openUtterance() !== u || this.closed) return;
        const words = r.text.split(/\s+/).filter(Boolean);
        const { confirmed, tentative } = la.push(words);
        if (!u.answered) {
          u.answered = true;
          this.deps.metrics?.ttfb.observe(Math.max(0, this.now() - u.startWall) / 1000);
        }
        this.emitEvent({
          type: 'transcript.partial',
          segmentId: u.segmentId,
          text: [...confirmed, ...tentative].join(' '),
          stable: confirmed.join(' '),
          startMs: this.ms(u.start),
          endMs: this.ms(to),
        });
      })
      .catch(() => undefined)
      .finally(() => {
        if (this.passInFlight === controller) this.passInFlight = undefined;
      });
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private ms(offset: number): number {
    return Math.round((offset / this.audioRate) * 1000);
  }

  private emitEvent(ev: DistributiveOmit<SessionEvent, 'sessionId' | 'at'>): void {
    this.emitCreated();
    const full = { ...ev, sessionId: this.id, at: this.now(), ...(this.call ? { call: this.call } : {}) };
    safeEmit(this, this.deps.onListenerError ?? (() => undefined), 'event', full);
  }

  private emitCreated(): void {
    const created = this.createdEvent;
    if (!created) return;
    this.createdEvent = undefined;
    safeEmit(this, this.deps.onListenerError ?? (() => undefined), 'event', created);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
