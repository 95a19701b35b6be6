// DC removal: a 20 Hz high-pass, 2nd-order Butterworth biquad designed by the bilinear transform (with
// frequency prewarping) for the stage's rate, run in Direct Form II transposed with its two state words kept
// across blocks, so any split of the input gives the same output as one block.
//
// Adaptive mode (config `preprocess.dc: auto`, the default): the filter runs, and its output is used, only
// while the input has an offset. The offset is the input's mean over about the last 0.5 s (a one-pole
// average); above -60 dBFS the filter starts from its steady state for the offset estimated so far and the
// stage crossfades to its output over 50 ms (within some 0.1 s its output is what a filter that ran all along
// gives); below -66 dBFS it fades back to the input and the filter stops. Audio without an offset then leaves
// the stage bit for bit as it came, at the cost of the average alone: the high-pass would only shift the
// phase of its lowest frequencies, which no recogniser needs, and which alone moved PocketSphinx's word
// error rate on the evaluation corpus by 1.6 points (docs/BENCHMARKS.md). Every decision is made per input
// sample, so any split into blocks still gives the same output.
import type { AudioStage } from './stage.js';

/** Corner frequency (-3 dB) of the high-pass. */
export const DC_CUTOFF_HZ = 20;
/** State words below this are flushed to zero (no subnormal slow paths on long silences). */
const TINY = 1e-25;
/** Adaptive mode: offsets above this engage the filter (linear, -60 dBFS) ... */
export const DC_ENGAGE = 10 ** (-60 / 20);
/** ... and below this release it (-66 dBFS). */
export const DC_RELEASE = 10 ** (-66 / 20);
/** Time constant of the offset estimate, s. */
const MEAN_TAU_S = 0.5;
/** Crossfade between the input and the filtered signal, s. */
const FADE_S = 0.05;

export interface DcOptions {
  /** Use the filter only while the input has an offset (see the header); default false (always filter). */
  adaptive?: boolean;
}

export interface DcStage extends AudioStage {
  /** Adaptive mode: whether the filter is in use now (always true otherwise). */
  readonly engaged: boolean;
}

export interface BiquadCoefficients {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
}

/** Butterworth (Q = 1/sqrt 2) high-pass biquad at `cutoff` Hz for `rate` Hz, bilinear with prewarping. */
export function butterworthHighpass(cutoff: number, rate: number): BiquadCoefficients {
  const k = Math.tan((Math.PI * cutoff) / rate);
  const q = Math.SQRT1_2;
  const norm = 1 / (1 + k / q + k * k);
  return {
    b0: norm,
    b1: -2 * norm,
    b2: norm,
    a1: 2 * (k * k - 1) * norm,
    a2: (1 - k / q + k * k) * norm,
  };
}

class DcBlocker implements DcStage {
  readonly name = 'dc';
  readonly outputRate: number;
  private readonly c: BiquadCoefficients;
  private readonly adaptive: boolean;
  private readonly meanStep: number;
  private readonly fadeStep: number;
  private z1 = 0;
  private z2 = 0;
  /** Adaptive mode: the offset estimate, the mix weight of the filtered signal, and where it is heading. */
  private mean = 0;
  private w = 0;
  private target = 0;
  private out = new Float32Array(0);
  /** out[0, n) for the last block length n: blocks of one stream have one length, so no view is made per block. */
  private view = new Float32Array(0);

  constructor(
    readonly inputRate: number,
    opts: DcOptions,
  ) {
    this.outputRate = inputRate;
    this.c = butterworthHighpass(DC_CUTOFF_HZ, inputRate);
    this.adaptive = opts.adaptive ?? false;
    this.meanStep = 1 - Math.exp(-1 / (MEAN_TAU_S * inputRate));
    this.fadeStep = 1 / (FADE_S * inputRate);
  }

  get engaged(): boolean {
    return !this.adaptive || this.w > 0;
  }

  process(block: Float32Array): Float32Array {
    const n = block.length;
    if (this.out.length < n) this.out = new Float32Array(Math.max(n, this.out.length * 2));
    if (this.view.length !== n || this.view.buffer !== this.out.buffer) this.view = this.out.subarray(0, n);
    const out = this.view;
    let result: Float32Array = out;
    const { b0, b1, b2, a1, a2 } = this.c;
    let z1 = this.z1;
    let z2 = this.z2;
    if (!this.adaptive) {
      for (let i = 0; i < n; i++) {
        let x = block[i] as number;
        if (x - x !== 0) x = 0; // NaN and +-Infinity become 0
        const y = b0 * x + z1;
        z1 = b1 * x - a1 * y + z2;
        z2 = b2 * x - a2 * y;
        out[i] = y;
      }
    } else {
      let { mean, w, target } = this;
      const { meanStep, fadeStep } = this;
      // Until an output sample differs from its input, out[] is not written (a live session's buffer stays
      // out of the cache); if none does, the block itself is the output.
      let changed = false;
      let i = 0;
      if (w === 0 && target === 0) {
        // Released on a clean line (the usual case): the average alone, until a sample would engage it.
        for (; i < n; i++) {
          const x = block[i] as number;
          const m = mean + (x - mean) * meanStep;
          if (!(m <= DC_ENGAGE && m >= -DC_ENGAGE)) break; // engages, or x is not finite
          mean = m;
        }
      }
      for (; i < n; i++) {
        let x = block[i] as number;
        const clean = x - x === 0;
        if (!clean) x = 0;
        mean += (x - mean) * meanStep;
        const level = Math.abs(mean);
        let y = x;
        if (w === 0 && target === 0) {
          // Released: only the offset estimate runs, not the filter, until it engages: then the filter starts
          // from its steady state for an input at the offset estimate (output 0) and fades in from there.
          if (level > DC_ENGAGE) {
            target = 1;
            z1 = -b0 * mean;
            z2 = b2 * mean;
          }
        } else if (level > DC_ENGAGE) target = 1;
        else if (level < DC_RELEASE) target = 0;
        if (w !== 0 || target !== 0) {
          y = b0 * x + z1;
          z1 = b1 * x - a1 * y + z2;
          z2 = b2 * x - a2 * y;
          if (w !== target) w = target > w ? Math.min(1, w + fadeStep) : Math.max(0, w - fadeStep);
        }
        if (!changed) {
          if (w === 0 && clean) continue;
          changed = true;
          for (let k = 0; k < i; k++) out[k] = block[k] as number;
        }
        out[i] = w === 0 ? x : w === 1 ? y : w * y + (1 - w) * x;
      }
      this.mean = Math.abs(mean) < TINY ? 0 : mean;
      this.w = w;
      this.target = target;
      if (!changed) result = block;
    }
    this.z1 = Math.abs(z1) < TINY ? 0 : z1;
    this.z2 = Math.abs(z2) < TINY ? 0 : z2;
    return result;
  }

  flush(): Float32Array {
    this.reset();
    return new Float32Array(0);
  }

  reset(): void {
    this.z1 = 0;
    this.z2 = 0;
    this.mean = 0;
    this.w = 0;
    this.target = 0;
  }
}

/** A DC-removal stage at `rate` Hz. Outputs alias an internal buffer (adaptive and disengaged: the block itself). */
export function createDcBlocker(rate: number, opts: DcOptions = {}): DcStage {
  return new DcBlocker(rate, opts);
}
