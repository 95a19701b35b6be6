// The jitter buffer: a pure processor. Packets and a clock reading go in; frames, losses, talkspurt
// gaps and resets come out through a sink, in playout order. It owns no timer and reads no clock.
//
// Output line: every sample from the first frame on is accounted for once, as a frame, a loss or a
// gap, at contiguous positions (`timestamp` + `samples` of one item is the `timestamp` of the next).
// For a sender that stamps packets the RFC 3550 way the line IS its RTP timestamp line, so audio stays
// aligned with the source whatever the playout delay does. Where the sender's stamps overlap (Asterisk
// stamps a prompt's short last packet at previous + its own length) the frame plays on right after the
// previous one and the next pause absorbs the difference. After a reset the line continues where it
// was, plus the wall-clock silence, so session time stays true across sources.
//
// Packets live in preallocated ring slots indexed by extended sequence number & (capacity - 1).
// Sequence numbers and timestamps are extended (unwrapped) on arrival; everything inside compares
// extended numbers, so 16- and 32-bit wrap-around needs no care past `extend*`.
import { DepthEstimator } from './depth.js';

export type JitterResetReason = 'ssrc_change' | 'seq_jump' | 'timestamp_jump';

export interface JitterSink {
  /** One packet's payload, in playout order, at its position on the output line, with the tag it was pushed with. */
  onFrame(payload: Uint8Array, timestamp: number, samples: number, marker: boolean, tag: number): void;
  /** `packets` never came (or came too late): the caller conceals `samples` (0 when the stamps leave no room). */
  onLoss(timestamp: number, samples: number, packets: number): void;
  /** Talkspurt silence: the sender sent nothing on purpose (DTX, a pause between prompts). */
  onGap(timestamp: number, samples: number): void;
  /** Everything before belongs to the old stream; decoder state should start over. */
  onReset(reason: JitterResetReason): void;
}

export interface JitterBufferOptions {
  clockRate: number;
  /** Default 'adaptive'. */
  mode?: 'fixed' | 'adaptive';
  /** Fixed depth, or the adaptive starting depth (ms, default 60). */
  depthMs?: number;
  /** Adaptive bounds (ms, defaults 20 and 200). */
  minDepthMs?: number;
  maxDepthMs?: number;
  /** Packets held at most (default 256, rounded up to a power of two). */
  capacity?: number;
  /** Longest talkspurt pause filled with silence (ms, default 30000); a longer jump is a reset. */
  maxGapMs?: number;
}

/** Every push lands in exactly one outcome; 'overflow' packets are kept (the head was played early). */
export type PushOutcome = 'accepted' | 'duplicate' | 'late' | 'overflow';

export interface JitterStats {
  accepted: number;
  duplicate: number;
  late: number;
  overflow: number;
  lostPackets: number;
  concealedSamples: number;
  gapSamples: number;
  gaps: number;
  resets: number;
  framesOut: number;
}

const SEQ_MOD = 0x1_0000;
const TS_MOD = 0x1_0000_0000;
/** RFC 3550 A.1: further ahead than this is a restart (or a stray), not loss. */
const MAX_DROPOUT = 3000;
/** RFC 3550 A.1: further behind than this is a restart (or a stray), not a late packet. */
const MAX_MISORDER = 100;
/** A packet this much earlier than its timestamp predicts jumped ahead without wall-clock backing. */
const TS_JUMP_TOLERANCE_MS = 500;
/** The anchor may rise (path got slower, clock drift) once per block, to the block's fastest transit. */
const ANCHOR_BLOCK_MS = 2000;
/** Smaller rises are noise and not worth a stutter. */
const ANCHOR_RISE_MIN_MS = 2;
/** While the adaptive depth comes down, play out this much faster than real time. */
const SHRINK_PER_PLAYED = 0.05;

const EMPTY = 0;
const AUDIO = 1;
/** A sequence number used by a packet with no audio for this buffer (RFC 4733 events). */
const SKIP = 2;

export class JitterBuffer {
  readonly stats: JitterStats = { accepted: 0, duplicate: 0, late: 0, overflow: 0, lostPackets: 0, concealedSamples: 0, gapSamples: 0, gaps: 0, resets: 0, framesOut: 0 };

  private readonly rate: number;
  private readonly adaptive: boolean;
  private readonly fixedDepthMs: number;
  private readonly maxGapMs: number;
  private readonly maxGapSamples: number;
  private readonly jumpToleranceMs: number;
  private readonly capacity: number;
  private readonly mask: number;
  private readonly estimator: DepthEstimator;

  private readonly slotKind: Uint8Array;
  private readonly slotSeq: Float64Array;
  private readonly slotTs: Float64Array;
  private readonly slotSamples: Float64Array;
  private readonly slotMarker: Uint8Array;
  /** The caller's byte per packet (the stream's payload type: one stream may mix formats of one clock). */
  private readonly slotTag: Uint8Array;
  private readonly slotPayload: (Uint8Array | undefined)[];
  /** Extended seqs received lately (2 x capacity): a duplicate of a played packet is not 'late'. */
  private readonly seen: Float64Array;
  private readonly seenMask: number;

  // Stream and sequence space.
  private started = false;
  private ssrc = 0;
  /** Lowest extended seq the window takes; the window is [head, head + capacity). */
  private head = 0;
  private maxSeq = 0;
  private held = 0;
  private heldAudio = 0;
  /** RFC 3550 A.1 probation: the raw seq that would confirm a far jump, or -1. */
  private badSeq = -1;

  // Timestamp line.
  /** The next accepted audio packet starts a timestamp line (stream start, reset). */
  private newTimeline = true;
  /** Where a reset wants the new line to start (output units), or NaN to use the sender's stamps. */
  private pendingLine = Number.NaN;
  private refSeq = 0; // newest audio packet: extends timestamps, detects jumps
  private refTs = 0;
  private refSamples = 0;
  private playing = false;
  private lastOutSeq = 0;
  private skipsSinceOut = 0;
  private lastFrameSamples = 0;
  /** Extended timestamp where the next output starts; output = cursor + lineOffset (mod 2^32). */
  private cursor = 0;
  private lineOffset = 0;

  // Playout timing: deadline = offsetMs + media time + depth.
  /** The anchor: the smallest (arrival - media time) seen in the talkspurt. */
  private offsetMs = 0;
  private blockStartMs = 0;
  private blockMinMs = Infinity;
  private depth: number;

  constructor(opts: JitterBufferOptions) {
    if (!(opts.clockRate > 0) || !Number.isFinite(opts.clockRate)) throw new RangeError(`clockRate must be a positive number, got ${opts.clockRate}`);
    const minDepth = opts.minDepthMs ?? 20;
    const maxDepth = opts.maxDepthMs ?? 200;
    const depthMs = opts.depthMs ?? 60;
    if (!(minDepth >= 0 && minDepth <= maxDepth && depthMs >= 0)) throw new RangeError(`jitter depths must satisfy 0 <= minDepthMs <= maxDepthMs and depthMs >= 0, got ${minDepth}/${depthMs}/${maxDepth}`);
    const requested = opts.capacity ?? 256;
    if (!Number.isInteger(requested) || requested < 2 || requested > 0x8000) throw new RangeError(`capacity must be an integer in [2, 32768], got ${requested}`);
    let cap = 2;
    while (cap < requested) cap *= 2;

    this.rate = opts.clockRate;
    this.adaptive = (opts.mode ?? 'adaptive') === 'adaptive';
    this.fixedDepthMs = depthMs;
    this.maxGapMs = Math.max(0, opts.maxGapMs ?? 30_000);
    this.maxGapSamples = Math.round((this.maxGapMs * this.rate) / 1000);
    // Jitter only makes packets later than the anchor; earlier means the anchor moved up by at most
    // about the depth (a delayed marker packet), so beyond twice the largest depth it is a jump.
    this.jumpToleranceMs = Math.max(TS_JUMP_TOLERANCE_MS, 2 * (this.adaptive ? maxDepth : depthMs));
    this.capacity = cap;
    this.mask = cap - 1;
    this.estimator = new DepthEstimator({ minMs: minDepth, maxMs: maxDepth, startMs: depthMs });
    this.depth = this.adaptive ? this.estimator.targetMs : depthMs;

    this.slotKind = new Uint8Array(cap);
    this.slotSeq = new Float64Array(cap);
    this.slotTs = new Float64Array(cap);
    this.slotSamples = new Float64Array(cap);
    this.slotMarker = new Uint8Array(cap);
    this.slotTag = new Uint8Array(cap);
    this.slotPayload = new Array<Uint8Array | undefined>(cap).fill(undefined);
    this.seen = new Float64Array(cap * 2).fill(-1);
    this.seenMask = cap * 2 - 1;
  }

  /** The playout depth in force (ms). */
  get depthMs(): number {
    return this.depth;
  }

  /** Packets held (audio and skipped slots). */
  get size(): number {
    return this.held;
  }

  /** `tag` (0-255) comes back with the packet's frame. */
  push(ssrc: number, seq: number, timestamp: number, marker: boolean, payload: Uint8Array, samples: number, nowMs: number, sink: JitterSink, tag = 0): PushOutcome {
    if (!this.started) {
      this.beginStream(ssrc, seq, timestamp);
    } else if (ssrc !== this.ssrc) {
      // A new source: what the old one left plays out now, then the line continues with the new one.
      this.restart('ssrc_change', nowMs, sink);
      this.beginStream(ssrc, seq, timestamp);
    } else {
      const d = seqDelta(seq, this.maxSeq % SEQ_MOD);
      if (d > MAX_DROPOUT || d < -MAX_MISORDER) {
        // RFC 3550 A.1 probation: a far jump is a restart only when the next packet follows it.
        // The first packet of the new run is dropped, as in A.1; the wall-clock gap covers its time.
        if (seq !== this.badSeq) {
          this.badSeq = (seq + 1) % SEQ_MOD;
          return this.count('late');
        }
        this.restart('seq_jump', nowMs, sink);
        this.beginStream(ssrc, seq, timestamp);
      }
    }
    this.badSeq = -1;

    const p = this.maxSeq + seqDelta(seq, this.maxSeq % SEQ_MOD);
    let extTs = this.newTimeline ? timestamp + TS_MOD : this.refTs + tsDelta(timestamp, this.refTs % TS_MOD);
    if (p < this.head) {
      if (!this.playing && this.maxSeq - p < this.capacity) {
        this.head = p; // reordered before the first frame went out: the stream starts earlier
      } else {
        if (this.adaptive) this.observe(nowMs - this.mediaMs(extTs), nowMs);
        return this.count(this.seen[p & this.seenMask] === p ? 'duplicate' : 'late');
      }
    }
    const slot = p & this.mask;
    if (this.slotKind[slot] !== EMPTY && this.slotSeq[slot] === p) return this.count('duplicate');

    if (!this.newTimeline && p > this.refSeq && this.isTimestampJump(extTs, nowMs)) {
      // Same source and sequence space, new timestamp line: keep the sequence numbers, restart the rest.
      this.restart('timestamp_jump', nowMs, sink);
      this.newTimeline = true;
      this.head = p;
      extTs = timestamp + TS_MOD;
    }

    let outcome: PushOutcome = 'accepted';
    if (p >= this.head + this.capacity) {
      this.makeRoom(p - this.capacity + 1, sink);
      outcome = 'overflow';
    }
    this.store(p, extTs, marker, payload, samples, nowMs);
    this.slotTag[slot] = tag;
    return this.count(outcome);
  }

  /**
   * Marks a sequence number as used by a packet that carries no audio for this buffer (an RFC 4733
   * event): it is neither played nor reported lost, and its timestamp is ignored.
   */
  skip(ssrc: number, seq: number, _nowMs: number, sink: JitterSink): void {
    if (!this.started || ssrc !== this.ssrc) return;
    const d = seqDelta(seq, this.maxSeq % SEQ_MOD);
    if (d > MAX_DROPOUT || d < -MAX_MISORDER) return;
    const p = this.maxSeq + d;
    const slot = p & this.mask;
    if (p < this.head || (this.slotKind[slot] !== EMPTY && this.slotSeq[slot] === p)) return;
    if (p >= this.head + this.capacity) this.makeRoom(p - this.capacity + 1, sink);
    this.slotKind[slot] = SKIP;
    this.slotSeq[slot] = p;
    this.slotPayload[slot] = undefined;
    this.held++;
    this.seen[p & this.seenMask] = p;
    if (p > this.maxSeq) this.maxSeq = p;
  }

  /** Releases everything due at nowMs. */
  poll(nowMs: number, sink: JitterSink): void {
    while (this.heldAudio > 0) {
      const p = this.firstAudio();
      if (this.deadline(p) > nowMs) return;
      this.release(p, sink);
    }
  }

  /** End of stream: releases every held packet in order now; only holes between them are losses. */
  flush(sink: JitterSink): void {
    while (this.heldAudio > 0) this.release(this.firstAudio(), sink);
    this.clearSkips(this.maxSeq + 1);
  }

  /** The earliest time poll() would release something (Infinity when nothing is held). */
  nextDueMs(): number {
    return this.heldAudio > 0 ? this.deadline(this.firstAudio()) : Infinity;
  }

  /** Forgets the stream and everything held (nothing is released); stats keep counting. */
  reset(): void {
    this.slotKind.fill(EMPTY);
    this.slotPayload.fill(undefined);
    this.seen.fill(-1);
    this.held = this.heldAudio = 0;
    this.started = false;
    this.playing = false;
    this.badSeq = -1;
    this.pendingLine = Number.NaN;
    this.lineOffset = 0;
    this.estimator.reset();
    this.depth = this.adaptive ? this.estimator.targetMs : this.fixedDepthMs;
  }

  // --- stream lifecycle ---

  /** A fresh sequence space; the next push stores `seq` as its first packet. */
  private beginStream(ssrc: number, seq: number, timestamp: number): void {
    this.started = true;
    this.ssrc = ssrc;
    this.seen.fill(-1);
    this.head = seq + SEQ_MOD;
    this.maxSeq = this.head;
    this.refSeq = this.head - 1;
    this.refTs = timestamp + TS_MOD;
    this.newTimeline = true;
    this.skipsSinceOut = 0;
  }

  /**
   * Ends the current timestamp line: plays out what is held, reports the reset, and fills the
   * wall-clock time between the old line's end and this arrival (bounded by maxGapMs) as a gap.
   */
  private restart(reason: JitterResetReason, arrivalMs: number, sink: JitterSink): void {
    this.flush(sink);
    this.stats.resets++;
    let gap = 0;
    let gapAt = 0;
    if (this.playing) {
      const endMs = this.offsetMs + this.mediaMs(this.cursor);
      gap = Math.round((clamp(arrivalMs - endMs, 0, this.maxGapMs) * this.rate) / 1000);
      gapAt = this.cursor + this.lineOffset;
      this.pendingLine = gapAt + gap;
      if (gap > 0) {
        this.stats.gaps++;
        this.stats.gapSamples += gap;
      }
    } else {
      this.pendingLine = Number.NaN;
    }
    this.newTimeline = true;
    sink.onReset(reason);
    if (gap > 0) sink.onGap(wrapTs(gapAt), gap);
  }

  /** A timestamp that the wall clock does not back: backwards, far ahead of arrival, or past maxGap. */
  private isTimestampJump(extTs: number, arrivalMs: number): boolean {
    if (extTs <= this.refTs) return true;
    const pauseMs = ((extTs - this.refTs - this.refSamples) * 1000) / this.rate;
    if (pauseMs > this.maxGapMs) return true;
    const earlyMs = this.offsetMs - (arrivalMs - this.mediaMs(extTs));
    return earlyMs > this.jumpToleranceMs;
  }

  // --- storing ---

  private store(p: number, extTs: number, marker: boolean, payload: Uint8Array, samples: number, arrivalMs: number): void {
    const slot = p & this.mask;
    this.slotKind[slot] = AUDIO;
    this.slotSeq[slot] = p;
    this.slotTs[slot] = extTs;
    this.slotSamples[slot] = samples > 0 ? samples : 0;
    this.slotMarker[slot] = marker ? 1 : 0;
    this.slotPayload[slot] = payload;
    this.held++;
    this.heldAudio++;
    this.seen[p & this.seenMask] = p;
    if (p > this.maxSeq) this.maxSeq = p;

    const transit = arrivalMs - this.mediaMs(extTs);
    if (this.newTimeline) {
      this.newTimeline = false;
      if (!Number.isNaN(this.pendingLine)) {
        // The line continues from the old stream: this packet starts right after the gap.
        this.playing = true;
        this.cursor = extTs;
        this.lineOffset = this.pendingLine - extTs;
        this.lastOutSeq = p - 1;
        this.pendingLine = Number.NaN;
      } else {
        this.playing = false;
        this.lineOffset = 0;
      }
      this.setRef(p, extTs, samples);
      this.startTalkspurt(transit, arrivalMs);
    } else if (p > this.refSeq) {
      this.setRef(p, extTs, samples);
      if (marker) this.startTalkspurt(transit, arrivalMs);
      else this.track(transit, arrivalMs);
    } else {
      this.track(transit, arrivalMs);
    }
    if (this.adaptive) this.observe(transit, arrivalMs);
  }

  private setRef(p: number, extTs: number, samples: number): void {
    this.refSeq = p;
    this.refTs = extTs;
    this.refSamples = samples;
  }

  /** Re-anchors on this packet; adaptive depth changes both ways take effect here. */
  private startTalkspurt(transit: number, arrivalMs: number): void {
    this.offsetMs = transit;
    this.blockStartMs = arrivalMs;
    this.blockMinMs = transit;
    this.depth = this.adaptive ? this.estimator.targetMs : this.fixedDepthMs;
  }

  private track(transit: number, arrivalMs: number): void {
    if (arrivalMs - this.blockStartMs >= ANCHOR_BLOCK_MS) {
      // A whole block slower than the anchor: the path or the sender's clock moved; follow it.
      if (this.blockMinMs - this.offsetMs > ANCHOR_RISE_MIN_MS && Number.isFinite(this.blockMinMs)) this.offsetMs = this.blockMinMs;
      this.blockStartMs = arrivalMs;
      this.blockMinMs = transit;
    } else if (transit < this.blockMinMs) {
      this.blockMinMs = transit;
    }
    if (transit < this.offsetMs) this.offsetMs = transit;
  }

  private observe(transit: number, arrivalMs: number): void {
    this.estimator.observe(transit - this.offsetMs, arrivalMs);
    const target = this.estimator.targetMs;
    if (target > this.depth) this.depth = target; // grow at once: the next packets must not be late
  }

  // --- releasing ---

  private deadline(p: number): number {
    return this.offsetMs + this.mediaMs(this.slotTs[p & this.mask] ?? 0) + this.depth;
  }

  /** Extended seq of the first held audio packet; only called while heldAudio > 0. */
  private firstAudio(): number {
    for (let e = this.head; e <= this.maxSeq; e++) {
      const slot = e & this.mask;
      if (this.slotKind[slot] === AUDIO && this.slotSeq[slot] === e) return e;
    }
    throw new Error('jitter buffer: held audio count out of step with its slots');
  }

  /** Releases audio packet `p` (the first held): losses and gap before it, then the frame. */
  private release(p: number, sink: JitterSink): void {
    this.clearSkips(p);
    const slot = p & this.mask;
    const ts = this.slotTs[slot] ?? 0;
    const n = this.slotSamples[slot] ?? 0;
    const marker = this.slotMarker[slot] === 1;
    const tag = this.slotTag[slot] ?? 0;
    const payload = this.slotPayload[slot] ?? EMPTY_PAYLOAD;
    this.slotKind[slot] = EMPTY;
    this.slotPayload[slot] = undefined;
    this.held--;
    this.heldAudio--;
    this.head = p + 1;

    let missing = 0;
    let gap = 0;
    let loss = 0;
    if (!this.playing) {
      this.playing = true;
      this.cursor = ts;
    } else {
      missing = p - this.lastOutSeq - 1 - this.skipsSinceOut;
      const diff = ts - this.cursor;
      if (missing > 0) {
        // The missing packets take at most their share of the timestamps (as large as the packets
        // around them); any more is silence the sender left before them (a lost talkspurt start).
        const budget = missing * Math.max(this.lastFrameSamples, n);
        loss = clamp(diff, 0, budget);
        gap = Math.min(Math.max(0, diff - budget), this.maxGapSamples);
      } else if (diff > 0) {
        gap = Math.min(diff, this.maxGapSamples);
      }
    }
    const gapAt = this.cursor + this.lineOffset;
    const lossAt = gapAt + gap;
    const frameAt = lossAt + loss;
    if (ts >= this.cursor) {
      // On the sender's line; a jump bounded above (maxGap) shifts the line so it stays contiguous.
      this.lineOffset = frameAt - ts;
      this.cursor = ts + n;
    } else {
      this.cursor += n; // stamped inside the previous packet: play on right after it
    }
    this.lastOutSeq = p;
    this.skipsSinceOut = 0;
    this.lastFrameSamples = n;
    this.stats.framesOut++;
    this.stats.lostPackets += missing;
    this.stats.concealedSamples += loss;
    if (gap > 0) {
      this.stats.gaps++;
      this.stats.gapSamples += gap;
    }
    if (this.adaptive && this.estimator.targetMs < this.depth) {
      // Come down gradually mid-talkspurt (play slightly faster than real time).
      this.depth = Math.max(this.estimator.targetMs, this.depth - ((n * 1000) / this.rate) * SHRINK_PER_PLAYED);
    }
    // State is complete before the sink runs: a throwing sink loses events, never consistency.
    if (gap > 0) sink.onGap(wrapTs(gapAt), gap);
    if (missing > 0) sink.onLoss(wrapTs(lossAt), loss, missing);
    sink.onFrame(payload, wrapTs(frameAt), n, marker, tag);
  }

  /** Drops skipped slots below `end`: their sequence numbers are accounted for, not lost. */
  private clearSkips(end: number): void {
    for (let e = this.head; e < end && this.held > this.heldAudio; e++) {
      const slot = e & this.mask;
      if (this.slotKind[slot] === SKIP && this.slotSeq[slot] === e) {
        this.slotKind[slot] = EMPTY;
        this.held--;
        this.skipsSinceOut++;
      }
    }
  }

  /**
   * A packet beyond the window: play out (early) or give up on everything below `newHead`. Keeping
   * the newest audio beats keeping a stalled head, and memory never grows. Holes skipped here are
   * reported as loss when the next frame goes out.
   */
  private makeRoom(newHead: number, sink: JitterSink): void {
    while (this.heldAudio > 0) {
      const p = this.firstAudio();
      if (p >= newHead) break;
      this.release(p, sink);
    }
    this.clearSkips(newHead);
    if (newHead > this.head) this.head = newHead;
  }

  private mediaMs(extTs: number): number {
    return (extTs * 1000) / this.rate;
  }

  private count(outcome: PushOutcome): PushOutcome {
    this.stats[outcome]++;
    return outcome;
  }
}

const EMPTY_PAYLOAD = new Uint8Array(0);

/** Signed distance a - b on the 16-bit sequence circle. */
function seqDelta(a: number, b: number): number {
  return ((a - b) << 16) >> 16;
}

/** Signed distance a - b on the 32-bit timestamp circle. */
function tsDelta(a: number, b: number): number {
  return (a - b) | 0;
}

function wrapTs(lineTs: number): number {
  const t = lineTs % TS_MOD;
  return t < 0 ? t + TS_MOD : t;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
