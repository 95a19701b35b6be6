// A session's audio history: one preallocated ring of samples addressed by absolute offsets (samples
// since the stream start), so a segment can be re-read or replayed to a restarted worker by position.
//
//        oldestOffset        committedOffset                      writeOffset
//   ──────────┼───────────────────────┼────────────────────────────────┼──────────▶ offsets
//             │ committed: readable,  │ uncommitted: readable, never   │
//             │ overwritten as needed │ overwritten (writes that do    │
//             │                       │ not fit are rejected instead)  │
//
// The commit fence is the whole flow control: a write takes only what fits in front of it and reports
// how much it accepted; the rest is the caller's to count as dropped. Offsets count accepted samples,
// so a rejected tail is not a hole in the ring: the caller keeps the stream clock. `needsForceCommit()`
// turns true at a fill ratio (default 0.9) so the caller can force a commit before anything is rejected.
// Offsets are doubles: exact to 2^53 samples, which is thousands of years at 48 kHz.
//
// Samples are Int16 by default: the worker wire format is PCM_S16LE, telephony audio is 16-bit or less,
// and 60 s per session at half the memory of Float32 adds up over thousands of sessions. A Float32 ring
// is a constructor choice for pipelines that keep float audio. Writes and reads copy in loops or one
// `set`, never through temporary views: nothing is allocated per frame.
import { TheoError } from '../errors/index.js';

export type SampleArray = Int16Array | Float32Array;

export interface SampleArrayConstructor<A extends SampleArray> {
  new (length: number): A;
  readonly BYTES_PER_ELEMENT: number;
}

export interface RingBufferOptions<A extends SampleArray> {
  /** Samples held (e.g. 60 s x rate). */
  capacity: number;
  /** Int16Array (default) or Float32Array. */
  sampleType?: SampleArrayConstructor<A>;
  /** Uncommitted fill ratio at which `needsForceCommit` turns true, in (0, 1] (default 0.9). */
  forceCommitRatio?: number;
  /** Offset of the first sample (default 0), e.g. where a recovered session's WAL left off. */
  startOffset?: number;
}

export const DEFAULT_FORCE_COMMIT_RATIO = 0.9;

/** Samples for `seconds` at `rate` Hz: the capacity for a ring that holds that much audio (60 s by default). */
export function ringCapacity(rate: number, seconds = 60): number {
  if (!(rate > 0) || !(seconds > 0) || !Number.isFinite(rate * seconds)) throw new TheoError('invalid_argument', `ring capacity needs a positive rate and duration, got ${rate} Hz x ${seconds} s`, { rate, seconds });
  return Math.ceil(rate * seconds);
}

/** A read of audio the ring no longer (or not yet) holds. */
export class RingRangeError extends TheoError {
  readonly from: number;
  readonly to: number;
  readonly oldestOffset: number;
  readonly writeOffset: number;
  constructor(from: number, to: number, oldestOffset: number, writeOffset: number, why: string) {
    super('invalid_argument', `ring read [${from}, ${to}): ${why} (held: [${oldestOffset}, ${writeOffset}))`, { from, to, oldestOffset, writeOffset });
    this.name = 'RingRangeError';
    this.from = from;
    this.to = to;
    this.oldestOffset = oldestOffset;
    this.writeOffset = writeOffset;
  }
}

export function isRingRangeError(err: unknown): err is RingRangeError {
  return err instanceof RingRangeError;
}

const isOffset = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;

export class RingBuffer<A extends SampleArray = Int16Array> {
  readonly capacity: number;
  /** Uncommitted samples at which `needsForceCommit` turns true. */
  readonly forceCommitThreshold: number;
  private readonly data: A;
  private readonly int16: boolean;
  /** The first offset ever held (`startOffset`). */
  private readonly origin: number;
  private written: number;
  private fence: number;
  private rejectedTotal = 0;

  constructor(opts: RingBufferOptions<A>) {
    const { capacity } = opts;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new TheoError('invalid_argument', `ring capacity must be a positive integer of samples, got ${capacity}`, { capacity });
    const ratio = opts.forceCommitRatio ?? DEFAULT_FORCE_COMMIT_RATIO;
    if (!(ratio > 0 && ratio <= 1)) throw new TheoError('invalid_argument', `forceCommitRatio must be in (0, 1], got ${ratio}`, { forceCommitRatio: ratio });
    const start = opts.startOffset ?? 0;
    if (!isOffset(start)) throw new TheoError('invalid_argument', `startOffset must be a non-negative safe integer, got ${start}`, { startOffset: start });
    const type = opts.sampleType ?? (Int16Array as unknown as SampleArrayConstructor<A>);
    if ((type as unknown) !== Int16Array && (type as unknown) !== Float32Array) throw new TheoError('invalid_argument', 'ring sampleType must be Int16Array or Float32Array');
    this.capacity = capacity;
    // The relative slack keeps a ratio like 0.7 (0.69999...) from rounding a whole sample up.
    this.forceCommitThreshold = Math.max(1, Math.ceil(capacity * ratio * (1 - 1e-12)));
    this.data = new type(capacity);
    this.int16 = (type as unknown) === Int16Array;
    this.origin = start;
    this.written = start;
    this.fence = start;
  }

  /** Offset one past the newest sample. */
  get writeOffset(): number {
    return this.written;
  }

  /** The commit fence: audio before it may be overwritten, audio from it on never is. */
  get committedOffset(): number {
    return this.fence;
  }

  /** The oldest offset still readable. */
  get oldestOffset(): number {
    const start = this.written - this.capacity;
    return start > this.origin ? start : this.origin;
  }

  /** Samples written and not yet committed. */
  get uncommitted(): number {
    return this.written - this.fence;
  }

  /** Samples a write can take now. */
  get free(): number {
    return this.capacity - (this.written - this.fence);
  }

  /** Uncommitted share of the capacity, 0..1. */
  get fill(): number {
    return (this.written - this.fence) / this.capacity;
  }

  /**
   * True when the uncommitted audio, plus `incoming` samples about to be written, reaches
   * `forceCommitThreshold`: commit now, or writes will soon be rejected.
   */
  needsForceCommit(incoming = 0): boolean {
    return this.written - this.fence + incoming >= this.forceCommitThreshold;
  }

  /** Samples rejected by writes so far (the ring was full up to the fence). */
  get rejected(): number {
    return this.rejectedTotal;
  }

  /** Int16Array or Float32Array, as constructed. */
  get sampleType(): 'int16' | 'float32' {
    return this.int16 ? 'int16' : 'float32';
  }

  /**
   * Appends as many of `samples` as fit in front of the fence (from the start of `samples`) and returns
   * how many it took; `samples.length` minus that is rejected.
   */
  write(samples: A): number {
    const n = Math.min(samples.length, this.free);
    this.rejectedTotal += samples.length - n;
    if (n === 0) return 0;
    const cap = this.capacity;
    const data = this.data;
    const pos = this.written % cap;
    const first = Math.min(n, cap - pos);
    if (first === samples.length) {
      data.set(samples, pos);
    } else {
      for (let i = 0; i < first; i++) data[pos + i] = samples[i] as number;
      for (let i = first; i < n; i++) data[i - first] = samples[i] as number;
    }
    this.written += n;
    return n;
  }

  /**
   * `write` for float audio in [-1, 1]: an Int16 ring scales by 32768, rounds and clamps (NaN is 0),
   * the inverse of `readFloat32`; a Float32 ring copies. Returns how many samples it took.
   */
  writeFloat32(samples: Float32Array): number {
    if (!this.int16) return this.write(samples as A);
    const n = Math.min(samples.length, this.free);
    this.rejectedTotal += samples.length - n;
    const cap = this.capacity;
    const data = this.data;
    let pos = this.written % cap;
    for (let i = 0; i < n; i++) {
      const v = Math.round((samples[i] as number) * 32768);
      data[pos] = v > 32767 ? 32767 : v < -32768 ? -32768 : v || 0;
      if (++pos === cap) pos = 0;
    }
    this.written += n;
    return n;
  }

  /**
   * Copies [from, to) into `into` at `intoOffset` and returns `into`; without `into`, into a new array
   * (which allocates: for audio that must outlive the ring). Throws a RingRangeError for a range not
   * held (overwritten, or not yet written) and changes nothing.
   */
  read(from: number, to: number, into?: A, intoOffset = 0): A {
    const n = this.checkRead(from, to);
    const out = into ?? new (this.data.constructor as SampleArrayConstructor<A>)(n);
    this.checkInto(from, to, out, intoOffset);
    const cap = this.capacity;
    const data = this.data;
    let pos = from % cap;
    for (let i = 0; i < n; i++) {
      out[intoOffset + i] = data[pos] as number;
      if (++pos === cap) pos = 0;
    }
    return out;
  }

  /** `read` into float audio, returning `into`: an Int16 ring's samples scaled to [-1, 1) by 1/32768. */
  readFloat32(from: number, to: number, into: Float32Array, intoOffset = 0): Float32Array {
    const n = this.checkRead(from, to);
    this.checkInto(from, to, into, intoOffset);
    const cap = this.capacity;
    const data = this.data;
    const k = this.int16 ? 1 / 32768 : 1;
    let pos = from % cap;
    for (let i = 0; i < n; i++) {
      into[intoOffset + i] = (data[pos] as number) * k;
      if (++pos === cap) pos = 0;
    }
    return into;
  }

  /**
   * [from, to) as views of the ring's own memory: `first`, then `second` when the range wraps (else
   * empty). No copy, but the views alias the ring: a committed range is overwritten by later writes.
   */
  views(from: number, to: number): { first: A; second: A } {
    const n = this.checkRead(from, to);
    const cap = this.capacity;
    const pos = from % cap;
    const first = Math.min(n, cap - pos);
    return { first: this.data.subarray(pos, pos + first) as A, second: this.data.subarray(0, n - first) as A };
  }

  /**
   * Moves the fence to `offset` (everything before it may now be overwritten). Committing where the
   * fence already is does nothing; moving it back or past `writeOffset` throws.
   */
  commit(offset: number): void {
    if (!isOffset(offset) || offset < this.fence || offset > this.written) {
      throw new TheoError('invalid_argument', `ring commit to ${offset}: must be an integer in [${this.fence}, ${this.written}] (the fence never moves back or past the newest sample)`, {
        offset,
        committedOffset: this.fence,
        writeOffset: this.written,
      });
    }
    this.fence = offset;
  }

  /** Commits everything written: the force commit. Returns the samples it released. */
  commitAll(): number {
    const n = this.written - this.fence;
    this.fence = this.written;
    return n;
  }

  /** Validates [from, to) against what is held; returns its length. */
  private checkRead(from: number, to: number): number {
    if (!isOffset(from) || !isOffset(to) || to < from) throw new RingRangeError(from, to, this.oldestOffset, this.written, 'not a range of non-negative integer offsets');
    if (from < this.oldestOffset) throw new RingRangeError(from, to, this.oldestOffset, this.written, `samples before ${this.oldestOffset} were overwritten`);
    if (to > this.written) throw new RingRangeError(from, to, this.oldestOffset, this.written, `samples from ${this.written} on are not written yet`);
    return to - from;
  }

  private checkInto(from: number, to: number, into: SampleArray, intoOffset: number): void {
    const n = to - from;
    if (!(Number.isSafeInteger(intoOffset) && intoOffset >= 0 && intoOffset + n <= into.length)) {
      throw new TheoError('invalid_argument', `ring read [${from}, ${to}): ${n} samples do not fit a destination of ${into.length} at offset ${intoOffset}`, { from, to, intoOffset, intoLength: into.length });
    }
  }
}
