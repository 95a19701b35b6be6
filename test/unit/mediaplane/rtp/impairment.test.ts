import { describe, expect, it } from 'vitest';
import { MediaClock } from '../../../../src/mediaplane/clock.js';
import { ImpairedLink } from '../../../../src/mediaplane/rtp/impairment.js';

function run(opts: ConstructorParameters<typeof ImpairedLink>[0], n: number) {
  const clock = new MediaClock(1000);
  const sent: Array<{ id: number; at: number }> = [];
  let now = 0;
  const link = new ImpairedLink(opts, clock, (d) => sent.push({ id: d.readUInt32BE(0), at: now }));
  for (let i = 0; i < n; i++) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(i);
    now = i * 20;
    link.offer(b, now);
    clock.tick(now);
  }
  for (now = n * 20; link.pending > 0; now += 1) clock.tick(now);
  clock.stop();
  return { link, sent };
}

describe('ImpairedLink', () => {
  it('passes everything through in order, on time, when unimpaired', () => {
    const { link, sent } = run({}, 100);
    expect(sent.map((s) => s.id)).toEqual([...Array(100).keys()]);
    expect(sent.every((s) => s.at === s.id * 20)).toBe(true);
    expect(link.stats).toEqual({ offered: 100, dropped: 0, duplicated: 0, reordered: 0, sent: 100 });
  });

  it('injects loss, duplicates, reordering and bounded delay at the asked rates, reproducibly', () => {
    const opts = { loss: 0.05, jitterMs: 40, reorder: 0.02, duplicate: 0.01, seed: 9 };
    const a = run(opts, 20000);
    const b = run(opts, 20000);
    expect(b.sent).toEqual(a.sent);
    const s = a.link.stats;
    expect(s.dropped / s.offered).toBeGreaterThan(0.045);
    expect(s.dropped / s.offered).toBeLessThan(0.055);
    expect(s.duplicated / (s.offered - s.dropped)).toBeGreaterThan(0.008);
    expect(s.duplicated / (s.offered - s.dropped)).toBeLessThan(0.012);
    expect(s.reordered / (s.offered - s.dropped)).toBeGreaterThan(0.017);
    expect(s.sent).toBe(s.offered - s.dropped + s.duplicated);
    // delay never exceeds jitter + reorder hold + one tick
    const maxDelay = Math.max(...a.sent.map((x) => x.at - x.id * 20));
    expect(maxDelay).toBeLessThanOrEqual(40 + 40 + 40 + 1);
    const inversions = a.sent.filter((x, i) => i > 0 && x.id < a.sent[i - 1]!.id).length;
    expect(inversions).toBeGreaterThan(0);
  });

  it('rejects impossible rates', () => {
    expect(() => new ImpairedLink({ loss: 1.5 }, new MediaClock(10), () => undefined)).toThrow(/loss must be a probability/);
    expect(() => new ImpairedLink({ jitterMs: -1 }, new MediaClock(10), () => undefined)).toThrow(/jitterMs must be >= 0/);
  });
});
