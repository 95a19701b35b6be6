import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDcBlocker } from '../../../../src/audio/stages/dc.js';
import { readWavFloat } from '../../../../src/audio/wav.js';
import { corpusAvailable, listPrompts } from '../../../helpers/corpus.js';
import { db, maxAbsDiff, randomSizes, runBlocks, runOnce, sine, toneAmplitude } from './signals.js';

const mean = (x: Float32Array, from: number, to: number): number => {
  let m = 0;
  for (let i = from; i < to; i++) m += x[i]!;
  return m / (to - from);
};

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

describe('dc removal, adaptive (preprocess.dc: auto)', () => {
  it.skipIf(!corpusAvailable())('passes every Asterisk prompt through bit for bit: they have no offset', () => {
    const prompts = listPrompts();
    expect(prompts.length).toBeGreaterThan(500);
    for (const p of prompts) {
      const wav = readWavFloat(readFileSync(p.path));
      const stage = createDcBlocker(wav.sampleRate, { adaptive: true });
      const y = stage.process(wav.samples);
      expect(stage.engaged, p.name).toBe(false);
      // Untouched, so the block itself comes back (a live session then writes its Int16 frame as it came).
      expect(y, p.name).toBe(wav.samples);
    }
  });

  it('engages on an offset, removes it, and releases to the untouched input when it goes', () => {
    const rate = 8000;
    const x = sine(440, rate, 6, 0.3);
    for (let i = rate; i < 3 * rate; i++) x[i]! += 0.05; // an offset from 1 s to 3 s
    const stage = createDcBlocker(rate, { adaptive: true });
    const first = x.subarray(0, rate);
    const before = stage.process(first);
    expect(stage.engaged).toBe(false);
    expect(before).toBe(first);
    const block = x.subarray(rate, 3 * rate);
    const filtered = stage.process(block);
    expect(filtered).not.toBe(block);
    const during = filtered.slice();
    expect(stage.engaged).toBe(true);
    expect(Math.abs(mean(during, rate, 2 * rate))).toBeLessThan(1e-3); // settled in its second half
    const after = stage.process(x.subarray(3 * rate)).slice();
    // The estimate decays with a 0.5 s time constant (0.05 → under -66 dBFS in ~2.2 s), then 50 ms of fade.
    expect(stage.engaged).toBe(false);
    const tail = 2.5 * rate;
    expect(after.subarray(tail).every((v, i) => v === x[3 * rate + tail + i])).toBe(true);
  });

  it('once engaged and settled, gives what a filter that ran all along gives; before, the input untouched', () => {
    const rate = 8000;
    const x = sine(440, rate, 3, 0.3);
    for (let i = rate; i < 3 * rate; i++) x[i]! += 0.05;
    const adaptive = runOnce(createDcBlocker(rate, { adaptive: true }), x).slice();
    const always = runOnce(createDcBlocker(rate), x).slice();
    // The fade ends 50 ms after engaging (about 10 ms after the step); 0.2 s on, the start has no trace left.
    const from = Math.round(1.2 * rate);
    expect(maxAbsDiff(adaptive.subarray(from), always.subarray(from))).toBeLessThan(1e-5);
    expect(adaptive.subarray(0, rate).every((v, i) => v === x[i])).toBe(true);
  });

  it('streaming in any block sizes equals one call, through engage and release', () => {
    const rate = 16000;
    const x = sine(300, rate, 5, 0.2);
    for (let i = rate; i < 2 * rate; i++) x[i]! -= 0.1;
    const once = runOnce(createDcBlocker(rate, { adaptive: true }), x).slice();
    const s = createDcBlocker(rate, { adaptive: true });
    for (const sizes of [[1], [7], [160], [882], randomSizes(60, 3000)]) expect(maxAbsDiff(runBlocks(s, x, sizes), once)).toBe(0);
  });
});
