// Adaptive playout depth for the jitter buffer: how long past the path's fastest transit a packet
// should be waited for. A time-forgetting histogram of excess transit gives the steady need (a high
// percentile); a peak that jumps to any packet that needed more and decays slowly gives prompt growth.
// Pure: the buffer feeds it arrival times, it reads no clock. Fixed memory, no allocation per packet.

export interface DepthEstimatorOptions {
  minMs: number;
  maxMs: number;
  /** Depth used until enough packets have been seen to trust the histogram. */
  startMs: number;
}

/** Histogram resolution: bins span [0, maxMs]; a constant count keeps the percentile walk cheap. */
const BINS = 256;
/** The share of packets the depth should cover; the rest is what the peak is for. */
const QUANTILE = 0.95;
/** Headroom above the measured need (scheduling and poll granularity). */
const MARGIN_MS = 10;
/** Old observations weigh e^(-age/TAU): after ~3 TAU a calm network has forgotten a jitter burst. */
const TAU_MS = 8000;
/** A peak gives back this much per second: one bad packet does not hold the delay up for long. */
const PEAK_DECAY_MS_PER_S = 4;
/** Before this many packets the histogram says little; the start depth holds. */
const WARMUP_PACKETS = 50;
/** The percentile walk runs once per this many packets. */
const RECOMPUTE_EVERY = 16;
/** Weights grow as e^(t/TAU); rebase before they lose precision. */
const MAX_EXPONENT = 30;

export class DepthEstimator {
  private readonly opts: DepthEstimatorOptions;
  private readonly binMs: number;
  private readonly hist = new Float64Array(BINS);
  private total = 0;
  private epochMs = Number.NaN;
  private observed = 0;
  private quantileMs = 0;
  private peakMs = 0;
  private lastMs = Number.NaN;
  private target: number;

  constructor(opts: DepthEstimatorOptions) {
    this.opts = opts;
    this.binMs = Math.max(opts.maxMs, 1) / BINS;
    this.target = clamp(opts.startMs, opts.minMs, opts.maxMs);
  }

  /** The depth the buffer should play at now (ms), within [minMs, maxMs]. */
  get targetMs(): number {
    return this.target;
  }

  /** One arriving packet: `excessMs` is how much later than the fastest transit it came (>= 0). */
  observe(excessMs: number, nowMs: number): void {
    const excess = excessMs > 0 ? excessMs : 0;
    if (Number.isNaN(this.epochMs)) this.epochMs = nowMs;
    let exponent = (nowMs - this.epochMs) / TAU_MS;
    if (exponent > MAX_EXPONENT) {
      this.rebase(nowMs);
      exponent = 0;
    }
    const w = Math.exp(exponent);
    const bin = Math.min(BINS - 1, Math.floor(excess / this.binMs));
    this.hist[bin] = (this.hist[bin] ?? 0) + w;
    this.total += w;
    this.observed++;

    if (!Number.isNaN(this.lastMs) && nowMs > this.lastMs) {
      this.peakMs = Math.max(0, this.peakMs - (PEAK_DECAY_MS_PER_S * (nowMs - this.lastMs)) / 1000);
    }
    this.lastMs = nowMs;
    if (excess + MARGIN_MS > this.peakMs) this.peakMs = excess + MARGIN_MS;
    if (this.observed % RECOMPUTE_EVERY === 0) this.quantileMs = this.quantile();

    const steady = this.observed < WARMUP_PACKETS ? this.opts.startMs : this.quantileMs + MARGIN_MS;
    this.target = clamp(Math.max(steady, this.peakMs), this.opts.minMs, this.opts.maxMs);
  }

  reset(): void {
    this.hist.fill(0);
    this.total = 0;
    this.epochMs = Number.NaN;
    this.observed = 0;
    this.quantileMs = 0;
    this.peakMs = 0;
    this.lastMs = Number.NaN;
    this.target = clamp(this.opts.startMs, this.opts.minMs, this.opts.maxMs);
  }

  /** Upper edge of the bin where the cumulative weight reaches QUANTILE. */
  private quantile(): number {
    const want = this.total * QUANTILE;
    let sum = 0;
    for (let i = 0; i < BINS; i++) {
      sum += this.hist[i] ?? 0;
      if (sum >= want) return (i + 1) * this.binMs;
    }
    return BINS * this.binMs;
  }

  private rebase(nowMs: number): void {
    const scale = Math.exp(-(nowMs - this.epochMs) / TAU_MS);
    for (let i = 0; i < BINS; i++) this.hist[i] = (this.hist[i] ?? 0) * scale;
    this.total *= scale;
    this.epochMs = nowMs;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
