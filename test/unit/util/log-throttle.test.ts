// LogThrottle: the first occurrence of a key is logged at once, later ones at most once per interval with
// the count of those left out; keys are independent.
import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../../../src/util/log-throttle.js';

describe('LogThrottle', () => {
  it('logs a key at once, then once per interval with what it left out; keys apart', () => {
    let t = 0;
    const lines: Array<[Record<string, unknown>, string]> = [];
    const th = new LogThrottle((f, m) => lines.push([f, m]), 1000, () => t);
    th.note('a', 'A happened', { n: 1 });
    for (let i = 0; i < 500; i++) th.note('a', 'A happened', { n: 2 });
    th.note('b', 'B happened', { n: 3 });
    expect(lines).toEqual([
      [{ n: 1, key: 'a' }, 'A happened'],
      [{ n: 3, key: 'b' }, 'B happened'],
    ]);
    t = 999;
    th.note('a', 'A happened', { n: 4 });
    expect(lines).toHaveLength(2);
    t = 1000;
    th.note('a', 'A happened', { n: 5 });
    expect(lines[2]).toEqual([{ n: 5, key: 'a', suppressed: 501 }, 'A happened']);
    t = 5000;
    th.note('a', 'A happened', { n: 6 });
    expect(lines[3]).toEqual([{ n: 6, key: 'a' }, 'A happened']);
  });
});
