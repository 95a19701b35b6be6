// Telephony detection: was this audio carried over a phone line (8 kHz, G.711) even if the file says
// otherwise? A source rate of 8 kHz or less says so outright. At a higher rate, the spectrum decides: an
// 8 kHz call upsampled into a 16 or 44.1 kHz file has next to nothing above 4 kHz, while wideband speech
// (fricatives, breath) and any real noise floor do.
//
// The spectrum is averaged over up to MAX_FRAMES Hann-windowed FFT frames (about 32 ms each) spread over
// the clip; the energy between HIGH_FROM_HZ and Nyquist is compared with the energy below LOW_TO_HZ.
import type { AudioQuality } from './stage.js';

export const TELEPHONY_MAX_RATE = 8000;
/** High band / low band energy under this (dB) means band-limited to 4 kHz: telephony. */
export const HIGH_BAND_THRESHOLD_DB = -40;
const LOW_TO_HZ = 4000;
/** A little above 4 kHz, so the rolloff of whatever upsampled a call is not counted as wideband content. */
const HIGH_FROM_HZ = 4200;
const MAX_FRAMES = 200;
/** Below this mean-square level in the low band (about -100 dBFS) there is nothing to judge. */
const SILENCE_POWER = 1e-10;

/** In-place iterative radix-2 complex FFT; re and im have a power-of-two length. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i] as number;
      re[i] = re[j] as number;
      re[j] = tr;
      const ti = im[i] as number;
      im[i] = im[j] as number;
      im[j] = ti;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const xr = (re[b] as number) * cr - (im[b] as number) * ci;
        const xi = (re[b] as number) * ci + (im[b] as number) * cr;
        re[b] = (re[a] as number) - xr;
        im[b] = (im[a] as number) - xi;
        re[a] = (re[a] as number) + xr;
        im[a] = (im[a] as number) + xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

/** Mono samples as one array or as consecutive blocks (a stream's first blocks, not joined). */
export type SampleBlocks = Float32Array | readonly Float32Array[];

/** Copies samples [start, start + out.length) of `blocks` into `out`. */
function readFrame(blocks: readonly Float32Array[], start: number, out: Float64Array, win: Float64Array): void {
  let b = 0;
  let base = 0;
  while (b < blocks.length && base + (blocks[b] as Float32Array).length <= start) base += (blocks[b++] as Float32Array).length;
  for (let i = 0; i < out.length; ) {
    const block = blocks[b] as Float32Array;
    const from = start + i - base;
    const n = Math.min(out.length - i, block.length - from);
    for (let k = 0; k < n; k++, i++) {
      const v = block[from + k] as number;
      out[i] = (v - v === 0 ? v : 0) * (win[i] as number);
    }
    base += block.length;
    b++;
  }
}

/**
 * highBandRatioDb one FFT frame per step, for a caller that must not hold its thread for the whole
 * analysis (a 30 s prefix at 48 kHz is 200 frames, ~50 ms; at 384 kHz ~300 ms): drive the generator to
 * its end, pausing between steps as it likes; its return value is the ratio.
 */
export function* highBandRatioSteps(samples: SampleBlocks, rate: number): Generator<void, number | undefined> {
  if (rate / 2 <= HIGH_FROM_HZ * 1.05) return undefined;
  const blocks = samples instanceof Float32Array ? [samples] : samples;
  let total = 0;
  for (const b of blocks) total += b.length;
  let size = 256;
  while (size < rate / 32) size <<= 1;
  if (total < size) return undefined;
  const frames = Math.floor(total / size);
  const used = Math.min(frames, MAX_FRAMES);
  const stride = Math.floor(frames / used);
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  const win = new Float64Array(size);
  for (let i = 0; i < size; i++) win[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size);
  const lowTo = Math.floor((LOW_TO_HZ * size) / rate);
  const highFrom = Math.ceil((HIGH_FROM_HZ * size) / rate);
  let low = 0;
  let high = 0;
  for (let f = 0; f < used; f++) {
    readFrame(blocks, f * stride * size, re, win);
    im.fill(0);
    fft(re, im);
    // Bin 0 (DC) is left out: an offset says nothing about bandwidth.
    for (let k = 1; k <= size / 2; k++) {
      const p = (re[k] as number) ** 2 + (im[k] as number) ** 2;
      if (k < lowTo) low += p;
      else if (k >= highFrom) high += p;
    }
    yield;
  }
  // Parseval with the Hann window (sum of w^2 = 3N/8): mean-square level of the low band per sample.
  const lowPower = (2 * low) / (used * size * ((3 * size) / 8));
  if (lowPower < SILENCE_POWER) return undefined;
  return 10 * Math.log10(Math.max(high, 1e-300) / low);
}

/**
 * Energy above ~4.2 kHz relative to energy below 4 kHz, in dB, averaged over the clip; undefined when the
 * rate is too low to have a band above 4.2 kHz or the clip is (nearly) silent.
 */
export function highBandRatioDb(samples: SampleBlocks, rate: number): number | undefined {
  const steps = highBandRatioSteps(samples, rate);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** detectAudioQuality one FFT frame per step (see highBandRatioSteps). */
export function* detectAudioQualitySteps(sourceRate: number, samples: SampleBlocks, rate: number = sourceRate): Generator<void, AudioQuality> {
  if (sourceRate <= TELEPHONY_MAX_RATE) return 'telephony';
  const ratio = yield* highBandRatioSteps(samples, rate);
  return ratio !== undefined && ratio < HIGH_BAND_THRESHOLD_DB ? 'telephony' : 'wideband';
}

/**
 * 'telephony' when the source rate is 8 kHz or less, or when `samples` (at `rate`, default sourceRate) carry
 * next to no energy above 4 kHz (< -40 dB relative to below 4 kHz); else 'wideband'.
 */
export function detectAudioQuality(sourceRate: number, samples?: SampleBlocks, rate: number = sourceRate): AudioQuality {
  if (sourceRate <= TELEPHONY_MAX_RATE) return 'telephony';
  if (!samples) return 'wideband';
  const steps = detectAudioQualitySteps(sourceRate, samples, rate);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}
