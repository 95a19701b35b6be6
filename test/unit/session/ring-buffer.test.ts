import { afterEach, describe, expect, it, vi } from 'vitest';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import { thrown } from './fakes.js';
import { DEFAULT_FORCE_COMMIT_RATIO, RingBuffer, RingRangeError, isRingRangeError, ringCapacity } from '../../../src/session/ring-buffer.js';
import { Prng } from '../../../src/util/prng.js';

/** Samples whose value tells their offset: offset mod 32749 (a prime, so wraps never line up with capacities). */
function ramp(from: number, n: number): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = (from + i) % 32749;
  return out;
}

function expectRamp(a: ArrayLike<number>, from: number): void {
  for (let i = 0; i < a.length; i++) if (a[i] !== (from + i) % 32749) expect.fail(`sample ${i} (offset ${from + i}) is ${a[i]}, wanted ${(from + i) % 32749}`);
}

function readAll(rb: RingBuffer, from: number, to: number): Int16Array {
  const out = new Int16Array(to - from);
  expect(rb.read(from, to, out)).toBe(out);
  return out;
}

describe('ring buffer: construction', () => {
  it('holds 60 s at a rate by default (ringCapacity) as Int16 with a 90% force-commit mark', () => {
    expect(ringCapacity(8000)).toBe(480_000);
    expect(ringCapacity(16000, 30)).toBe(480_000);
    const rb = new RingBuffer({ capacity: ringCapacity(8000) });
    expect(rb.capacity).toBe(480_000);
    expect(rb.sampleType).toBe('int16');
    expect(DEFAULT_FORCE_COMMIT_RATIO).toBe(0.9);
    expect(rb.forceCommitThreshold).toBe(432_000);
    expect([rb.writeOffset, rb.committedOffset, rb.oldestOffset, rb.uncommitted, rb.free, rb.fill, rb.needsForceCommit(), rb.rejected]).toEqual([0, 0, 0, 0, 480_000, 0, false, 0]);
  });

  it('rejects a bad capacity, ratio, start offset or sample type', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN, Infinity]) expect(isTheoErrorCode(thrown(() => new RingBuffer({ capacity })), 'invalid_argument')).toBe(true);
    for (const forceCommitRatio of [0, -0.1, 1.01, Number.NaN]) expect(() => new RingBuffer({ capacity: 10, forceCommitRatio })).toThrow(/forceCommitRatio/);
    for (const startOffset of [-1, 0.5, 2 ** 53]) expect(() => new RingBuffer({ capacity: 10, startOffset })).toThrow(/startOffset/);
    expect(() => new RingBuffer({ capacity: 10, sampleType: Float64Array as never })).toThrow(/sampleType/);
    expect(() => ringCapacity(0)).toThrow(/positive/);
  });
});

describe('ring buffer: write, read, commit', () => {
  it('writes and reads back by absolute offset', () => {
    const rb = new RingBuffer({ capacity: 10 });
    expect(rb.write(ramp(0, 4))).toBe(4);
    expect(rb.write(ramp(4, 3))).toBe(3);
    expect([rb.writeOffset, rb.uncommitted, rb.free]).toEqual([7, 7, 3]);
    expectRamp(readAll(rb, 0, 7), 0);
    expectRamp(readAll(rb, 2, 5), 2);
    expect(readAll(rb, 3, 3)).toHaveLength(0);
  });

  it('reads into a caller buffer at an offset, and refuses a destination that is too small', () => {
    const rb = new RingBuffer({ capacity: 10 });
    rb.write(ramp(0, 6));
    const into = new Int16Array(8).fill(-1);
    expect(rb.read(1, 4, into, 2)).toBe(into);
    expect([...into]).toEqual([-1, -1, 1, 2, 3, -1, -1, -1]);
    expect(() => rb.read(0, 6, into, 3)).toThrow(/do not fit a destination of 8 at offset 3/);
    expect(() => rb.read(0, 2, into, -1)).toThrow(/do not fit/);
    expect(() => rb.read(0, 2, into, 0.5)).toThrow(/do not fit/);
  });

  it('never overwrites uncommitted audio: a write takes what fits and reports the rest', () => {
    const rb = new RingBuffer({ capacity: 8 });
    expect(rb.write(ramp(0, 6))).toBe(6);
    expect(rb.write(ramp(6, 5))).toBe(2); // only 2 fit before the fence
    expect([rb.writeOffset, rb.free, rb.fill, rb.rejected]).toEqual([8, 0, 1, 3]);
    expect(rb.write(ramp(8, 4))).toBe(0);
    expect(rb.rejected).toBe(7);
    expectRamp(readAll(rb, 0, 8), 0); // intact
    rb.commit(3);
    expect(rb.free).toBe(3);
    // The accepted samples continue at offset 8; the caller decides what the dropped ones mean.
    expect(rb.write(ramp(8, 10))).toBe(3);
    expectRamp(readAll(rb, 3, 11), 3);
    expect(rb.oldestOffset).toBe(3);
  });

  it('keeps committed audio readable until a write needs its room', () => {
    const rb = new RingBuffer({ capacity: 8 });
    rb.write(ramp(0, 8));
    rb.commit(8);
    expect(rb.oldestOffset).toBe(0);
    expectRamp(readAll(rb, 0, 8), 0);
    rb.write(ramp(8, 3));
    expect(rb.oldestOffset).toBe(3);
    expectRamp(readAll(rb, 3, 11), 3);
  });

  it('rejects reads of overwritten or unwritten ranges with a clear error, changing nothing', () => {
    const rb = new RingBuffer({ capacity: 8 });
    rb.write(ramp(0, 8));
    rb.commit(6);
    rb.write(ramp(8, 5));
    expect(rb.oldestOffset).toBe(5);
    const e = thrown(() => rb.read(4, 7, new Int16Array(3)));
    expect(isRingRangeError(e)).toBe(true);
    expect(isTheoErrorCode(e, 'invalid_argument')).toBe(true);
    expect((e as RingRangeError).message).toBe('ring read [4, 7): samples before 5 were overwritten (held: [5, 13))');
    expect([(e as RingRangeError).from, (e as RingRangeError).to, (e as RingRangeError).oldestOffset, (e as RingRangeError).writeOffset]).toEqual([4, 7, 5, 13]);
    expect(() => rb.read(10, 14, new Int16Array(4))).toThrow('samples from 13 on are not written yet');
    expect(() => rb.read(7, 6, new Int16Array(4))).toThrow(/not a range/);
    expect(() => rb.read(-1, 2, new Int16Array(4))).toThrow(RingRangeError);
    expect(() => rb.read(5.5, 6, new Int16Array(4))).toThrow(RingRangeError);
    expect(() => rb.views(0, 6)).toThrow(RingRangeError);
    expect([rb.writeOffset, rb.committedOffset, rb.oldestOffset]).toEqual([13, 6, 5]);
    expectRamp(readAll(rb, 5, 13), 5);
  });

  it('the fence moves forward only, up to the newest sample', () => {
    const rb = new RingBuffer({ capacity: 8 });
    rb.write(ramp(0, 5));
    rb.commit(2);
    rb.commit(2); // where it already is: nothing happens
    expect(rb.committedOffset).toBe(2);
    expect(() => rb.commit(1)).toThrow(/must be an integer in \[2, 5\]/);
    expect(() => rb.commit(6)).toThrow(/must be an integer in \[2, 5\]/);
    expect(() => rb.commit(3.5)).toThrow(/integer/);
    expect(() => rb.commit(Number.NaN)).toThrow(/integer/);
    expect(rb.committedOffset).toBe(2);
    rb.commit(5);
    expect(rb.uncommitted).toBe(0);
  });

  it('raises needsForceCommit at the threshold, and commitAll releases everything', () => {
    const rb = new RingBuffer({ capacity: 100 });
    rb.write(ramp(0, 89));
    expect(rb.needsForceCommit()).toBe(false);
    expect(rb.needsForceCommit(1)).toBe(true); // the next frame would reach it
    rb.write(ramp(89, 1));
    expect(rb.needsForceCommit()).toBe(true);
    expect(rb.fill).toBeCloseTo(0.9, 12);
    expect(rb.commitAll()).toBe(90);
    expect(rb.needsForceCommit(89)).toBe(false);
    expect([rb.needsForceCommit(), rb.uncommitted, rb.committedOffset, rb.commitAll()]).toEqual([false, 0, 90, 0]);
  });

  it('computes the threshold without float drift: 0.7 of 10 is 7 samples, any ratio of a small ring at least 1', () => {
    expect(new RingBuffer({ capacity: 10, forceCommitRatio: 0.7 }).forceCommitThreshold).toBe(7);
    expect(new RingBuffer({ capacity: 7, forceCommitRatio: 0.9 }).forceCommitThreshold).toBe(7); // 6.3 -> 7
    expect(new RingBuffer({ capacity: 10, forceCommitRatio: 1 }).forceCommitThreshold).toBe(10);
    expect(new RingBuffer({ capacity: 10, forceCommitRatio: 0.01 }).forceCommitThreshold).toBe(1);
    for (let cap = 1; cap <= 2000; cap++) {
      for (const ratio of [0.1, 0.3, 0.7, 0.9]) {
        const t = new RingBuffer({ capacity: cap, forceCommitRatio: ratio }).forceCommitThreshold;
        // The smallest integer count whose share of the capacity reaches the ratio (exact in tenths).
        expect(t).toBe(Math.max(1, Math.ceil((cap * Math.round(ratio * 10)) / 10 - 1e-9)));
      }
    }
  });
});

describe('ring buffer: wrap-around (seeded property loops)', () => {
  const capacities = [1, 2, 3, 5, 7, 8, 16, 17, 64, 160, 161, 1000, 4096];
  for (const capacity of capacities) {
    it(`capacity ${capacity}: random writes, commits and reads match a plain array model`, () => {
      const rng = new Prng(capacity * 7919 + 1);
      const start = rng.int(3) === 0 ? 0 : rng.int(1_000_000);
      const rb = new RingBuffer({ capacity, startOffset: start, forceCommitRatio: 0.75 });
      const model: number[] = []; // accepted samples, index = offset - start
      let produced = start; // the producer's own offsets (rejected samples are gone)
      let rejected = 0;
      for (let step = 0; step < 600; step++) {
        const op = rng.int(10);
        if (op < 5) {
          const n = rng.int(Math.ceil(capacity * 1.5) + 2);
          const chunk = ramp(produced, n);
          const free = capacity - (start + model.length - rb.committedOffset);
          const took = rb.write(chunk);
          expect(took).toBe(Math.min(n, free));
          for (let i = 0; i < took; i++) model.push(chunk[i]!);
          rejected += n - took;
          produced += n;
        } else if (op < 7) {
          const lo = rb.committedOffset;
          const hi = rb.writeOffset;
          rb.commit(lo + rng.int(hi - lo + 1));
        } else {
          const held = rb.writeOffset - rb.oldestOffset;
          const from = rb.oldestOffset + rng.int(held + 1);
          const to = from + rng.int(rb.writeOffset - from + 1);
          const out = readAll(rb, from, to);
          expect(Array.from(out)).toEqual(model.slice(from - start, to - start));
          const v = rb.views(from, to);
          expect(v.first.length + v.second.length).toBe(to - from);
          expect([...v.first, ...v.second]).toEqual(model.slice(from - start, to - start));
        }
        // Invariants after every step.
        expect(rb.writeOffset).toBe(start + model.length);
        expect(rb.uncommitted).toBeLessThanOrEqual(capacity);
        expect(rb.oldestOffset).toBe(Math.max(start, rb.writeOffset - capacity));
        expect(rb.oldestOffset).toBeLessThanOrEqual(rb.committedOffset);
        expect(rb.free + rb.uncommitted).toBe(capacity);
        expect(rb.needsForceCommit()).toBe(rb.uncommitted >= rb.forceCommitThreshold);
        expect(rb.rejected).toBe(rejected);
      }
      // Everything still held, committed or not, is the model's tail.
      expect(Array.from(readAll(rb, rb.oldestOffset, rb.writeOffset))).toEqual(model.slice(rb.oldestOffset - start));
      if (rb.oldestOffset > start) expect(() => rb.read(rb.oldestOffset - 1, rb.writeOffset, new Int16Array(capacity + 1))).toThrow(RingRangeError);
    });
  }

  it('a producer that commits as it goes streams far past the capacity in frames of any size', () => {
    const rng = new Prng(42);
    const rb = new RingBuffer({ capacity: 1000 });
    let offset = 0;
    while (offset < 200_000) {
      const n = 1 + rng.int(400);
      expect(rb.write(ramp(offset, n))).toBe(n);
      offset += n;
      if (rb.needsForceCommit(n)) rb.commit(rb.writeOffset - rng.int(50));
      if (rb.uncommitted > 600) rb.commit(rb.writeOffset - 300);
    }
    expect(rb.rejected).toBe(0);
    expectRamp(readAll(rb, rb.oldestOffset, rb.writeOffset), rb.oldestOffset);
  });

  it('reads a range that wraps as two views (first to the end of memory, second from its start)', () => {
    const rb = new RingBuffer({ capacity: 10 });
    rb.write(ramp(0, 10));
    rb.commit(7);
    rb.write(ramp(10, 5)); // physical slots 0..4 now hold offsets 10..14
    const { first, second } = rb.views(8, 13);
    expect([...first]).toEqual([8, 9]);
    expect([...second]).toEqual([10, 11, 12]);
    const flat = rb.views(10, 13);
    expect([...flat.first]).toEqual([10, 11, 12]);
    expect(flat.second).toHaveLength(0);
    expectRamp(readAll(rb, 5, 15), 5);
  });

  it('views alias the ring: a later write over committed audio shows through', () => {
    const rb = new RingBuffer({ capacity: 4 });
    rb.write(ramp(0, 4));
    const { first, second } = rb.views(0, 4);
    expect(first.buffer).toBe(second.buffer);
    expect([...first]).toEqual([0, 1, 2, 3]);
    rb.commit(2);
    rb.write(Int16Array.of(100, 101));
    expect([...first]).toEqual([100, 101, 2, 3]);
  });

  it('read without a destination returns a new array that outlives the ring', () => {
    const rb = new RingBuffer({ capacity: 4 });
    rb.write(ramp(0, 4));
    const c = rb.read(1, 4);
    expect(c).toBeInstanceOf(Int16Array);
    rb.commit(4);
    rb.write(Int16Array.of(9, 9, 9, 9));
    expect([...c]).toEqual([1, 2, 3]);
    expect(() => rb.read(0, 2)).toThrow(RingRangeError);
    // A range far past the newest sample is refused before anything is allocated for it.
    expect(() => rb.read(0, 2 ** 40)).toThrow(RingRangeError);
  });

  it('stays exact at offsets of years of audio (double offsets, no 32-bit wrap)', () => {
    const start = 8000 * 86_400 * 365 * 10 + 12_345; // ten years at 8 kHz
    const rb = new RingBuffer({ capacity: 160 * 3 + 7, startOffset: start });
    for (let k = 0; k < 50; k++) {
      const off = rb.writeOffset;
      expect(rb.write(ramp(off, 160))).toBe(160);
      rb.commit(rb.writeOffset - 100);
    }
    expect(rb.writeOffset).toBe(start + 50 * 160);
    expect(rb.oldestOffset).toBe(rb.writeOffset - rb.capacity);
    expectRamp(readAll(rb, rb.oldestOffset, rb.writeOffset), rb.oldestOffset);
    expect(() => rb.read(start, start + 1, new Int16Array(1))).toThrow(/were overwritten/);
  });

  it('nothing before the start offset is held', () => {
    const rb = new RingBuffer({ capacity: 10, startOffset: 1000 });
    rb.write(ramp(1000, 3));
    expect(rb.oldestOffset).toBe(1000);
    expect(() => rb.read(999, 1002, new Int16Array(3))).toThrow(/before 1000/);
    expect(() => rb.commit(999)).toThrow(/\[1000, 1003\]/);
  });
});

describe('ring buffer: float audio', () => {
  it('writeFloat32 into an Int16 ring scales by 32768, rounds, clamps, zeroes NaN; readFloat32 inverts it', () => {
    const rb = new RingBuffer({ capacity: 8 });
    expect(rb.writeFloat32(Float32Array.of(0, 0.5, -0.5, 1, -1, 2, Number.NaN, 1 / 32768))).toBe(8);
    expect([...readAll(rb, 0, 8)]).toEqual([0, 16384, -16384, 32767, -32768, 32767, 0, 1]);
    const f = new Float32Array(8);
    expect(rb.readFloat32(0, 8, f)).toBe(f);
    expect([...f]).toEqual([0, 0.5, -0.5, 32767 / 32768, -1, 32767 / 32768, 0, 1 / 32768]);
  });

  it('writeFloat32 respects the fence and wraps', () => {
    const rb = new RingBuffer({ capacity: 5 });
    expect(rb.writeFloat32(new Float32Array(4).fill(0.25))).toBe(4);
    expect(rb.writeFloat32(new Float32Array(3).fill(0.5))).toBe(1);
    expect(rb.rejected).toBe(2);
    rb.commit(3);
    expect(rb.writeFloat32(new Float32Array(3).fill(-0.5))).toBe(3);
    expect([...readAll(rb, 3, 8)]).toEqual([8192, 16384, -16384, -16384, -16384]);
  });

  it('a Float32 ring keeps float samples as they are', () => {
    const rb = new RingBuffer({ capacity: 6, sampleType: Float32Array });
    expect(rb.sampleType).toBe('float32');
    const x = Float32Array.of(0.1, -0.2, 0.3, 1.5, -2);
    expect(rb.write(x)).toBe(5);
    rb.commit(4);
    expect(rb.writeFloat32(Float32Array.of(0.7, 0.8, 0.9))).toBe(3);
    const out = new Float32Array(6);
    rb.read(2, 8, out);
    expect([...out]).toEqual([...Float32Array.of(0.3, 1.5, -2, 0.7, 0.8, 0.9)]);
    const f = new Float32Array(2);
    rb.readFloat32(6, 8, f);
    expect([...f]).toEqual([...Float32Array.of(0.8, 0.9)]);
    expect(rb.read(3, 5)).toBeInstanceOf(Float32Array);
    expect(() => rb.readFloat32(2, 8, new Float32Array(5))).toThrow(/do not fit/);
  });
});

describe('ring buffer: no allocation on the hot path', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('write, writeFloat32, read, readFloat32 and commit create no typed arrays and no views', () => {
    const rb = new RingBuffer({ capacity: 1000 });
    const frame = ramp(0, 160);
    const fframe = new Float32Array(160).fill(0.1);
    const into = new Int16Array(400);
    const finto = new Float32Array(400);
    rb.write(ramp(0, 500));
    let created = 0;
    const counting = <T extends new (...a: never[]) => object>(ctor: T): T =>
      new Proxy(ctor, {
        construct(target, args: unknown[]): object {
          created++;
          return Reflect.construct(target, args) as object;
        },
      });
    vi.stubGlobal('Int16Array', counting(Int16Array));
    vi.stubGlobal('Float32Array', counting(Float32Array));
    const proto = Object.getPrototypeOf(Int16Array.prototype) as Record<string, unknown>;
    const subarray = vi.spyOn(proto as { subarray: () => unknown }, 'subarray');
    const slice = vi.spyOn(proto as { slice: () => unknown }, 'slice');
    for (let k = 0; k < 200; k++) {
      // Frames of 160 into a ring of 1000 wrap at every phase.
      rb.write(frame);
      rb.writeFloat32(fframe);
      rb.read(rb.writeOffset - 400, rb.writeOffset, into);
      rb.readFloat32(rb.writeOffset - 400, rb.writeOffset, finto);
      rb.commit(rb.writeOffset - 200);
    }
    expect(created).toBe(0);
    expect(subarray).not.toHaveBeenCalled();
    expect(slice).not.toHaveBeenCalled();
    expect(rb.rejected).toBe(0);
  });
});
