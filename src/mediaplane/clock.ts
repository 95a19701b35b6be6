// The shared media clock: one timer drives every stream's jitter buffer, every paced sender and
// every idle check. Thousands of per-stream timers would cost more than the media they move.
import { performance } from 'node:perf_hooks';

export interface ClockTask {
  /** Called once per tick with the monotonic time in ms. Must not throw (the clock guards it anyway). */
  onTick(nowMs: number): void;
}

export class MediaClock {
  readonly tickMs: number;
  private readonly tasks = new Set<ClockTask>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onError: (err: unknown) => void;

  constructor(tickMs: number, onError: (err: unknown) => void = () => undefined) {
    this.tickMs = tickMs;
    this.onError = onError;
  }

  static now(): number {
    return performance.now();
  }

  get size(): number {
    return this.tasks.size;
  }

  /** Adds a task; the timer runs while at least one task is registered. */
  add(task: ClockTask): void {
    this.tasks.add(task);
    if (!this.timer) this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  remove(task: ClockTask): void {
    this.tasks.delete(task);
    if (this.tasks.size === 0) this.stop();
  }

  tick(nowMs: number = performance.now()): void {
    for (const task of this.tasks) {
      try {
        task.onTick(nowMs);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
