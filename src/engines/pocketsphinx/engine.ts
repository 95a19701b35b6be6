// The `pocketsphinx` engine: CMU PocketSphinx (Debian's 0.8+5prealpha libraries, through koffi) with an
// HMM acoustic model, a trigram LM and a pronunciation dictionary. Batch transcription and streams with
// native partials. Searches run on koffi's native threads (Decoder.processAsync, RTF ~0.25 per stream), so
// a worker's event loop stays free for gRPC and Health under any load and streams decode on every core.
//
// Decoders: a decoder decodes one utterance at a time and costs ~95 MB (dictionary, acoustic model and
// search state; the LM is mmapped and shared). Batch calls share one decoder through a queue; each stream
// owns a decoder for its lifetime (its utterances span many pushes, which cannot interleave with anything
// else), taken from a pool of idle ones that closed streams return to.
//
// Hot words: not supported. This API cannot bias words the LM already has, words outside the dictionary
// have no pronunciation (no G2P here), and LM changes are permanent per decoder, not per request.
import { float32ToInt16 } from '../../audio/resample.js';
import { CancelledError, ClosedError, TheoError } from '../../errors/index.js';
import type { Engine, EngineCapabilities, EngineResult, EngineStream, StreamHypothesis, StreamOptions, TranscribeOptions } from '../engine.js';
import { CEPSTRUM_SIZE, Decoder, type DecoderConfig } from './native.js';
import { meanProbability, segmentWords, wordsFrom } from './results.js';
import { PocketsphinxStream } from './stream.js';

export interface PocketsphinxEngineOptions {
  /** Acoustic model folder. */
  hmm: string;
  /** Language model (ARPA or binary). */
  lm: string;
  /** Pronunciation dictionary. */
  dict: string;
  /**
   * PocketSphinx command-line arguments without the dash, e.g. { beam: '1e-60', pbeam: 1e-48 } (manifest
   * defaults.options), plus the engine's own ENGINE_OPTIONS: `stream_prime_ms` (see STREAM_PRIME_MS) and
   * `telephony_cmn` (13 comma-separated numbers: the cepstral mean of telephone speech for this model).
   */
  options?: Readonly<Record<string, string | number | boolean>>;
}

const SAMPLE_RATE = 16000;
/** Batch input goes to the decoder in chunks of this many samples (0.5 s). */
const BATCH_CHUNK = SAMPLE_RATE / 2;
/**
 * Cepstral mean normalisation of stream utterances. A batch clip gets its own mean over all its frames; a
 * stream utterance cannot wait for its end. Two ways, both per utterance (an utterance then decodes the
 * same whatever came before it, so a session that reopens its stream on another worker after a crash gets
 * the same words):
 * - telephone audio (StreamOptions.audioQuality 'telephony') with the model's `telephony_cmn`: that fixed
 *   mean, measured over telephone speech; decoding starts with the first sample. Narrowband audio upsampled
 *   to 16 kHz is far from the wideband speech of the model's -cmninit, and its channel is what the mean
 *   mostly captures (`npm run eval:stream`: 75.6% WER against 84.5% with a 0.5 s prime, batch 72.6%).
 * - otherwise the first STREAM_PRIME_MS of the utterance (manifest option `stream_prime_ms`) is held back
 *   and its mean used.
 */
export const STREAM_PRIME_MS = 500;
/**
 * Decoder arguments of stream decoders, under the manifest's. `-fwdflat no`: a live final is the first
 * (tree) pass's best path, without the flat-lexicon re-search at the utterance's end, which made the final
 * wait: `npm run eval:stream` on 100 telephone prompts, final pass p50 / p95 105 / 473 ms with it, 42 / 181
 * without; WER 74.7% with, 75.6% without (within PocketSphinx's spread on these prompts).
 */
const STREAM_ARGS: Readonly<Record<string, string>> = { '-fwdflat': 'no' };
/** Manifest options the engine takes itself (not decoder arguments). */
const ENGINE_OPTIONS = new Set(['stream_prime_ms', 'telephony_cmn']);
/** Arguments the engine sets itself. */
const RESERVED_ARGS = new Set(['hmm', 'lm', 'dict', 'logfn', 'samprate']);

export const POCKETSPHINX_CAPABILITIES: Readonly<EngineCapabilities> = Object.freeze({
  architecture: 'hmm',
  nativePartials: true,
  languages: ['en'],
  translate: false,
  segmentTimestamps: true,
  wordTimestamps: true,
  hotWords: false,
  languageDetection: false,
  sampleRate: SAMPLE_RATE,
});

export function createPocketsphinxEngine(options: PocketsphinxEngineOptions): PocketsphinxEngine {
  return new PocketsphinxEngine(options);
}

/** Maps manifest options to decoder arguments; throws TheoError('model_invalid') for reserved or malformed names. */
export function decoderArgs(options: Readonly<Record<string, string | number | boolean>> = {}): Record<string, string> {
  const args: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (ENGINE_OPTIONS.has(key)) continue;
    if (!/^[a-z][a-z0-9_]*$/i.test(key) || RESERVED_ARGS.has(key)) {
      throw new TheoError('model_invalid', `pocketsphinx: option '${key}' cannot be set${RESERVED_ARGS.has(key) ? ' (the engine sets it)' : ' (not an argument name)'}`, { option: key });
    }
    args[`-${key}`] = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
  }
  return args;
}

export class PocketsphinxEngine implements Engine {
  readonly name = 'pocketsphinx';
  readonly capabilities: EngineCapabilities = { ...POCKETSPHINX_CAPABILITIES, languages: [...POCKETSPHINX_CAPABILITIES.languages] };
  private readonly config: DecoderConfig;
  /** Stream decoders: the same, without the second (flat-lexicon) pass unless the manifest asks for it (see STREAM_ARGS). */
  private readonly streamConfig: DecoderConfig;
  private readonly primeSamples: number;
  private readonly telephonyCmn: Float32Array | undefined;
  /** Whether this model's decoders let the engine set their cepstral mean (checked on the first one). */
  private cmnControl = false;
  private batch: Decoder | undefined;
  private readonly idle: Decoder[] = [];
  private readonly streams = new Set<PocketsphinxStream>();
  /** Tail of the batch queue: transcriptions run one after another on the batch decoder. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: PocketsphinxEngineOptions) {
    this.config = { hmm: options.hmm, lm: options.lm, dict: options.dict, args: decoderArgs(options.options) };
    this.streamConfig = { ...this.config, args: { ...STREAM_ARGS, ...this.config.args } };
    const primeMs = Number(options.options?.stream_prime_ms ?? STREAM_PRIME_MS);
    if (!Number.isFinite(primeMs) || primeMs < 10 || primeMs > 5000) {
      throw new TheoError('model_invalid', `pocketsphinx: stream_prime_ms must be a number of milliseconds in 10..5000, got '${String(options.options?.stream_prime_ms)}'`);
    }
    this.primeSamples = Math.round((primeMs / 1000) * SAMPLE_RATE);
    this.telephonyCmn = parseCmn(options.options?.telephony_cmn);
  }

  load(): Promise<void> {
    try {
      this.batchDecoder();
      // One stream decoder up front: creating it loads the model again (~0.5 s of blocking work), which
      // would otherwise land on the first live utterance and delay its partials and final.
      if (this.idle.length === 0) this.idle.push(Decoder.create(this.streamConfig));
      this.cmnControl = this.idle[0]?.cmnControl ?? false;
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  transcribe(audio: Float32Array, options: TranscribeOptions): Promise<EngineResult> {
    const run = this.queue.then(() => this.runTranscribe(audio, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  openStream(options: StreamOptions, onHypothesis: (h: StreamHypothesis) => void): EngineStream {
    if (this.closed) throw new ClosedError('pocketsphinx engine');
    checkLanguageAndTask(options.language, options.task);
    // A new decoder loads on a native thread (~0.5 s): the stream queues its audio meanwhile.
    const decoder = this.idle.pop() ?? Decoder.createAsync(this.streamConfig);
    const fixedCmn = options.audioQuality === 'telephony' && this.cmnControl ? this.telephonyCmn : undefined;
    const stream = new PocketsphinxStream(decoder, this.primeSamples, fixedCmn, options, onHypothesis, (s, d) => this.release(s, d));
    this.streams.add(stream);
    return stream;
  }

  /** Closes every stream, lets a running transcription stop at its next chunk, rejects queued ones, frees all decoders. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const s of [...this.streams]) s.close();
    this.closing = this.queue.then(() => {
      this.batch?.free();
      this.batch = undefined;
      for (const d of this.idle.splice(0)) d.free();
    });
    return this.closing;
  }

  private batchDecoder(): Decoder {
    if (this.closed) throw new ClosedError('pocketsphinx engine');
    this.batch ??= Decoder.create(this.config);
    return this.batch;
  }

  private release(stream: PocketsphinxStream, decoder: Decoder | undefined): void {
    this.streams.delete(stream);
    if (!decoder) return;
    if (this.closed) decoder.free();
    else this.idle.push(decoder);
  }

  private async runTranscribe(audio: Float32Array, options: TranscribeOptions): Promise<EngineResult> {
    if (options.signal?.aborted) throw new CancelledError('pocketsphinx: transcription cancelled');
    checkLanguageAndTask(options.language, options.task);
    const decoder = this.batchDecoder();
    const pcm = float32ToInt16(audio);
    const duration = pcm.length / SAMPLE_RATE;
    // The clip's own cepstral mean (the model's batch CMN), so earlier clips no longer skew this one.
    const mean = decoder.cepstralMean(pcm);
    if (mean) decoder.setCmn(mean);
    else decoder.resetCmn();
    decoder.startStream();
    decoder.startUtterance();
    try {
      for (let off = 0; off < pcm.length; off += BATCH_CHUNK) {
        await decoder.processAsync(pcm.subarray(off, off + BATCH_CHUNK));
        if (options.signal?.aborted) throw new CancelledError('pocketsphinx: transcription cancelled', { atSeconds: Math.min(off + BATCH_CHUNK, pcm.length) / SAMPLE_RATE });
        if (this.closed) throw new ClosedError('pocketsphinx engine');
      }
    } catch (err) {
      // Ends the utterance on every path, so the decoder is ready for the next call.
      decoder.endUtterance();
      throw err;
    }
    await decoder.endUtteranceAsync();
    const words = wordsFrom(decoder.segments(), duration);
    const segments = segmentWords(words, options.wordTimestamps);
    return {
      text: words.map((w) => w.word).join(' '),
      language: 'en',
      duration,
      segments,
      confidence: meanProbability(words),
    };
  }
}

/** The `telephony_cmn` option: 13 finite numbers, comma-separated; undefined when not set. */
function parseCmn(value: string | number | boolean | undefined): Float32Array | undefined {
  if (value === undefined) return undefined;
  const parts = String(value).split(',').map((v) => Number(v.trim()));
  if (parts.length !== CEPSTRUM_SIZE || parts.some((v) => !Number.isFinite(v))) {
    throw new TheoError('model_invalid', `pocketsphinx: telephony_cmn must be ${CEPSTRUM_SIZE} comma-separated numbers, got '${String(value)}'`);
  }
  return Float32Array.from(parts);
}

function checkLanguageAndTask(language: string | undefined, task: string): void {
  if (language !== undefined && language.toLowerCase() !== 'en') {
    throw new TheoError('invalid_argument', `pocketsphinx: language '${language}' is not supported (this model is English only)`, { language, languages: ['en'] });
  }
  if (task === 'translate') throw new TheoError('invalid_argument', 'pocketsphinx cannot translate', { task });
}
