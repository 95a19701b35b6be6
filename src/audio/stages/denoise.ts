// Noise suppression with RNNoise (xiph, recurrent network on 480-sample frames at 48 kHz), compiled to
// WebAssembly by @echogarden/rnnoise-wasm.
//
// The stage runs at the pipeline rate: it resamples up to 48 kHz, scales to the int16 range RNNoise
// expects, denoises whole 480-sample frames (a partial frame waits for the next call), scales back and
// resamples down. RNNoise's output lags its input by RNNOISE_DELAY samples at 48 kHz; the stage drops that
// many leading samples and flush feeds zeros to drain the rest, so output is time-aligned with the input
// and, after flush, exactly as long. Each stage owns one RNNoise state and one frame buffer in the module's
// memory: dispose() frees them (reset() too; the next process() allocates afresh).
//
// Loading is asynchronous and may fail (no WebAssembly, package missing): loadDenoiser() then resolves to
// undefined and reports why once per process through onWarning, and callers skip the stage.
import { createResampler, type ResamplerStage } from './resample.js';
import type { AudioStage } from './stage.js';
import { concatSamples } from './util.js';

export const RNNOISE_RATE = 48000;
export const RNNOISE_FRAME = 480;
/** Output lag of rnnoise_process_frame, in 48 kHz samples (one frame: its analysis window overlaps two). */
export const RNNOISE_DELAY = 480;
const PCM_SCALE = 32768;

/** The part of the emscripten module this stage uses. */
interface RnnoiseModule {
  HEAPF32: Float32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _rnnoise_create(model: number): number;
  _rnnoise_destroy(state: number): void;
  _rnnoise_process_frame(state: number, out: number, input: number): number;
}

export interface DenoiseStage extends AudioStage {
  /** RNNoise's voice-activity probability for the last frame it processed (0..1). */
  readonly voiceProbability: number;
  /** Frees the RNNoise state; the stage must not be used afterwards. */
  dispose(): void;
}

export interface DenoiserFactory {
  /** A new denoise stage whose input and output are at `rate` Hz. */
  create(rate: number): DenoiseStage;
}

export interface LoadDenoiserOptions {
  /** Told once per process when the module cannot be loaded. */
  onWarning?: (message: string) => void;
  /** Imports the emscripten module factory (tests substitute a failing one). */
  importModule?: () => Promise<unknown>;
}

const PACKAGE = '@echogarden/rnnoise-wasm';
let shared: Promise<RnnoiseModule | Error> | undefined;
let warned = false;

async function instantiate(importModule: () => Promise<unknown>): Promise<RnnoiseModule | Error> {
  try {
    const mod = (await importModule()) as { default?: unknown };
    if (typeof mod.default !== 'function') return new Error(`${PACKAGE} exports no module factory`);
    const factory = mod.default as (arg?: object) => Promise<RnnoiseModule>;
    const m = await factory({});
    if (typeof m._rnnoise_create !== 'function' || typeof m._rnnoise_process_frame !== 'function') {
      return new Error(`${PACKAGE} lacks rnnoise_create/rnnoise_process_frame`);
    }
    return m;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * Loads RNNoise (once per process; later calls share the module). Resolves to a factory of denoise stages,
 * or to undefined when the module cannot load, after telling onWarning (once per process).
 */
export async function loadDenoiser(opts: LoadDenoiserOptions = {}): Promise<DenoiserFactory | undefined> {
  let result: RnnoiseModule | Error;
  if (opts.importModule) {
    result = await instantiate(opts.importModule);
  } else {
    const specifier: string = PACKAGE; // typed as string: the package ships no type declarations
    shared ??= instantiate(() => import(specifier));
    result = await shared;
  }
  if (result instanceof Error) {
    if (!warned && opts.onWarning) {
      warned = true;
      opts.onWarning(`noise suppression disabled: RNNoise (${PACKAGE}) could not be loaded: ${result.message}`);
    }
    return undefined;
  }
  const m = result;
  return { create: (rate: number) => new RnnoiseStage(m, rate) };
}

class RnnoiseStage implements DenoiseStage {
  readonly name = 'denoise';
  readonly outputRate: number;
  private readonly up: ResamplerStage | null;
  private readonly down: ResamplerStage | null;
  private state = 0;
  private framePtr = 0;
  private disposed = false;
  private readonly frame = new Float32Array(RNNOISE_FRAME);
  private fill = 0;
  /** Leading 48 kHz output samples still to drop (RNNoise's lag). */
  private skip = RNNOISE_DELAY;
  private in48 = 0;
  private out48 = 0;
  private inCount = 0;
  private outCount = 0;
  private vad = 0;

  constructor(
    private readonly m: RnnoiseModule,
    readonly inputRate: number,
  ) {
    this.outputRate = inputRate;
    this.up = inputRate === RNNOISE_RATE ? null : createResampler(inputRate, RNNOISE_RATE);
    this.down = inputRate === RNNOISE_RATE ? null : createResampler(RNNOISE_RATE, inputRate);
  }

  get voiceProbability(): number {
    return this.vad;
  }

  process(block: Float32Array): Float32Array {
    this.inCount += block.length;
    const x48 = this.up ? this.up.process(block) : block;
    const y48 = this.denoise(x48);
    const y = this.down ? this.down.process(y48) : y48;
    this.outCount += y.length;
    return y;
  }

  flush(): Float32Array {
    const parts: Float32Array[] = [];
    const push = (y48: Float32Array): void => {
      if (y48.length === 0) return;
      const y = this.down ? this.down.process(y48) : y48;
      parts.push(y.slice());
    };
    if (this.up) push(this.denoise(this.up.flush()));
    // Zeros push the held partial frame and RNNoise's lag out; only as many samples as went in are kept.
    let want = this.in48 - this.out48;
    const zeros = new Float32Array(RNNOISE_FRAME);
    while (want > 0) {
      const feed = this.in48;
      const y48 = this.denoise(zeros);
      this.in48 = feed; // padding does not count as input
      const keep = y48.subarray(0, Math.min(want, y48.length));
      this.out48 -= y48.length - keep.length;
      want -= keep.length;
      push(keep);
    }
    if (this.down) parts.push(this.down.flush());
    let out = concatSamples(parts);
    // For rates that do not divide 48 kHz the round trip may differ by a sample: match the input length.
    const need = this.inCount - this.outCount;
    if (out.length !== need) {
      const fixed = new Float32Array(Math.max(0, need));
      fixed.set(out.subarray(0, Math.min(out.length, fixed.length)));
      out = fixed;
    }
    this.reset();
    return out;
  }

  reset(): void {
    this.release();
    this.up?.reset();
    this.down?.reset();
    this.fill = 0;
    this.skip = RNNOISE_DELAY;
    this.in48 = 0;
    this.out48 = 0;
    this.inCount = 0;
    this.outCount = 0;
    this.vad = 0;
  }

  dispose(): void {
    this.release();
    this.disposed = true;
  }

  /** Frames 48 kHz input through RNNoise; returns the time-aligned denoised samples produced so far. */
  private denoise(x: Float32Array): Float32Array {
    if (this.disposed) throw new Error('denoise stage used after dispose()');
    this.in48 += x.length;
    const frames = Math.floor((this.fill + x.length) / RNNOISE_FRAME);
    const out = new Float32Array(frames * RNNOISE_FRAME);
    let w = 0;
    let i = 0;
    const frame = this.frame;
    while (i < x.length) {
      const take = Math.min(RNNOISE_FRAME - this.fill, x.length - i);
      for (let k = 0; k < take; k++) {
        const v = x[i + k] as number;
        frame[this.fill + k] = v - v === 0 ? v * PCM_SCALE : 0;
      }
      this.fill += take;
      i += take;
      if (this.fill === RNNOISE_FRAME) {
        this.runFrame(out, w);
        w += RNNOISE_FRAME;
        this.fill = 0;
      }
    }
    const drop = Math.min(this.skip, w);
    this.skip -= drop;
    this.out48 += w - drop;
    return out.subarray(drop, w);
  }

  private runFrame(out: Float32Array, at: number): void {
    const m = this.m;
    if (this.state === 0) {
      this.state = m._rnnoise_create(0);
      this.framePtr = m._malloc(RNNOISE_FRAME * 4);
      if (this.state === 0 || this.framePtr === 0) throw new Error('RNNoise: out of wasm memory');
    }
    // HEAPF32 is replaced when the module's memory grows: read it after the allocations.
    const heap = m.HEAPF32;
    const p = this.framePtr >> 2;
    heap.set(this.frame, p);
    this.vad = m._rnnoise_process_frame(this.state, this.framePtr, this.framePtr);
    const y = m.HEAPF32.subarray(p, p + RNNOISE_FRAME);
    for (let k = 0; k < RNNOISE_FRAME; k++) {
      const v = (y[k] as number) / PCM_SCALE;
      out[at + k] = v > 1 ? 1 : v < -1 ? -1 : v;
    }
  }

  private release(): void {
    if (this.state !== 0) this.m._rnnoise_destroy(this.state);
    if (this.framePtr !== 0) this.m._free(this.framePtr);
    this.state = 0;
    this.framePtr = 0;
  }
}
