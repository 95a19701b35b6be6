// When a local worker that went down starts again. Restarts back off from initialMs doubling to maxMs;
// once maxRestarts restarts fall within windowMs the worker is crash-looping ('failed'), and it is
// retried for as long as the runtime lives, the delay doubling from maxMs to retryMaxMs, until a start
// reaches SERVING. Pure: the caller passes the clock.

export interface RestartPolicyOptions {
  /** Restarts allowed within windowMs before the worker counts as failed. */
  maxRestarts: number;
  windowMs: number;
  /** First restart delay; doubles per restart in the window up to maxMs. */
  initialMs: number;
  maxMs: number;
  /** Cap of the delay between retries of a failed worker. */
  retryMaxMs: number;
}

export interface RestartDecision {
  /** Wait this long before the next start. */
  delayMs: number;
  /** The worker is crash-looping: it stays failed until a start reaches SERVING. */
  failed: boolean;
  /** Restarts within the window, this one included. */
  recent: number;
}

export class RestartPolicy {
  private readonly times: number[] = [];
  /** Retries since the worker was found crash-looping; 0 while it is not. */
  private retries = 0;

  constructor(private readonly o: RestartPolicyOptions) {}

  /** The worker went down at `now`; `served` says whether it reached SERVING after its last start. */
  next(now: number, served: boolean): RestartDecision {
    while (this.times.length > 0 && now - (this.times[0] ?? now) > this.o.windowMs) this.times.shift();
    if (served) this.retries = 0;
    // A failed worker stays failed until a start serves: its slow retries alone must not age the window
    // back below the limit and switch it to fast restarts again.
    const failed = this.times.length >= this.o.maxRestarts || this.retries > 0;
    let delayMs: number;
    if (failed) {
      this.retries++;
      delayMs = Math.min(this.o.maxMs * 2 ** Math.min(this.retries - 1, 30), this.o.retryMaxMs);
    } else {
      delayMs = Math.min(this.o.initialMs * 2 ** Math.min(this.times.length, 30), this.o.maxMs);
    }
    this.times.push(now);
    return { delayMs, failed, recent: this.times.length };
  }
}
