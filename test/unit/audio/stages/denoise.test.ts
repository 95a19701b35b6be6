import { describe, expect, it, vi } from 'vitest';
import { WARM_S, loadDenoiser, RNNOISE_DELAY, type DenoiserFactory } from '../../../../src/audio/stages/denoise.js';
import { existsSync } from 'node:fs';
import { resample } from '../../../../src/audio/resample.js';
import { SOUNDS, readSpeech } from '../../../helpers/audio.js';
import { concat, db, maxAbsDiff, randomSizes, rms, runBlocks, runOnce, sine, whiteNoise } from './signals.js';

/** Residual after removing the best-fitting tone at `freq` from x[from, to): what is not the tone. */
function residualRms(x: Float32Array, rate: number, freq: number, from: number, to: number): number {
  let cc = 0, ss = 0, xc = 0, xs = 0;
  for (let i = from; i < to; i++) {
    const c = Math.cos((2 * Math.PI * freq * i) / rate);
    const s = Math.sin((2 * Math.PI * freq * i) / rate);
    cc += c * c; ss += s * s; xc += x[i]! * c; xs += x[i]! * s;
  }
  const a = xc / cc;
  const b = xs / ss;
  let e = 0;
  for (let i = from; i < to; i++) e += (x[i]! - a * Math.cos((2 * Math.PI * freq * i) / rate) - b * Math.sin((2 * Math.PI * freq * i) / rate)) ** 2;
  return Math.sqrt(e / (to - from));
}

const SPEECH = existsSync(SOUNDS);
if (!SPEECH) console.warn(`${SOUNDS} not found: the speech denoise test is skipped (Debian asterisk-core-sounds-en-wav)`);
const factory = await loadDenoiser({ onWarning: (m) => console.warn(m) });

describe('denoise (RNNoise)', () => {
  it('loads', () => {
    expect(factory).toBeDefined();
  });

  it('reduces white noise under a sine at 16 kHz (a steady tone is taken for noise too)', () => {
    const rate = 16000;
    const noise = whiteNoise(3 * rate, 0.05, 11);
    const x = sine(440, rate, 3, 0.3);
    for (let i = 0; i < x.length; i++) x[i]! += noise[i]!;
    const d = (factory as DenoiserFactory).create(rate);
    const y = runOnce(d, x);
    d.dispose();
    const from = rate; // after RNNoise has adapted
    const before = residualRms(x, rate, 440, from, x.length);
    const after = residualRms(y, rate, 440, from, y.length);
    console.log(`RNNoise at 16 kHz: noise ${db(before).toFixed(1)} -> ${db(after).toFixed(1)} dBFS rms, tone ${db(rms(y, from, y.length) / rms(x, from, x.length)).toFixed(1)} dB`);
    expect(db(after / before)).toBeLessThan(-6);
  });

  it.skipIf(!SPEECH)('removes white noise from pauses and keeps speech (16 kHz)', () => {
    const rate = 16000;
    const clean = concat([new Float32Array(rate), resample(Float32Array.from(readSpeech('queue-thankyou'), (v) => v / 32768), 8000, rate)]);
    const noise = whiteNoise(clean.length, 0.1, 4);
    const x = Float32Array.from(clean, (v, i) => v + noise[i]!);
    const d = (factory as DenoiserFactory).create(rate);
    const y = runOnce(d, x);
    d.dispose();
    const snr = (a: Float32Array): number => {
      let e = 0;
      let s = 0;
      for (let i = rate; i < a.length; i++) {
        e += (a[i]! - clean[i]!) ** 2;
        s += clean[i]! ** 2;
      }
      return 10 * Math.log10(s / e);
    };
    const pauseBefore = db(rms(x, 2000, rate));
    const pauseAfter = db(rms(y, 2000, rate));
    console.log(`RNNoise, speech + white noise at 16 kHz: pause ${pauseBefore.toFixed(1)} -> ${pauseAfter.toFixed(1)} dBFS rms, speech SNR ${snr(x).toFixed(1)} -> ${snr(y).toFixed(1)} dB`);
    expect(pauseAfter - pauseBefore).toBeLessThan(-20);
    expect(snr(y) - snr(x)).toBeGreaterThan(5);
    expect(Math.abs(db(rms(y, rate, y.length) / rms(clean, rate, clean.length)))).toBeLessThan(2);
  });

  it('flush returns what it holds: output length equals input length, for any block sizes', () => {
    for (const rate of [8000, 16000, 44100, 48000]) {
      const x = concat([sine(300, rate, 0.37, 0.2), whiteNoise(Math.round(rate * 0.11) + 3, 0.02)]);
      const d = (factory as DenoiserFactory).create(rate);
      const once = runOnce(d, x);
      expect(once.length).toBe(x.length);
      for (const sizes of [[1], [7], [160], [4096], randomSizes(40, 700)]) {
        const y = runBlocks(d, x, sizes);
        expect(y.length).toBe(x.length);
        expect(maxAbsDiff(y, once)).toBeLessThan(1e-6);
      }
      d.dispose();
    }
  });

  it('is time-aligned with its input (RNNoise lag compensated)', () => {
    expect(RNNOISE_DELAY).toBe(480);
    const rate = 16000;
    // A tone burst: the output burst starts where the input one does.
    const x = concat([new Float32Array(rate), sine(500, rate, 1, 0.5), new Float32Array(rate)]);
    const d = (factory as DenoiserFactory).create(rate);
    const y = runOnce(d, x);
    d.dispose();
    const energy = (from: number, to: number): number => rms(y, from, to);
    // Within a 10 ms frame of the true onset and offset.
    expect(energy(rate - 320, rate - 160)).toBeLessThan(energy(rate + 160, rate + 320) / 10);
    expect(energy(2 * rate + 160, 2 * rate + 320)).toBeLessThan(energy(2 * rate - 320, 2 * rate - 160) / 10);
  });

  it('frees its state on reset and dispose; refuses work after dispose', () => {
    const d = (factory as DenoiserFactory).create(16000);
    const x = sine(440, 16000, 0.2, 0.3);
    const a = runOnce(d, x);
    d.process(x);
    d.reset();
    expect(maxAbsDiff(runOnce(d, x), a)).toBe(0);
    d.dispose();
    expect(() => d.process(x)).toThrow(/dispose/);
  });

  it('a module that cannot load gives undefined and one warning per process', async () => {
    const onWarning = vi.fn();
    const broken = (): Promise<unknown> => Promise.reject(new Error('no such module'));
    expect(await loadDenoiser({ onWarning, importModule: broken })).toBeUndefined();
    expect(await loadDenoiser({ onWarning, importModule: broken })).toBeUndefined();
    expect(onWarning).toHaveBeenCalledTimes(1);
    expect(onWarning.mock.calls[0]?.[0]).toMatch(/noise suppression disabled.*no such module/);
    expect(await loadDenoiser({ onWarning, importModule: () => Promise.resolve({}) })).toBeUndefined();
  });
});

describe('denoise, adaptive (the pipeline\'s denoise: auto)', () => {
  const rate = 16000;
  const f = factory as DenoiserFactory;
  /** Telephone prompts at 16 kHz with pauses between them (or tones if the sounds are not installed). */
  const cleanSpeech = (): Float32Array => {
    const pause = new Float32Array(rate / 2);
    if (!SPEECH) return concat([pause, sine(300, rate, 1.5, 0.3), pause, sine(700, rate, 2, 0.2), pause]);
    const parts: Float32Array[] = [new Float32Array(rate)];
    for (const name of ['queue-thankyou', 'vm-intro', 'queue-callswaiting', 'vm-goodbye']) {
      parts.push(resample(Float32Array.from(readSpeech(name), (v) => v / 32768), 8000, rate), pause);
    }
    return concat(parts);
  };
  // A quiet line: the prompts over white noise at -75 dBFS rms.
  const clean = ((x) => {
    const n = whiteNoise(x.length, Math.sqrt(3) * 10 ** (-75 / 20), 2);
    return Float32Array.from(x, (v, i) => v + n[i]!);
  })(cleanSpeech());
  // White noise at -45 dBFS rms (uniform: rms = amp / sqrt(3)), about 25 dB under the prompts.
  const noiseAmp = Math.sqrt(3) * 10 ** (-45 / 20);
  const withNoise = (x: Float32Array, seed = 5): Float32Array => {
    const n = whiteNoise(x.length, noiseAmp, seed);
    return Float32Array.from(x, (v, i) => v + n[i]!);
  };

  it('passes clean telephone speech through bit for bit', () => {
    const d = f.create(rate, { adaptive: true });
    let engaged = false;
    const parts: Float32Array[] = [];
    let same = 0;
    for (let off = 0; off < clean.length; off += 320) {
      const block = clean.subarray(off, off + 320);
      const y = d.process(block);
      if (y === block) same++;
      parts.push(y.slice());
      engaged ||= d.engaged;
    }
    // Disengaged, each block is its own output (no copy).
    expect(same).toBe(Math.ceil(clean.length / 320));
    parts.push(d.flush());
    const y = concat(parts);
    d.dispose();
    expect(engaged).toBe(false);
    expect(d.denoisedSamples).toBe(0);
    // Nothing of RNNoise's output is used, so RNNoise never ran (the stage costs a fraction of it).
    expect(d.framesRun).toBe(0);
    expect(y.length).toBe(clean.length);
    expect(y.every((v, i) => Object.is(v, clean[i]))).toBe(true);
  });

  it('engages on a noisy line and removes the noise from pauses', () => {
    // 2 s of line noise before the speech: the stage must engage early in it.
    const x = withNoise(concat([new Float32Array(2 * rate), clean]));
    const d = f.create(rate, { adaptive: true });
    let engagedAt = -1;
    const parts: Float32Array[] = [];
    for (let off = 0; off < x.length; off += 160) {
      parts.push(d.process(x.subarray(off, off + 160)).slice());
      if (d.engaged && engagedAt < 0) engagedAt = off + 160;
    }
    const stayed = d.engaged;
    parts.push(d.flush());
    const y = concat(parts);
    d.dispose();
    const before = db(rms(x, rate, 2 * rate));
    const after = db(rms(y, rate, 2 * rate));
    console.log(`adaptive RNNoise: engaged after ${(engagedAt / rate).toFixed(2)} s, pause ${before.toFixed(1)} -> ${after.toFixed(1)} dBFS rms, ${(d.denoisedSamples / rate).toFixed(2)} s denoised of ${(x.length / rate).toFixed(2)} s`);
    expect(engagedAt).toBeGreaterThan(0);
    expect(engagedAt).toBeLessThan(3 * rate);
    expect(stayed).toBe(true);
    expect(after - before).toBeLessThan(-10);
    expect(d.denoisedSamples).toBeGreaterThan(x.length - 3 * rate);
    // RNNoise ran from the engagement on (plus its 100 ms warm-up on the line), not before.
    const frames48 = (n: number): number => (n * 48000) / rate / 480;
    expect(d.framesRun).toBeGreaterThan(frames48(x.length - engagedAt) - 2);
    expect(d.framesRun).toBeLessThan(frames48(x.length - engagedAt + WARM_S * rate) + 4);
  });

  it('lets go within about 3 s after the noise stops, then passes the input through untouched', () => {
    const x = concat([withNoise(new Float32Array(2 * rate)), clean]);
    const d = f.create(rate, { adaptive: true });
    const y = runOnce(d, x);
    d.dispose();
    const from = 2 * rate + Math.round(3.3 * rate); // window (3 s + one 100 ms sub-block) and the 50 ms fade
    expect(y.length).toBe(x.length);
    expect(db(rms(y, rate / 2, 2 * rate) / rms(x, rate / 2, 2 * rate))).toBeLessThan(-10);
    expect(y.subarray(from).every((v, i) => Object.is(v, x[from + i]))).toBe(true);
    // ...and not before the window has passed: the noise floor is still in it.
    expect(maxAbsDiff(y.subarray(2 * rate, 2 * rate + rate), x.subarray(2 * rate, 2 * rate + rate))).toBeGreaterThan(0);
  });

  it('gives the same output for any block split, clean or noisy, at any rate', () => {
    for (const [r, x] of [[rate, clean], [rate, withNoise(clean)], [8000, withNoise(sine(300, 8000, 2, 0.2))], [44100, withNoise(sine(300, 44100, 1.5, 0.2))]] as const) {
      const d = f.create(r, { adaptive: true });
      const once = runOnce(d, x);
      expect(once.length).toBe(x.length);
      for (const sizes of [[1], [159], randomSizes(60, 4000, 3)]) {
        if (sizes[0] === 1 && x.length > 40000) continue; // slow; 159 and random sizes cover splits
        const y = runBlocks(d, x, sizes);
        expect(y.length).toBe(x.length);
        expect(maxAbsDiff(y, once)).toBeLessThan(1e-6);
        if (x === clean) expect(maxAbsDiff(y, once)).toBe(0);
      }
      d.dispose();
    }
  });

  it('engages and lets go twice: as long as its input, the same for any block split, untouched where it is off', () => {
    const r = 8000;
    const noisy = withNoise(sine(300, r, 4, 0.2), 11);
    // A clean line: a tone with pauses, its floor far under -66 dBFS.
    const quiet = concat([sine(300, r, 1, 0.2), new Float32Array(4 * r)]);
    const x = concat([quiet.subarray(r, 2 * r), noisy, quiet, noisy, quiet]);
    const d = f.create(r, { adaptive: true });
    let switches = 0;
    let was = false;
    const parts: Float32Array[] = [];
    for (let off = 0; off < x.length; off += 160) {
      parts.push(d.process(x.subarray(off, off + 160)).slice());
      if (d.engaged !== was) switches++;
      was = d.engaged;
    }
    parts.push(d.flush());
    const once = concat(parts);
    expect(switches).toBe(4);
    expect(once.length).toBe(x.length);
    for (const sizes of [[159], [1000], randomSizes(60, 3000, 7)]) expect(maxAbsDiff(runBlocks(d, x, sizes), once)).toBe(0);
    // The first second (silence before any noise) and the last second (long after it) pass bit for bit.
    expect(once.subarray(0, r).every((v, i) => Object.is(v, x[i]))).toBe(true);
    expect(once.subarray(x.length - r).every((v, i) => Object.is(v, x[x.length - r + i]))).toBe(true);
    d.dispose();
  });

  it('flush and reset start a new stream; non-finite input becomes 0; dispose frees it', () => {
    const d = f.create(rate, { adaptive: true });
    const x = withNoise(sine(440, rate, 0.7, 0.3), 9);
    const a = runOnce(d, x);
    expect(a.length).toBe(x.length);
    expect(d.engaged).toBe(false); // flush leaves it like new
    d.process(x);
    d.reset();
    expect(d.engaged).toBe(false);
    expect(maxAbsDiff(runOnce(d, x), a)).toBe(0);
    const bad = Float32Array.from(x);
    bad[100] = NaN;
    bad[5000] = Infinity;
    const y = runOnce(d, bad);
    expect(y.every((v) => Number.isFinite(v))).toBe(true);
    d.dispose();
    expect(() => d.process(x)).toThrow(/dispose/);
  });

  it('without adaptive, denoises from the first sample and reports itself engaged', () => {
    const d = f.create(rate);
    expect(d.engaged).toBe(true);
    const x = sine(440, rate, 0.5, 0.3);
    const y = runOnce(d, x);
    expect(d.denoisedSamples).toBe(x.length);
    expect(maxAbsDiff(y, x)).toBeGreaterThan(0.01);
    d.dispose();
  });
});
