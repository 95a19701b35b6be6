// The worker server and the runtime client over real gRPC on loopback, in one process, with fake
// engines: round trip, priority order, cancellation, typed errors, Health, streams, close and stop.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine, EngineStream, StreamHypothesis, TranscribeOptions } from '../../../src/engines/engine.js';
import { CancelledError, TheoError, WorkerUnavailableError } from '../../../src/errors/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { tokenCallInterceptor } from '../../../src/workers/auth.js';
import { createSttClient, type GrpcSttClient, type SttStreamEvent } from '../../../src/workers/client.js';
import { sttWorkerService, type StreamEventMsg, type StreamRequestMsg, type TranscribeFileRequestMsg } from '../../../src/workers/proto.js';
import { startWorkerServer, type WorkerServer } from '../../../src/workers/server.js';
import type { FileTranscriptionRequest } from '../../../src/workers/types.js';
import { createEngine, waitUntil, writeTestModel } from '../../helpers/test-engines.js';

const logger = silentLogger();
const TOKEN = 'unit-test-worker-token';
const modelsDir = mkdtempSync(join(tmpdir(), 'theo-workers-unit-'));
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function engineFor(name: string, options: Record<string, string | number | boolean>): Engine {
  return createEngine(writeTestModel(modelsDir, name, options));
}

async function serve(engine: Engine, load = true): Promise<{ server: WorkerServer; client: GrpcSttClient }> {
  const server = await startWorkerServer({ engine, modelName: 'm', host: '127.0.0.1', port: 0, logger, token: TOKEN });
  if (load) await server.load();
  const client = createSttClient({ model: 'm', address: `127.0.0.1:${server.port}`, logger, token: TOKEN });
  cleanups.push(() => server.stop(1000));
  cleanups.push(() => client.close());
  return { server, client };
}

function request(id: string, samples: number, over: Partial<FileTranscriptionRequest> = {}): FileTranscriptionRequest {
  const audio = new Float32Array(samples).fill(0.5);
  return { requestId: id, audio, sampleRate: 16000, task: 'transcribe', hotWords: [], temperature: 0, wordTimestamps: false, priority: 0, ...over };
}

/** Wraps an engine so a test sees the order in which transcriptions start. */
function recording(engine: Engine): { engine: Engine; started: number[]; firstStarted: Promise<void> } {
  const started: number[] = [];
  let mark!: () => void;
  const firstStarted = new Promise<void>((r) => (mark = r));
  const wrapped: Engine = {
    name: engine.name,
    capabilities: engine.capabilities,
    load: () => engine.load(),
    close: () => engine.close(),
    transcribe: (audio: Float32Array, options: TranscribeOptions) => {
      started.push(audio.length);
      mark();
      return engine.transcribe(audio, options);
    },
  };
  return { engine: wrapped, started, firstStarted };
}

/** An engine that only streams: `makeStream` builds each stream, transcribe is never called. */
function streamingEngine(name: string, makeStream: (onHypothesis: (h: StreamHypothesis) => void) => EngineStream): Engine {
  return {
    name,
    capabilities: {
      architecture: 'hmm',
      nativePartials: true,
      languages: ['en'],
      translate: false,
      segmentTimestamps: true,
      wordTimestamps: false,
      hotWords: false,
      languageDetection: false,
      sampleRate: 16000,
    },
    load: () => Promise.resolve(),
    close: () => Promise.resolve(),
    transcribe: () => Promise.reject(new TheoError('engine_failed', `${name}: transcribe is not expected`)),
    openStream: (_options, onHypothesis) => makeStream(onHypothesis),
  };
}

/**
 * Like PocketSphinx: a partial after every push, and one more for the last block inside endUtterance,
 * before the final resolves (a turn of the event loop later).
 */
class LastBlockPartialStream implements EngineStream {
  private utterance = 0;
  private samples = 0;

  constructor(private readonly onHypothesis: (h: StreamHypothesis) => void) {}

  push(pcm: Float32Array): void {
    this.samples += pcm.length;
    this.onHypothesis({ kind: 'partial', text: `u${this.utterance} partial ${this.samples}`, start: 0, end: this.samples / 16000 });
  }

  async endUtterance(): Promise<StreamHypothesis> {
    const u = this.utterance++;
    this.onHypothesis({ kind: 'partial', text: `u${u} last block`, start: 0, end: this.samples / 16000 });
    await new Promise<void>((r) => setImmediate(r));
    return { kind: 'final', text: `u${u} final`, start: 0, end: this.samples / 16000 };
  }

  updatePrompt(): void {}

  close(): void {}
}

/**
 * A stand-in for a blocking native decoder: every push holds the event loop for `blockMs` and logs 'push'.
 * The first utterance's final waits for `release()`, so a test can queue a burst behind it first.
 */
class BlockingStream implements EngineStream {
  private samples = 0;
  private utterances = 0;

  constructor(
    private readonly blockMs: number,
    private readonly log: string[],
    private readonly firstFinal: { started(): void; released: Promise<void> },
  ) {}

  push(pcm: Float32Array): void {
    const until = performance.now() + this.blockMs;
    while (performance.now() < until) {
      // busy: a synchronous decode
    }
    this.samples += pcm.length;
    this.log.push('push');
  }

  async endUtterance(): Promise<StreamHypothesis> {
    if (this.utterances++ === 0) {
      this.firstFinal.started();
      await this.firstFinal.released;
    }
    return { kind: 'final', text: `samples=${this.samples}`, start: 0, end: this.samples / 16000 };
  }

  updatePrompt(): void {}

  close(): void {}
}

async function collect(stream: AsyncIterable<SttStreamEvent>): Promise<SttStreamEvent[]> {
  const events: SttStreamEvent[] = [];
  for await (const ev of stream) events.push(ev);
  return events;
}

describe('worker server + client', () => {
  it('TranscribeFile round trip through the echo engine', async () => {
    const { client } = await serve(engineFor('echo', { testEngine: 'echo' }));
    const res = await client.transcribeFile(request('r1', 1600, { language: 'en' }));
    expect(res.requestId).toBe('r1');
    expect(res.text).toBe('samples=1600 rms=0.500');
    expect(res.language).toBe('en');
    expect(res.duration).toBeCloseTo(0.1, 6);
    expect(res.segments).toHaveLength(1);
    expect(res.segments[0]).toMatchObject({ id: 0, start: 0, end: 0.1, text: 'samples=1600 rms=0.500', tokens: [1, 2, 3] });
    expect(res.confidence).toBeCloseTo(0.9, 5);
    expect(res.inferenceSeconds).toBeGreaterThanOrEqual(0);
  });

  it('accepts PCM_S16LE and answers ENCODED_FILE with UNIMPLEMENTED', async () => {
    const { server } = await serve(engineFor('echo-s16', { testEngine: 'echo' }));
    const Ctor = sttWorkerService();
    const raw = new Ctor(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { interceptors: [tokenCallInterceptor(TOKEN)] });
    cleanups.push(() => raw.close());
    const call = (req: Partial<TranscribeFileRequestMsg>): Promise<{ err: grpc.ServiceError | null; text?: string }> =>
      new Promise((resolve) => raw.TranscribeFile(req, new grpc.Metadata(), {}, (err, res) => resolve({ err, text: res?.text })));
    const pcm = Buffer.alloc(800);
    for (let i = 0; i < 400; i++) pcm.writeInt16LE(16384, 2 * i);
    const ok = await call({ requestId: 's16', audio: pcm, encoding: 'PCM_S16LE', sampleRate: 16000 });
    expect(ok.err).toBeNull();
    expect(ok.text).toBe('samples=400 rms=0.500');
    const odd = await call({ requestId: 'odd', audio: Buffer.alloc(3), encoding: 'PCM_S16LE', sampleRate: 16000 });
    expect(odd.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const enc = await call({ requestId: 'enc', audio: Buffer.alloc(10), encoding: 'ENCODED_FILE' });
    expect(enc.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(enc.err?.details).toMatch(/ENCODED_FILE is not supported/);
  });

  it('resamples a file sent at another rate to the model rate; a rate outside 8..48 kHz is INVALID_ARGUMENT', async () => {
    const { client } = await serve(engineFor('echo-rate', { testEngine: 'echo' }));
    // 800 samples of a constant 0.5 at 8 kHz are 1600 at the model's 16 kHz, still about 0.5.
    const rms = (text: string): number => Number(/rms=([\d.]+)/.exec(text)?.[1]);
    const up = await client.transcribeFile(request('up', 800, { sampleRate: 8000 }));
    expect(up.text).toMatch(/^samples=1600 /);
    expect(rms(up.text)).toBeCloseTo(0.5, 1);
    expect(up.duration).toBeCloseTo(0.1, 6);
    const down = await client.transcribeFile(request('down', 4800, { sampleRate: 48000 }));
    expect(down.text).toMatch(/^samples=1600 /);
    expect(rms(down.text)).toBeCloseTo(0.5, 1);
    for (const rate of [4000, 96000]) {
      const err = await client.transcribeFile(request(`bad-${rate}`, 800, { sampleRate: rate })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TheoError);
      expect((err as TheoError).code).toBe('invalid_argument');
      expect((err as TheoError).message).toMatch(new RegExp(`sample_rate ${rate} Hz is not supported: send 8000\\.\\.48000 Hz \\(the model runs at 16000 Hz\\)`));
    }
    const engineErr = await client.transcribeFile(request('fail', 1, { audio: new Float32Array([-1]) })).catch((e: unknown) => e);
    expect((engineErr as TheoError).code).toBe('engine_failed');
    expect((engineErr as TheoError).message).toMatch(/asked to fail/);
  });

  it('runs queued requests one at a time, highest priority first, FIFO within a priority', async () => {
    const rec = recording(engineFor('slow-prio', { testEngine: 'slow', delayMs: 200 }));
    const { client } = await serve(rec.engine);
    const first = client.transcribeFile(request('a', 100, { priority: 0 }));
    await rec.firstStarted;
    const rest = [
      client.transcribeFile(request('b', 200, { priority: 0 })),
      client.transcribeFile(request('c', 300, { priority: 5 })),
      client.transcribeFile(request('d', 400, { priority: 5 })),
      client.transcribeFile(request('e', 500, { priority: -1 })),
    ];
    await waitUntil(async () => (await client.health()).queuedRequests === 4, 'four queued requests');
    const results = await Promise.all([first, ...rest]);
    expect(results.map((r) => r.requestId)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(rec.started).toEqual([100, 300, 400, 200, 500]);
  });

  it('cancels a queued request (client abort) and a running one (Cancel RPC) without disturbing the others', async () => {
    const rec = recording(engineFor('slow-cancel', { testEngine: 'slow', delayMs: 30_000 }));
    const { client } = await serve(rec.engine);
    const running = client.transcribeFile(request('run', 100));
    await rec.firstStarted;
    const ac = new AbortController();
    const queued = client.transcribeFile(request('queued', 200), ac.signal);
    const other = client.transcribeFile(request('other', 300));
    await waitUntil(async () => (await client.health()).queuedRequests === 2, 'two queued requests');
    ac.abort();
    await expect(queued).rejects.toBeInstanceOf(CancelledError);
    await waitUntil(async () => (await client.health()).queuedRequests === 1, 'the aborted request to leave the queue');

    expect(await client.cancel('run')).toBe(true);
    const err = await running.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as TheoError).code).toBe('cancelled');
    // The queued one never reached the engine; the next one runs.
    await rec.firstStarted;
    await waitUntil(() => rec.started.length === 2, 'the next request to start');
    expect(rec.started).toEqual([100, 300]);
    expect(await client.cancel('other')).toBe(true);
    await expect(other).rejects.toBeInstanceOf(CancelledError);
    expect(await client.cancel('nothing-with-this-id')).toBe(false);
  });

  it('aborting a running request through its signal stops the engine', async () => {
    const rec = recording(engineFor('slow-abort', { testEngine: 'slow', delayMs: 30_000 }));
    const { client } = await serve(rec.engine);
    const ac = new AbortController();
    const p = client.transcribeFile(request('x', 100), ac.signal);
    await rec.firstStarted;
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    // The next request can only start once the engine has given up the aborted one.
    const next = client.transcribeFile(request('y', 50));
    await waitUntil(() => rec.started.length === 2, 'the next request to start');
    expect(rec.started).toEqual([100, 50]);
    expect(await client.cancel('y')).toBe(true);
    await expect(next).rejects.toBeInstanceOf(CancelledError);
  });

  it('Health says LOADING until the model has loaded, then SERVING with the capabilities', async () => {
    const { server, client } = await serve(engineFor('echo-load', { testEngine: 'echo', loadMs: 400 }), false);
    const before = await client.health();
    expect(before).toMatchObject({ serving: false, status: 'LOADING', model: 'm', engine: 'test-echo' });
    const early = await client.transcribeFile(request('early', 10)).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(WorkerUnavailableError);
    expect((early as WorkerUnavailableError).reason).toBe('loading');
    expect((early as WorkerUnavailableError).retryAfter).toBeGreaterThan(0);
    await server.load();
    const after = await client.health();
    expect(after).toMatchObject({ serving: true, status: 'SERVING', device: 'cpu', activeStreams: 0, queuedRequests: 0 });
    expect(after.capabilities).toEqual({
      architecture: 'ctc',
      nativePartials: true,
      languages: ['en'],
      translate: false,
      segmentTimestamps: true,
      wordTimestamps: false,
      hotWords: false,
      languageDetection: false,
      sampleRate: 16000,
    });
  });

  it('TranscribeStream: partials, finals with segment ids from first_segment_id, prompt updates, session times', async () => {
    const { client } = await serve(engineFor('echo-stream', { testEngine: 'echo' }));
    const stream = client.openStream({ sessionId: 's1', sampleRate: 16000, interimResults: true, firstSegmentId: 7 });
    const events = collect(stream);
    const frame = new Int16Array(320).fill(16384);
    stream.write({ pcm: frame, offsetSamples: 16000 });
    stream.write({ pcm: frame, isLast: true });
    stream.updatePrompt('ctx');
    stream.write({ pcm: frame });
    stream.write({ pcm: new Int16Array(0), isLast: true });
    stream.write({ pcm: frame }); // finalised by end()
    await waitUntil(async () => (await client.health()).activeStreams === 1, 'one active stream');
    stream.end();
    const evs = await events;
    expect(evs.map((e) => [e.kind, e.segmentId, e.text])).toEqual([
      ['partial', 7, 'partial 320'],
      ['partial', 7, 'partial 640'],
      ['final', 7, 'samples=640 rms=0.500'],
      ['partial', 8, 'partial 320'],
      ['final', 8, '[ctx] samples=320 rms=0.500'],
      ['partial', 9, 'partial 320'],
      ['final', 9, '[ctx] samples=320 rms=0.500'],
    ]);
    const finals = evs.filter((e) => e.kind === 'final');
    // Session time: the first frame sits at 1 s.
    expect(finals.map((e) => [e.startMs, e.endMs])).toEqual([
      [1000, 1040],
      [1040, 1060],
      [1060, 1080],
    ]);
    expect(evs.every((e) => e.sessionId === 's1' && e.language === 'en')).toBe(true);
    await waitUntil(async () => (await client.health()).activeStreams === 0, 'the stream to close');
  });

  it('TranscribeStream: a partial the engine emits while it finalises carries the id of the segment being finalised', async () => {
    const { client } = await serve(streamingEngine('last-block', (onHypothesis) => new LastBlockPartialStream(onHypothesis)));
    const stream = client.openStream({ sessionId: 'last-block', sampleRate: 16000, interimResults: true });
    const events = collect(stream);
    const frame = new Int16Array(320).fill(8192);
    stream.write({ pcm: frame });
    stream.write({ pcm: frame, isLast: true });
    stream.write({ pcm: frame });
    stream.write({ pcm: frame, isLast: true });
    stream.end();
    const evs = await events;
    expect(evs.map((e) => [e.kind, e.segmentId, e.text])).toEqual([
      ['partial', 0, 'u0 partial 320'],
      ['partial', 0, 'u0 partial 640'],
      ['partial', 0, 'u0 last block'],
      ['final', 0, 'u0 final'],
      ['partial', 1, 'u1 partial 960'],
      ['partial', 1, 'u1 partial 1280'],
      ['partial', 1, 'u1 last block'],
      ['final', 1, 'u1 final'],
    ]);
    // Every partial belongs to the final that follows it.
    evs.forEach((e, i) => {
      if (e.kind === 'partial') expect(e.segmentId).toBe(evs.slice(i).find((f) => f.kind === 'final')?.segmentId);
    });
  });

  it('TranscribeStream: a burst of frames that decode synchronously does not starve Health', async () => {
    // One log for the engine's decodes, the stream's events and the Health answer: order, not durations.
    const log: string[] = [];
    let started!: () => void;
    const firstFinalStarted = new Promise<void>((r) => (started = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const { client } = await serve(streamingEngine('blocking', () => new BlockingStream(30, log, { started, released })));
    const stream = client.openStream({ sessionId: 'burst', sampleRate: 16000, interimResults: false });
    const events = (async () => {
      for await (const ev of stream) log.push(`${ev.kind} ${ev.segmentId}`);
    })();
    const frame = new Int16Array(320).fill(8192);
    stream.write({ pcm: frame, isLast: true });
    // The session is stuck in utterance 0's final: the burst queues up behind it on the worker.
    await firstFinalStarted;
    const frames = 40;
    for (let i = 1; i <= frames; i++) stream.write({ pcm: frame, isLast: i === frames });
    // The worker takes in a queued stream's messages a few per turn of its event loop: Health round trips
    // on the same connection (one per frame, for a wide margin) let the whole burst reach the session.
    for (let i = 0; i < frames; i++) await client.health();
    expect(log).toEqual(['push']);
    release();
    // A generous deadline: Health must not lose the race by timing out, only by waiting for the burst.
    const health = client.health(60_000).then((h) => {
      log.push('health');
      return h;
    });
    expect((await health).serving).toBe(true);
    stream.end();
    await events;
    // Answered while the burst was still being decoded, not once it was all through.
    expect(log.indexOf('health')).toBeLessThan(log.indexOf('final 1'));
    expect(log.indexOf('health')).toBeLessThan(log.lastIndexOf('push'));
    expect(log.filter((e) => e === 'push')).toHaveLength(1 + frames);
    expect(log.filter((e) => e.startsWith('final'))).toEqual(['final 0', 'final 1']);
  });

  it('TranscribeStream with an engine without openStream: buffers the utterance and transcribes it at is_last; no partials', async () => {
    const { client } = await serve(engineFor('batch-stream', { testEngine: 'batch' }));
    const stream = client.openStream({ sessionId: 's2', sampleRate: 16000, interimResults: true });
    const events = collect(stream);
    stream.write({ pcm: new Int16Array(160).fill(8192) });
    stream.write({ pcm: new Int16Array(160).fill(8192), isLast: true });
    stream.write({ pcm: new Int16Array(0), isLast: true });
    stream.end();
    const evs = await events;
    expect(evs.map((e) => [e.kind, e.segmentId, e.text, e.startMs, e.endMs])).toEqual([
      ['final', 0, 'samples=320 rms=0.250', 0, 20],
      ['final', 1, '', 20, 20],
    ]);
  });

  it('TranscribeStream at 8 kHz for a 16 kHz model: each utterance resampled on its own, times in session time', async () => {
    const { client } = await serve(engineFor('batch-stream-8k', { testEngine: 'batch' }));
    const stream = client.openStream({ sessionId: 's8k', sampleRate: 8000, interimResults: false });
    const events = collect(stream);
    // 0.1 s at session offset 0.5 s, sent in three frames, then a second utterance of the same audio in one.
    const tone = (from: number, n: number): Int16Array => Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * (from + i)) / 8000)));
    stream.write({ pcm: tone(0, 300), offsetSamples: 4000 });
    stream.write({ pcm: tone(300, 300) });
    stream.write({ pcm: tone(600, 200), isLast: true });
    stream.write({ pcm: tone(0, 800), isLast: true });
    stream.end();
    const evs = await events;
    expect(evs.map((e) => [e.kind, e.segmentId, e.startMs, e.endMs])).toEqual([
      ['final', 0, 500, 600],
      ['final', 1, 600, 700],
    ]);
    // 1600 samples each (800 at 8 kHz upsampled, the look-ahead flushed at is_last), and the same samples
    // however the utterance was split into frames: what a resend after a recovery relies on.
    expect(evs[0]?.text).toMatch(/^samples=1600 rms=0\.17\d$/);
    expect(evs[1]?.text).toBe(evs[0]?.text);
  });

  it('stream errors arrive as typed errors: unsupported rate, a cancelled session', async () => {
    const { client } = await serve(engineFor('echo-stream-err', { testEngine: 'echo' }));
    const bad = client.openStream({ sessionId: 'bad', sampleRate: 4000, interimResults: false });
    const err = await collect(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TheoError);
    expect((err as TheoError).code).toBe('invalid_argument');
    expect((err as TheoError).message).toMatch(/sample_rate 4000 Hz is not supported/);

    const s = client.openStream({ sessionId: 'cancel-me', sampleRate: 16000, interimResults: false });
    const outcome = collect(s).catch((e: unknown) => e);
    s.write({ pcm: new Int16Array(10) });
    await waitUntil(async () => (await client.health()).activeStreams === 1, 'the stream to open');
    expect(await client.cancel('cancel-me')).toBe(true);
    expect(await outcome).toBeInstanceOf(CancelledError);
  });

  it('a stream that does not start with config gets an ERROR event', async () => {
    const { server } = await serve(engineFor('echo-noconfig', { testEngine: 'echo' }));
    const Ctor = sttWorkerService();
    const raw = new Ctor(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { interceptors: [tokenCallInterceptor(TOKEN)] });
    cleanups.push(() => raw.close());
    const call = raw.TranscribeStream(new grpc.Metadata());
    const events: StreamEventMsg[] = [];
    const ended = new Promise<void>((resolve) => {
      call.on('data', (e: StreamEventMsg) => events.push(e));
      call.on('end', () => resolve());
      call.on('error', () => resolve());
    });
    const msg: StreamRequestMsg = { audio: { pcm: Buffer.alloc(4), offsetSamples: 0, isLast: false } };
    call.write(msg);
    await ended;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'ERROR', errorCode: 'invalid_argument', errorMessage: 'the first message of a stream must carry config' });
  });

  it('close() rejects pending calls with a typed error, is safe twice, and later calls fail fast', async () => {
    const rec = recording(engineFor('slow-close', { testEngine: 'slow', delayMs: 30_000 }));
    const { client } = await serve(rec.engine);
    const p = client.transcribeFile(request('pending', 100));
    await rec.firstStarted;
    client.close();
    client.close();
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerUnavailableError);
    expect((err as WorkerUnavailableError).reason).toBe('closed');
    await expect(client.health()).rejects.toBeInstanceOf(WorkerUnavailableError);
    expect(() => client.openStream({ sessionId: 'x', sampleRate: 16000, interimResults: false })).toThrow(WorkerUnavailableError);
  });

  it('stop() lets the running request finish, rejects queued ones, and is safe twice', async () => {
    const rec = recording(engineFor('slow-stop', { testEngine: 'slow', delayMs: 300 }));
    const { server, client } = await serve(rec.engine);
    const running = client.transcribeFile(request('running', 100));
    await rec.firstStarted;
    const queued = client.transcribeFile(request('queued', 200));
    await waitUntil(async () => (await client.health()).queuedRequests === 1, 'a queued request');
    const stopping = Promise.all([server.stop(10_000), server.stop(10_000)]);
    const err = await queued.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerUnavailableError);
    expect((await running).text).toBe('samples=100 rms=0.500');
    await stopping;
    expect(server.state).toBe('stopped');
    await expect(client.transcribeFile(request('late', 10))).rejects.toBeInstanceOf(WorkerUnavailableError);
  });
});
