// The `whisper` engine: a Whisper model folder in the onnx-community ONNX layout, run by
// @huggingface/transformers on onnxruntime-node (CPU by default, CUDA when asked; see runtime.ts for the
// provider files a GPU host needs). Batch transcription only: Whisper has no native streaming, so there
// is no openStream and the runtime builds partials itself.
import { TheoError } from '../../errors/index.js';
import type { Engine, EngineCapabilities, EngineResult, TranscribeOptions } from '../engine.js';
import { type WhisperDtype, type WhisperModelInfo, inspectWhisperDir, isWhisperDtype } from './model-files.js';
import { type WhisperDevice, WhisperRuntime } from './runtime.js';
import { transcribeAudio } from './transcribe.js';

export interface WhisperEngineOptions {
  /** Model folder (config.json, generation_config.json, tokenizer files, onnx/...). */
  dir: string;
  /** ONNX variant: fp32 (default), fp16, q8, int8, uint8, q4, q4f16, bnb4. */
  dtype?: string;
  /** 'cpu' (default) or 'cuda'. */
  device?: string;
  /** onnxruntime intra-op threads (default: the library's choice). */
  threads?: number;
  /** Random source for temperature sampling (tests pass a seeded one). */
  random?: () => number;
}

const SAMPLE_RATE = 16000;

interface Loaded {
  info: WhisperModelInfo;
  runtime: WhisperRuntime;
}

export class WhisperEngine implements Engine {
  readonly name = 'whisper';
  private readonly dtype: WhisperDtype;
  private readonly device: WhisperDevice;
  private loading: Promise<Loaded> | undefined;
  private closed = false;
  /** Aborts in-flight transcriptions on close, so sessions are released only once nothing runs on them. */
  private readonly closing = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  private capabilitiesValue: EngineCapabilities;

  constructor(private readonly options: WhisperEngineOptions) {
    const dtype = options.dtype ?? 'fp32';
    if (!isWhisperDtype(dtype)) throw new TheoError('invalid_argument', `whisper: unknown dtype '${dtype}'`, { dtype });
    const device = options.device ?? 'cpu';
    if (device !== 'cpu' && device !== 'cuda') throw new TheoError('invalid_argument', `whisper: device must be 'cpu' or 'cuda', not '${device}'`, { device });
    this.dtype = dtype;
    this.device = device;
    // Until load() reads the folder, assume a multilingual model; the runtime reads capabilities after load.
    this.capabilitiesValue = capabilitiesFor(undefined);
  }

  get capabilities(): EngineCapabilities {
    return this.capabilitiesValue;
  }

  load(): Promise<void> {
    return this.loaded().then(() => undefined);
  }

  private loaded(): Promise<Loaded> {
    if (this.closed) return Promise.reject(new TheoError('closed', 'whisper engine is closed'));
    this.loading ??= (async () => {
      const info = await inspectWhisperDir(this.options.dir, this.dtype);
      let runtime: WhisperRuntime;
      try {
        runtime = await WhisperRuntime.load(this.options.dir, this.dtype, this.device, this.options.threads);
      } catch (err) {
        const hint = this.device === 'cuda' ? " (device 'cuda' needs onnxruntime-node's CUDA provider files; see src/engines/whisper/runtime.ts)" : '';
        throw new TheoError('model_invalid', `whisper model ${this.options.dir} failed to load: ${err instanceof Error ? err.message : String(err)}${hint}`, { dir: this.options.dir, device: this.device }, { cause: err });
      }
      if (this.closed) {
        await runtime.dispose();
        throw new TheoError('closed', 'whisper engine is closed');
      }
      this.capabilitiesValue = capabilitiesFor(info, runtime.hasCrossAttentions);
      return { info, runtime };
    })();
    // A failed load may be retried (e.g. after the folder is fixed).
    this.loading.catch(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  async transcribe(audio: Float32Array, options: TranscribeOptions): Promise<EngineResult> {
    if (options.signal?.aborted) throw new TheoError('cancelled', 'transcription cancelled');
    const { info, runtime } = await this.loaded();
    if (this.closed) throw new TheoError('closed', 'whisper engine is closed');
    validateOptions(info, options);
    if (audio.length < 160) return { text: '', language: options.language ?? info.languages[0] ?? 'en', duration: audio.length / SAMPLE_RATE, segments: [] };
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    const run = transcribeAudio({ runtime, info, random: this.options.random ?? Math.random }, audio, { ...options, signal });
    this.inFlight.add(run);
    try {
      return await run;
    } catch (err) {
      if (this.closed && !options.signal?.aborted) throw new TheoError('closed', 'whisper engine closed during transcription', {}, { cause: err });
      if (err instanceof TheoError) throw err;
      throw new TheoError('engine_failed', `whisper: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
    } finally {
      this.inFlight.delete(run);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    const loading = this.loading;
    this.loading = undefined;
    if (!loading) return;
    await Promise.allSettled([...this.inFlight]);
    try {
      const { runtime } = await loading;
      await runtime.dispose();
    } catch {
      // a load that failed holds nothing to release
    }
  }
}

function validateOptions(info: WhisperModelInfo, options: TranscribeOptions): void {
  const lang = options.language?.toLowerCase();
  if (lang !== undefined && !info.languages.includes(lang)) {
    throw new TheoError('invalid_argument', `whisper: language '${options.language}' is not supported by this model`, { language: options.language, languages: info.languages });
  }
  if (options.task === 'translate' && !info.multilingual) {
    throw new TheoError('invalid_argument', 'whisper: this English-only model cannot translate', { task: options.task });
  }
  if (!(options.temperature >= 0 && options.temperature <= 2)) {
    throw new TheoError('invalid_argument', `whisper: temperature must be in 0..2, got ${options.temperature}`, { temperature: options.temperature });
  }
}

export function capabilitiesFor(info: WhisperModelInfo | undefined, crossAttentions = false): EngineCapabilities {
  const multilingual = info?.multilingual ?? true;
  return {
    architecture: 'encoder-decoder',
    nativePartials: false,
    languages: info ? [...info.languages] : [],
    translate: multilingual,
    segmentTimestamps: true,
    wordTimestamps: info?.alignmentHeads !== undefined && crossAttentions,
    hotWords: true, // as prompt context (see promptText): biasing by conditioning, not by rescoring
    languageDetection: multilingual,
    sampleRate: SAMPLE_RATE,
  };
}

export function createWhisperEngine(options: WhisperEngineOptions): WhisperEngine {
  return new WhisperEngine(options);
}
