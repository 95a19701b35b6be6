// Sample-rate conversion for speech (batch uploads, engine input) and 16-bit <-> float helpers.
//
// A polyphase windowed-sinc resampler. The ratio to/from reduces to L/M; output sample j sits at input
// position j*M/L = n + p/L, and is the dot product of the input around n with the filter for phase p.
// Each phase's filter is a Kaiser-windowed sinc whose cutoff is the lower of the two Nyquist rates (times
// a rolloff, so the transition band ends near Nyquist): on a downsample that is the anti-aliasing filter.
// Phase filters are built once per call; positions are computed with integers so they never drift.

/** Zero crossings of the sinc on each side, counted at the lower of the two rates. Sets the filter length. */
const HALF_ZERO_CROSSINGS = 16;
/** Cutoff as a fraction of the lower Nyquist rate: the -6 dB point, leaving room for the transition band. */
const ROLLOFF = 0.9;
/** Kaiser beta: about 80 dB stopband. */
const KAISER_BETA = 8.6;
/** Above this many distinct phases (rates with a small common divisor), positions snap to this grid. */
const MAX_PHASES = 4096;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for beta < 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

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
  const n = input.length;
  const outLen = Math.round((n * toRate) / fromRate);
  const out = new Float32Array(outLen);
  if (n === 0 || outLen === 0) return out;

  const g = gcd(fromRate, toRate);
  const L = toRate / g; // upsampling factor
  const M = fromRate / g; // downsampling factor
  const phases = Math.min(L, MAX_PHASES);
  // Cutoff in cycles per input sample, relative to the input Nyquist (1 = input Nyquist).
  const fc = ROLLOFF * Math.min(1, toRate / fromRate);
  const half = Math.ceil(HALF_ZERO_CROSSINGS / fc);
  const taps = 2 * half;
  const bank = buildBank(phases, half, fc);

  for (let j = 0; j < outLen; j++) {
    const num = j * M; // exact: j*M stays far below 2^53 for any real clip
    const base = Math.floor(num / L);
    const p = phases === L ? num % L : Math.floor(((num % L) * phases) / L);
    const h = p * taps;
    const first = base - half + 1; // input index for tap 0
    let acc = 0;
    if (first >= 0 && first + taps <= n) {
      for (let k = 0; k < taps; k++) acc += (input[first + k] as number) * (bank[h + k] as number);
    } else {
      // Near the ends the signal is taken as zero outside the clip.
      const k0 = Math.max(0, -first);
      const k1 = Math.min(taps, n - first);
      for (let k = k0; k < k1; k++) acc += (input[first + k] as number) * (bank[h + k] as number);
    }
    out[j] = acc;
  }
  return out;
}

/**
 * One filter per phase, laid out phase after phase. Tap k of phase p weighs input sample base-half+1+k for
 * an output at base + p/phases, i.e. at distance d = p/phases + half - 1 - k. Each phase is normalised to
 * unit DC gain so a constant stays constant whatever the phase.
 */
function buildBank(phases: number, half: number, fc: number): Float32Array {
  const taps = 2 * half;
  const bank = new Float32Array(phases * taps);
  const i0Beta = besselI0(KAISER_BETA);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      const d = frac + half - 1 - k;
      const r = d / half;
      if (r <= -1 || r >= 1) continue;
      const x = Math.PI * fc * d;
      const sinc = x === 0 ? 1 : Math.sin(x) / x;
      const w = besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta;
      const v = fc * sinc * w;
      bank[p * taps + k] = v;
      sum += v;
    }
    for (let k = 0; k < taps; k++) bank[p * taps + k] = (bank[p * taps + k] as number) / sum;
  }
  return bank;
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
