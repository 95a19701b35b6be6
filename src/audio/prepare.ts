// Batch input for an engine, as a stream: the upload is decoded at its own rate block by block, the
// preprocessing chain (DC removal, resampling to the model's rate, denoise, gain; only the resampler with
// preprocessing off) runs on each block, yielding to the event loop as it goes, and the result is held as
// 16-bit PCM pieces of at most pieceSeconds cut at pauses, a couple of pieces ahead of their consumer (the
// decoder waits in between). Memory is those pieces plus one block, whatever the file's length; the
// duration limit holds at once for a declared length and while the audio arrives for the rest.
//
// The source is tagged 'telephony' or 'wideband' from its first DETECT_SECONDS (the whole clip when it is
// shorter, so short files are tagged as before). prepareAudio() is the same pipeline collected into one
// array, for the CLI.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CancelledError } from '../errors/index.js';
import { AsyncQueue } from '../util/async-queue.js';
import { PieceCutter, type AudioPiece } from './chunk.js';
import { openAudio, type AudioSource, type DecodedAudio } from './decode.js';
import { createPreprocessor, type DenoiserFactory, type Preprocessor } from './stages/pipeline.js';
import type { AudioQuality } from './stages/stage.js';
import { detectAudioQualitySteps } from './stages/telephony.js';
import { concatSamples } from './stages/util.js';

export { MIN_SOURCE_RATE } from './source.js';
export type { AudioPiece } from './chunk.js';

export interface PrepareOptions {
  /** The model's sample rate. */
  targetRate: number;
  /** DC removal, denoise and gain; false leaves only the resampler. */
  preprocess: boolean;
  dc: boolean | 'auto';
  gain: boolean;
  /** 'auto': on for telephony audio, off for wideband. */
  denoise: boolean | 'auto';
  /** The loaded RNNoise; undefined = denoise is skipped. */
  denoiser?: DenoiserFactory | undefined;
  onWarning?: (message: string) => void;
  signal?: AbortSignal | undefined;
  ffmpegPath?: string | undefined;
  maxSeconds?: number | undefined;
}

export interface PrepareStreamOptions extends PrepareOptions {
  /** Longest piece (seconds at the model's rate); default 30. */
  pieceSeconds?: number;
}

/** What the stages cost once the whole upload is prepared. */
export interface PrepareSummary {
  /** Seconds of prepared audio. */
  duration: number;
  /** CPU seconds per stage. */
  timings: Record<string, number>;
  /** Seconds spent decoding (converting, or waiting on ffmpeg). */
  decodeSeconds: number;
  /** NaN and infinite input samples replaced by silence. */
  nonFiniteSamples: number;
}

export interface PreparedStream {
  /** The model's rate: the rate of every piece. */
  readonly sampleRate: number;
  readonly sourceFormat: string;
  readonly sourceRate: number;
  readonly sourceChannels: number;
  /** Seconds the file says it holds; undefined when unknown. */
  readonly declaredSeconds: number | undefined;
  readonly quality: AudioQuality;
  /** The stages that run, in order. */
  readonly stages: string[];
  /** Seconds of audio prepared so far. */
  readonly seconds: number;
  /** True once the whole upload is prepared (`seconds` is then its length). */
  readonly finished: boolean;
  /** The pieces in order, as they are prepared (one consumer). Throws what decoding or preprocessing threw. */
  readonly pieces: AsyncIterable<AudioPiece>;
  /** Resolves once the whole upload is prepared; rejects with what went wrong (also thrown by `pieces`). */
  readonly done: Promise<PrepareSummary>;
  /** Stops preparing and frees the decoder. Safe twice. */
  close(): void;
}

export interface PreparedAudio extends DecodedAudio {
  quality: AudioQuality;
  /** The stages that ran, in order. */
  stages: string[];
  /** CPU seconds per stage. */
  timings: Record<string, number>;
  /** Seconds spent decoding. */
  decodeSeconds: number;
}

/** Seconds of source audio whose spectrum decides between telephony and wideband. */
export const DETECT_SECONDS = 30;
/** Work between two turns of the event loop, at most (plus one step). */
const YIELD_EVERY_MS = 4;
/** Longest piece of source audio preprocessed in one go. */
const MAX_STEP_SECONDS = 0.25;
/**
 * Pieces prepared ahead of the worker, at most (with 30 s pieces, a minute of 16-bit audio at 16 kHz:
 * ~2 MB). The next piece is ready long before the worker is done with the current one.
 */
const PIECES_AHEAD = 2;

const G711 = /mulaw|alaw/;

/**
 * Opens an upload and starts preparing it. Resolves once the format and the quality are known (the first
 * DETECT_SECONDS decoded); rejects with TheoError 'audio_decode' for what is wrong with the input by then.
 */
export async function openPreparedAudio(bytes: Uint8Array, opts: PrepareStreamOptions): Promise<PreparedStream> {
  const p = await Pipeline.open(bytes, opts);
  return new PieceStream(p, opts.pieceSeconds ?? 30);
}

/** The whole upload prepared into one array (for short clips; long audio goes through openPreparedAudio). */
export async function prepareAudio(bytes: Uint8Array, opts: PrepareOptions): Promise<PreparedAudio> {
  const p = await Pipeline.open(bytes, opts);
  const blocks: Float32Array[] = [];
  const summary = await p.run((b) => blocks.push(b.slice()));
  const samples = concatSamples(blocks);
  const { source } = p;
  return {
    samples,
    sampleRate: opts.targetRate,
    duration: summary.duration,
    sourceFormat: source.format,
    sourceRate: source.sampleRate,
    sourceChannels: source.channels,
    quality: p.quality,
    stages: [...p.chain.stages],
    timings: summary.timings,
    decodeSeconds: summary.decodeSeconds,
  };
}

/** Decoder, quality detection and preprocessing chain, run block by block into a sink. */
class Pipeline {
  private samples = 0;
  private decodeNs = 0n;
  private closed = false;

  private constructor(
    readonly source: AudioSource,
    private readonly blocks: AsyncIterator<Float32Array>,
    /** The first blocks, read to detect the quality; processed first. */
    private prefix: Float32Array[],
    readonly quality: AudioQuality,
    readonly chain: Preprocessor,
    private readonly targetRate: number,
  ) {}

  static async open(bytes: Uint8Array, opts: PrepareOptions): Promise<Pipeline> {
    const t0 = process.hrtime.bigint();
    const source = await openAudio(bytes, { signal: opts.signal, ffmpegPath: opts.ffmpegPath, maxSeconds: opts.maxSeconds });
    try {
      const blocks = source[Symbol.asyncIterator]();
      const prefix: Float32Array[] = [];
      let n = 0;
      const want = DETECT_SECONDS * source.sampleRate;
      let lastYield = performance.now();
      while (n < want) {
        const r = await blocks.next();
        if (r.done) break;
        prefix.push(r.value);
        n += r.value.length;
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await nextTurn();
          lastYield = performance.now();
        }
      }
      const rate = source.sampleRate;
      let quality: AudioQuality = 'telephony';
      if (!G711.test(source.format)) {
        // One FFT frame per step: the spectrum of 30 s at a high rate is too much work for one turn.
        const steps = detectAudioQualitySteps(rate, prefix, rate);
        for (let r = steps.next(); ; r = steps.next()) {
          if (r.done) {
            quality = r.value;
            break;
          }
          if (performance.now() - lastYield >= YIELD_EVERY_MS) {
            await nextTurn();
            lastYield = performance.now();
          }
        }
      }
      const chain = createPreprocessor({
        inputRate: rate,
        outputRate: opts.targetRate,
        quality,
        dc: opts.preprocess ? opts.dc : false,
        gain: opts.preprocess && opts.gain,
        denoise: opts.preprocess ? opts.denoise : false,
        ...(opts.denoiser ? { denoiser: opts.denoiser } : {}),
        ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
      });
      const p = new Pipeline(source, blocks, prefix, quality, chain, opts.targetRate);
      p.decodeNs = process.hrtime.bigint() - t0;
      return p;
    } catch (err) {
      source.close();
      throw err;
    }
  }

  /** Seconds of prepared audio so far. */
  get seconds(): number {
    return this.samples / this.targetRate;
  }

  /**
   * Runs the rest of the upload through the chain; every output block goes to `sink`, which must consume or
   * copy it at once (it is a view of a stage's buffer: no allocation per block).
   * After each block `room()` may return a promise: the pipeline (and the decoder behind it) waits for it.
   */
  async run(sink: (block: Float32Array) => void, room: () => Promise<void> | undefined = () => undefined): Promise<PrepareSummary> {
    try {
      let lastYield = performance.now();
      for (;;) {
        let block = this.prefix.shift();
        if (!block) {
          const t0 = process.hrtime.bigint();
          const r = await this.blocks.next();
          this.decodeNs += process.hrtime.bigint() - t0;
          if (r.done) break;
          block = r.value;
        }
        // Steps of at most a quarter second: a decoder's block of a low-rate source upsampled is a lot of work.
        const step = Math.max(1, Math.floor(this.source.sampleRate * MAX_STEP_SECONDS));
        for (let at = 0; at < block.length; at += step) {
          if (this.closed) throw new CancelledError('audio preparation was stopped');
          this.emit(this.chain.processTimedView(block.subarray(at, at + step)), sink);
          const wait = room();
          if (wait) {
            await wait;
            lastYield = performance.now();
          } else if (performance.now() - lastYield >= YIELD_EVERY_MS) {
            // A long file must not hold the event loop: live calls and /health run between steps.
            await nextTurn();
            lastYield = performance.now();
          }
        }
      }
      if (this.closed) throw new CancelledError('audio preparation was stopped');
      this.emit(this.chain.flush(), sink);
      return { duration: this.seconds, timings: this.chain.timings(), decodeSeconds: Number(this.decodeNs) / 1e9, nonFiniteSamples: this.chain.nonFiniteSamples };
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.prefix = [];
    this.source.close();
    this.chain.dispose();
    // The decoder's generator ends (its finally frees ffmpeg) once it is told to return.
    void this.blocks.return?.().catch(() => undefined);
  }

  private emit(block: Float32Array, sink: (block: Float32Array) => void): void {
    if (block.length === 0) return;
    this.samples += block.length;
    sink(block);
  }
}

/**
 * A Pipeline running at once into a PieceCutter and a queue of pieces, at most PIECES_AHEAD ahead of the
 * consumer: a queued or slow job holds a few pieces and a paused decoder, never its whole audio.
 */
class PieceStream implements PreparedStream {
  readonly pieces: AsyncQueue<AudioPiece>;
  readonly done: Promise<PrepareSummary>;
  finished = false;

  constructor(
    private readonly p: Pipeline,
    pieceSeconds: number,
  ) {
    const queue = new AsyncQueue<AudioPiece>();
    this.pieces = queue;
    const cutter = new PieceCutter(p.chain.outputRate, pieceSeconds, Math.min(5, pieceSeconds / 3));
    this.done = p
      .run(
        (block) => {
          for (const piece of cutter.push(block)) queue.push(piece);
        },
        () => (queue.size >= PIECES_AHEAD ? queue.whenBelow(PIECES_AHEAD) : undefined),
      )
      .then(
        (summary) => {
          const last = cutter.end();
          if (last) queue.push(last);
          queue.end();
          this.finished = true;
          return summary;
        },
        (err: unknown) => {
          queue.fail(err);
          throw err;
        },
      );
    // The failure reaches the consumer through `pieces`, and whoever awaits `done`; never unhandled.
    this.done.catch(() => undefined);
  }

  get sampleRate(): number {
    return this.p.chain.outputRate;
  }
  get sourceFormat(): string {
    return this.p.source.format;
  }
  get sourceRate(): number {
    return this.p.source.sampleRate;
  }
  get sourceChannels(): number {
    return this.p.source.channels;
  }
  get declaredSeconds(): number | undefined {
    return this.p.source.declaredSeconds;
  }
  get quality(): AudioQuality {
    return this.p.quality;
  }
  get stages(): string[] {
    return [...this.p.chain.stages];
  }
  get seconds(): number {
    return this.p.seconds;
  }

  close(): void {
    this.p.close();
    // A pipeline waiting for room wakes up, finds itself closed and stops.
    this.pieces.fail(new CancelledError('audio preparation was stopped'));
  }
}
