import { describe, expect, it } from 'vitest';
import { createGainNormalizer } from '../../../../src/audio/stages/gain.js';
import { SOUNDS, readSpeech } from '../../../helpers/audio.js';
import { existsSync } from 'node:fs';
import { concat, db, maxAbsDiff, peak, randomSizes, runBlocks, runOnce, sine, whiteNoise } from './signals.js';

const RATE = 8000;
const SPEECH = existsSync(SOUNDS);
if (!SPEECH) console.warn(`${SOUNDS} not found: speech-level gain tests use a modulated tone instead`);

/** About `seconds` of speech (the prompt repeated) with its peak at `peakDb` dBFS. */
function speechAt(peakDb: number, seconds: number): Float32Array {
  let x: Float32Array;
  if (SPEECH) {
    const pcm = readSpeech('queue-thankyou');
    x = Float32Array.from(pcm, (v) => v / 32768);
  } else {
    // A syllable-rate modulated tone stands in for speech.
    x = sine(300, RATE, 2);
    for (let i = 0; i < x.length; i++) x[i]! *= Math.abs(Math.sin((Math.PI * 4 * i) / RATE));
  }
  const parts: Float32Array[] = [];
  for (let n = 0; n < seconds * RATE; n += x.length) parts.push(x);
  const y = concat(parts).subarray(0, Math.round(seconds * RATE));
  const k = 10 ** (peakDb / 20) / peak(y);
  return Float32Array.from(y, (v) => v * k);
}

describe('gain normalisation', () => {
  it('brings quiet speech (peak -30 dBFS) to about -3 dBFS and never above', () => {
    const y = runOnce(createGainNormalizer(RATE), speechAt(-30, 10));
    const late = db(peak(y, 5 * RATE, y.length));
    expect(late).toBeLessThanOrEqual(-3 + 1e-4);
    expect(late).toBeGreaterThan(-4.5);
    expect(db(peak(y))).toBeLessThanOrEqual(-3 + 1e-4);
  });

  it('a quiet clip is at the target level from its first word, not ramped up from its own level', () => {
    const lead = new Float32Array(RATE / 2); // digital silence before the speech: the gate stays shut
    const y = runOnce(createGainNormalizer(RATE), concat([lead, speechAt(-30, 3)]));
    expect(peak(y, 0, lead.length)).toBe(0);
    const first = db(peak(y, lead.length, lead.length + RATE));
    expect(first).toBeGreaterThan(-4.5);
    expect(first).toBeLessThanOrEqual(-3 + 1e-4);
  });

  it('a step from -30 dBFS to -6 dBFS does not overshoot (instant attack)', () => {
    const x = concat([sine(440, RATE, 4, 10 ** (-30 / 20)), sine(440, RATE, 2, 0.5)]);
    const y = runOnce(createGainNormalizer(RATE), x);
    expect(db(peak(y))).toBeLessThanOrEqual(-3 + 1e-4);
    // Before the step the quiet tone had been brought up to near -3 dBFS.
    expect(db(peak(y, 3 * RATE, 4 * RATE))).toBeGreaterThan(-4);
  });

  it('holds the gain through silence and line noise after speech (gate), no pumping', () => {
    const speech = speechAt(-20, 4);
    const noise = whiteNoise(4 * RATE, 10 ** (-60 / 20), 3);
    const g = createGainNormalizer(RATE);
    g.process(speech);
    // Once the speech has left the 500 ms window, the gate holds the gain it had reached.
    const settle = Math.round(0.6 * RATE);
    g.process(noise.subarray(0, settle));
    const held = g.currentGain;
    const rest = noise.subarray(settle);
    const b = g.process(rest).slice();
    expect(g.currentGain).toBe(held);
    expect(maxAbsDiff(b, Float32Array.from(rest, (v) => v * held))).toBeLessThan(1e-6);
    // Not pumped up toward -3 dBFS: the noise leaves well below the speech.
    expect(db(peak(b))).toBeLessThan(-35);
  });

  it('keeps all-zero input zero', () => {
    const y = runOnce(createGainNormalizer(RATE), new Float32Array(3 * RATE));
    expect(y.every((v) => v === 0)).toBe(true);
  });

  it('passes clipped full-scale input at its own level and never exceeds +-1', () => {
    const x = new Float32Array(2 * RATE);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin((2 * Math.PI * 200 * i) / RATE) >= 0 ? 1 : -1;
    const y = runOnce(createGainNormalizer(RATE), x);
    expect(maxAbsDiff(y, x)).toBe(0);
    const hot = Float32Array.from(x, (v) => v * 1.5); // float input beyond full scale
    expect(peak(runOnce(createGainNormalizer(RATE), hot))).toBe(1);
  });

  it('never outputs NaN', () => {
    const x = speechAt(-25, 1);
    x[100] = Number.NaN;
    x[2000] = Number.POSITIVE_INFINITY;
    x[3000] = Number.NEGATIVE_INFINITY;
    expect(runOnce(createGainNormalizer(RATE), x).every(Number.isFinite)).toBe(true);
  });

  it('streaming in any block sizes equals one call', () => {
    const x = concat([speechAt(-28, 3), sine(440, RATE, 1, 0.4), new Float32Array(RATE)]);
    const once = runOnce(createGainNormalizer(RATE), x);
    const g = createGainNormalizer(RATE);
    for (const sizes of [[1], [7], [160], [4096], randomSizes(80, 1500)]) expect(maxAbsDiff(runBlocks(g, x, sizes), once)).toBe(0);
  });
});
