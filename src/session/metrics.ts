// Session metrics, registered once per process on the registry the runtime gives (sessions share them).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SessionMetrics {
  ttfb: Histogram;
  finalDelay: Histogram;
  activeSessions: Gauge;
  vadEvents: Counter;
  sessionDuration: Histogram;
  forceCommits: Counter;
  confidenceAvg: Gauge;
  recoveries: Counter;
  droppedSamples: Counter;
  /** Feeds confidence_avg: a running mean over every final since the start. */
  observeConfidence(c: number): void;
}

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10];

export function createSessionMetrics(registry: Registry): SessionMetrics {
  let sum = 0;
  let n = 0;
  const confidenceAvg = new Gauge({ name: 'confidence_avg', help: 'mean confidence of every final transcript since the start', registers: [registry] });
  return {
    ttfb: new Histogram({
      name: 'ttfb_seconds',
      help: 'from the audio of a speech start arriving to its first partial (or final) leaving the session',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    finalDelay: new Histogram({
      name: 'final_delay_seconds',
      help: 'from the audio of a speech end arriving to the final transcript leaving the session',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    activeSessions: new Gauge({ name: 'active_sessions', help: 'sessions not yet closed', registers: [registry] }),
    vadEvents: new Counter({ name: 'vad_events_total', help: 'voice activity events, by type', labelNames: ['type'], registers: [registry] }),
    sessionDuration: new Histogram({
      name: 'session_duration_seconds',
      help: 'wall-clock length of closed sessions',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14_400],
      registers: [registry],
    }),
    forceCommits: new Counter({
      name: 'segments_force_committed_total',
      help: 'utterances finalised because the session buffer was nearly full of uncommitted audio',
      registers: [registry],
    }),
    confidenceAvg,
    recoveries: new Counter({ name: 'worker_recoveries_total', help: 'session streams reopened after a worker crash or a broken stream', registers: [registry] }),
    droppedSamples: new Counter({ name: 'session_dropped_samples_total', help: 'input samples sessions dropped (backlog past its bound, or a full buffer)', registers: [registry] }),
    observeConfidence(c: number): void {
      if (!Number.isFinite(c)) return;
      sum += c;
      n++;
      confidenceAvg.set(sum / n);
    },
  };
}
