// Pure parts of the whisper engine: openai-whisper's window splitting, logit filters and statistics.
import { describe, expect, it } from 'vitest';
import { type DecodeParams, applyFilters, noSpeechProbability } from '../../../src/engines/whisper/decode.js';
import type { WhisperTokenIds } from '../../../src/engines/whisper/model-files.js';
import { compressionRatio, splitWindow } from '../../../src/engines/whisper/segments.js';
import { promptText } from '../../../src/engines/whisper/transcribe.js';

// A toy vocabulary: text 0..9, eot 10, sot 11, en 12, transcribe 13, nospeech 14, notimestamps 15, timestamps 16..
const TB = 16;
const ts = (seconds: number): number => TB + Math.round(seconds / 0.02);
const tokens: WhisperTokenIds = {
  eot: 10,
  sot: 11,
  sotPrev: undefined,
  noSpeech: 14,
  noTimestamps: 15,
  timestampBegin: TB,
  transcribe: 13,
  translate: undefined,
  languages: new Map([['en', 12]]),
};
const params: DecodeParams = {
  tokens,
  initTokens: [11, 12, 13],
  sotIndex: 0,
  temperature: 0,
  sampleLen: 10,
  suppressTokens: [],
  beginSuppressTokens: [],
  collectCrossAttentions: false,
  signal: undefined,
  random: Math.random,
};
const V = TB + 1501;
const flat = (): Float32Array => new Float32Array(V);
const allowed = (row: Float32Array, from: number, to: number): boolean => row.subarray(from, to).every((x) => x > -Infinity);
const banned = (row: Float32Array, from: number, to: number): boolean => row.subarray(from, to).every((x) => x === -Infinity);

describe('splitWindow', () => {
  it('cuts at consecutive timestamps and consumes the window on a single timestamp ending', () => {
    const toks = [ts(0), 1, 2, ts(1), ts(1.5), 3, ts(2.5)];
    expect(splitWindow(toks, TB, 3000)).toEqual({
      slices: [
        { from: 0, to: 4, start: 0, end: 1 },
        { from: 4, to: 7, start: 1.5, end: 2.5 },
      ],
      advance: 3000,
    });
  });

  it('resumes at the last complete segment when the window ends mid-segment', () => {
    const split = splitWindow([ts(0), 1, ts(1), ts(1), 2, 3], TB, 3000);
    expect(split.slices).toEqual([{ from: 0, to: 3, start: 0, end: 1 }]);
    expect(split.advance).toBe(100); // 1.00 s = 50 timestamp steps = 100 mel frames
  });

  it('makes one segment up to the last timestamp when there is no boundary', () => {
    expect(splitWindow([ts(0.4), 1, 2, ts(2)], TB, 500)).toEqual({ slices: [{ from: 0, to: 4, start: 0.4, end: 2 }], advance: 500 });
    expect(splitWindow([1, 2], TB, 500)).toEqual({ slices: [{ from: 0, to: 2, start: 0, end: 5 }], advance: 500 });
    expect(splitWindow([], TB, 500).slices).toEqual([]);
  });
});

describe('applyFilters (openai-whisper timestamp rules)', () => {
  it('starts with a timestamp no later than 1 s and never samples specials', () => {
    const row = flat();
    applyFilters(row, [], params);
    expect(banned(row, 0, TB)).toBe(true);
    expect(allowed(row, ts(0), ts(1) + 1)).toBe(true);
    expect(banned(row, ts(1) + 1, V)).toBe(true);
  });

  it('pairs timestamps, keeps them monotonic, and lets text follow a pair', () => {
    let row = flat();
    row[tokens.eot] = 50;
    applyFilters(row, [ts(0), 1, ts(1)], params); // after a lone closing timestamp: timestamp or eot only
    expect(banned(row, 0, tokens.eot)).toBe(true);
    expect(row[tokens.eot]).toBe(50);
    expect(banned(row, TB, ts(1))).toBe(true);
    row = flat();
    applyFilters(row, [ts(0), 1, ts(1), ts(1)], params); // after a pair: no timestamp
    expect(banned(row, TB, V)).toBe(true);
    expect(allowed(row, 0, 10)).toBe(true);
    expect(banned(row, tokens.eot + 1, TB)).toBe(true);
  });

  it('forces a timestamp when timestamps together outweigh the best text token', () => {
    const row = flat();
    row[3] = 2; // one text token slightly ahead, but 1501 timestamps at 0 carry more mass
    applyFilters(row, [ts(0), 1], params);
    expect(banned(row, 0, TB)).toBe(true);
  });
});

describe('statistics', () => {
  it('computes no-speech probability as a softmax over the raw logits', () => {
    const row = new Float32Array(20);
    expect(noSpeechProbability(row, 14)).toBeCloseTo(1 / 20, 6);
    expect(noSpeechProbability(row, undefined)).toBe(0);
  });

  it('compression ratio is text bytes over zlib bytes, high for repetition', () => {
    expect(compressionRatio('')).toBe(0);
    expect(compressionRatio('the the the the the the the the the the the the the the the the')).toBeGreaterThan(2.4);
    expect(compressionRatio('hello world')).toBeGreaterThan(0);
  });

  it('turns hot words into prompt text', () => {
    expect(promptText(' Acme call ', ['widget', ' sprocket '])).toBe('Acme call widget, sprocket');
    expect(promptText(undefined, [])).toBe('');
  });
});
