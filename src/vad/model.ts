// The contract between the batching runner and a speech model: preallocated batch buffers per rate that the
// runner fills and reads, and one call that runs the first `n` rows. Silero (silero-model.ts) implements it;
// tests implement it with scripted models to check batching logic without onnxruntime.
import type { VadSampleRate } from './options.js';
import { contextSamples, windowSamples } from './options.js';

/** Silero v5 recurrent state: [layers, batch, width]. */
export const STATE_LAYERS = 2;
export const STATE_WIDTH = 128;
/** Floats of state per stream. */
export const STATE_SIZE = STATE_LAYERS * STATE_WIDTH;

/**
 * Buffers for up to maxBatch windows at one rate. For a batch of n:
 *   input       rows [n, context + window]: each stream's context then its window;
 *   state       [2, n, 128]: stream i's layer l at (l * n + i) * 128 (the layout depends on n);
 *   probability [n] out; stateOut [2, n, 128] out, same layout as state.
 */
export interface BatchBuffers {
  readonly rowSamples: number;
  readonly input: Float32Array;
  readonly state: Float32Array;
  readonly probability: Float32Array;
  readonly stateOut: Float32Array;
  /** stateOut row j (128 floats at j * 128) as a view, for j < 2 * maxBatch: copied out without a view per window. */
  readonly stateOutRows: readonly Float32Array[];
}

export interface VadModel {
  /** Most rows one run takes; the runner splits bigger batches. */
  readonly maxBatch: number;
  buffers(rate: VadSampleRate): BatchBuffers;
  /** Runs rows [0, n) of buffers(rate); resolves once probability and stateOut hold the results. */
  run(rate: VadSampleRate, n: number): Promise<void>;
  /**
   * State after about 1 s of digital silence from the initial state (zeros when absent): what a stream
   * resumes from after a long run of windows the pre-filter skipped.
   */
  idleState?(rate: VadSampleRate): Float32Array;
  /** Releases the model; safe to call twice. */
  close(): Promise<void>;
}

export function allocateBatchBuffers(rate: VadSampleRate, maxBatch: number): BatchBuffers {
  const rowSamples = contextSamples(rate) + windowSamples(rate);
  const stateOut = new Float32Array(maxBatch * STATE_SIZE);
  const stateOutRows: Float32Array[] = [];
  for (let j = 0; j < STATE_LAYERS * maxBatch; j++) stateOutRows.push(stateOut.subarray(j * STATE_WIDTH, (j + 1) * STATE_WIDTH));
  return {
    rowSamples,
    input: new Float32Array(maxBatch * rowSamples),
    state: new Float32Array(maxBatch * STATE_SIZE),
    probability: new Float32Array(maxBatch),
    stateOut,
    stateOutRows,
  };
}
