import { describe, expect, it, vi } from 'vitest';
import { loadDenoiser, type DenoiserFactory } from '../../../../src/audio/stages/denoise.js';
import { createPreprocessor, preprocessFile, type PreprocessorOptions } from '../../../../src/audio/stages/pipeline.js';
import { resample } from '../../../../src/audio/resample.js';
import { concat, maxAbsDiff, peak, randomSizes, runBlocks, runOnce, sine, whiteNoise } from './signals.js';

const denoiser = (await loadDenoiser()) as DenoiserFactory;

describe('preprocessing pipeline', () => {
  it('orders the stages dc -> resample -> denoise -> gain and picks denoise by quality', () => {
    expect(createPreprocessor({ inputRate: 8000, outputRate: 16000, denoiser }).stages).toEqual(['dc', 'resample', 'denoise', 'gain']);
    expect(createPreprocessor({ inputRate: 44100, outputRate: 16000, denoiser }).stages).toEqual(['dc', 'resample', 'gain']);
    expect(createPreprocessor({ inputRate: 44100, outputRate: 16000, denoiser, quality: 'telephony' }).stages).toEqual(['dc', 'resample', 'denoise', 'gain']);
    expect(createPreprocessor({ inputRate: 16000, outputRate: 16000, denoiser, denoise: true }).stages).toEqual(['dc', 'denoise', 'gain']);
    expect(createPreprocessor({ inputRate: 8000, outputRate: 16000, denoiser, dc: false, gain: false, denoise: false }).stages).toEqual(['resample']);
    const p = createPreprocessor({ inputRate: 8000, outputRate: 16000 });
    expect(p.quality).toBe('telephony');
    expect(createPreprocessor({ inputRate: 48000, outputRate: 16000 }).quality).toBe('wideband');
  });

  it.each([
    [8000, false],
    [8000, true],
    [44100, false],
    [44100, true],
  ])('%i Hz -> 16 kHz (denoise %s): 20 ms frames and random blocks give the whole-file output', (rate, dn) => {
    const x = concat([sine(440, rate, 0.6, 0.05), whiteNoise(Math.round(rate * 0.3), 0.01), sine(1200, rate, 0.4, 0.2)]);
    for (let i = 0; i < x.length; i++) x[i]! += 0.1; // DC to remove
    const opts: PreprocessorOptions = { inputRate: rate, outputRate: 16000, denoise: dn, denoiser };
    const once = runOnce(createPreprocessor(opts), x);
    expect(once.length).toBe(Math.round((x.length * 16000) / rate));
    const p = createPreprocessor(opts);
    for (const sizes of [[Math.round(rate / 50)], randomSizes(40, 2000), [1]]) {
      if (sizes[0] === 1 && dn) continue; // 1-sample blocks through RNNoise are covered in the denoise tests
      expect(maxAbsDiff(runBlocks(p, x, sizes), once)).toBeLessThan(1e-6);
    }
    p.dispose();
  });

  it('processTimedView gives what process gives, as a view, and times the stages', () => {
    const x = concat([sine(440, 44100, 0.5, 0.3), whiteNoise(4410, 0.02)]);
    const a = createPreprocessor({ inputRate: 44100, outputRate: 16000 });
    const b = createPreprocessor({ inputRate: 44100, outputRate: 16000 });
    for (let at = 0; at < x.length; at += 4410) {
      const block = x.subarray(at, at + 4410);
      expect(b.processTimedView(block)).toEqual(a.process(block));
    }
    expect(Object.keys(b.timings())).toEqual(['dc', 'resample', 'gain']);
    expect(b.timings().resample).toBeGreaterThan(0);
  });

  it('no clicks at frame borders: a sine in 160-sample frames matches one block', () => {
    const x = sine(700, 8000, 1, 0.3);
    const opts: PreprocessorOptions = { inputRate: 8000, outputRate: 16000, denoise: false };
    const once = runOnce(createPreprocessor(opts), x);
    const framed = runBlocks(createPreprocessor(opts), x, [160]);
    expect(maxAbsDiff(framed, once)).toBeLessThan(1e-6);
    // And the output itself is smooth: no sample-to-sample jump beyond what a 700 Hz sine at -3 dBFS makes.
    let jump = 0;
    for (let i = 16000 / 2; i < framed.length - 100; i++) jump = Math.max(jump, Math.abs(framed[i]! - framed[i - 1]!));
    expect(jump).toBeLessThan(0.708 * 2 * Math.sin((Math.PI * 700) / 16000) * 1.01);
  });

  it('skips a wanted denoiser that is not loaded, with one warning per process', () => {
    const onWarning = vi.fn();
    expect(createPreprocessor({ inputRate: 8000, outputRate: 16000, onWarning }).stages).toEqual(['dc', 'resample', 'gain']);
    expect(createPreprocessor({ inputRate: 8000, outputRate: 16000, denoise: true, onWarning }).stages).toEqual(['dc', 'resample', 'gain']);
    expect(onWarning).toHaveBeenCalledTimes(1);
    expect(onWarning.mock.calls[0]?.[0]).toMatch(/noise suppression skipped/);
  });

  it('rejects rates outside 1000..384000 Hz and non-integer rates with a RangeError', () => {
    for (const rate of [999, 384001, 0, -8000, 16000.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createPreprocessor({ inputRate: rate, outputRate: 16000 })).toThrow(RangeError);
      expect(() => createPreprocessor({ inputRate: 16000, outputRate: rate })).toThrow(/outputRate must be an integer sample rate between 1000 and 384000 Hz/);
    }
    expect(() => preprocessFile(new Float32Array(10), 500, { outputRate: 16000 })).toThrow(/inputRate/);
    expect(createPreprocessor({ inputRate: 1000, outputRate: 384000 }).stages).toContain('resample');
  });

  it('bad input: empty blocks, NaN/Infinity (counted), 4 kHz and 192 kHz sources, 1-sample blocks', () => {
    const p = createPreprocessor({ inputRate: 16000, outputRate: 16000 });
    expect(p.process(new Float32Array(0)).length).toBe(0);
    expect(p.flush().length).toBe(0);
    const bad = sine(300, 16000, 0.1, 0.3);
    bad[5] = Number.NaN;
    bad[6] = Number.POSITIVE_INFINITY;
    bad[7] = Number.NEGATIVE_INFINITY;
    const y = runOnce(p, bad);
    expect(p.nonFiniteSamples).toBe(3);
    expect(y.length).toBe(bad.length);
    expect(y.every(Number.isFinite)).toBe(true);
    expect(bad[5]).toBeNaN(); // the caller's block is left alone

    for (const rate of [4000, 192000]) {
      const x = sine(1000, rate, 0.25, 0.3);
      if (rate > 8000) for (let i = 0; i < x.length; i++) x[i]! += 0.1 * Math.sin((2 * Math.PI * 6000 * i) / rate);
      const r = preprocessFile(x, rate, { outputRate: 16000, denoiser });
      expect(r.samples.length).toBe(Math.round((x.length * 16000) / rate));
      expect(r.samples.every(Number.isFinite)).toBe(true);
      expect(peak(r.samples)).toBeLessThanOrEqual(1);
      expect(r.quality).toBe(rate === 4000 ? 'telephony' : 'wideband');
    }

    const x = sine(500, 8000, 0.05, 0.3);
    const opts: PreprocessorOptions = { inputRate: 8000, outputRate: 16000, denoise: false };
    expect(maxAbsDiff(runBlocks(createPreprocessor(opts), x, [1]), runOnce(createPreprocessor(opts), x))).toBeLessThan(1e-6);
    expect(preprocessFile(new Float32Array(0), 8000, { outputRate: 16000, denoiser }).samples.length).toBe(0);
  });

  it('preprocessFile detects an upsampled call as telephony, reports stages and per-stage CPU time', () => {
    const call = concat([sine(400, 8000, 0.5, 0.2), sine(2500, 8000, 0.5, 0.1)]);
    for (let i = 0; i < call.length; i++) call[i]! *= 0.5 + 0.5 * Math.sin(i / 300);
    const file = resample(call, 8000, 44100);
    const r = preprocessFile(file, 44100, { outputRate: 16000, denoiser });
    expect(r.quality).toBe('telephony');
    expect(r.sampleRate).toBe(16000);
    expect(r.stages).toEqual(['dc', 'resample', 'denoise', 'gain']);
    expect(Object.keys(r.timings)).toEqual(r.stages);
    for (const s of Object.values(r.timings)) expect(s).toBeGreaterThan(0);
    expect(r.samples.length).toBe(Math.round((file.length * 16000) / 44100));
    const wide = preprocessFile(whiteNoise(44100, 0.2), 44100, { outputRate: 16000, denoiser });
    expect(wide.quality).toBe('wideband');
    expect(wide.stages).toEqual(['dc', 'resample', 'gain']);
  });

  it("denoise 'auto' on telephone audio passes a clean line through and denoises a noisy one; true always denoises", () => {
    const speech = concat([new Float32Array(4000), sine(400, 8000, 1, 0.2), new Float32Array(4000), sine(1200, 8000, 1, 0.1)]);
    const hiss = whiteNoise(speech.length, Math.sqrt(3) * 10 ** (-45 / 20), 3);
    const noisy = Float32Array.from(speech, (v, i) => v + hiss[i]!);
    const run = (x: Float32Array, denoise: boolean | 'auto'): Float32Array => {
      const p = createPreprocessor({ inputRate: 8000, outputRate: 16000, denoiser, denoise, gain: false });
      expect(p.stages).toEqual(denoise === false ? ['dc', 'resample'] : ['dc', 'resample', 'denoise']);
      const y = runOnce(p, x);
      p.dispose();
      return y;
    };
    expect(maxAbsDiff(run(speech, 'auto'), run(speech, false))).toBe(0);
    expect(maxAbsDiff(run(speech, true), run(speech, false))).toBeGreaterThan(0.01);
    expect(maxAbsDiff(run(noisy, 'auto'), run(noisy, false))).toBeGreaterThan(0.01);
  });

  it('detectView: each block after DC removal and resampling, before denoise and gain', () => {
    const x = concat([sine(400, 8000, 0.5, 0.2), whiteNoise(4000, 0.05, 5)]);
    for (const outputRate of [8000, 16000]) {
      const full = createPreprocessor({ inputRate: 8000, outputRate, dc: true, denoiser, denoise: true, gain: true });
      const bare = createPreprocessor({ inputRate: 8000, outputRate, dc: true, denoise: false, gain: false });
      const seen: number[] = [];
      const want: number[] = [];
      let differs = false;
      for (let o = 0; o < x.length; o += 160) {
        const block = x.subarray(o, o + 160);
        const out = full.processView(block);
        seen.push(...full.detectView);
        const plain = bare.processView(block);
        want.push(...plain);
        if (out.length !== plain.length || out.some((v, i) => v !== plain[i])) differs = true;
      }
      expect(seen, `${outputRate} Hz`).toEqual(want);
      expect(differs, `${outputRate} Hz: denoise and gain changed the output`).toBe(true);
      full.dispose();
    }
    // No stage at all: the block itself.
    const none = createPreprocessor({ inputRate: 8000, outputRate: 8000, dc: false, denoise: false, gain: false });
    const b = sine(300, 8000, 0.02, 0.1);
    expect(none.processView(b)).toBe(b);
    expect(none.detectView).toBe(b);
  });

  it('reset starts a new stream; dispose frees the denoiser', () => {
    const p = createPreprocessor({ inputRate: 8000, outputRate: 16000, denoiser });
    const x = sine(440, 8000, 0.3, 0.2);
    const a = runOnce(p, x);
    p.process(sine(900, 8000, 0.1, 0.5));
    p.reset();
    expect(maxAbsDiff(runOnce(p, x), a)).toBe(0);
    p.dispose();
    expect(() => p.process(x)).toThrow(/dispose/);
  });
});
