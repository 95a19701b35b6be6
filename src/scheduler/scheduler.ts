// The seam between request handlers and workers. Handlers submit jobs; a scheduler decides when and on
// which worker they run. BasicScheduler forwards each job to the model's worker at once (the worker
// queues by priority); a priority scheduler with aging and batching replaces it behind this interface.
import type { Gauge, Registry } from 'prom-client';
import { Gauge as PromGauge } from 'prom-client';
import type { FileTranscriptionRequest, FileTranscriptionResult, SttClient } from '../workers/types.js';

export interface TranscriptionJob {
  model: string;
  request: FileTranscriptionRequest;
  signal?: AbortSignal;
}

export interface Scheduler {
  submit(job: TranscriptionJob): Promise<FileTranscriptionResult>;
  /** Jobs submitted and not yet settled, by model. */
  inFlight(): Record<string, number>;
}

/** Where clients of serving workers come from (the worker manager). Throws a typed error when none serves. */
export interface WorkerSource {
  client(model: string): SttClient;
}

export class BasicScheduler implements Scheduler {
  private readonly source: WorkerSource;
  private readonly counts = new Map<string, number>();
  private readonly gauge: Gauge;

  constructor(source: WorkerSource, registry: Registry) {
    this.source = source;
    this.gauge = new PromGauge({ name: 'theo_scheduler_in_flight', help: 'transcription jobs submitted and not yet finished, by model', labelNames: ['model'], registers: [registry] });
  }

  async submit(job: TranscriptionJob): Promise<FileTranscriptionResult> {
    const client = this.source.client(job.model);
    this.bump(job.model, 1);
    try {
      return await client.transcribeFile(job.request, job.signal);
    } finally {
      this.bump(job.model, -1);
    }
  }

  inFlight(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  private bump(model: string, d: number): void {
    const n = (this.counts.get(model) ?? 0) + d;
    this.counts.set(model, n);
    this.gauge.set({ model }, n);
  }
}
