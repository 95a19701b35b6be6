// Sample-rate conversion for speech (batch uploads, engine input) and 16-bit <-> float helpers.
//
// resample() is one call of the streaming polyphase resampler in stages/resample.ts (Kaiser-windowed sinc,
// cutoff from the lower of the two Nyquist rates, integer phase positions, inner loop in WebAssembly SIMD):
// the whole input, then a flush of the filter tail. The signal is taken as zero outside the clip.
import { createResampler } from './stages/resample.js';

function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`${name} must be a positive integer sample rate, got ${rate}`);
}

/**
 * Resamples mono float audio from `fromRate` to `toRate` (integer Hz). The output has
 * round(n * toRate / fromRate) samples. Equal rates return an exact copy.
 */
export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  checkRate('fromRate', fromRate);
  checkRate('toRate', toRate);
  if (fromRate === toRate) return input.slice();
  const r = createResampler(fromRate, toRate);
  const out = new Float32Array(Math.round((input.length * toRate) / fromRate));
  const head = r.process(input); // a view of the resampler's buffer: copied before the flush
  out.set(head);
  out.set(r.flush(), head.length);
  return out;
}

/** Signed 16-bit PCM to float in [-1, 1), into `out` (its length at least the input's) or a new array. */
export function int16ToFloat32(input: Int16Array, out: Float32Array = new Float32Array(input.length)): Float32Array {
  // x / 32768 exactly (a power of two), as a multiplication.
  for (let i = 0; i < input.length; i++) out[i] = (input[i] as number) * (1 / 32768);
  return out;
}

/**
 * Float to signed 16-bit PCM, rounded and clamped; NaN becomes 0. Inverse of int16ToFloat32. Into `out`
 * (its length at least the input's) or a new array.
 */
export function float32ToInt16(input: Float32Array, out: Int16Array = new Int16Array(input.length)): Int16Array {
  for (let i = 0; i < input.length; i++) {
    const v = (input[i] as number) * 32768;
    // Clamped, then floor(c + 0.5) through an integer truncation of a positive number: Math.round.
    const c = v >= 32767 ? 32767 : v > -32768 ? v : v === v ? -32768 : 0;
    out[i] = ((c + 32768.5) | 0) - 32768;
  }
  return out;
}
