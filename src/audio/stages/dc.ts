// DC removal: a 20 Hz high-pass, 2nd-order Butterworth biquad designed by the bilinear transform (with
// frequency prewarping) for the stage's rate, run in Direct Form II transposed with its two state words kept
// across blocks, so any split of the input gives the same output as one block.
import type { AudioStage } from './stage.js';

/** Corner frequency (-3 dB) of the high-pass. */
export const DC_CUTOFF_HZ = 20;
/** State words below this are flushed to zero (no subnormal slow paths on long silences). */
const TINY = 1e-25;

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

class DcBlocker implements AudioStage {
  readonly name = 'dc';
  readonly outputRate: number;
  private readonly c: BiquadCoefficients;
  private z1 = 0;
  private z2 = 0;
  private out = new Float32Array(0);

  constructor(readonly inputRate: number) {
    this.outputRate = inputRate;
    this.c = butterworthHighpass(DC_CUTOFF_HZ, inputRate);
  }

  process(block: Float32Array): Float32Array {
    const n = block.length;
    if (this.out.length < n) this.out = new Float32Array(Math.max(n, this.out.length * 2));
    const out = this.out;
    const { b0, b1, b2, a1, a2 } = this.c;
    let z1 = this.z1;
    let z2 = this.z2;
    for (let i = 0; i < n; i++) {
      let x = block[i] as number;
      if (x - x !== 0) x = 0; // NaN and +-Infinity become 0
      const y = b0 * x + z1;
      z1 = b1 * x - a1 * y + z2;
      z2 = b2 * x - a2 * y;
      out[i] = y;
    }
    this.z1 = Math.abs(z1) < TINY ? 0 : z1;
    this.z2 = Math.abs(z2) < TINY ? 0 : z2;
    return out.subarray(0, n);
  }

  flush(): Float32Array {
    this.reset();
    return new Float32Array(0);
  }

  reset(): void {
    this.z1 = 0;
    this.z2 = 0;
  }
}

/** A DC-removal stage at `rate` Hz. Outputs alias an internal buffer. */
export function createDcBlocker(rate: number): AudioStage {
  return new DcBlocker(rate);
}
