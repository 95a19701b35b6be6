// Session metrics, registered once per process on the registry the runtime gives (sessions share them).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SessionMetrics {
  ttfb: Histogram;
  finalDelay: Histogram;
  activeSessions: Gauge;
  vadEvents: Counter;
  sessionDuration: Histogram;
  forceCommits: Counter;
  confidence: Histogram;
  recoveries: Counter;
  droppedSamples: Counter;
  /** One final's confidence (0..1) into theo_final_confidence_ratio; non-finite values are skipped. */
  observeConfidence(c: number): void;
}

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10];

export function createSessionMetrics(registry: Registry): SessionMetrics {
  // A histogram, not a running mean since the start: _sum / _count gives the mean over any window, and
  // it adds up across processes.
  const confidence = new Histogram({
    name: 'theo_final_confidence_ratio',
    help: 'confidence (0..1) of each final transcript of live sessions',
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    registers: [registry],
  });
  return {
    ttfb: new Histogram({
      name: 'theo_session_ttfb_seconds',
      help: 'from the audio of a speech start arriving to its first partial (or final) leaving the session',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    finalDelay: new Histogram({
      name: 'theo_session_final_delay_seconds',
      help: 'from the audio of a speech end arriving to the final transcript leaving the session',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    activeSessions: new Gauge({ name: 'theo_sessions_active', help: 'sessions not yet closed', registers: [registry] }),
    vadEvents: new Counter({ name: 'theo_vad_events_total', help: 'voice activity events, by type', labelNames: ['type'], registers: [registry] }),
    sessionDuration: new Histogram({
      name: 'theo_session_duration_seconds',
      help: 'wall-clock length of closed sessions',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14_400],
      registers: [registry],
    }),
    forceCommits: new Counter({
      name: 'theo_segments_force_committed_total',
      help: 'utterances finalised because the session buffer was nearly full of uncommitted audio',
      registers: [registry],
    }),
    confidence,
    recoveries: new Counter({ name: 'theo_session_recoveries_total', help: 'session streams reopened after a worker crash or a broken stream', registers: [registry] }),
    droppedSamples: new Counter({ name: 'theo_session_dropped_samples_total', help: 'input samples sessions dropped (backlog past its bound, or a full buffer)', registers: [registry] }),
    observeConfidence(c: number): void {
      if (Number.isFinite(c)) confidence.observe(c);
    },
  };
}
