// Network impairments for testing integrations without a phone system: loss, jitter (extra delay,
// uniform in [0, jitterMs]), reordering and duplication, reproducible from a seed. Delayed datagrams
// wait in a heap driven by the media clock, not in a timer each.
import type { ClockTask, MediaClock } from '../clock.js';
import { MinHeap } from '../../util/min-heap.js';
import { Prng } from '../../util/prng.js';

export interface ImpairmentOptions {
  /** Probability a packet is dropped. */
  loss?: number;
  /** Maximum extra delay; each packet waits a uniform random time in [0, jitterMs]. */
  jitterMs?: number;
  /** Probability a packet is held back past the next one(s). */
  reorder?: number;
  /** Probability a packet is sent twice. */
  duplicate?: number;
  /** How far a reordered packet is held back (default: 2 ptimes). */
  reorderDelayMs?: number;
  seed?: number;
}

export interface ImpairmentStats {
  offered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  sent: number;
}

export class ImpairedLink implements ClockTask {
  readonly stats: ImpairmentStats = { offered: 0, dropped: 0, duplicated: 0, reordered: 0, sent: 0 };
  private readonly opts: Required<Omit<ImpairmentOptions, 'seed'>>;
  private readonly prng: Prng;
  private readonly heap = new MinHeap<Buffer>();
  private readonly clock: MediaClock;
  private readonly send: (datagram: Buffer) => void;

  constructor(opts: ImpairmentOptions, clock: MediaClock, send: (datagram: Buffer) => void) {
    for (const k of ['loss', 'reorder', 'duplicate'] as const) {
      const v = opts[k] ?? 0;
      if (!(v >= 0 && v <= 1)) throw new RangeError(`${k} must be a probability in [0, 1], got ${v}`);
    }
    if (!((opts.jitterMs ?? 0) >= 0)) throw new RangeError(`jitterMs must be >= 0, got ${opts.jitterMs}`);
    this.opts = { loss: 0, jitterMs: 0, reorder: 0, duplicate: 0, reorderDelayMs: 40, ...opts };
    this.prng = new Prng(opts.seed ?? 1);
    this.clock = clock;
    this.send = send;
  }

  /** Number of datagrams still waiting. */
  get pending(): number {
    return this.heap.size;
  }

  /** Offers a datagram that was due at `dueMs`; it leaves after its impairment delay. */
  offer(datagram: Buffer, dueMs: number): void {
    const o = this.opts;
    this.stats.offered++;
    if (this.prng.chance(o.loss)) {
      this.stats.dropped++;
      return;
    }
    let delay = o.jitterMs > 0 ? this.prng.next() * o.jitterMs : 0;
    if (this.prng.chance(o.reorder)) {
      this.stats.reordered++;
      delay += o.reorderDelayMs;
    }
    this.schedule(dueMs + delay, datagram);
    if (this.prng.chance(o.duplicate)) {
      this.stats.duplicated++;
      this.schedule(dueMs + delay + this.prng.next() * Math.max(1, o.jitterMs), datagram);
    }
  }

  private schedule(atMs: number, datagram: Buffer): void {
    this.heap.push(atMs, datagram);
    this.clock.add(this);
  }

  onTick(nowMs: number): void {
    while (this.heap.peekKey() <= nowMs) {
      const d = this.heap.pop() as Buffer;
      this.stats.sent++;
      this.send(d);
    }
    if (this.heap.size === 0) this.clock.remove(this);
  }
}
