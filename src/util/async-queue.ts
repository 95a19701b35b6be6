// A queue between one producer and one consumer: the producer pushes, ends or fails it; the consumer
// iterates it with for-await and gets the items in order, then the end; a failure drops what is queued
// and is thrown at the consumer's next step.

export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  private ended = false;
  private error: unknown;
  private failed = false;
  private waiter: (() => void) | undefined;
  /** The producer waiting for room (whenBelow). */
  private room: { below: number; resolve: () => void } | undefined;

  /** Items pushed and not yet taken. */
  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (this.ended || this.failed) return;
    this.items.push(item);
    this.wake();
  }

  /** No more items: iteration ends after the ones queued. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Iteration throws `err` at its next step; queued items are dropped. The first end or failure wins. */
  fail(err: unknown): void {
    if (this.ended || this.failed) return;
    this.failed = true;
    this.error = err;
    this.items.length = 0;
    this.head = 0;
    this.wake();
  }

  /**
   * Resolves once fewer than `n` items wait (at once if that is so already), or the queue has ended or
   * failed: a producer's backpressure. One producer waits at a time.
   */
  whenBelow(n: number): Promise<void> {
    if (this.size < n || this.ended || this.failed) return Promise.resolve();
    return new Promise<void>((resolve) => (this.room = { below: n, resolve }));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.failed) throw this.error;
      if (this.head < this.items.length) {
        const item = this.items[this.head] as T;
        // Taken items are released at once: a consumer slower than its producer holds only what waits.
        (this.items as Array<T | undefined>)[this.head++] = undefined;
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items.splice(0, this.head);
          this.head = 0;
        }
        if (this.room && this.size < this.room.below) this.freeRoom();
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    if (this.ended || this.failed) this.freeRoom();
  }

  private freeRoom(): void {
    const r = this.room;
    this.room = undefined;
    r?.resolve();
  }
}
