import { describe, expect, it } from 'vitest';
import {
  SEQ_MOD,
  SequenceExtender,
  TS_MOD,
  TimestampExtender,
  seqDiff,
  seqNewer,
  tsDiff,
  tsNewer,
} from '../../../../src/mediaplane/rtp/seq.js';

/** mulberry32: small seeded PRNG so property runs are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('constants', () => {
  it('are the 16- and 32-bit moduli', () => {
    expect(SEQ_MOD).toBe(65536);
    expect(TS_MOD).toBe(4294967296);
  });
});

describe('seqDiff / seqNewer', () => {
  it('is plain subtraction away from the wrap', () => {
    expect(seqDiff(10, 3)).toBe(7);
    expect(seqDiff(3, 10)).toBe(-7);
    expect(seqDiff(1000, 1000)).toBe(0);
  });

  it('crosses the wrap 65535 -> 0', () => {
    expect(seqDiff(0, 65535)).toBe(1);
    expect(seqDiff(65535, 0)).toBe(-1);
    expect(seqDiff(5, 65530)).toBe(11);
    expect(seqNewer(0, 65535)).toBe(true);
    expect(seqNewer(65535, 0)).toBe(false);
  });

  it('covers exactly [-32768, 32767]; half the space apart is "older" both ways', () => {
    expect(seqDiff(32767, 0)).toBe(32767);
    expect(seqDiff(32768, 0)).toBe(-32768);
    expect(seqDiff(0, 32768)).toBe(-32768);
    expect(seqNewer(32768, 0)).toBe(false);
    expect(seqNewer(0, 32768)).toBe(false);
    expect(seqNewer(32767, 0)).toBe(true);
  });

  it('is never newer than itself', () => {
    expect(seqNewer(42, 42)).toBe(false);
  });

  it('property: b + seqDiff(a, b) == a (mod 2^16) and the result is in range', () => {
    const rnd = prng(1);
    const bad: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const a = Math.floor(rnd() * SEQ_MOD);
      const b = Math.floor(rnd() * SEQ_MOD);
      const d = seqDiff(a, b);
      const ok = d >= -32768 && d <= 32767 && (((b + d) % SEQ_MOD) + SEQ_MOD) % SEQ_MOD === a && (d === -32768 || seqDiff(b, a) === -d);
      if (!ok) bad.push(`seqDiff(${a}, ${b}) = ${d}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe('tsDiff / tsNewer', () => {
  const MAX = 0xffffffff;

  it('crosses the wrap 2^32-1 -> 0', () => {
    expect(tsDiff(0, MAX)).toBe(1);
    expect(tsDiff(MAX, 0)).toBe(-1);
    expect(tsDiff(159, MAX - 160)).toBe(320);
    expect(tsNewer(0, MAX)).toBe(true);
    expect(tsNewer(MAX, 0)).toBe(false);
  });

  it('covers exactly [-2^31, 2^31-1]', () => {
    expect(tsDiff(0x7fffffff, 0)).toBe(0x7fffffff);
    expect(tsDiff(0x80000000, 0)).toBe(-0x80000000);
    expect(tsNewer(0x80000000, 0)).toBe(false);
    expect(tsNewer(0, 0x80000000)).toBe(false);
  });

  it('is plain subtraction away from the wrap', () => {
    expect(tsDiff(3_000_000_160, 3_000_000_000)).toBe(160);
    expect(tsDiff(3_000_000_000, 3_000_000_160)).toBe(-160);
  });

  it('property: b + tsDiff(a, b) == a (mod 2^32)', () => {
    const rnd = prng(2);
    const bad: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const a = Math.floor(rnd() * TS_MOD);
      const b = Math.floor(rnd() * TS_MOD);
      const d = tsDiff(a, b);
      if (!(d >= -0x80000000 && d <= 0x7fffffff && (b + d + TS_MOD) % TS_MOD === a)) bad.push(`tsDiff(${a}, ${b}) = ${d}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe('SequenceExtender', () => {
  it('starts at the first sequence number and counts up', () => {
    const x = new SequenceExtender();
    expect(x.started).toBe(false);
    expect(x.unwrap(100)).toBe(100);
    expect(x.started).toBe(true);
    expect(x.unwrap(101)).toBe(101);
    expect(x.highest).toBe(101);
    expect(x.cycles).toBe(0);
  });

  it('adds a cycle at 65535 -> 0', () => {
    const x = new SequenceExtender();
    expect(x.unwrap(65534)).toBe(65534);
    expect(x.unwrap(65535)).toBe(65535);
    expect(x.unwrap(0)).toBe(65536);
    expect(x.unwrap(1)).toBe(65537);
    expect(x.cycles).toBe(1);
  });

  it('puts a packet reordered across the wrap in the previous cycle', () => {
    const x = new SequenceExtender();
    x.unwrap(65533);
    expect(x.unwrap(0)).toBe(65536);
    expect(x.unwrap(65535)).toBe(65535); // late, before the wrap
    expect(x.unwrap(65534)).toBe(65534);
    expect(x.highest).toBe(65536);
    expect(x.unwrap(1)).toBe(65537);
    expect(x.cycles).toBe(1);
  });

  it('does not count a wrap twice when late packets straddle it', () => {
    const x = new SequenceExtender();
    x.unwrap(65535);
    x.unwrap(2);
    expect(x.unwrap(65535)).toBe(65535);
    expect(x.unwrap(3)).toBe(65539);
    expect(x.cycles).toBe(1);
  });

  it('a packet older than the first across the wrap goes negative, keeping order', () => {
    const x = new SequenceExtender();
    expect(x.unwrap(0)).toBe(0);
    expect(x.unwrap(65535)).toBe(-1);
    expect(x.highest).toBe(0);
  });

  it('peek does not advance; reset starts over', () => {
    const x = new SequenceExtender();
    expect(x.peek(7)).toBe(7);
    x.unwrap(65535);
    expect(x.peek(0)).toBe(65536);
    expect(x.highest).toBe(65535);
    x.reset();
    expect(x.started).toBe(false);
    expect(x.unwrap(5)).toBe(5);
  });

  it('counts many cycles', () => {
    const x = new SequenceExtender();
    let seq = 60000;
    let ext = x.unwrap(seq);
    const bad: string[] = [];
    for (let i = 0; i < 5 * SEQ_MOD; i++) {
      seq = (seq + 1) & 0xffff;
      const next = x.unwrap(seq);
      if (next !== ext + 1) bad.push(`seq ${seq}: ${next} after ${ext}`);
      ext = next;
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(x.cycles).toBe(5);
    expect(x.highest).toBe(60000 + 5 * SEQ_MOD);
  });

  it('property: reordering within a window gives every packet its true extended number', () => {
    const rnd = prng(3);
    for (let run = 0; run < 50; run++) {
      const start = Math.floor(rnd() * SEQ_MOD);
      const n = 3000;
      const order = Array.from({ length: n }, (_, i) => i);
      // Local shuffles: each packet moves at most ~50 places, far less than half the space.
      for (let i = 0; i < n; i++) {
        const j = Math.min(n - 1, i + Math.floor(rnd() * 50));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const x = new SequenceExtender();
      const first = order[0]!;
      const base = (start + first) & 0xffff;
      const bad: string[] = [];
      for (const i of order) {
        const got = x.unwrap((start + i) & 0xffff);
        if (got !== base + i - first) bad.push(`start ${start} packet ${i}: ${got}, want ${base + i - first}`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
    }
  });
});

describe('TimestampExtender', () => {
  const MAX = 0xffffffff;

  it('adds a cycle at 2^32-1 -> 0', () => {
    const x = new TimestampExtender();
    expect(x.unwrap(MAX - 159)).toBe(MAX - 159);
    expect(x.unwrap(MAX)).toBe(MAX);
    expect(x.unwrap(0)).toBe(TS_MOD);
    expect(x.unwrap(160)).toBe(TS_MOD + 160);
    expect(x.cycles).toBe(1);
  });

  it('puts a timestamp reordered across the wrap in the previous cycle', () => {
    const x = new TimestampExtender();
    x.unwrap(MAX - 319);
    expect(x.unwrap(0x20)).toBe(TS_MOD + 0x20);
    expect(x.unwrap(MAX - 159)).toBe(MAX - 159);
    expect(x.highest).toBe(TS_MOD + 0x20);
    expect(x.unwrap(0x20 + 160)).toBe(TS_MOD + 0x20 + 160);
  });

  it('peek and reset', () => {
    const x = new TimestampExtender();
    expect(x.peek(MAX)).toBe(MAX);
    x.unwrap(MAX);
    expect(x.peek(5)).toBe(TS_MOD + 5);
    expect(x.highest).toBe(MAX);
    x.reset();
    expect(x.started).toBe(false);
    expect(x.unwrap(9)).toBe(9);
  });

  it('property: a monotonic clock unwraps exactly through several wraps', () => {
    const rnd = prng(4);
    const x = new TimestampExtender();
    const start = Math.floor(rnd() * TS_MOD);
    let ext = start;
    expect(x.unwrap(start)).toBe(start);
    // Huge steps (up to 2^30) so the run crosses the wrap several times quickly.
    const bad: string[] = [];
    for (let i = 0; i < 2000; i++) {
      ext += Math.floor(rnd() * 0x40000000);
      const got = x.unwrap(ext % TS_MOD);
      if (got !== ext) bad.push(`${ext % TS_MOD}: ${got}, want ${ext}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(x.cycles).toBe(Math.floor(ext / TS_MOD));
    expect(x.cycles).toBeGreaterThan(2);
  });
});
