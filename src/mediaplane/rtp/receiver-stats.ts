// RFC 3550 receiver statistics for one source: packets received and expected, cumulative loss
// (Appendix A.3) and interarrival jitter (§6.4.1, Appendix A.8).
import { seqDiff, tsDiff } from './seq.js';

/** RFC 3550 A.1: a jump this far ahead is a restart, not loss. */
const MAX_DROPOUT = 3000;
/** RFC 3550 A.1: this far behind is a late or duplicate packet, not a restart. */
const MAX_MISORDER = 100;

export interface ReceiverStatsSnapshot {
  received: number;
  expected: number;
  lost: number;
  fractionLost: number;
  jitterSamples: number;
  jitterSeconds: number;
}

export class ReceiverStats {
  private readonly clockRate: number;
  private started = false;
  private baseExt = 0;
  private maxExt = 0;
  private maxSeq = 0;
  private cycles = 0;
  private lastArrival = 0;
  private lastTimestamp = 0;
  private haveTransit = false;
  private jitter = 0;
  received = 0;

  constructor(clockRate: number) {
    this.clockRate = clockRate;
  }

  /** Records one packet; `arrivalMs` is a monotonic clock reading. */
  update(seq: number, timestamp: number, arrivalMs: number): void {
    if (!this.started) {
      this.started = true;
      this.maxSeq = seq;
      this.baseExt = this.maxExt = seq;
    } else {
      const delta = seqDiff(seq, this.maxSeq);
      if (delta > 0 && delta < MAX_DROPOUT) {
        if (seq < this.maxSeq) this.cycles += 0x10000;
        this.maxSeq = seq;
        this.maxExt = this.cycles + seq;
      } else if (delta >= MAX_DROPOUT || delta < -MAX_MISORDER) {
        // A restart of the sequence: rebase so the restart itself is not counted as loss.
        this.reset();
        this.update(seq, timestamp, arrivalMs);
        return;
      }
    }
    this.received++;

    // D(i-1,i) of §6.4.1 from differences only: no common clock origin, and tsDiff makes the
    // timestamp difference wrap-safe.
    const arrival = (arrivalMs * this.clockRate) / 1000;
    if (this.haveTransit) {
      const d = arrival - this.lastArrival - tsDiff(timestamp, this.lastTimestamp);
      this.jitter += (Math.abs(d) - this.jitter) / 16;
    }
    this.lastArrival = arrival;
    this.lastTimestamp = timestamp;
    this.haveTransit = true;
  }

  reset(): void {
    this.started = false;
    this.cycles = 0;
    this.haveTransit = false;
    this.jitter = 0;
    this.received = 0;
  }

  get expected(): number {
    return this.started ? this.maxExt - this.baseExt + 1 : 0;
  }

  get lost(): number {
    return this.expected - this.received;
  }

  get jitterSeconds(): number {
    return this.jitter / this.clockRate;
  }

  snapshot(): ReceiverStatsSnapshot {
    const expected = this.expected;
    const lost = this.lost;
    return {
      received: this.received,
      expected,
      lost,
      fractionLost: expected > 0 ? Math.max(0, lost) / expected : 0,
      jitterSamples: this.jitter,
      jitterSeconds: this.jitterSeconds,
    };
  }
}
