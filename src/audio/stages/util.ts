// Small helpers shared by the preprocessing stages.

/** The blocks joined into one new array. */
export function concatSamples(blocks: readonly Float32Array[]): Float32Array {
  let n = 0;
  for (const b of blocks) n += b.length;
  const out = new Float32Array(n);
  let off = 0;
  for (const b of blocks) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

/** Lowest and highest sample rate the preprocessing accepts (Hz). */
export const MIN_RATE = 1000;
export const MAX_RATE = 384000;

/** Throws a RangeError unless `rate` is an integer in [MIN_RATE, MAX_RATE]. */
export function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new RangeError(`${name} must be an integer sample rate between ${MIN_RATE} and ${MAX_RATE} Hz, got ${rate}`);
  }
}
