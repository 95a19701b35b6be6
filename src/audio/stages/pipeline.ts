// The audio preprocessing chain, for a whole file or for a stream of frames:
//   dc (at the input rate) -> resample (to the output rate) -> denoise -> gain
// Each stage keeps its state across blocks, so a stream in 20 ms frames gives the same samples as the whole
// file at once. Non-finite input samples become 0 at the entry (and are counted). Time spent in each stage
// is summed for the preprocessing_duration_seconds{stage} metric.
import type { DenoiserFactory, DenoiseStage } from './denoise.js';
import { createDcBlocker } from './dc.js';
import { createGainNormalizer } from './gain.js';
import { createResampler } from './resample.js';
import type { AudioQuality, AudioStage } from './stage.js';
import { detectAudioQuality } from './telephony.js';
import { checkRate, concatSamples } from './util.js';

export type { AudioQuality, AudioStage } from './stage.js';
export type { DenoiserFactory } from './denoise.js';

export interface PreprocessorOptions {
  /** Rate of the samples given to process(), integer Hz in [1000, 384000]. */
  inputRate: number;
  /** Rate of the samples returned, integer Hz in [1000, 384000]. */
  outputRate: number;
  /** DC removal (20 Hz high-pass): true (always), false, or 'auto' (default: only while the input has an offset). */
  dc?: boolean | 'auto';
  /** Gain normalisation to a -3 dBFS peak; default true here (the config's default is false). */
  gain?: boolean;
  /**
   * Noise suppression: true (always), false, or 'auto' (default: for telephony audio, engaged only while
   * the line's noise floor is above -60 dBFS, so clean audio passes untouched; off for wideband).
   */
  denoise?: boolean | 'auto';
  /** How the audio reached us; default from inputRate (8 kHz or less is telephony). */
  quality?: AudioQuality;
  /** From loadDenoiser(); without it denoising is skipped (with one warning per process if it was wanted). */
  denoiser?: DenoiserFactory;
  onWarning?: (message: string) => void;
}

export interface Preprocessor {
  readonly inputRate: number;
  readonly outputRate: number;
  readonly quality: AudioQuality;
  /** Names of the active stages, in order ('dc', 'resample', 'denoise', 'gain'). */
  readonly stages: string[];
  /** NaN and +-Infinity input samples replaced by 0 so far. */
  readonly nonFiniteSamples: number;
  /** Processes the next block; returns a new array (possibly shorter or longer than the block). */
  process(block: Float32Array): Float32Array;
  /**
   * As process(), without the copy and without timing the stages: the result is a view of a stage's buffer,
   * or the block itself when every stage left it as it was (DC removal on audio without an offset), and is
   * valid only until the next call. For a caller that consumes each block at once (a live session).
   */
  processView(block: Float32Array): Float32Array;
  /** processView() with the stages timed (for timings()): a batch caller that consumes each block at once. */
  processTimedView(block: Float32Array): Float32Array;
  /**
   * After processView(): the same block after DC removal and resampling only, before denoise and gain (a
   * view valid until the next call). A live session's VAD hears it: Silero is trained on noisy speech, and
   * RNNoise's artefacts would only mislead it.
   */
  readonly detectView: Float32Array;
  /** End of stream: returns what the stages still hold; then the preprocessor is like new. */
  flush(): Float32Array;
  /** Drops all state (a new stream); counters and timings are kept. */
  reset(): void;
  /** Frees native resources (the denoiser); the preprocessor must not be used afterwards. */
  dispose(): void;
  /** CPU seconds spent in each active stage by process() and flush() since creation. */
  timings(): Record<string, number>;
}

export interface PreprocessedAudio {
  samples: Float32Array;
  sampleRate: number;
  quality: AudioQuality;
  stages: string[];
  timings: Record<string, number>;
  nonFiniteSamples: number;
}

let warnedNoDenoiser = false;
const NOTHING = new Float32Array(0);

class Chain implements Preprocessor {
  readonly inputRate: number;
  readonly outputRate: number;
  readonly quality: AudioQuality;
  readonly stages: string[];
  private readonly chain: AudioStage[];
  /** Nanoseconds per stage, summed. */
  private readonly ns: bigint[];
  private readonly denoiser: DenoiseStage | undefined;
  private scratch = new Float32Array(0);
  private nonFinite = 0;
  /** Stages before this index are DC removal and resampling (what detectView holds). */
  private readonly detectStages: number;
  private lastDetect: Float32Array = new Float32Array(0);

  constructor(opts: PreprocessorOptions) {
    checkRate('inputRate', opts.inputRate);
    checkRate('outputRate', opts.outputRate);
    this.inputRate = opts.inputRate;
    this.outputRate = opts.outputRate;
    this.quality = opts.quality ?? detectAudioQuality(opts.inputRate);
    const chain: AudioStage[] = [];
    const dc = opts.dc ?? 'auto';
    if (dc !== false) chain.push(createDcBlocker(opts.inputRate, { adaptive: dc === 'auto' }));
    if (opts.inputRate !== opts.outputRate) chain.push(createResampler(opts.inputRate, opts.outputRate));
    this.detectStages = chain.length;
    const denoise = opts.denoise ?? 'auto';
    if (denoise === true || (denoise === 'auto' && this.quality === 'telephony')) {
      if (opts.denoiser) {
        // 'auto' denoises only while the line is noisy: RNNoise degrades clean telephone audio.
        this.denoiser = opts.denoiser.create(opts.outputRate, { adaptive: denoise === 'auto' });
        chain.push(this.denoiser);
      } else if (!warnedNoDenoiser && opts.onWarning) {
        warnedNoDenoiser = true;
        opts.onWarning('noise suppression skipped: the RNNoise denoiser is not loaded');
      }
    }
    if (opts.gain ?? true) chain.push(createGainNormalizer(opts.outputRate));
    this.chain = chain;
    this.stages = chain.map((s) => s.name);
    this.ns = chain.map(() => 0n);
  }

  get nonFiniteSamples(): number {
    return this.nonFinite;
  }

  get detectView(): Float32Array {
    return this.lastDetect;
  }

  process(block: Float32Array): Float32Array {
    // Stage outputs alias their buffers (and with no stage it is the caller's block): hand back a copy.
    return this.run(block, true).slice();
  }

  processTimedView(block: Float32Array): Float32Array {
    return this.run(block, true);
  }

  processView(block: Float32Array): Float32Array {
    // Per-frame timing would cost a live session more than its DC removal: only process() is timed.
    return this.run(block, false);
  }

  private run(block: Float32Array, timed: boolean): Float32Array {
    if (block.length === 0) {
      this.lastDetect = block;
      return block;
    }
    let x = this.sanitize(block);
    // With no stage before it, the view is the block; else the resampler's output (nothing if it held it all).
    this.lastDetect = this.detectStages === 0 ? x : NOTHING;
    for (let i = 0; i < this.chain.length; i++) {
      const stage = this.chain[i] as AudioStage;
      if (timed) {
        const t0 = process.hrtime.bigint();
        x = stage.process(x);
        this.ns[i] = (this.ns[i] as bigint) + (process.hrtime.bigint() - t0);
      } else x = stage.process(x);
      if (i + 1 === this.detectStages) this.lastDetect = x;
      if (x.length === 0) break;
    }
    return x;
  }

  flush(): Float32Array {
    let carry: Float32Array = new Float32Array(0);
    for (let i = 0; i < this.chain.length; i++) {
      const stage = this.chain[i] as AudioStage;
      const t0 = process.hrtime.bigint();
      const head = carry.length > 0 ? stage.process(carry).slice() : carry;
      const tail = stage.flush();
      this.ns[i] = (this.ns[i] as bigint) + (process.hrtime.bigint() - t0);
      carry = tail.length > 0 ? concatSamples([head, tail]) : head;
    }
    return carry;
  }

  reset(): void {
    for (const s of this.chain) s.reset();
  }

  dispose(): void {
    this.denoiser?.dispose();
  }

  timings(): Record<string, number> {
    const out: Record<string, number> = {};
    this.chain.forEach((s, i) => {
      out[s.name] = Number(this.ns[i] ?? 0n) / 1e9;
    });
    return out;
  }

  /** The block itself when all samples are finite, else a copy with NaN/Infinity as 0 (counted). */
  private sanitize(block: Float32Array): Float32Array {
    let bad = 0;
    for (let i = 0; i < block.length; i++) {
      const v = block[i] as number;
      if (v - v !== 0) bad++;
    }
    if (bad === 0) return block;
    this.nonFinite += bad;
    if (this.scratch.length < block.length) this.scratch = new Float32Array(block.length);
    const out = this.scratch.subarray(0, block.length);
    for (let i = 0; i < block.length; i++) {
      const v = block[i] as number;
      out[i] = v - v === 0 ? v : 0;
    }
    return out;
  }
}

/** A streaming preprocessor (see PreprocessorOptions). Throws RangeError for rates outside [1000, 384000]. */
export function createPreprocessor(opts: PreprocessorOptions): Preprocessor {
  return new Chain(opts);
}

/**
 * Preprocesses a whole clip: one process() and a flush(). Without opts.quality the quality comes from the
 * samples (an 8 kHz call upsampled into a wideband file counts as telephony).
 */
export function preprocessFile(samples: Float32Array, inputRate: number, opts: Omit<PreprocessorOptions, 'inputRate'>): PreprocessedAudio {
  checkRate('inputRate', inputRate);
  const quality = opts.quality ?? detectAudioQuality(inputRate, samples, inputRate);
  const p = createPreprocessor({ ...opts, inputRate, quality });
  try {
    const head = p.process(samples);
    const tail = p.flush();
    return {
      samples: tail.length > 0 ? concatSamples([head, tail]) : head,
      sampleRate: p.outputRate,
      quality,
      stages: [...p.stages],
      timings: p.timings(),
      nonFiniteSamples: p.nonFiniteSamples,
    };
  } finally {
    p.dispose();
  }
}
