// The batch scheduler's logic with a scripted worker source: queue order, slots per serving worker, the
// wait for a loading model, admission bounds and the joining of parts. (The real workers run in the e2e
// tests of the batch API.)
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { EngineResult } from '../../../src/engines/engine.js';
import { CancelledError, WorkerUnavailableError } from '../../../src/errors/index.js';
import { createLogger } from '../../../src/observability/logger.js';
import { Admission, OverloadedError, PRIOR_RTF } from '../../../src/scheduler/admission.js';
import { joinParts } from '../../../src/scheduler/join.js';
import { BatchScheduler, type BatchJob, type JobPart, type WorkerSource } from '../../../src/scheduler/scheduler.js';
import type { FileTranscriptionRequest, FileTranscriptionResult, SttClient, WorkerStatus } from '../../../src/workers/types.js';

const logger = createLogger({ level: 'silent' });

function result(text: string, segs: Array<[number, number]>, extra: Partial<EngineResult> = {}): EngineResult {
  return {
    text,
    language: 'en',
    duration: 0,
    segments: segs.map(([start, end], id) => ({ id, start, end, text, tokens: [], temperature: 0, avgLogprob: 0, compressionRatio: 1, noSpeechProb: 0, words: [{ word: text, start, end, probability: 1 }] })),
    ...extra,
  };
}

describe('joinParts', () => {
  it('moves every segment and word by its part offset, keeps it inside its part, numbers segments on and joins the text', () => {
    const joined = joinParts(
      [
        { offset: 0, duration: 29.5, result: result('one', [[1, 29.9]], { confidence: 0.5 }) },
        { offset: 29.5, duration: 30, result: result(' ', [], { confidence: 0.9 }) },
        { offset: 59.5, duration: 10, result: result('two', [[0.25, 2], [3, 4]], { confidence: 1, language: 'fr' }) },
      ],
      69.5,
    );
    expect(joined.text).toBe('one two');
    expect(joined.duration).toBe(69.5);
    expect(joined.segments.map((s) => [s.id, s.start, s.end])).toEqual([
      [0, 1, 29.5], // clamped to its part's end
      [1, 59.75, 61.5],
      [2, 62.5, 63.5],
    ]);
    expect(joined.segments[1]!.words).toEqual([{ word: 'two', start: 59.75, end: 61.5, probability: 1 }]);
    expect(joined.language).toBe('en'); // heard longest (29.5 s of English against 10 s of French)
    expect(joined.confidence).toBeCloseTo((0.5 * 29.5 + 0.9 * 30 + 10) / 69.5, 9);
  });
});

describe('Admission', () => {
  it('refuses beyond maxJobs with a 429 reason and frees the place on release', () => {
    const a = new Admission({ maxJobs: 2, maxWaitSeconds: 1e9, slots: () => 1, registry: new Registry() });
    const t1 = a.admit();
    a.admit();
    expect(() => a.admit()).toThrow(OverloadedError);
    try {
      a.admit();
    } catch (err) {
      expect(err).toMatchObject({ code: 'overloaded', reason: 'queue_full' });
      expect((err as OverloadedError).retryAfter).toBeGreaterThanOrEqual(1);
    }
    t1.release();
    t1.release();
    expect(a.admit()).toBeDefined();
  });

  it('refuses while the work ahead is estimated over maxWaitSeconds, from the measured real-time factor', async () => {
    const registry = new Registry();
    let slots = 1;
    const a = new Admission({ maxJobs: 100, maxWaitSeconds: 60, slots: () => slots, registry });
    const t = a.admit();
    t.attach('m', () => ({ seconds: 600, final: true }));
    // 600 s at the prior 0.5 is 300 s of work.
    expect(a.estimatedWait()).toBeCloseTo(600 * PRIOR_RTF, 6);
    expect(() => a.admit()).toThrow(expect.objectContaining({ reason: 'queue_wait', retryAfter: 240 }) as Error);
    a.observe('m', 30, 1.5); // measured: 0.05
    expect(a.estimatedWait()).toBeCloseTo(30, 6);
    t.progress(300);
    expect(a.estimatedWait()).toBeCloseTo(15, 6);
    slots = 3;
    expect(a.estimatedWait()).toBeCloseTo(5, 6);
    a.admit();
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/^theo_batch_admissions_total\{outcome="queue_wait"\} 1$/m);
    expect(metrics).toMatch(/^theo_batch_admissions_total\{outcome="admitted"\} 2$/m);
    expect(metrics).toMatch(/^theo_batch_jobs 2$/m);
    expect(metrics).toMatch(/^theo_batch_realtime_factor\{model="m"\} 0.05$/m);
  });

  it('costs a job of unknown length as a typical one, at least what is decoded so far', () => {
    const a = new Admission({ maxJobs: 100, maxWaitSeconds: 1e9, slots: () => 1, registry: new Registry() });
    const t = a.admit();
    expect(t.remaining(30)).toBe(30);
    let decoded = 10;
    t.attach('m', () => ({ seconds: decoded, final: false }));
    expect(t.remaining(30)).toBe(30);
    decoded = 45;
    expect(t.remaining(30)).toBe(45);
  });
});

/** A worker source whose state the test drives; every transcribeFile waits until the test answers it. */
class FakeWorkers extends EventEmitter implements WorkerSource {
  state: WorkerStatus['state'] = 'serving';
  workers = 1;
  readonly calls: Array<{ req: FileTranscriptionRequest; answer(r: EngineResult): void; fail(e: Error): void }> = [];
  private readonly waiters: Array<() => void> = [];

  client(model: string): SttClient {
    if (this.state === 'starting') throw new WorkerUnavailableError(model, 'loading', `model '${model}' is loading`, { retryAfter: 5 });
    if (this.state !== 'serving') throw new WorkerUnavailableError(model, 'failed', 'failed');
    return {
      model,
      address: 'fake',
      transcribeFile: (req) =>
        new Promise<FileTranscriptionResult>((resolve, reject) => {
          this.calls.push({ req, answer: (r) => resolve({ ...r, requestId: req.requestId, inferenceSeconds: 0.1 }), fail: reject });
          this.emit('call');
        }),
      health: () => Promise.reject(new Error('unused')),
      openStream: () => {
        throw new Error('unused');
      },
      cancel: () => Promise.resolve(false),
      close: () => undefined,
    };
  }

  whenServing(model: string, timeoutMs = 1000): Promise<void> {
    if (this.state === 'serving') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new WorkerUnavailableError(model, 'loading', `not serving after ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  serve(): void {
    this.state = 'serving';
    for (const w of this.waiters.splice(0)) w();
  }

  status(): WorkerStatus[] {
    return Array.from({ length: this.workers }, () => ({ model: 'm', engine: 'fake', kind: 'local' as const, address: '', state: this.state, restarts: 0 }));
  }

  private taken = 0;

  /** The next call not yet taken by the test, in the order they were made. */
  async nextCall(): Promise<FakeWorkers['calls'][number]> {
    while (this.calls.length <= this.taken) await new Promise((r) => this.once('call', r));
    return this.calls[this.taken++]!;
  }
}

async function* partsOf(...lengths: number[]): AsyncGenerator<JobPart> {
  let offset = 0;
  for (const n of lengths) {
    await Promise.resolve(); // parts come as they are decoded
    yield { offset, samples: new Int16Array(n) };
    offset += n;
  }
}

function job(id: string, signal: AbortSignal, lengths = [16000], priority = 0): BatchJob {
  const total = lengths.reduce((a, b) => a + b, 0) / 16000;
  return {
    id,
    model: 'm',
    priority,
    sampleRate: 16000,
    options: { task: 'transcribe', hotWords: [], temperature: 0, wordTimestamps: false },
    parts: partsOf(...lengths),
    audioSeconds: () => ({ seconds: total, final: true }),
    signal,
  };
}

function scheduler(workers: FakeWorkers, modelWaitMs = 1000): BatchScheduler {
  return new BatchScheduler(workers, { maxJobs: 100, maxWaitSeconds: 1e9, modelWaitMs, registry: new Registry(), logger });
}

describe('BatchScheduler', () => {
  it("sends a job's parts one after the other and joins them on the job's timeline", async () => {
    const w = new FakeWorkers();
    const s = scheduler(w);
    const ac = new AbortController();
    const done = s.run(job('r1', ac.signal, [16000 * 30, 16000 * 12]), s.admit());
    const first = await w.nextCall();
    expect(first.req).toMatchObject({ requestId: 'r1#0', sampleRate: 16000, priority: 0 });
    expect(first.req.audio).toBeInstanceOf(Int16Array);
    expect(w.calls.length).toBe(1);
    first.answer(result('hello', [[0.5, 1.5]]));
    const second = await w.nextCall();
    expect(second.req.requestId).toBe('r1#1');
    second.answer(result('world', [[2, 3]]));
    const r = await done;
    expect(r).toMatchObject({ requestId: 'r1', text: 'hello world', duration: 42, parts: 2 });
    expect(r.segments.map((x) => [x.start, x.end])).toEqual([[0.5, 1.5], [32, 33]]);
    expect(r.inferenceSeconds).toBeCloseTo(0.2, 9);
    expect(s.inFlight()).toEqual({ m: 0 });
  });

  it('runs one job per serving worker, in priority then arrival order', async () => {
    const w = new FakeWorkers();
    const s = scheduler(w);
    const ac = new AbortController();
    const order: string[] = [];
    const runs = ['a', 'b', 'c', 'd'].map((id, i) => s.run(job(id, ac.signal, [16000], i === 3 ? 5 : 0), s.admit()).then((r) => order.push(r.requestId)));
    const a = await w.nextCall();
    await new Promise((r) => setTimeout(r, 20));
    expect(w.calls.map((c) => c.req.requestId)).toEqual(['a#0']);
    expect(s.inFlight()).toEqual({ m: 4 });
    w.workers = 2; // a second worker serves: two jobs at a time from the next start
    a.answer(result('a', []));
    const d = await w.nextCall();
    const b = await w.nextCall();
    expect([d.req.requestId, b.req.requestId]).toEqual(['d#0', 'b#0']); // d jumped the queue
    d.answer(result('d', []));
    b.answer(result('b', []));
    (await w.nextCall()).answer(result('c', []));
    await Promise.all(runs);
    expect(order).toEqual(['a', 'd', 'b', 'c']);
  });

  it('a job whose model is loading waits for it, then runs', async () => {
    const w = new FakeWorkers();
    w.state = 'starting';
    const s = scheduler(w, 5000);
    const done = s.run(job('r', new AbortController().signal), s.admit());
    await new Promise((r) => setTimeout(r, 50));
    expect(w.calls.length).toBe(0);
    w.serve();
    (await w.nextCall()).answer(result('ok', []));
    expect((await done).text).toBe('ok');
  });

  it('gives up on a model that does not load within modelWaitMs', async () => {
    const w = new FakeWorkers();
    w.state = 'starting';
    const s = scheduler(w, 100);
    await expect(s.run(job('r', new AbortController().signal), s.admit())).rejects.toMatchObject({ code: 'worker_unavailable', reason: 'loading' });
    expect(w.calls.length).toBe(0);
  });

  it('an aborted job leaves the queue with the reason and is never sent', async () => {
    const w = new FakeWorkers();
    const s = scheduler(w);
    const first = s.run(job('a', new AbortController().signal), s.admit());
    const call = await w.nextCall();
    const ac = new AbortController();
    const queued = s.run(job('b', ac.signal), s.admit());
    const reason = new CancelledError('client went away');
    ac.abort(reason);
    await expect(queued).rejects.toBe(reason);
    call.answer(result('a', []));
    await first;
    await new Promise((r) => setTimeout(r, 20));
    expect(w.calls.map((c) => c.req.requestId)).toEqual(['a#0']);
    expect(s.inFlight()).toEqual({ m: 0 });
  });

  it("a part that fails fails the job, and the next job runs", async () => {
    const w = new FakeWorkers();
    const s = scheduler(w);
    const signal = new AbortController().signal;
    const a = s.run(job('a', signal, [16000, 16000]), s.admit());
    const b = s.run(job('b', signal), s.admit());
    (await w.nextCall()).fail(new WorkerUnavailableError('m', 'crashed', 'worker went away'));
    await expect(a).rejects.toMatchObject({ reason: 'crashed' });
    (await w.nextCall()).answer(result('b', []));
    expect((await b).text).toBe('b');
  });
});
