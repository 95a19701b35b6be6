// The worker side of proto/stt_worker.proto: one gRPC server in front of one engine. It owns the
// request queue (highest priority first, FIFO within a priority, one inference at a time),
// cancellation by id, health, streaming sessions and the mapping of errors to gRPC status codes.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type { Engine, EngineResult, EngineStream, StreamHypothesis, StreamOptions, Task, TranscribeOptions } from '../engines/engine.js';
import { CancelledError, TheoError, WorkerUnavailableError, errorMessage, type TheoErrorCode } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import { tokenInterceptor } from './auth.js';
import { resample } from '../audio/resample.js';
import { createResampler, type ResamplerStage } from '../audio/stages/resample.js';
import {
  ERROR_CODE_METADATA,
  MAX_MESSAGE_BYTES,
  sttWorkerService,
  type HealthResponseMsg,
  type ProtoSegment,
  type ProtoTask,
  type ProtoWord,
  type StreamEventMsg,
  type StreamRequestMsg,
  type SttWorkerHandlers,
  type TranscribeFileRequestMsg,
  type TranscribeFileResponseMsg,
} from './proto.js';

export interface WorkerServerOptions {
  engine: Engine;
  modelName: string;
  host: string;
  /** 0 lets the OS pick. */
  port: number;
  logger: Logger;
  /** Reported by Health (cpu | cuda:0 | ...); default 'cpu'. */
  device?: string;
  /** Every call must carry it (`authorization: Bearer TOKEN`); others get UNAUTHENTICATED. */
  token: string;
}

export type WorkerServerState = 'loading' | 'serving' | 'not_serving' | 'stopped';

export interface WorkerServer {
  /** The bound port (the OS's pick when 0 was asked). */
  readonly port: number;
  readonly address: string;
  readonly state: WorkerServerState;
  /** Loads the engine; Health says LOADING until it resolves, then SERVING (NOT_SERVING if it fails). */
  load(): Promise<void>;
  /** Stops accepting calls, rejects queued ones, lets the running one finish up to `timeoutMs`, closes the engine. Safe twice. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Streaming utterances jump the file queue: a caller is waiting on the line. */
const STREAM_PRIORITY = Number.MAX_SAFE_INTEGER;

interface Job {
  id: string;
  priority: number;
  controller: AbortController;
  /** Runs the engine and replies; never rejects. */
  run(signal: AbortSignal): Promise<void>;
  /** Replies with an error without running (removed from the queue). */
  fail(err: unknown): void;
}

const GRPC_STATUS: Partial<Record<TheoErrorCode, grpc.status>> = {
  cancelled: grpc.status.CANCELLED,
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  audio_decode: grpc.status.INVALID_ARGUMENT,
  wav_invalid: grpc.status.INVALID_ARGUMENT,
  codec_unsupported: grpc.status.UNIMPLEMENTED,
  model_loading: grpc.status.UNAVAILABLE,
  worker_unavailable: grpc.status.UNAVAILABLE,
  closed: grpc.status.UNAVAILABLE,
  model_not_found: grpc.status.NOT_FOUND,
  model_invalid: grpc.status.FAILED_PRECONDITION,
  engine_failed: grpc.status.INTERNAL,
};

/** A gRPC error reply for any thrown value; the TheoError code travels in trailing metadata. */
export function toServiceError(err: unknown): grpc.ServerErrorResponse {
  const code: TheoErrorCode = err instanceof TheoError ? err.code : 'engine_failed';
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_METADATA, code);
  const e = new Error(errorMessage(err)) as grpc.ServerErrorResponse;
  e.code = GRPC_STATUS[code] ?? grpc.status.INTERNAL;
  e.details = errorMessage(err);
  e.metadata = metadata;
  return e;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new TheoError('engine_failed', errorMessage(err));
}

function invalid(message: string, details: Record<string, unknown> = {}): TheoError {
  return new TheoError('invalid_argument', message, details);
}

function taskOf(t: ProtoTask): Task {
  return t === 'TRANSLATE' ? 'translate' : 'transcribe';
}

export function s16leToFloat32(buf: Uint8Array): Float32Array {
  if (buf.byteLength % 2 !== 0) throw invalid(`PCM_S16LE audio must have an even byte count, got ${buf.byteLength}`);
  const n = buf.byteLength / 2;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true) / 32768;
  return out;
}

/** Lowest and highest PCM rate a request may send; the worker resamples to the model's rate. */
export const MIN_INPUT_RATE = 8000;
export const MAX_INPUT_RATE = 48000;

function checkInputRate(rate: number, modelRate: number): void {
  if (rate === modelRate) return;
  if (!Number.isInteger(rate) || rate < MIN_INPUT_RATE || rate > MAX_INPUT_RATE) {
    throw invalid(`sample_rate ${rate} Hz is not supported: send ${MIN_INPUT_RATE}..${MAX_INPUT_RATE} Hz (the model runs at ${modelRate} Hz)`, { sampleRate: rate, expected: modelRate });
  }
}

function f32leToFloat32(buf: Uint8Array): Float32Array {
  if (buf.byteLength % 4 !== 0) throw invalid(`PCM_F32LE audio must be a multiple of 4 bytes, got ${buf.byteLength}`);
  const n = buf.byteLength / 4;
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

const ms = (seconds: number): number => Math.max(0, Math.round(seconds * 1000));

function wordsToProto(words: EngineResult['segments'][number]['words'], offsetMs = 0): ProtoWord[] {
  return (words ?? []).map((w) => ({ word: w.word, startMs: ms(w.start) + offsetMs, endMs: ms(w.end) + offsetMs, probability: w.probability }));
}

function resultToProto(requestId: string, r: EngineResult, inferenceS: number): TranscribeFileResponseMsg {
  const segments: ProtoSegment[] = r.segments.map((s) => ({
    id: s.id,
    startMs: ms(s.start),
    endMs: ms(s.end),
    text: s.text,
    tokens: s.tokens,
    temperature: s.temperature,
    avgLogprob: s.avgLogprob,
    compressionRatio: s.compressionRatio,
    noSpeechProb: s.noSpeechProb,
    words: wordsToProto(s.words),
  }));
  return { requestId, text: r.text, language: r.language, durationS: r.duration, segments, confidence: r.confidence ?? 0, inferenceS };
}

class SttWorkerServer implements WorkerServer {
  port = 0;
  address = '';
  state: WorkerServerState = 'loading';

  private readonly server: grpc.Server;
  private readonly queue: Job[] = [];
  private readonly jobs = new Map<string, Job>();
  private running: Job | undefined;
  private readonly streams = new Map<string, StreamSession>();
  private loadPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private readonly log: Logger;
  private rejectedCalls = 0;
  private lastRejectLog = 0;

  constructor(readonly opts: WorkerServerOptions) {
    this.log = opts.logger;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      interceptors: [tokenInterceptor(opts.token, (method, reason) => this.onRejected(method, reason))],
    });
  }

  /** Counts calls refused for their token; logs at most every 10 s, so a flood of them cannot flood the log. */
  private onRejected(method: string, reason: string): void {
    this.rejectedCalls++;
    const now = Date.now();
    if (now - this.lastRejectLog < 10_000) return;
    this.lastRejectLog = now;
    this.log.warn({ method, reason, rejectedCalls: this.rejectedCalls }, 'call refused: missing or wrong worker token');
  }

  get engine(): Engine {
    return this.opts.engine;
  }

  async bind(): Promise<void> {
    this.server.addService(sttWorkerService().service, this.handlers());
    const host = this.opts.host.includes(':') && !this.opts.host.startsWith('[') ? `[${this.opts.host}]` : this.opts.host;
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${host}:${this.opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
    this.address = `${host}:${this.port}`;
  }

  load(): Promise<void> {
    this.loadPromise ??= this.opts.engine.load().then(
      () => {
        if (this.state === 'loading') this.state = 'serving';
        this.log.info('model loaded');
      },
      (err: unknown) => {
        if (this.state === 'loading') this.state = 'not_serving';
        throw err;
      },
    );
    return this.loadPromise;
  }

  stop(timeoutMs = 5000): Promise<void> {
    this.stopPromise ??= this.doStop(timeoutMs);
    return this.stopPromise;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    this.state = 'not_serving';
    for (const job of this.queue.splice(0)) {
      this.jobs.delete(job.id);
      job.fail(new WorkerUnavailableError(this.opts.modelName, 'stopped', 'the worker is stopping'));
    }
    // Streams whose caller is ending them (its half-close may still be on the wire) get a moment to finish.
    const grace = Date.now() + Math.min(1000, timeoutMs / 2);
    while (this.streams.size > 0 && Date.now() < grace) await new Promise((r) => setTimeout(r, 20));
    for (const s of [...this.streams.values()]) s.fail(new WorkerUnavailableError(this.opts.modelName, 'stopped', 'the worker is stopping'));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ timeoutMs }, 'running request did not finish in time; stopping anyway');
        this.running?.controller.abort(new CancelledError('the worker is stopping'));
        this.server.forceShutdown();
        resolve();
      }, timeoutMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      await this.opts.engine.close();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'engine close failed');
    }
    this.state = 'stopped';
  }

  /** Removes a queued request, aborts a running one, or fails a stream. False when nothing has that id. */
  cancel(id: string, reason: string): boolean {
    const i = this.queue.findIndex((j) => j.id === id);
    if (i >= 0) {
      const [job] = this.queue.splice(i, 1);
      this.jobs.delete(id);
      job?.fail(new CancelledError(reason, { id }));
      return true;
    }
    const job = this.jobs.get(id);
    if (job) {
      job.controller.abort(new CancelledError(reason, { id }));
      return true;
    }
    const stream = this.streams.get(id);
    if (stream) {
      stream.fail(new CancelledError(reason, { id }));
      return true;
    }
    return false;
  }

  enqueue(job: Job): void {
    // Insert after every job of equal or higher priority: FIFO within a priority.
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1]?.priority ?? 0) < job.priority) i--;
    this.queue.splice(i, 0, job);
    this.jobs.set(job.id, job);
    this.pump();
  }

  private pump(): void {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) return;
    this.running = job;
    const done = (): void => {
      this.running = undefined;
      this.jobs.delete(job.id);
      this.pump();
    };
    job.run(job.controller.signal).then(done, done);
  }

  registerStream(s: StreamSession): boolean {
    if (this.streams.has(s.sessionId)) return false;
    this.streams.set(s.sessionId, s);
    return true;
  }

  unregisterStream(s: StreamSession): void {
    if (this.streams.get(s.sessionId) === s) this.streams.delete(s.sessionId);
  }

  get logger(): Logger {
    return this.log;
  }

  private handlers(): SttWorkerHandlers {
    return {
      TranscribeFile: (call, callback) => this.transcribeFile(call, callback),
      TranscribeStream: (call) => {
        if (this.state !== 'serving') {
          const err =
            this.state === 'loading'
              ? new TheoError('model_loading', `model '${this.opts.modelName}' is still loading`)
              : new WorkerUnavailableError(this.opts.modelName, 'stopped', 'the worker is not serving');
          call.write(errorEvent('', err, true));
          call.end();
          return;
        }
        new StreamSession(this, call).attach();
      },
      Cancel: (call, callback) => callback(null, { cancelled: this.cancel(call.request.id, 'cancelled by request') }),
      Health: (_call, callback) => callback(null, this.health()),
    };
  }

  private health(): HealthResponseMsg {
    const c = this.opts.engine.capabilities;
    const status = this.state === 'serving' ? 'SERVING' : this.state === 'loading' ? 'LOADING' : 'NOT_SERVING';
    return {
      status,
      model: this.opts.modelName,
      engine: this.opts.engine.name,
      architecture: c.architecture,
      nativePartials: c.nativePartials,
      languages: [...c.languages],
      translate: c.translate,
      wordTimestamps: c.wordTimestamps,
      hotWords: c.hotWords,
      activeStreams: this.streams.size,
      queuedRequests: this.queue.length,
      device: this.opts.device ?? 'cpu',
      sampleRate: c.sampleRate,
      segmentTimestamps: c.segmentTimestamps,
      languageDetection: c.languageDetection,
    };
  }

  private transcribeFile(call: grpc.ServerUnaryCall<TranscribeFileRequestMsg, TranscribeFileResponseMsg>, callback: grpc.sendUnaryData<TranscribeFileResponseMsg>): void {
    const req = call.request;
    if (this.state === 'loading') return callback(toServiceError(new TheoError('model_loading', `model '${this.opts.modelName}' is still loading`)));
    if (this.state !== 'serving') return callback(toServiceError(new WorkerUnavailableError(this.opts.modelName, 'stopped', 'the worker is not serving')));
    let audio: Float32Array;
    let options: Omit<TranscribeOptions, 'signal'>;
    try {
      audio = this.decodeFileAudio(req);
      options = this.fileOptions(req);
    } catch (err) {
      return callback(toServiceError(err));
    }
    const id = req.requestId || randomUUID();
    if (this.jobs.has(id)) return callback(toServiceError(invalid(`request id '${id}' is already queued or running`)));

    let replied = false;
    const reply = (err: unknown, res?: TranscribeFileResponseMsg): void => {
      if (replied) return;
      replied = true;
      if (res) callback(null, res);
      else callback(toServiceError(err));
    };
    const job: Job = {
      id,
      priority: req.priority,
      controller: new AbortController(),
      run: async (signal) => {
        if (signal.aborted) return reply(signal.reason);
        const t0 = performance.now();
        try {
          const result = await this.opts.engine.transcribe(audio, { ...options, signal });
          if (signal.aborted) return reply(signal.reason);
          reply(null, resultToProto(id, result, (performance.now() - t0) / 1000));
        } catch (err) {
          reply(signal.aborted ? signal.reason : err);
          if (!signal.aborted) this.log.warn({ requestId: id, err: errorMessage(err) }, 'transcription failed');
        }
      },
      fail: (err) => reply(err),
    };
    call.on('cancelled', () => {
      if (!replied) this.cancel(id, 'cancelled by the caller');
    });
    this.enqueue(job);
  }

  private decodeFileAudio(req: TranscribeFileRequestMsg): Float32Array {
    const rate = this.opts.engine.capabilities.sampleRate;
    if (req.encoding === 'ENCODED_FILE') {
      throw new TheoError('codec_unsupported', 'ENCODED_FILE is not supported by this worker: decode and resample on the runtime side, then send PCM_S16LE or PCM_F32LE');
    }
    if (req.encoding !== 'PCM_S16LE' && req.encoding !== 'PCM_F32LE') throw invalid(`unsupported audio encoding ${req.encoding}`);
    checkInputRate(req.sampleRate, rate);
    if (req.audio.byteLength === 0) throw invalid('no audio in the request');
    const pcm = req.encoding === 'PCM_S16LE' ? s16leToFloat32(req.audio) : f32leToFloat32(req.audio);
    return req.sampleRate === rate ? pcm : resample(pcm, req.sampleRate, rate);
  }

  private fileOptions(req: TranscribeFileRequestMsg): Omit<TranscribeOptions, 'signal'> {
    const task = taskOf(req.task);
    if (task === 'translate' && !this.opts.engine.capabilities.translate) throw invalid(`model '${this.opts.modelName}' cannot translate`);
    return {
      language: req.language || undefined,
      task,
      prompt: req.prompt || undefined,
      hotWords: req.hotWords,
      temperature: req.temperature,
      wordTimestamps: req.wordTimestamps,
    };
  }
}

function errorEvent(sessionId: string, err: unknown, recoverable: boolean): StreamEventMsg {
  return {
    kind: 'ERROR',
    sessionId,
    segmentId: 0,
    text: '',
    startMs: 0,
    endMs: 0,
    language: '',
    confidence: 0,
    words: [],
    errorCode: err instanceof TheoError ? err.code : 'engine_failed',
    errorMessage: errorMessage(err),
    recoverable,
  };
}

/** One TranscribeStream call: config first, then frames; utterances end at is_last. Messages are handled strictly in order. */
class StreamSession {
  sessionId = '';
  private configured = false;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();
  /** The model's rate: what the engine gets, and what sample counts below are in. */
  private rate = 0;
  /** The rate the client sends (offsets are in it); a resampler to the model's rate when they differ. */
  private inRate = 0;
  /** Restarted at every utterance, so an utterance sent again after a recovery resamples to the same samples. */
  private resampler: ResamplerStage | undefined;
  private interim = false;
  private nextSegmentId = 0;
  private options: StreamOptions = { task: 'transcribe', hotWords: [], interimResults: false };
  private engineStream: EngineStream | undefined;
  /** Batch path (engine without openStream): the current utterance's audio. */
  private buffered: Float32Array[] = [];
  private samplesTotal = 0;
  private utteranceStart = 0;
  private baseOffsetMs: number | undefined;
  private readonly controller = new AbortController();

  constructor(
    private readonly server: SttWorkerServer,
    private readonly call: grpc.ServerDuplexStream<StreamRequestMsg, StreamEventMsg>,
  ) {}

  attach(): void {
    this.call.on('data', (msg: StreamRequestMsg) => this.enqueue(() => this.handle(msg)));
    this.call.on('end', () => this.enqueue(() => this.finish()));
    this.call.on('cancelled', () => this.cleanup());
    this.call.on('error', (err) => {
      this.server.logger.debug({ sessionId: this.sessionId, err: errorMessage(err) }, 'stream call error');
      this.cleanup();
    });
  }

  private enqueue(step: () => Promise<void> | void): void {
    this.chain = this.chain
      .then(async () => {
        // One turn of the event loop per message: engines decode synchronously, and a burst of queued
        // frames (a recovery's resend, a client ahead of real time) would otherwise run back to back as
        // microtasks and starve every other call on this worker, Health included, until the supervisor
        // took the busy worker for a hung one.
        await nextTurn();
        if (!this.closed) await step();
      })
      .catch((err: unknown) => this.fail(err));
  }

  private async handle(msg: StreamRequestMsg): Promise<void> {
    const kind = msg.payload ?? (msg.config ? 'config' : msg.audio ? 'audio' : msg.prompt ? 'prompt' : undefined);
    if (kind === 'config' && msg.config) {
      if (this.configured) throw invalid('stream config sent twice');
      this.configure(msg.config);
      return;
    }
    if (!this.configured) throw invalid('the first message of a stream must carry config');
    if (kind === 'audio' && msg.audio) {
      const pcm = s16leToFloat32(msg.audio.pcm);
      this.baseOffsetMs ??= (msg.audio.offsetSamples / this.inRate) * 1000;
      if (pcm.length > 0) this.take(this.resampler ? this.resampler.process(pcm).slice() : pcm);
      if (msg.audio.isLast) await this.finalise();
    } else if (kind === 'prompt' && msg.prompt) {
      this.options = { ...this.options, prompt: msg.prompt.prompt || undefined, hotWords: msg.prompt.hotWords };
      this.engineStream?.updatePrompt(this.options.prompt, this.options.hotWords);
    } else {
      throw invalid('empty stream message');
    }
  }

  /** Model-rate samples of the current utterance to the engine (or its buffer). */
  private take(pcm: Float32Array): void {
    if (pcm.length === 0) return;
    if (this.engineStream) this.engineStream.push(pcm);
    else this.buffered.push(pcm);
    this.samplesTotal += pcm.length;
  }

  private configure(c: NonNullable<StreamRequestMsg['config']>): void {
    const engine = this.server.engine;
    this.sessionId = c.sessionId || randomUUID();
    checkInputRate(c.sampleRate, engine.capabilities.sampleRate);
    const task = taskOf(c.task);
    if (task === 'translate' && !engine.capabilities.translate) throw invalid('this model cannot translate');
    if (!this.server.registerStream(this)) {
      const id = this.sessionId;
      this.sessionId = '';
      throw invalid(`session '${id}' already has an open stream on this worker`);
    }
    this.configured = true;
    this.rate = engine.capabilities.sampleRate;
    this.inRate = c.sampleRate;
    this.resampler = c.sampleRate === this.rate ? undefined : createResampler(c.sampleRate, this.rate);
    this.interim = c.interimResults;
    this.nextSegmentId = c.firstSegmentId;
    const quality = c.audioQuality === 'telephony' || c.audioQuality === 'wideband' ? c.audioQuality : undefined;
    this.options = { language: c.language || undefined, task, prompt: c.prompt || undefined, hotWords: c.hotWords, interimResults: c.interimResults, ...(quality ? { audioQuality: quality } : {}) };
    if (engine.openStream) this.engineStream = engine.openStream(this.options, (h) => this.onHypothesis(h));
  }

  private onHypothesis(h: StreamHypothesis): void {
    // Finals come from endUtterance's result, so a final reported here too is not sent twice.
    if (h.kind !== 'partial' || !this.interim || this.closed) return;
    this.write(this.event('PARTIAL', this.nextSegmentId, h));
  }

  private async finalise(): Promise<void> {
    // The resampler's look-ahead (half a filter) ends the utterance; flush() also restarts it for the next.
    if (this.resampler) this.take(this.resampler.flush());
    if (this.engineStream) {
      // Partials the engine emits while it finalises (its last block) still belong to this segment: the id
      // moves on only once the final is in.
      const segmentId = this.nextSegmentId;
      const h = await this.engineStream.endUtterance();
      this.nextSegmentId = segmentId + 1;
      this.utteranceStart = this.samplesTotal;
      if (!this.closed) this.write(this.event('FINAL', segmentId, h));
      return;
    }
    const segmentId = this.nextSegmentId++;
    const start = this.utteranceStart / this.rate;
    const chunks = this.buffered;
    this.buffered = [];
    this.utteranceStart = this.samplesTotal;
    const n = chunks.reduce((a, c) => a + c.length, 0);
    let text = '';
    let confidence: number | undefined;
    if (n > 0) {
      const audio = new Float32Array(n);
      let o = 0;
      for (const c of chunks) {
        audio.set(c, o);
        o += c.length;
      }
      const result = await this.runBatch(audio, segmentId);
      text = result.text;
      confidence = result.confidence;
    }
    if (!this.closed) this.write(this.event('FINAL', segmentId, { kind: 'final', text, start, end: start + n / this.rate, confidence }));
  }

  /** The whole utterance through the worker's queue, so the engine still runs one inference at a time. */
  private runBatch(audio: Float32Array, segmentId: number): Promise<EngineResult> {
    return new Promise<EngineResult>((resolve, reject) => {
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(this.controller.signal.reason);
      this.controller.signal.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => this.controller.signal.removeEventListener('abort', onAbort);
      this.server.enqueue({
        id: `${this.sessionId}#${segmentId}`,
        priority: STREAM_PRIORITY,
        controller,
        run: async (signal) => {
          try {
            resolve(await this.server.engine.transcribe(audio, { ...this.options, temperature: 0, wordTimestamps: false, signal }));
          } catch (err) {
            reject(asError(signal.aborted ? (signal.reason as unknown) : err));
          } finally {
            settle();
          }
        },
        fail: (err) => {
          settle();
          reject(asError(err));
        },
      });
    });
  }

  private event(kind: 'PARTIAL' | 'FINAL', segmentId: number, h: StreamHypothesis): StreamEventMsg {
    const base = this.baseOffsetMs ?? 0;
    return {
      kind,
      sessionId: this.sessionId,
      segmentId,
      text: h.text,
      startMs: Math.round(base) + ms(h.start),
      endMs: Math.round(base) + ms(h.end),
      language: this.options.language ?? this.server.engine.capabilities.languages[0] ?? '',
      confidence: h.confidence ?? 0,
      words: wordsToProto(h.words, Math.round(base)),
      errorCode: '',
      errorMessage: '',
      recoverable: false,
    };
  }

  private write(ev: StreamEventMsg): void {
    if (this.call.writable) this.call.write(ev);
  }

  /** The caller half-closed: finalise what was pushed since the last final, then end. */
  private async finish(): Promise<void> {
    if (this.configured && this.samplesTotal > this.utteranceStart) await this.finalise();
    if (!this.closed) this.call.end();
    this.cleanup();
  }

  /** Sends one ERROR event and ends the call. */
  fail(err: unknown): void {
    if (this.closed) return;
    const code = err instanceof TheoError ? err.code : 'engine_failed';
    if (code !== 'cancelled' && code !== 'invalid_argument') this.server.logger.warn({ sessionId: this.sessionId, err: errorMessage(err) }, 'stream failed');
    this.write(errorEvent(this.sessionId, err, code === 'worker_unavailable' || code === 'model_loading'));
    this.call.end();
    this.controller.abort(err);
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.controller.signal.aborted) this.controller.abort(new CancelledError('stream closed'));
    try {
      this.engineStream?.close();
    } catch (err) {
      this.server.logger.warn({ err: errorMessage(err) }, 'engine stream close failed');
    }
    this.server.unregisterStream(this);
  }
}

/** Binds host:port and serves the SttWorker service; call `load()` next (Health says LOADING until it resolves). */
export async function startWorkerServer(opts: WorkerServerOptions): Promise<WorkerServer> {
  const server = new SttWorkerServer(opts);
  await server.bind();
  opts.logger.info({ address: server.address }, 'worker listening');
  return server;
}
