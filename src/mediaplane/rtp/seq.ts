// Wrap-around arithmetic for RTP sequence numbers (16 bit) and timestamps (32 bit), and the
// extenders that unwrap them into monotonic numbers. Every seq/ts comparison in Theo goes through
// here: a plain `<` on wire values breaks at the wrap (65535 -> 0, 2^32-1 -> 0).

/** Sequence numbers are 16-bit and wrap (RFC 3550 §5.1). */
export const SEQ_MOD = 0x1_0000;
/** Timestamps are 32-bit and wrap (RFC 3550 §5.1). */
export const TS_MOD = 0x1_0000_0000;

const SEQ_HALF = 0x8000;

/**
 * a - b as a signed 16-bit distance in [-32768, 32767]. Exactly half the space apart reads as
 * -32768, so of two such values neither is newer than the other by more than half the space.
 */
export function seqDiff(a: number, b: number): number {
  return ((a - b + SEQ_HALF) & 0xffff) - SEQ_HALF;
}

/** True when a comes after b in sequence order (RFC 1982-style serial comparison). */
export function seqNewer(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

/** a - b as a signed 32-bit distance in [-2^31, 2^31-1]. */
export function tsDiff(a: number, b: number): number {
  // `| 0` is ToInt32: reduction modulo 2^32 into the signed range, exact for any a, b < 2^32.
  return (a - b) | 0;
}

/** True when timestamp a is later than b. */
export function tsNewer(a: number, b: number): boolean {
  return tsDiff(a, b) > 0;
}

/**
 * Unwraps 16-bit sequence numbers into an extended, monotonic count: the RFC 3550 A.1 "cycles"
 * (wraps * 2^16) plus the sequence number. Each value is placed nearest to the highest one seen, so
 * a packet reordered across the wrap (65535 arriving after 0) lands in the previous cycle instead of
 * jumping a whole cycle ahead. Restart detection (MAX_DROPOUT) is the caller's policy: call reset().
 *
 * A packet older than the very first one, across a wrap, extends to a negative number; ordering
 * stays correct.
 */
export class SequenceExtender {
  private highestExt = 0;
  private hasValue = false;

  /** Extended number for `seq`; advances the highest seen when `seq` is newer. */
  unwrap(seq: number): number {
    if (!this.hasValue) {
      this.hasValue = true;
      this.highestExt = seq & 0xffff;
      return this.highestExt;
    }
    const ext = this.highestExt + seqDiff(seq, this.highestExt & 0xffff);
    if (ext > this.highestExt) this.highestExt = ext;
    return ext;
  }

  /** Extended number `seq` would get, without recording it. */
  peek(seq: number): number {
    if (!this.hasValue) return seq & 0xffff;
    return this.highestExt + seqDiff(seq, this.highestExt & 0xffff);
  }

  get started(): boolean {
    return this.hasValue;
  }

  /** Highest extended number seen (0 before the first packet). */
  get highest(): number {
    return this.highestExt;
  }

  /** Wraps seen so far, as RFC 3550 A.1 counts them (its `cycles` divided by 2^16). */
  get cycles(): number {
    return Math.floor(this.highestExt / SEQ_MOD);
  }

  reset(): void {
    this.hasValue = false;
    this.highestExt = 0;
  }
}

/**
 * Unwraps 32-bit RTP timestamps into a monotonic count of clock ticks, the same way as
 * SequenceExtender. JavaScript numbers are exact to 2^53: centuries at 48 kHz.
 */
export class TimestampExtender {
  private highestExt = 0;
  private hasValue = false;

  unwrap(ts: number): number {
    if (!this.hasValue) {
      this.hasValue = true;
      this.highestExt = ts >>> 0;
      return this.highestExt;
    }
    const ext = this.highestExt + tsDiff(ts, this.highestExt % TS_MOD);
    if (ext > this.highestExt) this.highestExt = ext;
    return ext;
  }

  peek(ts: number): number {
    if (!this.hasValue) return ts >>> 0;
    return this.highestExt + tsDiff(ts, this.highestExt % TS_MOD);
  }

  get started(): boolean {
    return this.hasValue;
  }

  get highest(): number {
    return this.highestExt;
  }

  get cycles(): number {
    return Math.floor(this.highestExt / TS_MOD);
  }

  reset(): void {
    this.hasValue = false;
    this.highestExt = 0;
  }
}
