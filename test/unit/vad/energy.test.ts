import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resample } from '../../../src/audio/resample.js';
import { EnergyPrefilter } from '../../../src/vad/energy.js';
import { SENSITIVITY, windowSamples, type Sensitivity, type VadSampleRate } from '../../../src/vad/options.js';
import { SOUNDS, readSpeech } from '../../helpers/audio.js';
import { sine, whiteNoise } from '../audio/stages/signals.js';

const SPEECH = existsSync(SOUNDS);

function prefilter(rate: VadSampleRate, sensitivity: Sensitivity = 'normal'): EnergyPrefilter {
  return new EnergyPrefilter(windowSamples(rate), rate, SENSITIVITY[sensitivity].prefilter);
}

/** For each whole window of x: whether the pre-filter calls it obvious silence. */
function judge(pf: EnergyPrefilter, x: Float32Array): boolean[] {
  const out: boolean[] = [];
  for (let s = 0; s + pf.size <= x.length; s += pf.size) out.push(pf.isSilence(x, s));
  return out;
}

/** Uniform white noise at `db` dBFS RMS (uniform in [-a, a] has RMS a / sqrt(3)). */
const noiseAt = (n: number, db: number, seed = 1): Float32Array => whiteNoise(n, 10 ** (db / 20) * Math.sqrt(3), seed);

describe('energy pre-filter', () => {
  for (const rate of [8000, 16000] as const) {
    it(`marks digital silence and a bare DC offset as silence at ${rate} Hz`, () => {
      const pf = prefilter(rate);
      expect(judge(pf, new Float32Array(rate)).every(Boolean)).toBe(true);
      expect(pf.lastRmsDb).toBe(-Infinity);
      expect(judge(pf, new Float32Array(rate).fill(0.05)).every(Boolean)).toBe(true);
    });

    it(`marks -70 dBFS white noise as silence at every sensitivity at ${rate} Hz`, () => {
      const x = noiseAt(2 * rate, -70, rate);
      for (const s of ['high', 'normal', 'low'] as const) expect(judge(prefilter(rate, s), x).every(Boolean)).toBe(true);
    });

    it(`marks quiet white noise above the floor as silence by its flat spectrum at ${rate} Hz`, () => {
      const pf = prefilter(rate);
      const marks = judge(pf, noiseAt(10 * rate, -57, 7));
      // Flatness of white noise scatters around 0.56 per window: most windows pass the 0.5 bar, a few go to the model.
      expect(marks.filter(Boolean).length / marks.length).toBeGreaterThan(0.8);
      expect(pf.lastRmsDb).toBeGreaterThan(SENSITIVITY.normal.prefilter.floorDb);
      // Louder than the noise level, noise goes to the model.
      expect(judge(pf, noiseAt(rate, -45, 9)).some(Boolean)).toBe(false);
    });

    it(`does not mark a quiet tone as silence (tonal, not flat) at ${rate} Hz`, () => {
      const pf = prefilter(rate);
      const tone = sine(300, rate, 1, 10 ** (-57 / 20) * Math.SQRT2);
      expect(judge(pf, tone).some(Boolean)).toBe(false);
      expect(pf.lastFlatness).toBeLessThan(0.1);
    });
  }

  it('white noise upsampled from 8 kHz is still flat at 16 kHz (the band ends at 3.8 kHz)', () => {
    const up = resample(noiseAt(8000 * 5, -57, 3), 8000, 16000);
    const pf = prefilter(16000);
    const marks = judge(pf, up);
    expect(marks.filter(Boolean).length / marks.length).toBeGreaterThan(0.8);
  });

  it('computes flatness as a direct DFT of the Hann-windowed band 100-3800 Hz would', () => {
    for (const rate of [8000, 16000] as const) {
      const n = windowSamples(rate);
      const pf = prefilter(rate);
      const signals = [whiteNoise(n, 0.1, 5), sine(440, rate, n / rate, 0.3), Float32Array.from(whiteNoise(n, 0.2, 6), (v, i) => v * Math.sin(i / 9))];
      for (const x of signals) {
        const powers: number[] = [];
        for (let k = Math.ceil(100 / (rate / n)); k <= Math.floor(3800 / (rate / n)); k++) {
          let a = 0;
          let b = 0;
          for (let i = 0; i < n; i++) {
            const v = x[i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
            a += v * Math.cos((2 * Math.PI * k * i) / n);
            b -= v * Math.sin((2 * Math.PI * k * i) / n);
          }
          powers.push(a * a + b * b + 1e-20);
        }
        const geo = Math.exp(powers.reduce((s, p) => s + Math.log(p), 0) / powers.length);
        const arith = powers.reduce((s, p) => s + p, 0) / powers.length;
        expect(pf.flatness(x)).toBeCloseTo(geo / arith, 9);
      }
    }
  });

  it('sanitises non-finite samples (counted as 0)', () => {
    const pf = prefilter(8000);
    const x = new Float32Array(256).fill(NaN);
    expect(pf.isSilence(x)).toBe(true);
    x.fill(Infinity);
    expect(pf.isSilence(x)).toBe(true);
    expect(Number.isFinite(pf.flatness(x))).toBe(true);
  });

  it.skipIf(!SPEECH)('never marks the body of real speech as silence, at recorded level and 20 dB down', () => {
    const names = readdirSync(SOUNDS)
      .filter((f) => f.endsWith('.wav'))
      .map((f) => f.slice(0, -4))
      .sort();
    let judged = 0;
    const wrong: string[] = [];
    for (const name of names.filter((_, i) => i % 3 === 0)) {
      const pcm = readSpeech(name);
      // The body: windows within 30 dB of the clip's loudest window at recorded level; 20 dB down, where
      // the quietest of those are at the floor, the windows within 20 dB.
      for (const [gainDb, bodyDb] of [[0, 30], [-20, 20]] as const) {
        const k = 10 ** (gainDb / 20) / 32768;
        const x = Float32Array.from(pcm, (v) => v * k);
        for (const rate of [8000, 16000] as const) {
          const y = rate === 8000 ? x : resample(x, 8000, 16000);
          const pf = prefilter(rate, 'normal');
          let loudest = -Infinity;
          for (let s = 0; s + pf.size <= y.length; s += pf.size) loudest = Math.max(loudest, 10 * Math.log10(pf.meanSquare(y, s)));
          for (let s = 0; s + pf.size <= y.length; s += pf.size) {
            if (10 * Math.log10(pf.meanSquare(y, s)) < loudest - bodyDb) continue;
            judged++;
            if (pf.isSilence(y, s)) wrong.push(`${name}@${gainDb}dB/${rate}:${s} (${pf.lastRmsDb.toFixed(1)} dBFS, flatness ${pf.lastFlatness.toFixed(2)})`);
          }
        }
      }
    }
    expect(judged).toBeGreaterThan(10000);
    expect(wrong).toEqual([]);
  });
});
