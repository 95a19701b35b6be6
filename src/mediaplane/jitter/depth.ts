// Playout timing of the jitter buffer: when each packet is due. The anchor is the smallest
// (arrival - media time) seen over the last one to two seconds: the path's fastest transit, followed
// slowly enough to ignore jitter and fast enough to follow clock drift. Adaptive depth covers the
// largest excess transit seen lately plus a margin: it grows at once when a packet would be late and
// shrinks gradually when the network calms down.

export interface DepthOptions {
  mode: 'fixed' | 'adaptive';
  depthMs: number;
  minDepthMs: number;
  maxDepthMs: number;
}

/** Length of one measuring block; anchor and excess are taken over the current and previous block. */
const BLOCK_MS = 1000;
/** Headroom above the largest excess transit seen. */
const MARGIN_MS = 10;
/** Fraction of the surplus depth given back per block when the network is calmer. */
const SHRINK = 0.3;

export class DepthEstimator {
  private readonly opts: DepthOptions;
  private depth: number;
  private blockStart = Number.NaN;
  private curMin = Infinity;
  private prevMin = Infinity;
  private curMaxExcess = 0;
  private prevMaxExcess = 0;

  constructor(opts: DepthOptions) {
    this.opts = opts;
    this.depth = opts.depthMs;
  }

  get depthMs(): number {
    return this.depth;
  }

  restart(): void {
    this.blockStart = Number.NaN;
    this.curMin = this.prevMin = Infinity;
    this.curMaxExcess = this.prevMaxExcess = 0;
  }

  /** Records the newest packet's arrival; `discontinuity` (talkspurt start, timestamp jump) re-anchors. */
  observe(nowMs: number, mediaMs: number, discontinuity: boolean): void {
    const transit = nowMs - mediaMs;
    if (discontinuity || Number.isNaN(this.blockStart)) {
      this.blockStart = nowMs;
      this.curMin = this.prevMin = transit;
      this.curMaxExcess = this.prevMaxExcess = 0;
      return;
    }
    if (nowMs - this.blockStart >= BLOCK_MS) this.rollBlock(nowMs);
    if (transit < this.curMin) this.curMin = transit;
    const excess = transit - this.anchor();
    if (excess > this.curMaxExcess) this.curMaxExcess = excess;
    if (this.opts.mode === 'adaptive' && excess + MARGIN_MS > this.depth) {
      this.depth = Math.min(this.opts.maxDepthMs, excess + MARGIN_MS);
    }
  }

  /** When a packet with this media time is due (any packet, including reordered ones). */
  deadline(nowMs: number, mediaMs: number): number {
    const anchor = this.anchor();
    return Number.isFinite(anchor) ? anchor + mediaMs + this.depth : nowMs + this.depth;
  }

  private anchor(): number {
    return Math.min(this.curMin, this.prevMin);
  }

  private rollBlock(nowMs: number): void {
    this.prevMin = this.curMin;
    this.prevMaxExcess = this.curMaxExcess;
    this.curMin = Infinity;
    this.curMaxExcess = 0;
    this.blockStart = nowMs;
    if (this.opts.mode === 'adaptive') {
      const target = Math.max(this.opts.minDepthMs, this.prevMaxExcess + MARGIN_MS);
      if (target < this.depth) this.depth -= (this.depth - target) * SHRINK;
    }
  }
}
