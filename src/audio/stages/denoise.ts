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
// Adaptive mode (create(rate, { adaptive: true }), used by the pipeline's denoise: 'auto'): RNNoise only
// helps on a noisy line (PocketSphinx WER on 250 Asterisk telephone prompts: clean 69.72% without, 71.46%
// with RNNoise; with white noise at 25 dB SNR 75.06% without, 69.60% with), so the stage tracks the line's
// noise floor (minimum 10 ms frame energy over the last 3 s) and mixes the denoised signal in only while
// the floor is above -60 dBFS (out again below -66 dBFS), with a 50 ms linear crossfade. The mix weight is
// fixed per input sample as it arrives, so any block split gives the same output; while disengaged the
// output is the input sample itself, bit for bit. While disengaged the RNNoise path (resampling to 48 kHz
// and back, RNNoise itself) does not run at all and samples pass straight through; it starts at the sample
// where the stage engages, first over the line's last WARM_S (100 ms, output unused) so RNNoise has adapted
// before its output is faded in, and stops at the sample where the fade-out ends, draining what it holds.
// Both points are fixed per sample, so any block split still gives the same output.
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
/** Adaptive stage: the line's last this many seconds are run through RNNoise, unused, when it engages. */
export const WARM_S = 0.1;

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
  /** Whether the denoised signal is being mixed in now (always true unless adaptive). */
  readonly engaged: boolean;
  /** Output samples that carried some denoised signal, over the stage's life (flush and reset keep it). */
  readonly denoisedSamples: number;
  /** 48 kHz frames RNNoise has run over the stage's life (an adaptive stage runs none while disengaged). */
  readonly framesRun: number;
  /** Frees the RNNoise state; the stage must not be used afterwards. */
  dispose(): void;
}

export interface DenoiseOptions {
  /**
   * Denoise only while the line is noisy (noise floor above ADAPTIVE_ENGAGE_DB, out below
   * ADAPTIVE_RELEASE_DB); otherwise pass the input through untouched. Default false: always denoise.
   */
  adaptive?: boolean;
}

export interface DenoiserFactory {
  /** A new denoise stage whose input and output are at `rate` Hz. */
  create(rate: number, opts?: DenoiseOptions): DenoiseStage;
}

/** Adaptive mode engages when the noise floor (dBFS, mean square) rises above this... */
export const ADAPTIVE_ENGAGE_DB = -60;
/** ...and disengages when it falls below this. */
export const ADAPTIVE_RELEASE_DB = -66;
/** Noise-floor window: minimum 10 ms frame energy over this many seconds. */
export const ADAPTIVE_WINDOW_S = 3;
/** Crossfade between dry and denoised signal, seconds. */
export const ADAPTIVE_FADE_S = 0.05;

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
  return {
    create: (rate: number, o?: DenoiseOptions) => {
      const stage = new RnnoiseStage(m, rate);
      return o?.adaptive ? new AdaptiveDenoiseStage(stage) : stage;
    },
  };
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
  /** Frames RNNoise has run (tests, benchmarks); reset() keeps it. */
  framesRun = 0;

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

  readonly engaged = true;
  private denoised = 0;

  get denoisedSamples(): number {
    return this.denoised;
  }

  process(block: Float32Array): Float32Array {
    const y = this.run(block);
    this.denoised += y.length;
    return y;
  }

  flush(): Float32Array {
    const y = this.drain();
    this.denoised += y.length;
    return y;
  }

  /** process() without the count (the adaptive stage counts what it mixes in). */
  run(block: Float32Array): Float32Array {
    this.inCount += block.length;
    const x48 = this.up ? this.up.process(block) : block;
    const y48 = this.denoise(x48);
    const y = this.down ? this.down.process(y48) : y48;
    this.outCount += y.length;
    return y;
  }

  /** flush() without the count. */
  drain(): Float32Array {
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
    this.framesRun++;
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

const SUB_FRAMES = 10; // 10 ms frames per sub-block (100 ms)
const MIN_FRAMES = 10; // frames seen before the first decision (100 ms)

/**
 * RNNoise mixed in only while the line is noisy. Noise floor by minimum statistics: the energy of each
 * 10 ms input frame, minima per 100 ms sub-block in a ring covering ADAPTIVE_WINDOW_S, floor = the least
 * of those and the current sub-block's (before the window has filled, the minimum over what was seen,
 * once 100 ms were). Disengaged, samples pass straight through (and into a short history). Engaged, the
 * mix weight of each input sample ramps toward the current decision and waits with the dry sample in a
 * FIFO until RNNoise yields the output sample for that position.
 */
class AdaptiveDenoiseStage implements DenoiseStage {
  readonly name = 'denoise';
  readonly inputRate: number;
  readonly outputRate: number;
  private readonly frameLen: number;
  private readonly step: number;
  private readonly subMins: Float64Array;
  // Noise-floor tracker.
  private frameFill = 0;
  private frameSum = 0;
  private frames = 0;
  private subFill = 0;
  private subMin = Infinity;
  private subCount = 0;
  private subHead = 0;
  private ringMin = Infinity;
  private on = false;
  private w = 0;
  /** The RNNoise path runs (from the engaging sample to the end of the fade-out). */
  private active = false;
  /** Outputs of the RNNoise path still to drop: they belong to the history it was warmed on. */
  private discard = 0;
  /** The last WARM_S of input (a ring), for warming RNNoise when the stage engages. */
  private readonly history: Float32Array;
  private histAt = 0;
  private histLen = 0;
  // FIFO of dry samples and their weights, waiting for RNNoise's output at the same positions.
  private dry = new Float32Array(1024);
  private wts = new Float32Array(1024);
  private head = 0;
  private len = 0;
  private out = new Float32Array(0);
  private outLen = 0;
  /** This process() call changed a sample (a non-finite one became 0) or ran the RNNoise path. */
  private altered = false;
  private denoised = 0;

  constructor(private readonly inner: RnnoiseStage) {
    this.inputRate = inner.inputRate;
    this.outputRate = inner.outputRate;
    this.frameLen = Math.max(1, Math.round(this.inputRate / 100));
    this.step = 1 / Math.max(1, Math.round(this.inputRate * ADAPTIVE_FADE_S));
    this.subMins = new Float64Array(Math.round((ADAPTIVE_WINDOW_S * 1000) / (10 * SUB_FRAMES)));
    this.history = new Float32Array(Math.max(1, Math.round(this.inputRate * WARM_S)));
  }

  get voiceProbability(): number {
    return this.inner.voiceProbability;
  }

  get engaged(): boolean {
    return this.on;
  }

  get denoisedSamples(): number {
    return this.denoised;
  }

  get framesRun(): number {
    return this.inner.framesRun;
  }

  process(block: Float32Array): Float32Array {
    this.outLen = 0;
    const n = block.length;
    let i = 0;
    this.altered = false;
    while (i < n) {
      if (!this.active) {
        const from = i;
        i = this.passThrough(block, i);
        if (this.on) this.start();
        // The whole block went through untouched: it is its own output (a session then keeps its Int16 frame).
        if (from === 0 && i === n && !this.altered) return block;
      } else {
        this.altered = true;
        const r = this.enqueue(block, i);
        this.mix(this.inner.run(block.subarray(i, r)), false);
        i = r;
        // Stopped before the end: the fade-out is over there; what RNNoise holds comes out, then it stops.
        if (r < n) this.stop();
      }
    }
    return this.out.subarray(0, this.outLen);
  }

  flush(): Float32Array {
    this.outLen = 0;
    if (this.active) this.stop();
    const y = this.out.slice(0, this.outLen);
    this.inner.reset();
    this.resetState();
    return y;
  }

  reset(): void {
    this.inner.reset();
    this.resetState();
  }

  dispose(): void {
    this.inner.dispose();
  }

  private resetState(): void {
    this.frameFill = 0;
    this.frameSum = 0;
    this.frames = 0;
    this.subFill = 0;
    this.subMin = Infinity;
    this.subCount = 0;
    this.subHead = 0;
    this.ringMin = Infinity;
    this.on = false;
    this.w = 0;
    this.active = false;
    this.discard = 0;
    this.histAt = 0;
    this.histLen = 0;
    this.head = 0;
    this.len = 0;
  }

  /**
   * Disengaged: samples from `from` go out as they are, until the one after which the stage engages. When
   * the whole block passes untouched it is its own output (process() returns it) and nothing is copied.
   */
  private passThrough(block: Float32Array, from: number): number {
    const n = block.length;
    const hist = this.history;
    let i = from;
    while (i < n) {
      const raw = block[i++] as number;
      const v = raw - raw === 0 ? raw : 0;
      if (v !== raw) this.altered = true;
      hist[this.histAt] = v;
      if (++this.histAt === hist.length) this.histAt = 0;
      if (this.histLen < hist.length) this.histLen++;
      this.frameSum += v * v;
      if (++this.frameFill === this.frameLen) {
        this.endFrame();
        if (this.on) break;
      }
    }
    if (from === 0 && i === n && !this.altered) return i;
    this.reserve(i - from);
    const out = this.out;
    let o = this.outLen;
    for (let k = from; k < i; k++) {
      const raw = block[k] as number;
      out[o++] = raw - raw === 0 ? raw : 0;
    }
    this.outLen = o;
    return i;
  }

  /** The stage engages: RNNoise starts afresh on the line's recent history, whose outputs are dropped. */
  private start(): void {
    this.active = true;
    const hist = this.history;
    const warm = new Float32Array(this.histLen);
    const first = (this.histAt - this.histLen + hist.length) % hist.length;
    for (let k = 0; k < this.histLen; k++) warm[k] = hist[(first + k) % hist.length] as number;
    this.histLen = 0;
    this.discard = warm.length;
    this.mix(this.inner.run(warm), false);
  }

  /** The fade-out is over: RNNoise gives what it holds (the FIFO empties) and the stage passes samples through. */
  private stop(): void {
    this.mix(this.inner.drain(), true);
    this.active = false;
    this.discard = 0;
  }

  /**
   * Engaged: tracks the noise floor, fixes each sample's weight and queues it with the sample, from `from`
   * until the sample at which the fade-out is over (returned; block.length if none).
   */
  private enqueue(block: Float32Array, from: number): number {
    const n = block.length;
    this.grow(this.len + n - from);
    const mask = this.dry.length - 1;
    let tail = (this.head + this.len) & mask;
    let w = this.w;
    let i = from;
    for (; i < n; i++) {
      w = this.on ? (w + this.step >= 1 ? 1 : w + this.step) : w - this.step <= 0 ? 0 : w - this.step;
      if (!this.on && w === 0) break;
      const raw = block[i] as number;
      const v = raw - raw === 0 ? raw : 0;
      this.dry[tail] = v;
      this.wts[tail] = w;
      tail = (tail + 1) & mask;
      this.frameSum += v * v;
      if (++this.frameFill === this.frameLen) this.endFrame();
    }
    this.w = w;
    this.len += i - from;
    return i;
  }

  private endFrame(): void {
    const energy = this.frameSum / this.frameLen;
    const e = energy > 0 ? 10 * Math.log10(energy) : -Infinity;
    this.frameFill = 0;
    this.frameSum = 0;
    this.frames++;
    if (e < this.subMin) this.subMin = e;
    if (++this.subFill === SUB_FRAMES) {
      const n = this.subMins.length;
      this.subMins[this.subHead] = this.subMin;
      this.subHead = (this.subHead + 1) % n;
      if (this.subCount < n) this.subCount++;
      let m = Infinity;
      for (let k = 0; k < this.subCount; k++) m = Math.min(m, this.subMins[k] as number);
      this.ringMin = m;
      this.subFill = 0;
      this.subMin = Infinity;
    }
    if (this.frames < MIN_FRAMES) return;
    const floor = Math.min(this.ringMin, this.subMin);
    if (!this.on && floor > ADAPTIVE_ENGAGE_DB) this.on = true;
    else if (this.on && floor < ADAPTIVE_RELEASE_DB) this.on = false;
  }

  /** Mixes RNNoise's output (past what is to be dropped) with the queued dry samples at the same positions, into out. */
  private mix(all: Float32Array, last: boolean): void {
    const skip = Math.min(this.discard, all.length);
    this.discard -= skip;
    const y = skip > 0 ? all.subarray(skip) : all;
    // Drained, the path's output matches what it was given, so it takes exactly what is queued.
    const n = last ? this.len : Math.min(y.length, this.len);
    this.reserve(n);
    const out = this.out;
    const mask = this.dry.length - 1;
    let h = this.head;
    let o = this.outLen;
    let denoised = 0;
    for (let i = 0; i < n; i++) {
      const d = i < y.length ? (y[i] as number) : 0;
      const w = this.wts[h] as number;
      const x = this.dry[h] as number;
      h = (h + 1) & mask;
      if (w === 0) {
        out[o++] = x;
      } else {
        out[o++] = w === 1 ? d : w * d + (1 - w) * x;
        denoised++;
      }
    }
    this.head = h;
    this.len -= n;
    this.outLen = o;
    this.denoised += denoised;
  }

  /** Room for `more` output samples after outLen (kept contents). */
  private reserve(more: number): void {
    const need = this.outLen + more;
    if (need <= this.out.length) return;
    const grown = new Float32Array(Math.max(need, 2 * this.out.length));
    grown.set(this.out.subarray(0, this.outLen));
    this.out = grown;
  }

  /** Makes the FIFO hold at least `need` samples (capacity a power of two). */
  private grow(need: number): void {
    let cap = this.dry.length;
    if (need <= cap) return;
    while (cap < need) cap *= 2;
    const dry = new Float32Array(cap);
    const wts = new Float32Array(cap);
    const mask = this.dry.length - 1;
    for (let i = 0; i < this.len; i++) {
      const j = (this.head + i) & mask;
      dry[i] = this.dry[j] as number;
      wts[i] = this.wts[j] as number;
    }
    this.dry = dry;
    this.wts = wts;
    this.head = 0;
  }
}
