import { describe, expect, it } from 'vitest';
import { splitAtSilence } from '../../../src/audio/chunk.js';

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
