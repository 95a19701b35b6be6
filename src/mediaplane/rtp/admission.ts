// Admission of new RTP sources on multi-source endpoints (an RTP fork, where anyone can send from any port):
// a source costs only a small entry in a bounded table until it has sent `probationPackets` packets of
// consistent RTP, and only then may it become a stream (and its owner's call), within per-address limits and
// whatever the owner's own policy says (its share of the session pool). The packets that proved a source are
// held, not copied, and replayed into its stream, so a call loses no audio to its probation (within
// MAX_HELD_BYTES for all sources together: past it a run still proves its source, without the replay).
//
// Consistent, packet to packet: one SSRC and clock rate; the sequence number advancing by 1 to
// MAX_SEQ_STEP (a lost packet or two); the timestamp advancing; whole samples of at most MAX_PACKET_MS; and,
// from the first packet on, media time (timestamps at the payload type's clock) within CLOCK_TOLERANCE_MS of
// arrival time, as a real-time sender's is. A packet that breaks the run restarts the probation from it; one
// of another clock rate is passed over, as the stream would drop it as payload type flapping (stream.ts).
import type { AudioCodec } from '../codec/codec.js';
import type { RtpCounters } from './counters.js';
import type { RtpPacket } from './packet.js';
import { seqDiff, tsDiff } from './seq.js';
import type { RtpSource } from './stream.js';

export const SOURCE_REFUSALS = [
  /** The address is not in the endpoint's allow list (counted per datagram). */
  'not_allowed',
  /** A packet broke the source's run of consistent RTP; its probation restarted. */
  'inconsistent',
  /** The source went quiet (or was pushed out of a full table) before it proved itself. */
  'unproven',
  /** Too many unproven sources of its address at once. */
  'pending_limit',
  /** Its address has maxStreamsPerAddress streams already. */
  'address_limit',
  /** The owner's policy: RTP fork calls hold their share of the session pool. */
  'fork_share',
  /** The owner's policy: calls of every source hold their share of the session pool. */
  'calls_share',
  /** The owner's policy: the session pool is full. */
  'session_limit',
  /** The owner could not start what the stream feeds (e.g. its session failed). */
  'session_failed',
] as const;
export type SourceRefusal = (typeof SOURCE_REFUSALS)[number];

/** Asked once a source has proved itself: undefined admits it, a reason refuses it. */
export type AdmitHook = (source: RtpSource, clockRate: number) => SourceRefusal | undefined;

export interface SourceAdmissionOptions {
  probationPackets: number;
  maxPendingPerAddress: number;
  maxStreamsPerAddress: number;
  admit?: AdmitHook | undefined;
}

export type AdmissionVerdict = 'probation' | 'refused' | 'admitted';

/** An unproven or refused source quiet this long is forgotten. */
export const SOURCE_IDLE_MS = 2000;
/** A refused source that goes on sending is considered again (probation anew) this long after the refusal. */
export const RETRY_MS = 5000;
/** Entries (unproven and refused sources) at most: past this the least recently heard one is dropped. */
export const MAX_SOURCES = 4096;
/** Bytes of datagrams held for replay, all unproven sources together. */
export const MAX_HELD_BYTES = 4 * 1024 * 1024;
const MAX_SEQ_STEP = 3;
const MAX_PACKET_MS = 250;
const CLOCK_TOLERANCE_MS = 250;

const PROBING = 0;
const REFUSED = 1;

interface Entry {
  state: typeof PROBING | typeof REFUSED;
  address: string;
  lastAt: number;
  /** Probing: the run so far. */
  ssrc: number;
  seq: number;
  ts: number;
  firstTs: number;
  firstAt: number;
  rate: number;
  /** Packets in the run so far. */
  count: number;
  /** Datagrams of the run (each its own buffer from the socket), their arrival times and bytes. */
  held: Uint8Array[];
  heldAt: number[];
  heldBytes: number;
  /** Refused: when the source may try again. */
  retryAt: number;
}

export class SourceAdmission {
  /** Datagrams that proved the source just admitted, with their arrival times: valid until the next offer(). */
  readonly replay: Uint8Array[] = [];
  readonly replayAt: number[] = [];
  private readonly entries = new Map<string, Entry>();
  private readonly pendingByAddress = new Map<string, number>();
  private readonly streamsByAddress = new Map<string, number>();
  private heldBytes = 0;

  constructor(
    private readonly opts: SourceAdmissionOptions,
    private readonly counters: RtpCounters,
    /** Told of each refusal (with the owner's error, if it gave one), for a log at a bounded rate. */
    private readonly onRefuse: (reason: SourceRefusal, source: RtpSource, err?: unknown) => void = () => undefined,
  ) {}

  /** Unproven sources being tracked. */
  get pending(): number {
    let n = 0;
    for (const c of this.pendingByAddress.values()) n += c;
    return n;
  }

  /** Sources tracked (unproven and refused). */
  get tracked(): number {
    return this.entries.size;
  }

  /** Bytes of datagrams held for replay. */
  get held(): number {
    return this.heldBytes;
  }

  /**
   * One audio packet (parsed into `pkt`, of `codec`) from a source that has no stream: 'admitted' when it
   * completes the source's probation and the source may have a stream (then `replay` holds the earlier
   * packets of the run; `datagram` itself is not among them), else whether it was held or dropped.
   */
  offer(key: string, source: RtpSource, pkt: RtpPacket, codec: AudioCodec, datagram: Uint8Array, nowMs: number): AdmissionVerdict {
    this.replay.length = 0;
    this.replayAt.length = 0;
    let e = this.entries.get(key);
    if (e?.state === REFUSED) {
      if (nowMs < e.retryAt) return this.touch(key, e, nowMs, 'refused');
      this.forget(key, e);
      e = undefined;
    }
    const samples = codec.samplesIn(pkt.payload.byteLength);
    const sane = samples > 0 && codec.bytesFor(samples) === pkt.payload.byteLength && samples * 1000 <= codec.clockRate * MAX_PACKET_MS;
    if (!e) {
      if (!sane) return this.refuse('inconsistent', source);
      if ((this.pendingByAddress.get(source.address) ?? 0) >= this.opts.maxPendingPerAddress) return this.refuse('pending_limit', source);
      e = this.start(key, source.address);
    } else if (sane && e.count > 0 && codec.clockRate !== e.rate) {
      // Another clock than the run's: what the stream would drop as payload type flapping; not a break.
      return this.touch(key, e, nowMs, 'probation');
    } else if (!sane || !this.follows(e, pkt, codec, nowMs)) {
      this.counters.refused.inconsistent++;
      this.onRefuse('inconsistent', source);
      this.endRun(e);
      if (!sane) return this.touch(key, e, nowMs, 'probation');
    }
    if (e.count === 0) {
      e.ssrc = pkt.ssrc;
      e.firstTs = pkt.timestamp;
      e.firstAt = nowMs;
      e.rate = codec.clockRate;
    }
    e.seq = pkt.sequenceNumber;
    e.ts = pkt.timestamp;
    if (++e.count < this.opts.probationPackets) {
      if (this.heldBytes + datagram.byteLength <= MAX_HELD_BYTES) {
        e.held.push(datagram);
        e.heldAt.push(nowMs);
        e.heldBytes += datagram.byteLength;
        this.heldBytes += datagram.byteLength;
      }
      return this.touch(key, e, nowMs, 'probation');
    }
    const refused = this.judge(source, codec.clockRate);
    if (refused) {
      this.setPending(e.address, -1);
      e.state = REFUSED;
      e.retryAt = nowMs + RETRY_MS;
      this.endRun(e);
      this.refuse(refused, source);
      return this.touch(key, e, nowMs, 'refused');
    }
    for (let i = 0; i < e.held.length; i++) {
      this.replay.push(e.held[i]!);
      this.replayAt.push(e.heldAt[i]!);
    }
    this.forget(key, e);
    this.streamsByAddress.set(source.address, (this.streamsByAddress.get(source.address) ?? 0) + 1);
    return 'admitted';
  }

  /** A stream admitted here has ended: its address may have another. */
  release(address: string): void {
    const n = (this.streamsByAddress.get(address) ?? 0) - 1;
    if (n > 0) this.streamsByAddress.set(address, n);
    else this.streamsByAddress.delete(address);
  }

  /** Refuses a source (its owner could not take it after all): its packets are dropped until RETRY_MS. */
  block(key: string, source: RtpSource, reason: SourceRefusal, nowMs: number, err?: unknown): void {
    const old = this.entries.get(key);
    if (old) this.forget(key, old);
    const e = this.start(key, source.address);
    this.setPending(source.address, -1);
    e.state = REFUSED;
    e.retryAt = nowMs + RETRY_MS;
    this.touch(key, e, nowMs, 'refused');
    this.refuse(reason, source, err);
  }

  /** Forgets sources quiet for SOURCE_IDLE_MS; an unproven one counts as 'unproven'. Cheap: oldest first. */
  sweep(nowMs: number): void {
    for (const [key, e] of this.entries) {
      if (nowMs - e.lastAt < SOURCE_IDLE_MS) return;
      this.drop(key, e);
    }
  }

  private follows(e: Entry, pkt: RtpPacket, codec: AudioCodec, nowMs: number): boolean {
    if (pkt.ssrc !== e.ssrc) return false;
    const step = seqDiff(pkt.sequenceNumber, e.seq);
    if (step < 1 || step > MAX_SEQ_STEP || tsDiff(pkt.timestamp, e.ts) <= 0) return false;
    const mediaMs = (tsDiff(pkt.timestamp, e.firstTs) * 1000) / e.rate;
    return Math.abs(mediaMs - (nowMs - e.firstAt)) <= CLOCK_TOLERANCE_MS;
  }

  private judge(source: RtpSource, clockRate: number): SourceRefusal | undefined {
    const cap = this.opts.maxStreamsPerAddress;
    if (cap > 0 && (this.streamsByAddress.get(source.address) ?? 0) >= cap) return 'address_limit';
    return this.opts.admit?.(source, clockRate);
  }

  private start(key: string, address: string): Entry {
    if (this.entries.size >= MAX_SOURCES) {
      const oldest = this.entries.entries().next().value;
      if (oldest) this.drop(oldest[0], oldest[1]);
    }
    const e: Entry = { state: PROBING, address, lastAt: 0, ssrc: 0, seq: 0, ts: 0, firstTs: 0, firstAt: 0, rate: 0, count: 0, held: [], heldAt: [], heldBytes: 0, retryAt: 0 };
    this.entries.set(key, e);
    this.setPending(address, 1);
    return e;
  }

  /** Marks the entry heard now (the map stays ordered by last activity, oldest first). */
  private touch(key: string, e: Entry, nowMs: number, verdict: AdmissionVerdict): AdmissionVerdict {
    e.lastAt = nowMs;
    this.entries.delete(key);
    this.entries.set(key, e);
    return verdict;
  }

  private drop(key: string, e: Entry): void {
    if (e.state === PROBING) {
      this.counters.refused.unproven++;
    }
    this.forget(key, e);
  }

  private forget(key: string, e: Entry): void {
    this.entries.delete(key);
    this.endRun(e);
    if (e.state === PROBING) this.setPending(e.address, -1);
  }

  /** Ends the entry's run: its held datagrams go (their bytes back to the budget). */
  private endRun(e: Entry): void {
    this.heldBytes -= e.heldBytes;
    e.heldBytes = 0;
    e.held.length = 0;
    e.heldAt.length = 0;
    e.count = 0;
  }

  private setPending(address: string, delta: number): void {
    const n = (this.pendingByAddress.get(address) ?? 0) + delta;
    if (n > 0) this.pendingByAddress.set(address, n);
    else this.pendingByAddress.delete(address);
  }

  private refuse(reason: SourceRefusal, source: RtpSource, err?: unknown): 'refused' {
    this.counters.refused[reason]++;
    this.onRefuse(reason, source, err);
    return 'refused';
  }
}
