// Energy pre-filter: marks windows that are obviously silence so the neural VAD need not run on them.
//
// A window is obvious silence when its RMS (DC removed) is under the floor, or when it is quiet (under the
// noise level) and its spectrum is flat: hiss, line noise and comfort noise are flat, speech is not (voiced
// sounds are harmonic, and even fricatives are shaped by the vocal tract). Everything else goes to Silero:
// the filter only ever says "certainly silence", never "speech".
//
// Flatness is the geometric over the arithmetic mean of the power spectrum (Hann window; a real FFT of the
// window, done as a complex radix-2 FFT of half its size) over 100-3800 Hz: the band every telephony stream
// has, so 16 kHz audio that was upsampled from 8 kHz (nothing above 4 kHz) is judged like the 8 kHz original. White noise scores about
// 0.56 (the mean of log of an exponential variable is -0.577), voiced speech under 0.1. The FFT runs only
// for windows between the floor and the noise level, so loud speech costs one pass for the RMS.
import type { PrefilterOptions } from './options.js';

const BAND_LOW_HZ = 100;
const BAND_HIGH_HZ = 3800;
/** Keeps log() finite on digital silence; far below any 16-bit signal's power per bin. */
const POWER_EPS = 1e-20;

/** Tables for a real FFT of `size` points done as a complex FFT of size / 2 (immutable, shared). */
interface FftTables {
  size: number;
  /** Bit reversal for the half-size complex FFT. */
  bitrev: Uint32Array;
  /** exp(-2 pi i k / size) for k < size / 2: the half-size FFT uses every other one, the split all of them. */
  cos: Float64Array;
  sin: Float64Array;
  hann: Float64Array;
}

const tables = new Map<number, FftTables>();

/** FFT tables for a power-of-two size, built once per size. */
function tablesFor(size: number): FftTables {
  const cached = tables.get(size);
  if (cached) return cached;
  if (size < 8 || (size & (size - 1)) !== 0) throw new RangeError(`FFT size must be a power of two >= 8, got ${size}`);
  const half = size / 2;
  const bits = Math.log2(half);
  const bitrev = new Uint32Array(half);
  for (let i = 0; i < half; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    bitrev[i] = r;
  }
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let k = 0; k < half; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / size);
    sin[k] = -Math.sin((2 * Math.PI * k) / size);
  }
  const hann = new Float64Array(size);
  for (let i = 0; i < size; i++) hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size);
  const t = { size, bitrev, cos, sin, hann };
  tables.set(size, t);
  return t;
}

export class EnergyPrefilter {
  readonly size: number;
  private readonly t: FftTables;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly binLow: number;
  private readonly binHigh: number;
  /** Floors as mean squares, so the common case needs no log. */
  private readonly floorMs: number;
  private readonly noiseMs: number;
  private readonly flatnessMin: number;
  /** RMS of the last window judged (dBFS; -Infinity for digital silence). */
  lastRmsDb = -Infinity;
  /** Flatness of the last window judged, or NaN when its RMS alone decided. */
  lastFlatness = NaN;

  /** `size` is the window length (a power of two: 256 at 8 kHz, 512 at 16 kHz). */
  constructor(size: number, sampleRate: number, opts: PrefilterOptions) {
    this.size = size;
    this.t = tablesFor(size);
    this.re = new Float64Array(size / 2);
    this.im = new Float64Array(size / 2);
    const hz = sampleRate / size;
    this.binLow = Math.max(1, Math.ceil(BAND_LOW_HZ / hz));
    this.binHigh = Math.min(size / 2 - 1, Math.floor(Math.min(BAND_HIGH_HZ, sampleRate / 2) / hz));
    this.floorMs = 10 ** (opts.floorDb / 10);
    this.noiseMs = 10 ** (opts.noiseDb / 10);
    this.flatnessMin = opts.flatness;
  }

  /** True when x[start, start + size) is obvious silence. Non-finite samples count as 0. */
  isSilence(x: Float32Array, start = 0): boolean {
    const ms = this.meanSquare(x, start);
    this.lastRmsDb = 10 * Math.log10(ms);
    this.lastFlatness = NaN;
    if (ms < this.floorMs) return true;
    if (ms >= this.noiseMs) return false;
    this.lastFlatness = this.flatness(x, start);
    return this.lastFlatness >= this.flatnessMin;
  }

  /** Mean square of the window about its mean (a DC offset is not sound). */
  meanSquare(x: Float32Array, start = 0): number {
    const n = this.size;
    let s = 0;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      let v = x[start + i] as number;
      if (v - v !== 0) v = 0;
      s += v;
      ss += v * v;
    }
    const mean = s / n;
    const ms = ss / n - mean * mean;
    return ms > 0 ? ms : 0;
  }

  /** Spectral flatness (0..1) of x[start, start + size) over 100-3800 Hz. */
  flatness(x: Float32Array, start = 0): number {
    const { re, im } = this;
    const { bitrev, hann, cos, sin } = this.t;
    const half = this.size / 2;
    // Real FFT of n points as a complex FFT of n/2: even samples in re, odd ones in im.
    for (let i = 0; i < half; i++) {
      let a = x[start + 2 * i] as number;
      let b = x[start + 2 * i + 1] as number;
      if (a - a !== 0) a = 0;
      if (b - b !== 0) b = 0;
      const j = bitrev[i] as number;
      re[j] = a * (hann[2 * i] as number);
      im[j] = b * (hann[2 * i + 1] as number);
    }
    this.fft();
    // Split: X[k] = E + W^k O, E = (Z[k] + conj Z[h-k]) / 2, O = (Z[k] - conj Z[h-k]) / 2i, W = exp(-2 pi i / n).
    // Logs are taken of products of 8 bins (the powers stay far inside double range), 8x fewer log calls.
    let logSum = 0;
    let sum = 0;
    let prod = 1;
    let inProd = 0;
    for (let k = this.binLow; k <= this.binHigh; k++) {
      const zr = re[k] as number;
      const zi = im[k] as number;
      const mr = re[half - k] as number;
      const mi = im[half - k] as number;
      const er = (zr + mr) / 2;
      const ei = (zi - mi) / 2;
      const or = (zi + mi) / 2;
      const oi = (mr - zr) / 2;
      const wr = cos[k] as number;
      const wi = sin[k] as number;
      const xr = er + wr * or - wi * oi;
      const xi = ei + wr * oi + wi * or;
      const p = xr * xr + xi * xi + POWER_EPS;
      sum += p;
      prod *= p;
      if (++inProd === 8) {
        logSum += Math.log(prod);
        prod = 1;
        inProd = 0;
      }
    }
    logSum += Math.log(prod);
    const bins = this.binHigh - this.binLow + 1;
    return Math.exp(logSum / bins) / (sum / bins);
  }

  /** In-place iterative radix-2 complex FFT of re/im (size / 2 points, already in bit-reversed order). */
  private fft(): void {
    const { re, im } = this;
    const { cos, sin } = this.t;
    const n = this.size / 2;
    for (let len = 2; len <= n; len <<= 1) {
      const half = len >> 1;
      // Twiddles of the n-point FFT are every other entry of the size-point table.
      const step = (2 * n) / len;
      for (let i = 0; i < n; i += len) {
        for (let k = 0; k < half; k++) {
          const wr = cos[k * step] as number;
          const wi = sin[k * step] as number;
          const a = i + k;
          const b = a + half;
          const br = re[b] as number;
          const bi = im[b] as number;
          const tr = br * wr - bi * wi;
          const ti = br * wi + bi * wr;
          const ar = re[a] as number;
          const ai = im[a] as number;
          re[a] = ar + tr;
          im[a] = ai + ti;
          re[b] = ar - tr;
          im[b] = ai - ti;
        }
      }
    }
  }
}
