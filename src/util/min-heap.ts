// A binary min-heap keyed by a number, for timer queues that must not allocate a timer per item.
export class MinHeap<T> {
  private readonly keys: number[] = [];
  private readonly items: T[] = [];

  get size(): number {
    return this.keys.length;
  }

  peekKey(): number {
    return this.keys.length > 0 ? (this.keys[0] as number) : Infinity;
  }

  push(key: number, item: T): void {
    const k = this.keys;
    const it = this.items;
    let i = k.length;
    k.push(key);
    it.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((k[p] as number) <= key) break;
      k[i] = k[p] as number;
      it[i] = it[p] as T;
      i = p;
    }
    k[i] = key;
    it[i] = item;
  }

  pop(): T | undefined {
    const k = this.keys;
    const it = this.items;
    if (k.length === 0) return undefined;
    const top = it[0];
    const lastKey = k.pop() as number;
    const lastItem = it.pop() as T;
    const n = k.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (k[r] as number) < (k[l] as number) ? r : l;
        if ((k[c] as number) >= lastKey) break;
        k[i] = k[c] as number;
        it[i] = it[c] as T;
        i = c;
      }
      k[i] = lastKey;
      it[i] = lastItem;
    }
    return top;
  }

  clear(): void {
    this.keys.length = 0;
    this.items.length = 0;
  }
}
