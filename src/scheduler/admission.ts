// Admission control for batch jobs: a request is admitted or refused when it arrives, before its body is
// read or decoded, by two bounds on the work already admitted: how many jobs, and how long the work ahead
// would take, estimated from the audio seconds still to transcribe and each model's measured real-time
// factor (wall seconds per audio second, a moving average over the parts it ran). A refused request gets
// an OverloadedError with the seconds after which a retry should fit.
import { Counter, Gauge, type Registry } from 'prom-client';
import { TheoError } from '../errors/index.js';

export interface AdmissionOptions {
  /** Jobs admitted and not yet finished, at most. */
  maxJobs: number;
  /** A job is refused when the work ahead of it is estimated to take longer than this (seconds). */
  maxWaitSeconds: number;
  /** How many of a model's jobs run at once (its serving workers); at least 1 is assumed. */
  slots(model: string): number;
  registry: Registry;
}

export type OverloadReason = 'queue_full' | 'queue_wait';

/** The batch queue is at its bound; `retryAfter` (seconds) is when a retry should fit. */
export class OverloadedError extends TheoError {
  readonly reason: OverloadReason;
  readonly retryAfter: number;
  constructor(reason: OverloadReason, message: string, retryAfter: number) {
    super('overloaded', message, { reason, retryAfter });
    this.name = 'OverloadedError';
    this.reason = reason;
    this.retryAfter = retryAfter;
  }
}

/** Real-time factor assumed for a model until one of its parts has run. */
export const PRIOR_RTF = 0.5;
/** Audio seconds assumed for a job whose length is not known yet, until jobs have finished. */
export const PRIOR_JOB_SECONDS = 30;
/** Weight of the newest observation in the moving averages. */
const EWMA = 0.2;

/** One admitted job's claim on the queue, from arrival to its answer. */
export class Ticket {
  model: string | undefined;
  private audio: (() => { seconds: number; final: boolean }) | undefined;
  private doneSeconds = 0;
  private released = false;

  constructor(private readonly owner: Admission) {}

  /** The job is known: its model and how to read its audio length as decoding proceeds. */
  attach(model: string, audio: () => { seconds: number; final: boolean }): void {
    this.model = model;
    this.audio = audio;
  }

  /** Seconds of the job's audio transcribed so far. */
  progress(seconds: number): void {
    this.doneSeconds += seconds;
  }

  /** Audio seconds still to transcribe: exact once the length is known, else at least a typical job. */
  remaining(typical: number): number {
    const a = this.audio?.();
    const total = a === undefined ? typical : a.final ? a.seconds : Math.max(a.seconds, typical);
    return Math.max(0, total - this.doneSeconds);
  }

  /** The job left the queue (answered, failed or refused later): its claim ends. Safe twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.released(this);
  }
}

export class Admission {
  private readonly tickets = new Set<Ticket>();
  private readonly rtf = new Map<string, number>();
  private typicalSeconds = PRIOR_JOB_SECONDS;
  private readonly outcomes: Counter;
  private readonly rtfGauge: Gauge;

  constructor(private readonly opts: AdmissionOptions) {
    const registers = [opts.registry];
    this.outcomes = new Counter({ name: 'theo_batch_admissions_total', help: 'batch requests admitted or refused (429) on arrival, by outcome', labelNames: ['outcome'], registers });
    for (const outcome of ['admitted', 'queue_full', 'queue_wait']) this.outcomes.inc({ outcome }, 0);
    const jobs: Gauge = new Gauge({
      name: 'theo_batch_jobs',
      help: 'batch jobs admitted and not yet answered (uploading, decoding, queued or running)',
      registers,
      collect: () => jobs.set(this.tickets.size),
    });
    const queued: Gauge = new Gauge({
      name: 'theo_batch_queued_audio_seconds',
      help: 'audio seconds admitted and not yet transcribed (estimated for jobs still uploading or decoding)',
      registers,
      collect: () => {
        let s = 0;
        for (const t of this.tickets) s += t.remaining(this.typicalSeconds);
        queued.set(s);
      },
    });
    const wait: Gauge = new Gauge({
      name: 'theo_batch_estimated_wait_seconds',
      help: 'estimated wait of a batch job admitted now before it starts (the work admitted ahead of it)',
      registers,
      collect: () => wait.set(this.estimatedWait()),
    });
    this.rtfGauge = new Gauge({ name: 'theo_batch_realtime_factor', help: 'measured wall seconds per audio second of batch parts, by model (moving average)', labelNames: ['model'], registers });
  }

  /** Admits a job now, or throws OverloadedError (429) when a bound is reached. */
  admit(): Ticket {
    const jobs = this.tickets.size;
    if (jobs >= this.opts.maxJobs) {
      const wait = this.estimatedWait();
      this.outcomes.inc({ outcome: 'queue_full' });
      // About one job's time frees a place.
      throw new OverloadedError('queue_full', `the transcription queue is full (${jobs} jobs, at most ${this.opts.maxJobs}); retry later`, Math.max(1, Math.ceil(wait / Math.max(1, jobs))));
    }
    const wait = this.estimatedWait();
    if (wait > this.opts.maxWaitSeconds) {
      this.outcomes.inc({ outcome: 'queue_wait' });
      throw new OverloadedError('queue_wait', `the transcription queue holds about ${Math.round(wait)} s of work (at most ${this.opts.maxWaitSeconds} s is queued); retry later`, Math.max(1, Math.ceil(wait - this.opts.maxWaitSeconds)));
    }
    this.outcomes.inc({ outcome: 'admitted' });
    const t = new Ticket(this);
    this.tickets.add(t);
    return t;
  }

  /** A part ran: `audioSeconds` of audio took `wallSeconds` from send to answer. */
  observe(model: string, audioSeconds: number, wallSeconds: number): void {
    if (!(audioSeconds > 0) || !(wallSeconds >= 0)) return;
    const x = wallSeconds / audioSeconds;
    const prev = this.rtf.get(model);
    const next = prev === undefined ? x : prev + EWMA * (x - prev);
    this.rtf.set(model, next);
    this.rtfGauge.set({ model }, next);
  }

  /** A job finished with this many seconds of audio: the estimate for jobs of unknown length follows. */
  finished(audioSeconds: number): void {
    if (audioSeconds > 0) this.typicalSeconds += EWMA * (audioSeconds - this.typicalSeconds);
  }

  /** Seconds the work admitted so far would take to run, spread over each model's parallel runs. */
  estimatedWait(): number {
    let wait = 0;
    for (const t of this.tickets) {
      const model = t.model;
      const rtf = model === undefined ? this.slowest() : (this.rtf.get(model) ?? PRIOR_RTF);
      wait += (t.remaining(this.typicalSeconds) * rtf) / (model === undefined ? 1 : Math.max(1, this.opts.slots(model)));
    }
    return wait;
  }

  /** @internal */
  released(t: Ticket): void {
    this.tickets.delete(t);
  }

  /** A job whose model is not known yet is costed at the slowest model seen. */
  private slowest(): number {
    let r = 0;
    for (const v of this.rtf.values()) r = Math.max(r, v);
    return r > 0 ? r : PRIOR_RTF;
  }
}
