// A scripted VadModel for the runner's logic without onnxruntime. Streams push constant "tags" (a level per
// stream), so each batch row says which stream it came from; the state's first float counts the windows a
// stream's state has been through, so the log shows whether state and context travel with the right stream.
import { allocateBatchBuffers, STATE_SIZE, STATE_WIDTH, type BatchBuffers, type VadModel } from '../../../src/vad/model.js';
import { contextSamples, type VadSampleRate } from '../../../src/vad/options.js';

export interface FakeRow {
  /** First sample of the window (the stream's tag). */
  tag: number;
  /** First sample of the context (the previous window's tag, 0 at stream start). */
  context: number;
  /** Windows this state has seen (state[0] of layer 0). */
  counter: number;
  /** Layer 1's first float: IDLE_MARK when the idle state was installed. */
  marker: number;
}

export interface FakeRun {
  rate: VadSampleRate;
  rows: FakeRow[];
}

/** What the fake puts in layer 1 of its idle state. */
export const IDLE_MARK = -7;

export class FakeModel implements VadModel {
  readonly runs: FakeRun[] = [];
  closed = 0;
  /** Set to make the next run reject. */
  failNext: Error | null = null;
  /** Set to hold runs until release() is called. */
  hold = false;
  private held: (() => void)[] = [];
  private readonly bufs: Record<VadSampleRate, BatchBuffers>;
  private readonly idle: Record<VadSampleRate, Float32Array>;

  constructor(
    readonly maxBatch = 64,
    /** Probability for a window whose first sample is `tag`: the tag itself by default. */
    private readonly prob: (tag: number) => number = (tag) => Math.abs(tag),
  ) {
    this.bufs = { 8000: allocateBatchBuffers(8000, maxBatch), 16000: allocateBatchBuffers(16000, maxBatch) };
    const idle = (): Float32Array => {
      const s = new Float32Array(STATE_SIZE);
      s[STATE_WIDTH] = IDLE_MARK;
      return s;
    };
    this.idle = { 8000: idle(), 16000: idle() };
  }

  buffers(rate: VadSampleRate): BatchBuffers {
    return this.bufs[rate];
  }

  idleState(rate: VadSampleRate): Float32Array {
    return this.idle[rate];
  }

  async run(rate: VadSampleRate, n: number): Promise<void> {
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    const b = this.bufs[rate];
    const ctx = contextSamples(rate);
    const rows: FakeRow[] = [];
    for (let i = 0; i < n; i++) {
      const row = i * b.rowSamples;
      const tag = b.input[row + ctx]!;
      const h = i * STATE_WIDTH; // layer 0 of row i in [2, n, 128]
      const c = (n + i) * STATE_WIDTH; // layer 1
      rows.push({ tag, context: b.input[row]!, counter: b.state[h]!, marker: b.state[c]! });
      b.stateOut.set(b.state.subarray(h, h + STATE_WIDTH), h);
      b.stateOut.set(b.state.subarray(c, c + STATE_WIDTH), c);
      b.stateOut[h] = b.state[h]! + 1;
      b.probability[i] = this.prob(tag);
    }
    this.runs.push({ rate, rows });
  }

  /** Lets held runs go on. */
  release(): void {
    const held = this.held;
    this.held = [];
    for (const r of held) r();
  }

  async close(): Promise<void> {
    this.closed++;
    await Promise.resolve();
  }
}
