// Logging what may happen thousands of times a second (refused RTP sources, flapping payload types) at a
// bounded rate: per key, the first occurrence at once, then at most one line per interval, carrying how many
// occurrences were not logged since the previous line.
export type ThrottledLog = (fields: Record<string, unknown>, message: string) => void;

export class LogThrottle {
  private readonly keys = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly log: ThrottledLog,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * One occurrence of `key`. Keys must come from a small fixed set (a reason), never from input: each is kept
   * for the life of the throttle. `fields` is only read when a line is written.
   */
  note(key: string, message: string, fields: Record<string, unknown>): void {
    const t = this.now();
    const k = this.keys.get(key);
    if (k && t - k.loggedAt < this.intervalMs) {
      k.suppressed++;
      return;
    }
    const suppressed = k?.suppressed ?? 0;
    this.keys.set(key, { loggedAt: t, suppressed: 0 });
    this.log(suppressed > 0 ? { ...fields, key, suppressed } : { ...fields, key }, message);
  }
}
