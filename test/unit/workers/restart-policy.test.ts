// The restart policy on a scripted clock: fast restarts with backoff, failed after maxRestarts within the
// window, then retries forever with a capped backoff, and back to fast restarts once a start serves.
import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../../src/workers/restart-policy.js';

const options = { maxRestarts: 3, windowMs: 60_000, initialMs: 250, maxMs: 5000, retryMaxMs: 60_000 };

describe('RestartPolicy', () => {
  it('backs off while restarts stay under the limit, then fails and keeps retrying with a capped backoff', () => {
    const p = new RestartPolicy(options);
    const seen = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => p.next(i * 1000, false));
    expect(seen.map((d) => d.delayMs)).toEqual([250, 500, 1000, 5000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    expect(seen.map((d) => d.failed)).toEqual([false, false, false, true, true, true, true, true, true]);
    expect(seen[3]?.recent).toBe(4);
  });

  it('stays failed while its slow retries age the window below the limit, until a start serves', () => {
    const p = new RestartPolicy(options);
    for (let i = 0; i < 3; i++) p.next(i, false);
    expect(p.next(10, false).failed).toBe(true);
    // Ten minutes later the window holds one restart, yet the worker never served: still failed.
    const later = p.next(600_000, false);
    expect(later).toMatchObject({ failed: true, recent: 1, delayMs: 10_000 });
    // A retry served, then the worker went down once: an ordinary restart again.
    expect(p.next(700_000, true)).toEqual({ delayMs: 250, failed: false, recent: 1 });
  });

  it('a worker that serves between crashes fails once the crashes crowd the window, and starts the retry backoff over', () => {
    const p = new RestartPolicy(options);
    expect([1, 2, 3].map((t) => p.next(t, true).failed)).toEqual([false, false, false]);
    expect(p.next(4, true)).toMatchObject({ failed: true, delayMs: 5000 });
    expect(p.next(5, false)).toMatchObject({ failed: true, delayMs: 10_000 });
    expect(p.next(6, true)).toMatchObject({ failed: true, delayMs: 5000 });
  });

  it('with maxRestarts 0 the first crash fails the worker', () => {
    expect(new RestartPolicy({ ...options, maxRestarts: 0 }).next(0, true)).toEqual({ delayMs: 5000, failed: true, recent: 1 });
  });

  it('never waits longer than retryMaxMs, even below maxMs', () => {
    const p = new RestartPolicy({ ...options, maxRestarts: 1, retryMaxMs: 1000 });
    p.next(0, false);
    expect(p.next(1, false).delayMs).toBe(1000);
  });
});
