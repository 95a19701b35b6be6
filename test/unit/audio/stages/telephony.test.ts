import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resample } from '../../../../src/audio/resample.js';
import { detectAudioQuality, detectAudioQualitySteps, highBandRatioDb } from '../../../../src/audio/stages/telephony.js';
import { readWavFloat } from '../../../../src/audio/wav.js';
import { SOUNDS, readSpeech } from '../../../helpers/audio.js';
import { floatWav, logSweep, whiteNoise } from './signals.js';

const SPEECH = existsSync(SOUNDS);
if (!SPEECH) console.warn(`${SOUNDS} not found: the upsampled-call tests are skipped (Debian asterisk-core-sounds-en-wav)`);
let SOX = true;
try {
  execFileSync('sox', ['--version'], { stdio: 'ignore' });
} catch {
  SOX = false;
}
const tmp = mkdtempSync(join(tmpdir(), 'theo-telephony-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const prompt = (): Float32Array => Float32Array.from(readSpeech('queue-thankyou'), (v) => v / 32768);

describe('telephony detection', () => {
  it('blocks in any sizes give the ratio of the joined clip, and the stepped form one step per frame', () => {
    const x = whiteNoise(48000 * 3, 0.1);
    const whole = highBandRatioDb(x, 48000);
    expect(whole).toBeDefined();
    const blocks: Float32Array[] = [];
    for (let at = 0, k = 0; at < x.length; k++) {
      const n = [1, 777, 4096, 12000][k % 4]!;
      blocks.push(x.subarray(at, at + n));
      at += n;
    }
    expect(highBandRatioDb(blocks, 48000)).toBe(whole);
    const steps = detectAudioQualitySteps(48000, blocks);
    let n = 0;
    let r = steps.next();
    for (; !r.done; r = steps.next()) n++;
    expect(n).toBe(Math.floor(x.length / 2048)); // 2048-sample frames at 48 kHz, every one used
    expect(r.value).toBe(detectAudioQuality(48000, x));
  });

  it('8 kHz and lower sources are telephony', () => {
    expect(detectAudioQuality(8000)).toBe('telephony');
    expect(detectAudioQuality(4000)).toBe('telephony');
    expect(detectAudioQuality(16000)).toBe('wideband');
    expect(detectAudioQuality(44100)).toBe('wideband');
  });

  it.skipIf(!SPEECH)('an 8 kHz call upsampled into 16 kHz and 44.1 kHz files is telephony', () => {
    for (const rate of [16000, 44100]) {
      const up = resample(prompt(), 8000, rate);
      console.log(`upsampled call at ${rate} Hz: high band ${highBandRatioDb(up, rate)?.toFixed(1)} dB`);
      expect(detectAudioQuality(rate, up)).toBe('telephony');
    }
  });

  it.skipIf(!SPEECH || !SOX)('an 8 kHz call upsampled to 16 kHz by sox (16-bit file) is telephony', () => {
    const inPath = join(tmp, 'in.wav');
    const outPath = join(tmp, 'out.wav');
    writeFileSync(inPath, floatWav(prompt(), 8000));
    execFileSync('sox', [inPath, '-b', '16', outPath, 'rate', '16000']);
    const up = readWavFloat(readFileSync(outPath)).samples;
    console.log(`sox-upsampled call, 16-bit: high band ${highBandRatioDb(up, 16000)?.toFixed(1)} dB`);
    expect(detectAudioQuality(16000, up)).toBe('telephony');
  });

  it('wideband signals are wideband', () => {
    const noise = whiteNoise(32000, 0.3);
    expect(highBandRatioDb(noise, 16000)).toBeGreaterThan(-3);
    expect(detectAudioQuality(16000, noise)).toBe('wideband');
    // Speech-like: mostly low, a little (-30 dB) above 4 kHz.
    const x = logSweep(100, 3500, 44100, 2, 0.5);
    const hiss = whiteNoise(x.length, 0.02, 5);
    for (let i = 0; i < x.length; i++) x[i]! += hiss[i]!;
    expect(detectAudioQuality(44100, x)).toBe('wideband');
  });

  it('silence or a too-short clip at a wideband rate stays wideband', () => {
    expect(detectAudioQuality(16000, new Float32Array(16000))).toBe('wideband');
    expect(detectAudioQuality(16000, new Float32Array(10))).toBe('wideband');
    expect(highBandRatioDb(new Float32Array(16000), 16000)).toBeUndefined();
  });
});
