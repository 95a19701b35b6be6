// The runtime side of proto/stt_worker.proto: one connection to one worker. Every pending call sits in
// one set and is rejected with a typed error on close(); gRPC failures become Theo errors
// (UNAVAILABLE / a dropped connection → WorkerUnavailableError, CANCELLED → CancelledError, ...).
import * as grpc from '@grpc/grpc-js';
import type { EngineCapabilities, EngineWord, Task } from '../engines/engine.js';
import type { AudioQuality } from '../audio/stages/stage.js';
import { CancelledError, TheoError, WorkerUnavailableError, errorMessage, type TheoErrorCode } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { FileTranscriptionRequest, FileTranscriptionResult, SttClient } from './types.js';
import { tokenCallInterceptor } from './auth.js';
import {
  ERROR_CODE_METADATA,
  MAX_MESSAGE_BYTES,
  sttWorkerService,
  type HealthResponseMsg,
  type HealthStatus,
  type ProtoWord,
  type StreamEventMsg,
  type StreamRequestMsg,
  type SttWorkerGrpcClient,
} from './proto.js';

export interface SttClientOptions {
  model: string;
  /** host:port of the worker's gRPC server. */
  address: string;
  logger: Logger;
  /** Deadline of one TranscribeFile call (default 10 minutes). */
  requestTimeoutMs?: number;
  /** The worker's token, sent with every call (a worker refuses calls without it). */
  token?: string | undefined;
  /** Called when a call finds the worker unreachable or loses it mid-call (the manager checks its health at once). */
  onUnavailable?: (err: WorkerUnavailableError) => void;
}

export interface WorkerHealth {
  serving: boolean;
  status: HealthStatus;
  model: string;
  engine: string;
  capabilities: EngineCapabilities;
  device: string;
  activeStreams: number;
  queuedRequests: number;
}

export interface SttStreamConfig {
  sessionId: string;
  /** Frames are PCM_S16LE mono at this rate (the model's rate). */
  sampleRate: number;
  language?: string;
  prompt?: string;
  hotWords?: readonly string[];
  interimResults: boolean;
  task?: Task;
  /** Continue segment numbering after a recovery. */
  firstSegmentId?: number;
  /** How the audio reached us: narrowband telephone audio upsampled to sampleRate, or wideband. */
  audioQuality?: AudioQuality;
}

export interface SttStreamFrame {
  /**
   * PCM_S16LE mono samples (an Int16Array, or its little-endian bytes). The stream keeps this memory until
   * the message is serialised (grpc-js holds messages while a call starts): do not write into it afterwards.
   */
  pcm: Int16Array | Uint8Array;
  offsetSamples?: number;
  /** End of the current utterance: the worker answers with a final. */
  isLast?: boolean;
}

export interface SttStreamEvent {
  kind: 'partial' | 'final';
  sessionId: string;
  segmentId: number;
  text: string;
  startMs: number;
  endMs: number;
  language: string;
  confidence: number;
  words: EngineWord[];
}

/** Rebuilds the Theo error a worker replied with, or maps a transport failure. */
export function fromGrpcError(model: string, err: grpc.ServiceError | Error): TheoError {
  const se = err as Partial<grpc.ServiceError>;
  const sent = se.metadata?.get(ERROR_CODE_METADATA)[0];
  const code = typeof sent === 'string' ? (sent as TheoErrorCode) : undefined;
  const details = se.details ?? err.message;
  if (code === 'cancelled' || (code === undefined && se.code === grpc.status.CANCELLED)) return new CancelledError(details, { model }, { cause: err });
  if (code === 'model_loading') return new WorkerUnavailableError(model, 'loading', `model '${model}' is still loading`, { retryAfter: 5, cause: err });
  if (code === 'worker_unavailable' || code === 'closed') return new WorkerUnavailableError(model, 'stopped', `worker for '${model}': ${details}`, { retryAfter: 1, cause: err });
  if (code) return new TheoError(code, details, { model }, { cause: err });
  switch (se.code) {
    case grpc.status.UNAVAILABLE:
      return new WorkerUnavailableError(model, 'unreachable', `worker for '${model}' is unreachable: ${details}`, { retryAfter: 1, cause: err });
    case grpc.status.DEADLINE_EXCEEDED:
      return new WorkerUnavailableError(model, 'deadline', `worker for '${model}' did not answer in time`, { cause: err });
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.UNIMPLEMENTED:
      return new TheoError('invalid_argument', details, { model }, { cause: err });
    case grpc.status.NOT_FOUND:
      return new TheoError('model_not_found', details, { model }, { cause: err });
    default:
      // INTERNAL "Received RST_STREAM" and friends also mean the worker died mid-call.
      if (/RST_STREAM|Connection dropped|ECONNRESET|socket hang up|GOAWAY/i.test(details)) {
        return new WorkerUnavailableError(model, 'crashed', `worker for '${model}' went away during the call: ${details}`, { retryAfter: 1, cause: err });
      }
      return new TheoError('engine_failed', `worker for '${model}': ${details}`, { model, grpcCode: se.code }, { cause: err });
  }
}

function wordsFromProto(words: ProtoWord[]): EngineWord[] {
  return words.map((w) => ({ word: w.word, start: w.startMs / 1000, end: w.endMs / 1000, probability: w.probability }));
}

function capabilitiesFromHealth(h: HealthResponseMsg): EngineCapabilities {
  const architecture = h.architecture === 'ctc' || h.architecture === 'hmm' ? h.architecture : 'encoder-decoder';
  return {
    architecture,
    nativePartials: h.nativePartials,
    languages: h.languages,
    translate: h.translate,
    segmentTimestamps: h.segmentTimestamps,
    wordTimestamps: h.wordTimestamps,
    hotWords: h.hotWords,
    languageDetection: h.languageDetection,
    sampleRate: h.sampleRate,
  };
}

interface Pending {
  reject(err: TheoError): void;
  cancel(): void;
}

export class GrpcSttClient implements SttClient {
  readonly model: string;
  readonly address: string;
  private readonly grpc: SttWorkerGrpcClient;
  private readonly pending = new Set<Pending>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: SttClientOptions) {
    this.model = opts.model;
    this.address = opts.address;
    this.log = opts.logger;
    const Ctor = sttWorkerService();
    this.grpc = new Ctor(opts.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // A restarted worker must be found again quickly, not after grpc's default reconnect backoff (up to 2 min).
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      interceptors: opts.token ? [tokenCallInterceptor(opts.token)] : [],
    });
  }

  private fail(err: grpc.ServiceError | Error): TheoError {
    const e = fromGrpcError(this.model, err);
    if (e instanceof WorkerUnavailableError && (e.reason === 'unreachable' || e.reason === 'crashed')) {
      try {
        this.opts.onUnavailable?.(e);
      } catch (cbErr) {
        this.log.warn({ err: errorMessage(cbErr) }, 'onUnavailable listener threw');
      }
    }
    return e;
  }

  private closedError(): WorkerUnavailableError {
    return new WorkerUnavailableError(this.model, 'closed', `connection to the worker for '${this.model}' is closed`);
  }

  transcribeFile(req: FileTranscriptionRequest, signal?: AbortSignal): Promise<FileTranscriptionResult> {
    if (this.closed) return Promise.reject(this.closedError());
    if (signal?.aborted) return Promise.reject(new CancelledError('transcription cancelled before it was sent', { requestId: req.requestId }));
    const audio = Buffer.from(req.audio.buffer, req.audio.byteOffset, req.audio.byteLength);
    return new Promise<FileTranscriptionResult>((resolve, reject) => {
      let settled = false;
      const deadline = new Date(Date.now() + (this.opts.requestTimeoutMs ?? 600_000));
      const entry: Pending = {
        reject: (err) => finish(err),
        cancel: () => call.cancel(),
      };
      const onAbort = (): void => {
        finish(new CancelledError('transcription cancelled', { requestId: req.requestId }));
        call.cancel();
        // The call's cancellation reaches the worker as RST_STREAM; the Cancel RPC makes sure a queued
        // request leaves the worker's queue even if that reset is lost.
        this.cancel(req.requestId).catch(() => undefined);
      };
      const finish = (err: TheoError | null, result?: FileTranscriptionResult): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(entry);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(result as FileTranscriptionResult);
      };
      const call = this.grpc.TranscribeFile(
        {
          requestId: req.requestId,
          audio,
          encoding: req.audio instanceof Int16Array ? 'PCM_S16LE' : 'PCM_F32LE',
          sampleRate: req.sampleRate,
          language: req.language ?? '',
          task: req.task === 'translate' ? 'TRANSLATE' : 'TRANSCRIBE',
          prompt: req.prompt ?? '',
          hotWords: [...req.hotWords],
          temperature: req.temperature,
          wordTimestamps: req.wordTimestamps,
          segmentTimestamps: true,
          priority: req.priority,
        },
        new grpc.Metadata(),
        { deadline },
        (err, res) => {
          if (err) return finish(this.fail(err));
          if (!res) return finish(new TheoError('engine_failed', `worker for '${this.model}' sent an empty reply`));
          finish(null, {
            requestId: res.requestId,
            text: res.text,
            language: res.language,
            duration: res.durationS,
            segments: res.segments.map((s) => ({
              id: s.id,
              start: s.startMs / 1000,
              end: s.endMs / 1000,
              text: s.text,
              tokens: s.tokens,
              temperature: s.temperature,
              avgLogprob: s.avgLogprob,
              compressionRatio: s.compressionRatio,
              noSpeechProb: s.noSpeechProb,
              words: s.words.length > 0 ? wordsFromProto(s.words) : undefined,
            })),
            confidence: res.confidence === 0 ? undefined : res.confidence,
            inferenceSeconds: res.inferenceS,
          });
        },
      );
      this.pending.add(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  health(timeoutMs = 2000): Promise<WorkerHealth> {
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise<WorkerHealth>((resolve, reject) => {
      const entry: Pending = { reject, cancel: () => call.cancel() };
      const call = this.grpc.Health({}, new grpc.Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        this.pending.delete(entry);
        if (err || !res) return reject(err ? fromGrpcError(this.model, err) : new TheoError('engine_failed', 'empty health reply'));
        resolve({
          serving: res.status === 'SERVING',
          status: res.status,
          model: res.model,
          engine: res.engine,
          capabilities: capabilitiesFromHealth(res),
          device: res.device,
          activeStreams: res.activeStreams,
          queuedRequests: res.queuedRequests,
        });
      });
      this.pending.add(entry);
    });
  }

  cancel(id: string): Promise<boolean> {
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise<boolean>((resolve, reject) => {
      const entry: Pending = { reject, cancel: () => call.cancel() };
      const call = this.grpc.Cancel({ id }, new grpc.Metadata(), { deadline: new Date(Date.now() + 5000) }, (err, res) => {
        this.pending.delete(entry);
        if (err || !res) return reject(err ? fromGrpcError(this.model, err) : new TheoError('engine_failed', 'empty cancel reply'));
        resolve(res.cancelled);
      });
      this.pending.add(entry);
    });
  }

  /** Opens a TranscribeStream: the config goes out at once; write frames, read events by iterating. */
  openStream(config: SttStreamConfig): SttStream {
    if (this.closed) throw this.closedError();
    const call = this.grpc.TranscribeStream(new grpc.Metadata());
    const stream = new SttStream(this.model, call, (err) => this.fail(err), () => this.pending.delete(entry));
    const entry: Pending = { reject: (err) => stream.abort(err), cancel: () => call.cancel() };
    this.pending.add(entry);
    call.write({
      config: {
        sessionId: config.sessionId,
        sampleRate: config.sampleRate,
        language: config.language ?? '',
        prompt: config.prompt ?? '',
        hotWords: [...(config.hotWords ?? [])],
        interimResults: config.interimResults,
        task: config.task === 'translate' ? 'TRANSLATE' : 'TRANSCRIBE',
        firstSegmentId: config.firstSegmentId ?? 0,
        audioQuality: config.audioQuality ?? '',
      },
    });
    return stream;
  }

  /** Rejects every pending call with a WorkerUnavailableError and closes the channel. Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = this.closedError();
    for (const p of [...this.pending]) {
      p.reject(err);
      p.cancel();
    }
    this.pending.clear();
    this.grpc.close();
  }
}

/**
 * One streaming session to a worker. Events arrive through async iteration; the iteration throws a
 * typed error when the worker sends ERROR (TheoError with its code) or the stream breaks
 * (WorkerUnavailableError).
 */
export class SttStream implements AsyncIterable<SttStreamEvent> {
  private readonly buffered: SttStreamEvent[] = [];
  private waiter: { resolve: (r: IteratorResult<SttStreamEvent>) => void; reject: (e: unknown) => void } | undefined;
  private error: TheoError | undefined;
  private done = false;
  private ended = false;

  constructor(
    private readonly model: string,
    private readonly call: grpc.ClientDuplexStream<StreamRequestMsg, StreamEventMsg>,
    mapError: (err: grpc.ServiceError) => TheoError,
    private readonly onSettled: () => void,
  ) {
    call.on('data', (ev: StreamEventMsg) => {
      if (ev.kind === 'PARTIAL' || ev.kind === 'FINAL') {
        this.push({
          kind: ev.kind === 'PARTIAL' ? 'partial' : 'final',
          sessionId: ev.sessionId,
          segmentId: ev.segmentId,
          text: ev.text,
          startMs: ev.startMs,
          endMs: ev.endMs,
          language: ev.language,
          confidence: ev.confidence,
          words: wordsFromProto(ev.words),
        });
      } else if (ev.kind === 'ERROR') {
        const code = (ev.errorCode || 'engine_failed') as TheoErrorCode;
        const err =
          code === 'cancelled'
            ? new CancelledError(ev.errorMessage, { sessionId: ev.sessionId })
            : code === 'worker_unavailable' || code === 'model_loading'
              ? new WorkerUnavailableError(model, code === 'model_loading' ? 'loading' : 'stopped', ev.errorMessage, { retryAfter: 1 })
              : new TheoError(code, ev.errorMessage, { sessionId: ev.sessionId, recoverable: ev.recoverable });
        this.abort(err);
      }
    });
    call.on('error', (err: grpc.ServiceError) => this.abort(mapError(err)));
    call.on('end', () => {
      if (!this.error && !this.done) this.finish();
    });
  }

  /** Sends one frame; false when the stream is over (write after end or after an error). */
  write(frame: SttStreamFrame): boolean {
    if (this.ended || this.error || this.done) return false;
    // A view, not a copy (little-endian hosts: the bytes as they are). The caller hands the memory over
    // (see SttStreamFrame.pcm): a session reads each frame out of its ring buffer into an array of its own.
    const pcm = Buffer.from(frame.pcm.buffer, frame.pcm.byteOffset, frame.pcm.byteLength);
    this.call.write({ audio: { pcm, offsetSamples: frame.offsetSamples ?? 0, isLast: frame.isLast ?? false } });
    return true;
  }

  /** New context / hot words for the next utterance. */
  updatePrompt(prompt: string, hotWords: readonly string[] = []): void {
    if (this.ended || this.error || this.done) return;
    this.call.write({ prompt: { prompt, hotWords: [...hotWords] } });
  }

  /** Half-closes: the worker finalises pending audio, sends the last events and ends. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end();
  }

  /** Abandons the stream; iteration ends with a CancelledError. */
  cancel(): void {
    this.abort(new CancelledError('stream cancelled', { model: this.model }));
    this.call.cancel();
  }

  /** Ends iteration with `err` (first error wins). */
  abort(err: TheoError): void {
    if (this.error || this.done) return;
    this.error = err;
    this.onSettled();
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  private finish(): void {
    this.done = true;
    this.onSettled();
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ value: undefined, done: true });
  }

  private push(ev: SttStreamEvent): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: ev, done: false });
    } else {
      this.buffered.push(ev);
    }
  }

  /** The next event; resolves done when the worker ended the stream. */
  next(): Promise<IteratorResult<SttStreamEvent>> {
    const ev = this.buffered.shift();
    if (ev) return Promise.resolve({ value: ev, done: false });
    if (this.error) return Promise.reject(this.error);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new TheoError('invalid_argument', 'SttStream: next() called while another next() is pending'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<SttStreamEvent> {
    return {
      next: () => this.next(),
      return: () => {
        if (!this.done && !this.error) this.cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export function createSttClient(opts: SttClientOptions): GrpcSttClient {
  return new GrpcSttClient(opts);
}
