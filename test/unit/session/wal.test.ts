import { describe, expect, it } from 'vitest';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import { thrown } from './fakes.js';
import { DEFAULT_WAL_HISTORY, SessionWal, type WalOrderError, type WalRecord, isWalOrderError } from '../../../src/session/wal.js';

const rec = (sessionId: string, segmentId: number, offset: number, timestamp = segmentId * 1000): WalRecord => ({ sessionId, segmentId, offset, timestamp });

describe('WAL: commit and last', () => {
  it('keeps the last record per session', () => {
    const wal = new SessionWal();
    expect(wal.last('a')).toBeUndefined();
    wal.commit(rec('a', 1, 8000));
    wal.commit(rec('b', 1, 1600));
    wal.commit(rec('a', 2, 16000));
    expect(wal.last('a')).toEqual(rec('a', 2, 16000));
    expect(wal.last('b')).toEqual(rec('b', 1, 1600));
    expect(wal.sessions()).toEqual(['a', 'b']);
    expect(wal.size).toBe(2);
  });

  it('stores a frozen copy: the caller mutating its object changes nothing', () => {
    const wal = new SessionWal();
    const mine = { sessionId: 's', segmentId: 3, offset: 100, timestamp: 5 };
    const stored = wal.commit(mine);
    mine.offset = 999_999;
    mine.segmentId = 0;
    expect(stored).not.toBe(mine);
    expect(Object.isFrozen(stored)).toBe(true);
    expect(wal.last('s')).toBe(stored);
    expect(wal.last('s')).toEqual({ sessionId: 's', segmentId: 3, offset: 100, timestamp: 5 });
    expect(() => {
      (stored as { offset: number }).offset = 1;
    }).toThrow(TypeError); // ESM is strict mode: writing a frozen field throws
  });

  it('replaces the record as a whole: a reader holding the old one keeps a consistent old one', () => {
    const wal = new SessionWal();
    wal.commit(rec('s', 1, 100, 10));
    const before = wal.last('s')!;
    wal.commit(rec('s', 2, 200, 20));
    const after = wal.last('s')!;
    expect(before).toEqual(rec('s', 1, 100, 10));
    expect(after).toEqual(rec('s', 2, 200, 20));
    expect(after).not.toBe(before);
  });

  it('a rejected commit leaves the last record and the history as they were', () => {
    const wal = new SessionWal();
    const kept = wal.commit(rec('s', 5, 500));
    const history = wal.history('s');
    for (const bad of [rec('s', 4, 600), rec('s', 6, 400), rec('s', -1, 600), rec('s', 6, Number.NaN), rec('s', 6, 600, Number.NaN), rec('s', 6.5, 600)]) {
      expect(() => wal.commit(bad)).toThrow();
      expect(wal.last('s')).toBe(kept);
      expect(wal.history('s')).toEqual(history);
    }
  });

  it('keeps extra fields of a wider record type', () => {
    interface Rec extends WalRecord {
      readonly text: string;
    }
    const wal = new SessionWal<Rec>();
    wal.commit({ ...rec('s', 1, 10), text: 'hello' });
    expect(wal.last('s')?.text).toBe('hello');
  });
});

describe('WAL: monotonic segment ids and offsets', () => {
  it('rejects a smaller segment id with a typed error', () => {
    const wal = new SessionWal();
    wal.commit(rec('s', 7, 1000));
    const e = thrown(() => wal.commit(rec('s', 6, 2000)));
    expect(isWalOrderError(e)).toBe(true);
    expect(isTheoErrorCode(e, 'invalid_argument')).toBe(true);
    const o = e as WalOrderError;
    expect([o.sessionId, o.field, o.last, o.attempted]).toEqual(['s', 'segmentId', 7, 6]);
    expect(o.message).toBe('WAL commit for session s: segmentId 6 is behind the last committed segmentId 7');
  });

  it('rejects a smaller offset with a typed error', () => {
    const wal = new SessionWal();
    wal.commit(rec('s', 7, 1000));
    const e = thrown(() => wal.commit(rec('s', 8, 999))) as WalOrderError;
    expect(isWalOrderError(e)).toBe(true);
    expect([e.field, e.last, e.attempted]).toEqual(['offset', 1000, 999]);
  });

  it('accepts equal values (a repeat commit) and either field moving on alone', () => {
    const wal = new SessionWal();
    wal.commit(rec('s', 1, 100, 1));
    wal.commit(rec('s', 1, 100, 2));
    wal.commit(rec('s', 1, 150, 3)); // a force commit within the segment
    wal.commit(rec('s', 2, 150, 4)); // an empty segment
    expect(wal.last('s')).toEqual(rec('s', 2, 150, 4));
  });

  it('checks order per session only', () => {
    const wal = new SessionWal();
    wal.commit(rec('a', 10, 10_000));
    expect(() => wal.commit(rec('b', 1, 5))).not.toThrow();
  });

  it('rejects invalid fields with clear messages', () => {
    const wal = new SessionWal();
    expect(() => wal.commit(rec('', 1, 1))).toThrow(/non-empty sessionId/);
    expect(() => wal.commit({ segmentId: 1, offset: 1, timestamp: 1 } as unknown as WalRecord)).toThrow(/non-empty sessionId/);
    expect(() => wal.commit(rec('s', -1, 1))).toThrow(/segmentId must be a non-negative integer, got -1/);
    expect(() => wal.commit(rec('s', 1, 2 ** 53))).toThrow(/offset must be a non-negative integer/);
    expect(() => wal.commit(rec('s', 1, 1, Infinity))).toThrow(/timestamp must be a finite/);
    expect(wal.size).toBe(0);
  });
});

describe('WAL: removal and sessions', () => {
  it('remove forgets a session and its history; a reused id starts afresh', () => {
    const wal = new SessionWal();
    wal.commit(rec('a', 9, 900));
    wal.commit(rec('b', 1, 100));
    expect(wal.remove('a')).toBe(true);
    expect(wal.remove('a')).toBe(false);
    expect(wal.remove('never')).toBe(false);
    expect(wal.last('a')).toBeUndefined();
    expect(wal.history('a')).toEqual([]);
    expect(wal.sessions()).toEqual(['b']);
    wal.commit(rec('a', 1, 10)); // smaller than before removal: a new life
    expect(wal.last('a')).toEqual(rec('a', 1, 10));
  });

  it('sessions() is a snapshot', () => {
    const wal = new SessionWal();
    wal.commit(rec('a', 1, 1));
    const list = wal.sessions();
    wal.commit(rec('b', 1, 1));
    expect(list).toEqual(['a']);
    expect(wal.sessions()).toEqual(['a', 'b']);
  });

  it('holds thousands of sessions', () => {
    const wal = new SessionWal({ historySize: 2 });
    for (let seg = 0; seg < 5; seg++) for (let i = 0; i < 5000; i++) wal.commit(rec(`s${i}`, seg, seg * 8000 + i));
    expect(wal.size).toBe(5000);
    expect(wal.last('s4321')).toEqual(rec('s4321', 4, 4 * 8000 + 4321));
    expect(wal.history('s4321').map((r) => r.segmentId)).toEqual([3, 4]);
  });
});

describe('WAL: bounded history', () => {
  it(`keeps the last ${DEFAULT_WAL_HISTORY} records by default, oldest first, the last included`, () => {
    const wal = new SessionWal();
    expect(wal.historySize).toBe(8);
    for (let i = 1; i <= 3; i++) wal.commit(rec('s', i, i * 10));
    expect(wal.history('s').map((r) => r.segmentId)).toEqual([1, 2, 3]);
    for (let i = 4; i <= 20; i++) wal.commit(rec('s', i, i * 10));
    const h = wal.history('s');
    expect(h.map((r) => r.segmentId)).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
    expect(h.at(-1)).toBe(wal.last('s'));
    expect(h.every((r) => Object.isFrozen(r))).toBe(true);
  });

  for (const size of [1, 2, 3, 5]) {
    it(`history of ${size}: exactly the last ${size} at every step`, () => {
      const wal = new SessionWal({ historySize: size });
      for (let i = 0; i < 4 * size + 3; i++) {
        wal.commit(rec('s', i, i));
        const want = Array.from({ length: Math.min(i + 1, size) }, (_, k) => i - Math.min(i + 1, size) + 1 + k);
        expect(wal.history('s').map((r) => r.segmentId)).toEqual(want);
      }
    });
  }

  it('a returned history is a copy', () => {
    const wal = new SessionWal();
    wal.commit(rec('s', 1, 1));
    const h = wal.history('s');
    h.pop();
    expect(wal.history('s')).toHaveLength(1);
  });

  it('rejects a history size below 1', () => {
    for (const historySize of [0, -1, 1.5, Number.NaN]) expect(() => new SessionWal({ historySize })).toThrow(/historySize/);
  });
});
