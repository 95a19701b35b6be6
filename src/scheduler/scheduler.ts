// The seam between request handlers and workers. A handler asks for admission when a request arrives
// (admit(): 429 beyond the queue's bounds), then hands over its job. The scheduler queues jobs per model,
// highest priority first and FIFO within a priority, runs as many at once as the model has serving
// workers, and sends each job's parts to a worker one after the other, as they are decoded. A job that
// finds its model still loading (or its worker restarting) waits for it, up to modelWaitMs. A later
// scheduler with aging and parts spread over replicas replaces this behind the same interface.
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';
import { CancelledError, WorkerUnavailableError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { FileTranscriptionResult, SttClient, WorkerStatus } from '../workers/types.js';
import { Admission, type Ticket } from './admission.js';
import type { BatchJob, JobResult } from './job.js';
import { joinParts, type PartResult } from './join.js';

export type { BatchJob, JobOptions, JobPart, JobResult } from './job.js';
export { OverloadedError, Ticket } from './admission.js';

export interface Scheduler {
  /** Admits a request that just arrived, or throws OverloadedError. Release the ticket when it is answered. */
  admit(): Ticket;
  /** Queues the job, runs its parts and resolves with their joined result; rejects with the first failure. */
  run(job: BatchJob, ticket: Ticket): Promise<JobResult>;
  /** Jobs handed over and not yet settled, by model. */
  inFlight(): Record<string, number>;
}

/** Where clients of serving workers come from (the worker manager). */
export interface WorkerSource {
  /** A serving worker's client; throws WorkerUnavailableError (reason 'loading', 'restarting', ...) otherwise. */
  client(model: string): SttClient;
  /** Resolves when a worker of the model serves; rejects when none will or after timeoutMs. */
  whenServing(model: string, timeoutMs?: number): Promise<void>;
  status(): WorkerStatus[];
}

export interface SchedulerOptions {
  /** Jobs admitted and not yet answered, at most. */
  maxJobs: number;
  /** Refuse new jobs while the admitted work is estimated to take longer than this (seconds). */
  maxWaitSeconds: number;
  /** How long a job waits for its model to load (or its worker to restart) before a 503. */
  modelWaitMs: number;
  registry: Registry;
  logger: Logger;
}

interface Queued {
  job: BatchJob;
  ticket: Ticket;
  start(): void;
}

/** Worker states after which the model may serve soon: worth waiting for. */
const COMING_UP = new Set(['loading', 'restarting']);

export class BatchScheduler implements Scheduler {
  private readonly admission: Admission;
  private readonly queues = new Map<string, Queued[]>();
  private readonly running = new Map<string, number>();
  private readonly counts = new Map<string, number>();
  private readonly inFlightGauge: Gauge;
  private readonly parts: Counter;
  private readonly modelWaits: Counter;

  constructor(
    private readonly source: WorkerSource,
    private readonly opts: SchedulerOptions,
  ) {
    const registers = [opts.registry];
    this.admission = new Admission({ maxJobs: opts.maxJobs, maxWaitSeconds: opts.maxWaitSeconds, slots: (m) => this.slots(m), registry: opts.registry });
    this.inFlightGauge = new Gauge({ name: 'theo_scheduler_in_flight', help: 'transcription jobs submitted and not yet finished, by model', labelNames: ['model'], registers });
    this.parts = new Counter({ name: 'theo_batch_parts_total', help: 'parts of batch jobs sent to workers, by model and outcome', labelNames: ['model', 'outcome'], registers });
    this.modelWaits = new Counter({ name: 'theo_batch_model_waits_total', help: 'batch jobs that found their model loading or restarting, by model and outcome (served, timeout, failed)', labelNames: ['model', 'outcome'], registers });
  }

  admit(): Ticket {
    return this.admission.admit();
  }

  inFlight(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  async run(job: BatchJob, ticket: Ticket): Promise<JobResult> {
    this.bump(job.model, 1);
    try {
      await this.turn(job, ticket);
      try {
        return await this.execute(job, ticket);
      } finally {
        this.running.set(job.model, (this.running.get(job.model) ?? 1) - 1);
        this.pump(job.model);
      }
    } catch (err) {
      if (job.signal.aborted) throw abortReason(job.signal);
      throw err;
    } finally {
      this.bump(job.model, -1);
    }
  }

  /** Resolves when the job may run (it then holds one of its model's slots); rejects if aborted first. */
  private turn(job: BatchJob, ticket: Ticket): Promise<void> {
    if (job.signal.aborted) return Promise.reject(abortReason(job.signal));
    return new Promise<void>((resolve, reject) => {
      const queue = this.queues.get(job.model) ?? [];
      this.queues.set(job.model, queue);
      const entry: Queued = {
        job,
        ticket,
        start: () => {
          job.signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = queue.indexOf(entry);
        if (i >= 0) queue.splice(i, 1);
        reject(abortReason(job.signal));
      };
      job.signal.addEventListener('abort', onAbort, { once: true });
      // After every job of equal or higher priority: FIFO within a priority.
      let i = queue.length;
      while (i > 0 && (queue[i - 1]?.job.priority ?? 0) < job.priority) i--;
      queue.splice(i, 0, entry);
      this.pump(job.model);
    });
  }

  private pump(model: string): void {
    const queue = this.queues.get(model);
    if (!queue) return;
    while (queue.length > 0 && (this.running.get(model) ?? 0) < this.slots(model)) {
      const next = queue.shift() as Queued;
      this.running.set(model, (this.running.get(model) ?? 0) + 1);
      next.start();
    }
    if (queue.length === 0) this.queues.delete(model);
  }

  /** Each part to a worker in turn, as it is decoded; the results joined on the job's timeline. */
  private async execute(job: BatchJob, ticket: Ticket): Promise<JobResult> {
    const results: PartResult[] = [];
    let inference = 0;
    for await (const part of job.parts) {
      if (job.signal.aborted) throw abortReason(job.signal);
      const client = await this.clientFor(job.model, job.signal);
      const seconds = part.samples.length / job.sampleRate;
      const t0 = performance.now();
      let r: FileTranscriptionResult;
      try {
        r = await client.transcribeFile({ ...job.options, requestId: `${job.id}#${results.length}`, audio: part.samples, sampleRate: job.sampleRate, priority: job.priority }, job.signal);
      } catch (err) {
        this.parts.inc({ model: job.model, outcome: 'failed' });
        throw err;
      }
      this.parts.inc({ model: job.model, outcome: 'ok' });
      this.admission.observe(job.model, seconds, (performance.now() - t0) / 1000);
      ticket.progress(seconds);
      inference += r.inferenceSeconds;
      results.push({ offset: part.offset / job.sampleRate, duration: seconds, result: r });
    }
    const { seconds } = job.audioSeconds();
    this.admission.finished(seconds);
    return { ...joinParts(results, seconds), requestId: job.id, inferenceSeconds: inference, parts: results.length };
  }

  /** A serving worker's client, waiting up to modelWaitMs for a model that is loading or restarting. */
  private async clientFor(model: string, signal: AbortSignal): Promise<SttClient> {
    const deadline = Date.now() + this.opts.modelWaitMs;
    let waited = false;
    for (;;) {
      try {
        const client = this.source.client(model);
        if (waited) this.modelWaits.inc({ model, outcome: 'served' });
        return client;
      } catch (err) {
        const left = deadline - Date.now();
        if (!(err instanceof WorkerUnavailableError) || !COMING_UP.has(err.reason) || left <= 0) {
          if (waited) this.modelWaits.inc({ model, outcome: err instanceof WorkerUnavailableError && COMING_UP.has(err.reason) ? 'timeout' : 'failed' });
          throw err;
        }
        if (!waited) this.opts.logger.debug({ model, reason: err.reason, waitMs: left }, 'waiting for the model before running a batch job');
        waited = true;
        try {
          await abortable(this.source.whenServing(model, left), signal);
        } catch (waitErr) {
          if (signal.aborted) throw waitErr;
          this.modelWaits.inc({ model, outcome: waitErr instanceof WorkerUnavailableError && waitErr.reason === 'loading' ? 'timeout' : 'failed' });
          throw waitErr;
        }
      }
    }
  }

  /** Jobs of a model that run at once: one per serving worker, at least one (which then waits for it). */
  private slots(model: string): number {
    let n = 0;
    for (const w of this.source.status()) if (w.model === model && w.state === 'serving') n++;
    return Math.max(1, n);
  }

  private bump(model: string, d: number): void {
    const n = (this.counts.get(model) ?? 0) + d;
    this.counts.set(model, n);
    this.inFlightGauge.set({ model }, n);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new CancelledError('the request was cancelled');
}

/** `p`, or the signal's reason if it aborts first. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
