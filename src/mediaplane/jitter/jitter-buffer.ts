// The jitter buffer: a pure processor. Packets and a clock reading go in; frames, losses, talkspurt
// gaps and resets come out through a sink, in playout order. It owns no timer and reads no clock.
//
// The output follows the sender's RTP timestamp line: every sample from the first timestamp on is
// accounted for as a frame, a loss or a gap, so audio stays aligned with the source whatever the
// playout delay does. Packets live in preallocated ring slots indexed by extended sequence number.
import { seqDiff, tsDiff } from '../rtp/seq.js';
import { DepthEstimator } from './depth.js';

export interface JitterSink {
  /** A packet's payload, in playout order. */
  onFrame(payload: Uint8Array, timestamp: number, samples: number, marker: boolean): void;
  /** Packets that never came (or came too late): the caller conceals `samples` samples. */
  onLoss(timestamp: number, samples: number, packets: number): void;
  /** Talkspurt silence: the sender sent nothing on purpose (DTX, a pause between prompts). */
  onGap(timestamp: number, samples: number): void;
  onReset(reason: 'ssrc_change' | 'seq_jump' | 'timestamp_jump'): void;
}

export interface JitterBufferOptions {
  clockRate: number;
  mode?: 'fixed' | 'adaptive';
  /** Fixed depth, or the adaptive starting depth (ms). */
  depthMs?: number;
  minDepthMs?: number;
  maxDepthMs?: number;
  /** Packets held at most (rounded up to a power of two). */
  capacity?: number;
  /** Longest pause filled with silence; a longer timestamp jump is a discontinuity. */
  maxGapMs?: number;
}

export type PushOutcome = 'accepted' | 'duplicate' | 'late';

export interface JitterStats {
  accepted: number;
  duplicate: number;
  late: number;
  /** Times the buffer was full and released its head early to make room. */
  overflow: number;
  lostPackets: number;
  concealedSamples: number;
  gapSamples: number;
  gaps: number;
  resets: number;
  framesOut: number;
}

/** RFC 3550 A.1: a jump this far ahead is a restart, not loss. */
const MAX_DROPOUT = 3000;
/** RFC 3550 A.1: this far behind is a stray or a restart, not a late packet. */
const MAX_MISORDER = 100;
/** A timestamp jump within this much of the wall-clock gap counts as a real pause. */
const GAP_TOLERANCE_MS = 250;

const EMPTY = 0;
const MEDIA = 1;
/** A slot taken by a non-audio packet (RFC 4733 events share the sequence space). */
const SKIP = 2;

export class JitterBuffer {
  readonly stats: JitterStats = { accepted: 0, duplicate: 0, late: 0, overflow: 0, lostPackets: 0, concealedSamples: 0, gapSamples: 0, gaps: 0, resets: 0, framesOut: 0 };
  private readonly rate: number;
  private readonly maxGapSamples: number;
  private readonly mask: number;
  private readonly capacity: number;
  private readonly kind: Uint8Array;
  private readonly slotSeq: Float64Array;
  private readonly slotTs: Float64Array;
  private readonly slotSamples: Int32Array;
  private readonly slotMarker: Uint8Array;
  private readonly slotArrival: Float64Array;
  private readonly slotDeadline: Float64Array;
  private readonly slotPayload: Array<Uint8Array | undefined>;
  /** Extended sequence numbers received lately: tells a duplicate from a late packet. */
  private readonly seen: Float64Array;
  private readonly depth: DepthEstimator;

  private started = false;
  private ssrc = 0;
  private nextSeq = 0; // extended seq of the next slot to play
  private newestSeq = 0; // highest extended seq pushed
  private newestTs = 0;
  private newestSamples = 0;
  private newestArrival = 0;
  private held = 0;
  private expectedTs = Number.NaN; // extended ts where the next output starts
  private lastPlayedArrival = Number.NaN;
  private lastPlayedSamples = 0;
  private probation: { ssrc: number; seq: number; ts: number; marker: boolean; payload: Uint8Array; samples: number; arrival: number } | undefined;

  constructor(opts: JitterBufferOptions) {
    this.rate = opts.clockRate;
    this.maxGapSamples = Math.round(((opts.maxGapMs ?? 30_000) * opts.clockRate) / 1000);
    let cap = 16;
    while (cap < (opts.capacity ?? 256)) cap <<= 1;
    this.capacity = cap;
    this.mask = cap - 1;
    this.kind = new Uint8Array(cap);
    this.slotSeq = new Float64Array(cap);
    this.slotTs = new Float64Array(cap);
    this.slotSamples = new Int32Array(cap);
    this.slotMarker = new Uint8Array(cap);
    this.slotArrival = new Float64Array(cap);
    this.slotDeadline = new Float64Array(cap);
    this.slotPayload = new Array<Uint8Array | undefined>(cap).fill(undefined);
    this.seen = new Float64Array(cap * 2).fill(-1);
    const depthMs = opts.depthMs ?? 60;
    this.depth = new DepthEstimator({
      mode: opts.mode ?? 'adaptive',
      depthMs,
      minDepthMs: Math.min(opts.minDepthMs ?? 20, depthMs),
      maxDepthMs: Math.max(opts.maxDepthMs ?? 200, depthMs),
    });
  }

  get depthMs(): number {
    return this.depth.depthMs;
  }

  get size(): number {
    return this.held;
  }

  push(ssrc: number, seq: number, timestamp: number, marker: boolean, payload: Uint8Array, samples: number, nowMs: number, sink: JitterSink): PushOutcome {
    if (!this.started) {
      this.start(ssrc, seq, timestamp);
    } else if (ssrc !== this.ssrc) {
      this.restart('ssrc_change', ssrc, seq, timestamp, sink);
    } else {
      const d = seqDiff(seq, this.nextSeq & 0xffff);
      if (d >= MAX_DROPOUT || d < -MAX_MISORDER) return this.onWildSequence(ssrc, seq, timestamp, marker, payload, samples, nowMs, sink);
    }
    this.probation = undefined;
    const ext = this.nextSeq + seqDiff(seq, this.nextSeq & 0xffff);
    if (this.seen[ext & (this.seen.length - 1)] === ext) return this.count('duplicate');
    if (ext < this.nextSeq) return this.count('late');
    if (ext - this.nextSeq >= this.capacity) this.makeRoom(ext, sink);

    const extTs = this.newestTs + tsDiff(timestamp, this.newestTs >>> 0);
    this.seen[ext & (this.seen.length - 1)] = ext;
    if (ext > this.newestSeq || this.held === 0) this.noteNewest(ext, extTs, samples, marker, nowMs);
    const deadline = this.depth.deadline(nowMs, (extTs * 1000) / this.rate);
    this.store(ext, MEDIA, extTs, samples, marker, payload, nowMs, deadline);
    return this.count('accepted');
  }

  /**
   * Marks a sequence number as taken by a packet that carries no audio for this buffer (an RFC 4733
   * event), so it is neither played nor reported lost.
   */
  skip(ssrc: number, seq: number, nowMs: number, _sink: JitterSink): void {
    if (!this.started || ssrc !== this.ssrc) return;
    const ext = this.nextSeq + seqDiff(seq, this.nextSeq & 0xffff);
    if (ext < this.nextSeq || ext - this.nextSeq >= this.capacity || this.seen[ext & (this.seen.length - 1)] === ext) return;
    this.seen[ext & (this.seen.length - 1)] = ext;
    if (ext > this.newestSeq) this.newestSeq = ext;
    this.store(ext, SKIP, Number.NaN, 0, false, undefined, nowMs, nowMs);
  }

  /** Releases everything due at nowMs. */
  poll(nowMs: number, sink: JitterSink): void {
    while (this.held > 0) {
      const slot = this.nextSeq & this.mask;
      if (this.kind[slot] !== EMPTY && this.slotSeq[slot] === this.nextSeq) {
        if ((this.slotDeadline[slot] as number) > nowMs) return;
        this.release(slot, sink);
        continue;
      }
      // The head is missing: it is lost once any later packet is due.
      const later = this.firstHeldAfter(this.nextSeq);
      if (later < 0 || (this.slotDeadline[later & this.mask] as number) > nowMs) return;
      this.declareLost(later, sink);
    }
  }

  /** Releases every held packet in order now (end of stream); holes between them are losses. */
  flush(sink: JitterSink): void {
    while (this.held > 0) this.poll(Infinity, sink);
  }

  /** The earliest time poll() would release something (Infinity when empty). */
  nextDueMs(): number {
    if (this.held === 0) return Infinity;
    const slot = this.nextSeq & this.mask;
    if (this.kind[slot] !== EMPTY && this.slotSeq[slot] === this.nextSeq) return this.slotDeadline[slot] as number;
    const later = this.firstHeldAfter(this.nextSeq);
    return later < 0 ? Infinity : (this.slotDeadline[later & this.mask] as number);
  }

  reset(): void {
    this.started = false;
    this.kind.fill(EMPTY);
    this.slotPayload.fill(undefined);
    this.seen.fill(-1);
    this.held = 0;
    this.probation = undefined;
  }

  private start(ssrc: number, seq: number, timestamp: number): void {
    this.reset();
    this.started = true;
    this.ssrc = ssrc;
    this.nextSeq = seq;
    this.newestSeq = seq - 1;
    this.newestTs = timestamp;
    this.newestSamples = 0;
    this.newestArrival = Number.NaN;
    this.expectedTs = Number.NaN;
    this.lastPlayedArrival = Number.NaN;
    this.depth.restart();
  }

  private restart(reason: 'ssrc_change' | 'seq_jump', ssrc: number, seq: number, timestamp: number, sink: JitterSink): void {
    this.flush(sink);
    this.stats.resets++;
    sink.onReset(reason);
    this.start(ssrc, seq, timestamp);
  }

  /** RFC 3550 A.1 probation: a far jump is a restart only if the next packet follows it. */
  private onWildSequence(ssrc: number, seq: number, timestamp: number, marker: boolean, payload: Uint8Array, samples: number, nowMs: number, sink: JitterSink): PushOutcome {
    const p = this.probation;
    if (p && p.ssrc === ssrc && seq === ((p.seq + 1) & 0xffff)) {
      this.probation = undefined;
      this.restart('seq_jump', ssrc, p.seq, p.ts, sink);
      this.push(ssrc, p.seq, p.ts, p.marker, p.payload, p.samples, p.arrival, sink);
      this.stats.accepted--; // the held-back packet was counted when it first arrived
      return this.push(ssrc, seq, timestamp, marker, payload, samples, nowMs, sink);
    }
    this.probation = { ssrc, seq, ts: timestamp, marker, payload, samples, arrival: nowMs };
    return this.count('late');
  }

  private noteNewest(ext: number, extTs: number, samples: number, marker: boolean, nowMs: number): void {
    const mediaMs = (extTs * 1000) / this.rate;
    // A new talkspurt, or a timestamp jump the wall clock does not back, starts a new playout anchor.
    let discontinuity = marker;
    if (!discontinuity && !Number.isNaN(this.newestArrival) && ext === this.newestSeq + 1) {
      const tsJumpMs = ((extTs - this.newestTs - this.newestSamples) * 1000) / this.rate;
      discontinuity = Math.abs(tsJumpMs - (nowMs - this.newestArrival)) > GAP_TOLERANCE_MS;
    }
    this.depth.observe(nowMs, mediaMs, discontinuity);
    this.newestSeq = ext;
    this.newestTs = extTs;
    this.newestSamples = samples;
    this.newestArrival = nowMs;
  }

  private store(ext: number, kind: number, extTs: number, samples: number, marker: boolean, payload: Uint8Array | undefined, arrival: number, deadline: number): void {
    const slot = ext & this.mask;
    this.kind[slot] = kind;
    this.slotSeq[slot] = ext;
    this.slotTs[slot] = extTs;
    this.slotSamples[slot] = samples;
    this.slotMarker[slot] = marker ? 1 : 0;
    this.slotPayload[slot] = payload;
    this.slotArrival[slot] = arrival;
    this.slotDeadline[slot] = deadline;
    this.held++;
  }

  private release(slot: number, sink: JitterSink): void {
    const kind = this.kind[slot];
    const payload = this.slotPayload[slot];
    this.kind[slot] = EMPTY;
    this.slotPayload[slot] = undefined;
    this.held--;
    this.nextSeq++;
    if (kind === SKIP || !payload) return;
    const ts = this.slotTs[slot] as number;
    const samples = this.slotSamples[slot] as number;
    const arrival = this.slotArrival[slot] as number;
    if (!Number.isNaN(this.expectedTs) && ts !== this.expectedTs) this.bridge(ts, samples, arrival, sink);
    this.expectedTs = ts + samples;
    this.lastPlayedArrival = arrival;
    this.lastPlayedSamples = samples;
    this.stats.framesOut++;
    sink.onFrame(payload, ts >>> 0, samples, this.slotMarker[slot] === 1);
  }

  /**
   * Consecutive packets whose timestamps do not meet. Within one packet's worth either way the sequence
   * number wins and the audio plays on contiguously: Asterisk stamps a prompt's short last packet at
   * previous + its own length (rows 69-71 of the asterisk-22 traces), which overlaps and then jumps back.
   * Beyond that, a jump the wall clock backs is a pause (silence); anything else is a discontinuity.
   */
  private bridge(ts: number, samples: number, arrival: number, sink: JitterSink): void {
    const jump = ts - this.expectedTs;
    if (Math.abs(jump) <= Math.max(samples, this.lastPlayedSamples)) return;
    // Time not covered by the previous packet's own audio.
    const idleSamples = Math.max(0, ((arrival - this.lastPlayedArrival) * this.rate) / 1000 - this.lastPlayedSamples);
    const backed = ((jump - idleSamples) * 1000) / this.rate <= GAP_TOLERANCE_MS;
    if (jump > 0 && jump <= this.maxGapSamples && backed) {
      this.gap(jump, sink);
      return;
    }
    this.stats.resets++;
    sink.onReset('timestamp_jump');
    // Keep session time true: fill what the wall clock says passed, no more.
    const fill = Math.min(Math.round(idleSamples), this.maxGapSamples);
    if (fill > 0) this.gap(fill, sink);
  }

  private gap(samples: number, sink: JitterSink): void {
    this.stats.gaps++;
    this.stats.gapSamples += samples;
    sink.onGap(this.expectedTs >>> 0, samples);
  }

  private declareLost(laterExt: number, sink: JitterSink): void {
    const packets = laterExt - this.nextSeq;
    const slot = laterExt & this.mask;
    this.nextSeq = laterExt;
    if (this.kind[slot] === SKIP) return; // the hole ends at an event packet: its timing says nothing
    const ts = this.slotTs[slot] as number;
    if (Number.isNaN(this.expectedTs)) {
      // Loss before the first frame: nothing to conceal yet, the timeline starts here.
      this.stats.lostPackets += packets;
      return;
    }
    const samples = Math.min(Math.max(0, ts - this.expectedTs), this.maxGapSamples);
    this.stats.lostPackets += packets;
    this.stats.concealedSamples += samples;
    if (samples > 0) sink.onLoss(this.expectedTs >>> 0, samples, packets);
    else if (packets > 0) sink.onLoss(this.expectedTs >>> 0, 0, packets);
    this.expectedTs = ts;
  }

  /** The extended seq of the first held slot after `ext`, or -1. */
  private firstHeldAfter(ext: number): number {
    for (let e = ext + 1; e <= this.newestSeq; e++) {
      const slot = e & this.mask;
      if (this.kind[slot] !== EMPTY && this.slotSeq[slot] === e) return e;
    }
    return -1;
  }

  /** The buffer cannot hold `ext`: play or declare lost everything up to its window. */
  private makeRoom(ext: number, sink: JitterSink): void {
    this.stats.overflow++;
    const limit = ext - this.capacity + 1;
    while (this.nextSeq < limit) {
      const slot = this.nextSeq & this.mask;
      if (this.kind[slot] !== EMPTY && this.slotSeq[slot] === this.nextSeq) {
        this.release(slot, sink);
      } else {
        const later = this.firstHeldAfter(this.nextSeq);
        if (later < 0 || later > limit) {
          // Nothing held in the way: jump the window; the next real packet's timestamp decides the loss.
          this.stats.lostPackets += limit - this.nextSeq;
          this.nextSeq = limit;
        } else {
          this.declareLost(later, sink);
        }
      }
    }
  }

  private count(outcome: PushOutcome): PushOutcome {
    this.stats[outcome]++;
    return outcome;
  }
}
