// The engine contract inside a worker process: one loaded model behind capabilities the runtime adapts to.
// The runtime never branches on an engine's name, only on what it declares here. Engines live only in
// workers and import nothing from the runtime (mediaplane, api, session, ...).

export type Architecture = 'encoder-decoder' | 'ctc' | 'hmm';
export type Task = 'transcribe' | 'translate';

export interface EngineCapabilities {
  architecture: Architecture;
  /** The engine emits partial hypotheses itself while audio streams in (else the runtime uses LocalAgreement). */
  nativePartials: boolean;
  /** ISO-639-1 codes the model recognises. */
  languages: string[];
  /** Can translate to English. */
  translate: boolean;
  /** Per-segment start/end times. */
  segmentTimestamps: boolean;
  /** Per-word start/end times. */
  wordTimestamps: boolean;
  /** Biases recognition towards given words/phrases. */
  hotWords: boolean;
  /** Detects the spoken language when none is given. */
  languageDetection: boolean;
  /** The sample rate `transcribe` and streams expect (Hz, mono). */
  sampleRate: number;
}

export interface TranscribeOptions {
  /** ISO-639-1; undefined = the model's default or detection. */
  language?: string;
  task: Task;
  /** Context text (previous transcript, domain vocabulary). */
  prompt?: string;
  hotWords: readonly string[];
  /** 0 = greedy. */
  temperature: number;
  wordTimestamps: boolean;
  /** Aborts a running transcription; the engine rejects with a CancelledError as soon as it can. */
  signal?: AbortSignal;
}

export interface EngineWord {
  word: string;
  start: number; // seconds
  end: number;
  probability: number;
}

export interface EngineSegment {
  id: number;
  start: number; // seconds
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avgLogprob: number;
  compressionRatio: number;
  noSpeechProb: number;
  words?: EngineWord[];
}

export interface EngineResult {
  text: string;
  /** ISO-639-1 of the audio (given or detected). */
  language: string;
  /** Seconds of audio transcribed. */
  duration: number;
  segments: EngineSegment[];
  /** 0..1 when the engine has a confidence, else undefined. */
  confidence?: number;
}

export interface StreamOptions {
  language?: string;
  task: Task;
  prompt?: string;
  hotWords: readonly string[];
  /** Emit partial hypotheses (only meaningful with nativePartials). */
  interimResults: boolean;
  /** 'telephony': narrowband audio upsampled to the model's rate (an engine may adapt to the channel). */
  audioQuality?: 'telephony' | 'wideband';
}

export interface StreamHypothesis {
  kind: 'partial' | 'final';
  text: string;
  /** Seconds from the start of the stream. */
  start: number;
  end: number;
  confidence?: number;
  words?: EngineWord[];
}

/**
 * One incremental recognition stream. `push` audio (mono, at capabilities.sampleRate); hypotheses come
 * back through `onHypothesis`. `endUtterance` finalises what was pushed since the last final and returns
 * that final (text may be empty). The stream can continue with the next utterance after that.
 */
export interface EngineStream {
  push(pcm: Float32Array): void;
  endUtterance(): Promise<StreamHypothesis>;
  /** New context / hot words for the next utterance. */
  updatePrompt(prompt: string | undefined, hotWords: readonly string[]): void;
  close(): void;
}

export interface Engine {
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  /** Loads the model; resolves when ready. Idempotent. */
  load(): Promise<void>;
  /** Transcribes a whole clip of mono audio at capabilities.sampleRate (float in -1..1). */
  transcribe(audio: Float32Array, options: TranscribeOptions): Promise<EngineResult>;
  /** Present when the engine can stream. */
  openStream?(options: StreamOptions, onHypothesis: (h: StreamHypothesis) => void): EngineStream;
  /** Frees the model. */
  close(): Promise<void>;
}
