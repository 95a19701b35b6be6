import { describe, expect, it } from 'vitest';
import { createDcBlocker } from '../../../../src/audio/stages/dc.js';
import { db, maxAbsDiff, randomSizes, runBlocks, runOnce, sine, toneAmplitude } from './signals.js';

describe('dc removal', () => {
  it('removes a 0.3 offset under a 1 kHz sine and keeps the sine within 0.1 dB', () => {
    for (const rate of [8000, 16000, 44100]) {
      const x = sine(1000, rate, 2);
      for (let i = 0; i < x.length; i++) x[i]! += 0.3;
      const y = runOnce(createDcBlocker(rate), x);
      const from = Math.round(rate * 0.5); // settled: the 20 Hz pole decays in ~50 ms
      let mean = 0;
      for (let i = from; i < y.length; i++) mean += y[i]!;
      mean /= y.length - from;
      expect(Math.abs(mean)).toBeLessThan(1e-4);
      expect(Math.abs(db(toneAmplitude(y, rate, 1000, from, y.length) / 0.5))).toBeLessThan(0.1);
    }
  });

  it('is -3 dB at 20 Hz (2nd-order Butterworth)', () => {
    for (const rate of [8000, 48000]) {
      const y = runOnce(createDcBlocker(rate), sine(20, rate, 3));
      const gain = db(toneAmplitude(y, rate, 20, rate, y.length) / 0.5);
      expect(gain).toBeGreaterThan(-3.2);
      expect(gain).toBeLessThan(-2.8);
      // One octave down: Butterworth 2nd order is about -12.3 dB at half the corner frequency.
      const y10 = runOnce(createDcBlocker(rate), sine(10, rate, 4));
      expect(db(toneAmplitude(y10, rate, 10, 2 * rate, y10.length) / 0.5)).toBeLessThan(-12);
    }
  });

  it('streaming in any block sizes equals one call', () => {
    const x = sine(300, 44100, 0.5);
    for (let i = 0; i < x.length; i++) x[i]! += 0.2;
    const once = runOnce(createDcBlocker(44100), x);
    const s = createDcBlocker(44100);
    for (const sizes of [[1], [7], [160], [882], randomSizes(60, 3000)]) expect(maxAbsDiff(runBlocks(s, x, sizes), once)).toBeLessThan(1e-9);
  });

  it('keeps silence silent and turns NaN into 0', () => {
    expect(runOnce(createDcBlocker(16000), new Float32Array(1000)).every((v) => v === 0)).toBe(true);
    const y = runOnce(createDcBlocker(16000), Float32Array.from([Number.NaN, Number.POSITIVE_INFINITY, 0.5, Number.NEGATIVE_INFINITY]));
    expect(y.every(Number.isFinite)).toBe(true);
    expect(y[0]).toBe(0);
    expect(y[1]).toBe(0);
  });
});
