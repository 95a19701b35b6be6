import { describe, expect, it } from 'vitest';
import { PieceCutter, splitAtSilence, type AudioPiece } from '../../../src/audio/chunk.js';
import { float32ToInt16 } from '../../../src/audio/resample.js';

describe('splitAtSilence', () => {
  it('keeps short audio whole, and an empty clip is one empty chunk', () => {
    expect(splitAtSilence(new Float32Array(16000 * 10), 16000)).toEqual([{ start: 0, end: 160000 }]);
    expect(splitAtSilence(new Float32Array(0), 16000)).toEqual([{ start: 0, end: 0 }]);
  });

  it('cuts long audio at the quietest window near each limit; the chunks tile the input', () => {
    const rate = 1000;
    const x = new Float32Array(rate * 70).fill(0.5);
    x.fill(0, 27_000, 27_020); // a pause inside the last 5 s of the first 30 s
    x.fill(0, 55_500, 55_540);
    const chunks = splitAtSilence(x, rate, 30, 5);
    expect(chunks.length).toBe(3);
    expect(chunks[0]!.start).toBe(0);
    expect(chunks[0]!.end).toBe(27_010);
    expect(chunks[1]!.end).toBeGreaterThanOrEqual(55_500); // inside the pause
    expect(chunks[1]!.end).toBeLessThanOrEqual(55_540);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.start).toBe(chunks[i - 1]!.end);
    expect(chunks.at(-1)!.end).toBe(x.length);
    for (const c of chunks) expect(c.end - c.start).toBeLessThanOrEqual(30 * rate);
  });
});

describe('PieceCutter', () => {
  /** Speech-like noise with a few pauses, at 1 kHz to keep the numbers small. */
  function signal(seconds: number): Float32Array {
    const rate = 1000;
    const x = new Float32Array(rate * seconds);
    let seed = 7;
    for (let i = 0; i < x.length; i++) x[i] = (((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) / 65536 - 0.5) * 0.8;
    for (const at of [27_000, 55_500, 81_000, 118_000]) x.fill(0, at, at + 40);
    return x;
  }

  function cutAll(x: Float32Array, blocks: number[]): AudioPiece[] {
    const c = new PieceCutter(1000, 30, 5);
    const pieces: AudioPiece[] = [];
    let at = 0;
    for (let i = 0; at < x.length; i++) {
      const n = blocks[i % blocks.length]!;
      pieces.push(...c.push(x.subarray(at, at + n)));
      at += n;
    }
    const last = c.end();
    if (last) pieces.push(last);
    return pieces;
  }

  it('makes the cuts splitAtSilence makes, whatever the block sizes, and the pieces tile the stream', () => {
    const x = signal(130);
    const expected = splitAtSilence(x, 1000, 30, 5);
    const pcm = float32ToInt16(x);
    for (const blocks of [[x.length], [1], [160], [7, 3001, 45]]) {
      const pieces = cutAll(x, blocks);
      expect(pieces.map((p) => ({ start: p.offset, end: p.offset + p.samples.length }))).toEqual(expected);
      for (const p of pieces) expect(p.samples).toEqual(pcm.subarray(p.offset, p.offset + p.samples.length));
    }
  });

  it('keeps short audio whole and gives nothing for an empty stream', () => {
    const c = new PieceCutter(16000);
    expect(c.push(new Float32Array(16000 * 10).fill(0.25))).toEqual([]);
    const last = c.end()!;
    expect(last.offset).toBe(0);
    expect(last.samples.length).toBe(160000);
    expect(last.samples[5]).toBe(8192);
    expect(new PieceCutter(16000).end()).toBeUndefined();
  });
});
