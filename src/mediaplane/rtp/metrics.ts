// Prometheus view of the RTP media plane. Counters are read from RtpCounters at scrape time;
// the per-packet path never touches prom-client.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { SOURCE_REFUSALS } from './admission.js';
import { RTCP_OUTCOMES, RTP_OUTCOMES, type RtpCounters } from './counters.js';
import { RTCP_MALFORMED_REASONS } from './rtcp.js';
import { RTP_MALFORMED_REASONS } from './packet.js';

export interface RtpMetrics {
  /** Observed once per second per active stream by the listener's clock. */
  readonly jitterSeconds: Histogram;
}

export interface RtpGauges {
  activeStreams: () => number;
  pendingSources: () => number;
}

export function registerRtpMetrics(registry: Registry, counters: RtpCounters, gauges: RtpGauges): RtpMetrics {
  new Counter({
    name: 'theo_rtp_packets_total',
    help: `RTP datagrams received, by outcome (${RTP_OUTCOMES.join(', ')})`,
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset(); // counters live in RtpCounters; the scrape copies them
      for (const o of RTP_OUTCOMES) this.inc({ outcome: o }, counters.outcome[o]);
    },
  });
  new Counter({
    name: 'theo_rtp_malformed_packets_total',
    help: 'RTP datagrams dropped as malformed, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of RTP_MALFORMED_REASONS) this.inc({ reason: r }, counters.malformed[r]);
    },
  });
  new Counter({
    name: 'theo_rtp_sources_refused_total',
    help: `New RTP sources of multi-source ports (RTP fork) refused a stream, by reason (${SOURCE_REFUSALS.join(', ')}); not_allowed, pending_limit and inconsistent count datagrams, the others sources`,
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of SOURCE_REFUSALS) this.inc({ reason: r }, counters.refused[r]);
    },
  });
  new Counter({
    name: 'theo_rtcp_packets_total',
    help: `RTCP datagrams received (on RTP ports and their RTCP ports), by outcome (${RTCP_OUTCOMES.join(', ')})`,
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const o of RTCP_OUTCOMES) this.inc({ outcome: o }, counters.rtcp[o]);
    },
  });
  new Counter({
    name: 'theo_rtcp_malformed_packets_total',
    help: 'RTCP datagrams dropped as malformed, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of RTCP_MALFORMED_REASONS) this.inc({ reason: r }, counters.rtcpMalformed[r]);
    },
  });
  new Gauge({
    name: 'theo_rtp_sources_pending',
    help: 'New RTP sources of multi-source ports still proving they send RTP (no stream, no session yet)',
    registers: [registry],
    collect() {
      this.set(gauges.pendingSources());
    },
  });
  plainCounter(registry, 'theo_rtp_format_switches_total', 'Times an RTP stream switched to a payload format of another clock rate (a flap is dropped instead: theo_rtp_packets_total{outcome="payload_flap"})', () => counters.formatSwitches);
  plainCounter(registry, 'theo_rtp_packet_loss_total', 'RTP packets declared lost by the jitter buffers and concealed', () => counters.lostPackets);
  plainCounter(registry, 'theo_rtp_late_packets_total', 'RTP packets that arrived after their playout slot', () => counters.outcome.late);
  plainCounter(registry, 'theo_rtp_duplicate_packets_total', 'Duplicate RTP packets dropped', () => counters.outcome.duplicate);
  plainCounter(registry, 'theo_rtp_foreign_source_packets_total', 'RTP datagrams from a source other than the pinned or expected peer', () => counters.outcome.foreign_source);
  plainCounter(registry, 'theo_rtp_concealed_samples_total', 'Samples synthesised to conceal lost packets', () => counters.concealedSamples);
  plainCounter(registry, 'theo_rtp_stream_resets_total', 'Jitter buffer resets (SSRC change, sequence or timestamp jump)', () => counters.resets);
  plainCounter(registry, 'theo_rtp_dtmf_events_total', 'RFC 4733 DTMF digits received', () => counters.dtmfEvents);
  new Counter({
    name: 'theo_rtp_dtmf_reordered_total',
    help: 'DTMF digits whose packets came after a later digit had begun: reported (within the jitter buffer reach) or dropped (too late)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ outcome: 'reported' }, counters.dtmfReordered.reported);
      this.inc({ outcome: 'dropped' }, counters.dtmfReordered.dropped);
    },
  });
  plainCounter(registry, 'theo_rtp_streams_total', 'RTP streams opened', () => counters.streamsOpened);
  plainCounter(registry, 'theo_rtp_streams_timed_out_total', 'RTP streams closed because no packet arrived within the idle timeout', () => counters.streamsTimedOut);
  plainCounter(registry, 'theo_rtp_packets_sent_total', 'RTP packets sent', () => counters.packetsSent);
  new Gauge({
    name: 'theo_rtp_active_streams',
    help: 'RTP streams currently receiving',
    registers: [registry],
    collect() {
      this.set(gauges.activeStreams());
    },
  });
  const jitterSeconds = new Histogram({
    name: 'theo_rtp_jitter_seconds',
    help: 'RFC 3550 interarrival jitter of active streams, sampled once per second per stream',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32],
    registers: [registry],
  });
  return { jitterSeconds };
}

function plainCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
