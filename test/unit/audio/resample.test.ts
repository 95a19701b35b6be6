import { describe, expect, it } from 'vitest';
import { float32ToInt16, int16ToFloat32, resample } from '../../../src/audio/resample.js';

function sine(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  const n = Math.round(rate * seconds);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/** Amplitude of the component at `freq` over the middle of the signal (edges skipped), by correlation with a complex tone. */
function toneAmplitude(x: Float32Array, rate: number, freq: number): number {
  const skip = Math.floor(x.length / 10);
  // A whole number of periods so other tones and DC cancel.
  const period = rate / freq;
  const len = Math.floor((x.length - 2 * skip) / period) * period;
  const n = Math.floor(len);
  let re = 0;
  let im = 0;
  for (let i = 0; i < n; i++) {
    const v = x[skip + i]!;
    const ph = (2 * Math.PI * freq * (skip + i)) / rate;
    re += v * Math.cos(ph);
    im += v * Math.sin(ph);
  }
  return (2 * Math.hypot(re, im)) / n;
}

function rmsMiddle(x: Float32Array): number {
  const skip = Math.floor(x.length / 10);
  let s = 0;
  for (let i = skip; i < x.length - skip; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / (x.length - 2 * skip));
}

/** Rising zero crossings per second over the middle of the signal. */
function crossingRate(x: Float32Array, rate: number): number {
  const skip = Math.floor(x.length / 10);
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = skip + 1; i < x.length - skip; i++) {
    if (x[i - 1]! < 0 && x[i]! >= 0) {
      if (first < 0) first = i;
      else count++;
      last = i;
    }
  }
  return (count * rate) / (last - first);
}

const db = (ratio: number): number => 20 * Math.log10(ratio);

describe('resample', () => {
  it('returns an exact copy for equal rates', () => {
    const x = Float32Array.from([0.1, -0.2, 0.3, 1, -1]);
    const y = resample(x, 16000, 16000);
    expect(y).not.toBe(x);
    expect([...y]).toEqual([...x]);
  });

  it.each([
    [8000, 16000, 11234],
    [44100, 16000, 44101],
    [16000, 8000, 1001],
    [48000, 16000, 7],
    [22050, 16000, 12345],
    [44101, 16000, 5000],
    [8000, 44100, 3],
  ])('%i -> %i on %i samples gives round(n*to/from) samples', (from, to, n) => {
    expect(resample(new Float32Array(n), from, to).length).toBe(Math.round((n * to) / from));
  });

  it('handles empty input and rejects bad rates', () => {
    expect(resample(new Float32Array(0), 44100, 16000).length).toBe(0);
    expect(() => resample(new Float32Array(4), 0, 16000)).toThrow(/fromRate/);
    expect(() => resample(new Float32Array(4), 8000, 16000.5)).toThrow(/toRate/);
  });

  it.each([
    [8000, 16000],
    [44100, 16000],
    [16000, 8000],
    [48000, 16000],
    [44101, 16000], // coprime rates: the phase grid is quantised
  ])('a 1 kHz sine %i -> %i keeps its frequency and amplitude (within 1 dB)', (from, to) => {
    const x = sine(1000, from, 1);
    const y = resample(x, from, to);
    expect(crossingRate(y, to)).toBeCloseTo(1000, 0);
    expect(Math.abs(db(toneAmplitude(y, to, 1000) / 0.5))).toBeLessThan(1);
    // Nothing much but the tone: its amplitude accounts for the RMS.
    expect(Math.abs(db((toneAmplitude(y, to, 1000) / Math.SQRT2) / rmsMiddle(y)))).toBeLessThan(0.1);
  });

  it('anti-aliases: a 6 kHz tone at 44.1 kHz is attenuated by more than 40 dB at 8 kHz', () => {
    const y = resample(sine(6000, 44100, 1), 44100, 8000);
    const atten = db(rmsMiddle(y) / (0.5 / Math.SQRT2));
    expect(atten).toBeLessThan(-40);
    // Where it would alias to (8000 - 6000 = 2 kHz) is just as quiet.
    expect(db(toneAmplitude(y, 8000, 2000) / 0.5)).toBeLessThan(-40);
  });

  it('keeps a constant constant away from the edges (every phase has unit DC gain)', () => {
    const x = new Float32Array(44100).fill(0.25);
    const y = resample(x, 44100, 16000);
    for (let i = 200; i < y.length - 200; i++) expect(Math.abs(y[i]! - 0.25)).toBeLessThan(1e-5);
  });

  it('upsampling by 2 passes the original samples through (within the filter ripple)', () => {
    const x = sine(440, 8000, 0.5);
    const y = resample(x, 8000, 16000);
    let maxErr = 0;
    for (let i = 100; i < x.length - 100; i++) maxErr = Math.max(maxErr, Math.abs(y[2 * i]! - x[i]!));
    expect(maxErr).toBeLessThan(1e-3);
  });
});

describe('int16 <-> float32', () => {
  it('round-trips every 16-bit value exactly', () => {
    const all = new Int16Array(65536);
    for (let i = 0; i < all.length; i++) all[i] = i - 32768;
    const back = float32ToInt16(int16ToFloat32(all));
    expect(back).toEqual(all);
  });

  it('scales to [-1, 1) and clamps on the way back', () => {
    expect([...int16ToFloat32(Int16Array.from([-32768, 0, 16384]))]).toEqual([-1, 0, 0.5]);
    expect([...float32ToInt16(Float32Array.from([1, -1, 2, -2, Number.NaN, 0.5, -0]))]).toEqual([32767, -32768, 32767, -32768, 0, 16384, 0]);
  });
});
