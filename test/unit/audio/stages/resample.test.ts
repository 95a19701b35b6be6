import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWavFloat } from '../../../../src/audio/wav.js';
import { createResampler, resampledLength, resamplerInfo, setResamplerJsFallback } from '../../../../src/audio/stages/resample.js';
import { SOUNDS, readSpeech } from '../../../helpers/audio.js';
import { concat, db, logSweep, maxAbsDiff, randomSizes, rms, runBlocks, runOnce, sine, floatWav, toneAmplitude } from './signals.js';

function hasSox(): boolean {
  try {
    execFileSync('sox', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const SOX = hasSox();
const SPEECH = existsSync(SOUNDS);
if (!SOX) console.warn('sox not found: the resampler-vs-sox comparisons are skipped (scripts/test.sh installs it)');
if (!SPEECH) console.warn(`${SOUNDS} not found: the speech comparison is skipped (Debian asterisk-core-sounds-en-wav)`);

const tmp = mkdtempSync(join(tmpdir(), 'theo-resample-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** sox's very-high-quality linear-phase resampler, float in and out. */
function soxResample(x: Float32Array, from: number, to: number, name: string): Float32Array {
  const inPath = join(tmp, `${name}-in.wav`);
  const outPath = join(tmp, `${name}-out.wav`);
  writeFileSync(inPath, floatWav(x, from));
  execFileSync('sox', [inPath, '-e', 'floating-point', '-b', '32', outPath, 'rate', '-v', String(to)]);
  return readWavFloat(readFileSync(outPath)).samples;
}

/** SNR (dB) of ours against sox over the middle of the signal (edges left out: both zero-pad differently). */
function snrVsSox(ours: Float32Array, ref: Float32Array, rate: number): number {
  const edge = Math.round(rate * 0.05);
  const n = Math.min(ours.length, ref.length);
  let sig = 0;
  let err = 0;
  for (let i = edge; i < n - edge; i++) {
    sig += (ref[i] as number) ** 2;
    err += ((ours[i] as number) - (ref[i] as number)) ** 2;
  }
  return 10 * Math.log10(sig / err);
}

const RATES = [4000, 8000, 11025, 22050, 44100, 48000, 96000, 192000];

describe('streaming resampler', () => {
  it.each(RATES.map((r) => [r, 16000]).concat([[16000, 48000], [48000, 16000], [16000, 8000]]))(
    '%i -> %i: streaming in any block sizes equals one call, length round(n*to/from)',
    (from, to) => {
      const x = concat([sine(440, from, 0.13, 0.4), sine(1700, from, 0.11, 0.3)]);
      const once = runOnce(createResampler(from, to), x);
      expect(once.length).toBe(resampledLength(x.length, from, to));
      expect(once.length).toBe(Math.round((x.length * to) / from));
      const r = createResampler(from, to);
      for (const sizes of [[1], [7], [160], [4096], randomSizes(50, 900)]) {
        expect(maxAbsDiff(runBlocks(r, x, sizes), once)).toBe(0);
      }
    },
  );

  it('gives exact lengths for short and odd inputs', () => {
    for (const [from, to] of [[44100, 16000], [8000, 16000], [48000, 16000], [11025, 16000], [16000, 48000]] as const) {
      for (const n of [1, 2, 3, 7, 100, 441, 1001]) {
        expect(runOnce(createResampler(from, to), new Float32Array(n).fill(0.1)).length).toBe(Math.round((n * to) / from));
      }
    }
    expect(runOnce(createResampler(44100, 16000), new Float32Array(0)).length).toBe(0);
  });

  it('is ready for a new stream after flush and after reset', () => {
    const x = sine(1000, 44100, 0.05);
    const r = createResampler(44100, 16000);
    const a = runOnce(r, x);
    expect(maxAbsDiff(runOnce(r, x), a)).toBe(0);
    r.process(sine(300, 44100, 0.02));
    r.reset();
    expect(maxAbsDiff(runOnce(r, x), a)).toBe(0);
  });

  it('the JS fallback gives the same samples as the WebAssembly SIMD loop', () => {
    const x = concat([logSweep(50, 20000, 44100, 0.2), sine(3000, 44100, 0.1)]);
    const simd = createResampler(44100, 16000);
    setResamplerJsFallback(true);
    try {
      const js = createResampler(44100, 16000);
      expect(js.simd).toBe(false);
      expect(maxAbsDiff(runBlocks(js, x, [333]), runOnce(simd, x))).toBe(0);
    } finally {
      setResamplerJsFallback(false);
    }
  });

  it('treats NaN and Infinity as 0', () => {
    const x = sine(500, 8000, 0.1);
    const bad = x.slice();
    bad[100] = Number.NaN;
    bad[200] = Number.POSITIVE_INFINITY;
    bad[300] = Number.NEGATIVE_INFINITY;
    const clean = x.slice();
    clean[100] = clean[200] = clean[300] = 0;
    const y = runOnce(createResampler(8000, 16000), bad);
    expect(y.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(y, runOnce(createResampler(8000, 16000), clean))).toBe(0);
  });

  it('keeps a constant constant (every phase has unit DC gain)', () => {
    const y = runOnce(createResampler(44100, 16000), new Float32Array(44100).fill(0.25));
    for (let i = 200; i < y.length - 200; i++) expect(Math.abs(y[i]! - 0.25)).toBeLessThan(1e-5);
  });
});

describe('resampler frequency response', () => {
  it.each([[44100], [48000]])('%i -> 16000: a sweep 8.5-22 kHz comes out below -60 dB, a sweep 100 Hz-7 kHz loses < 0.5 dB', (from) => {
    const stop = logSweep(8500, Math.min(22000, from / 2 - 100), from, 1);
    const yStop = runOnce(createResampler(from, 16000), stop);
    const edge = 800;
    const stopDb = db(rms(yStop, edge, yStop.length - edge) / rms(stop));
    const pass = logSweep(100, 7000, from, 1);
    const yPass = runOnce(createResampler(from, 16000), pass);
    const passDb = db(rms(yPass, edge, yPass.length - edge) / rms(pass, Math.round((edge * from) / 16000), pass.length - Math.round((edge * from) / 16000)));
    console.log(`${from} -> 16000: stopband sweep ${stopDb.toFixed(1)} dB, passband sweep ${passDb.toFixed(3)} dB (${resamplerInfo(from, 16000).taps} taps)`);
    expect(stopDb).toBeLessThan(-60);
    expect(Math.abs(passDb)).toBeLessThan(0.5);
  });

  it('single tones: flat to 0.88 of the lower Nyquist, >= 80 dB down from 1.05 of it', () => {
    for (const [from, to] of [[44100, 16000], [48000, 16000], [16000, 48000], [8000, 16000]] as const) {
      const nyq = Math.min(from, to) / 2;
      for (const rel of [0.1, 0.5, 0.88]) {
        const y = runOnce(createResampler(from, to), sine(rel * nyq, from, 0.5));
        expect(Math.abs(db(toneAmplitude(y, to, rel * nyq, 1000, y.length - 1000) / 0.5))).toBeLessThan(0.05);
      }
      if (to < from) {
        for (const rel of [1.05, 1.2, 1.5, 2, 2.6]) {
          const f = rel * nyq;
          if (f >= from / 2) continue;
          const y = runOnce(createResampler(from, to), sine(f, from, 0.5));
          expect(db(rms(y, 1000, y.length - 1000) / (0.5 / Math.SQRT2))).toBeLessThan(-80);
        }
      }
    }
  });
});

describe.skipIf(!SOX)('resampler against sox rate -v', () => {
  it.skipIf(!SPEECH)('8 kHz speech -> 16 kHz', () => {
    const pcm = readSpeech('queue-thankyou');
    const x = Float32Array.from(pcm, (v) => v / 32768);
    const ours = runOnce(createResampler(8000, 16000), x);
    const ref = soxResample(x, 8000, 16000, 'speech');
    const snr = snrVsSox(ours, ref, 16000);
    console.log(`SNR vs sox, speech 8000 -> 16000: ${snr.toFixed(1)} dB (${ours.length} vs ${ref.length} samples)`);
    expect(Math.abs(ours.length - ref.length)).toBeLessThanOrEqual(1);
    // Measured 45.4 dB: the difference is the 3.5-4 kHz transition band (sox -v keeps 95% of Nyquist).
    expect(snr).toBeGreaterThan(42);
  });

  it('multi-tone 44.1 kHz -> 16 kHz', () => {
    const tones = [200, 950, 2500, 4100, 6300, 7000, 9500, 15000];
    const n = 44100;
    const x = new Float32Array(n);
    tones.forEach((f, k) => {
      for (let i = 0; i < n; i++) x[i]! += 0.1 * Math.sin((2 * Math.PI * f * i) / 44100 + k);
    });
    const ours = runOnce(createResampler(44100, 16000), x);
    const ref = soxResample(x, 44100, 16000, 'tones');
    const snr = snrVsSox(ours, ref, 16000);
    console.log(`SNR vs sox, multi-tone 44100 -> 16000: ${snr.toFixed(1)} dB (${ours.length} vs ${ref.length} samples)`);
    expect(Math.abs(ours.length - ref.length)).toBeLessThanOrEqual(1);
    // Measured 87.0 dB.
    expect(snr).toBeGreaterThan(80);
  });
});
