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

/** Signed 16-bit PCM to float in [-1, 1). */
export function int16ToFloat32(input: Int16Array): Float32Array {
  const out = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) out[i] = (input[i] as number) / 32768;
  return out;
}

/** Float to signed 16-bit PCM, rounded and clamped; NaN becomes 0. Inverse of int16ToFloat32. */
export function float32ToInt16(input: Float32Array): Int16Array {
  const out = new Int16Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const s = Math.round((input[i] as number) * 32768);
    out[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s || 0;
  }
  return out;
}
