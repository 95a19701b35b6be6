// Plain-number counters of the RTP receive path, shared by every endpoint and stream of a listener.
// Every datagram lands in exactly one outcome, so the outcomes always add up to `datagrams`.
import { SOURCE_REFUSALS, type SourceRefusal } from './admission.js';
import { RTP_MALFORMED_REASONS, type RtpMalformedReason } from './packet.js';
import { RTCP_MALFORMED_REASONS, type RtcpMalformedReason } from './rtcp.js';

export const RTP_OUTCOMES = [
  'accepted',
  'malformed',
  'rtcp',
  'unknown_payload_type',
  'foreign_source',
  /** Held while its source proves itself (replayed into its stream if it is admitted). */
  'probation',
  /** From a source that is refused (see RtpCounters.refused for why). */
  'refused',
  /** Of another clock rate than its stream's, which the stream did not switch to (payload type flapping). */
  'payload_flap',
  'duplicate',
  'late',
  'overflow',
  'closed',
] as const;
export type RtpOutcome = (typeof RTP_OUTCOMES)[number];

/** RTCP datagrams (multiplexed on an RTP port, or on its RTCP port), each in exactly one outcome. */
export const RTCP_OUTCOMES = [
  /** A BYE that ended the stream of its sender. */
  'bye',
  /** A BYE for no stream of that source (an unknown SSRC, or one already ended). */
  'bye_unknown',
  /** A BYE on a port whose calls end by signalling (SIP, ARI): counted, the stream goes on. */
  'bye_ignored',
  /** Reports and the rest (SR, RR, SDES, APP, ...): validated only. */
  'report',
  'malformed',
  /** From an address that may not send to this port (not the pinned peer, not allowed). */
  'foreign_source',
] as const;
export type RtcpOutcome = (typeof RTCP_OUTCOMES)[number];

export class RtpCounters {
  datagrams = 0;
  readonly outcome: Record<RtpOutcome, number> = zeroed(RTP_OUTCOMES);
  readonly malformed: Record<RtpMalformedReason, number> = zeroed(RTP_MALFORMED_REASONS);
  /** Sources refused a stream, by reason (not_allowed, pending_limit and inconsistent per datagram). */
  readonly refused: Record<SourceRefusal, number> = zeroed(SOURCE_REFUSALS);
  /** Times a stream switched to a payload format of another clock rate. */
  formatSwitches = 0;
  readonly rtcp: Record<RtcpOutcome, number> = zeroed(RTCP_OUTCOMES);
  readonly rtcpMalformed: Record<RtcpMalformedReason, number> = zeroed(RTCP_MALFORMED_REASONS);
  /** Packets the jitter buffers declared lost (and concealed). */
  lostPackets = 0;
  concealedSamples = 0;
  gapSamples = 0;
  resets = 0;
  dtmfEvents = 0;
  /** DTMF digits whose packets came after a later digit's: reported anyway (within the reorder window), or dropped. */
  readonly dtmfReordered = { reported: 0, dropped: 0 };
  streamsOpened = 0;
  streamsClosed = 0;
  streamsTimedOut = 0;
  packetsSent = 0;
  sendErrors = 0;

  /** Sum of all outcomes; equals `datagrams` at every moment. */
  outcomesTotal(): number {
    let sum = 0;
    for (const k of RTP_OUTCOMES) sum += this.outcome[k];
    return sum;
  }
}

function zeroed<K extends string>(keys: readonly K[]): Record<K, number> {
  const o = {} as Record<K, number>;
  for (const k of keys) o[k] = 0;
  return o;
}
