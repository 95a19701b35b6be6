import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../../src/util/min-heap.js';
import { Prng } from '../../../src/util/prng.js';

describe('MinHeap', () => {
  it('pops in key order, stable against a sort of random keys', () => {
    const prng = new Prng(7);
    const heap = new MinHeap<number>();
    const keys: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const k = prng.int(500);
      keys.push(k);
      heap.push(k, k);
    }
    expect(heap.size).toBe(1000);
    expect(heap.peekKey()).toBe(Math.min(...keys));
    const out: number[] = [];
    while (heap.size > 0) out.push(heap.pop()!);
    expect(out).toEqual([...keys].sort((a, b) => a - b));
    expect(heap.pop()).toBeUndefined();
    expect(heap.peekKey()).toBe(Infinity);
  });
});

describe('Prng', () => {
  it('is reproducible from its seed and uniform enough', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 10000 }, () => a.next());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.next()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
