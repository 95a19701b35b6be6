// What a session needs from the outside, as small interfaces: a link to the model's workers and a voice
// activity detector. The runtime passes real ones (WorkerManager, the shared Silero runner); unit tests pass
// fakes. Keeping them here keeps session.ts free of gRPC and ONNX.
import type { EngineWord } from '../engines/engine.js';
import type { SttStreamConfig, SttStreamEvent, SttStreamFrame } from '../workers/client.js';

export type { SttStreamConfig, SttStreamEvent, SttStreamFrame };

/** One TranscribeStream to a worker; iteration throws when the stream breaks or the worker sends ERROR. */
export interface WorkerStream extends AsyncIterable<SttStreamEvent> {
  /** Sends one frame; the stream may keep `frame.pcm` until it is serialised, so each frame needs memory of its own. */
  write(frame: SttStreamFrame): boolean;
  /** New context / hot words for the next utterance. */
  updatePrompt(prompt: string, hotWords?: readonly string[]): void;
  /** Half-close: the worker finalises what it has and ends the stream. */
  end(): void;
  /** Abandon the stream. */
  cancel(): void;
}

export interface PassResult {
  text: string;
  words: EngineWord[];
}

/** The workers of one model. */
export interface WorkerLink {
  /** Opens a stream on a serving worker; throws (WorkerUnavailableError) when none serves now. */
  open(config: SttStreamConfig): WorkerStream;
  /** Resolves when a worker of the model serves; rejects after timeoutMs or when all have failed. */
  whenServing(timeoutMs: number): Promise<void>;
  /**
   * One decoding pass over an open utterance (for LocalAgreement partials of engines without native
   * partials). Optional: without it such engines give finals only.
   */
  transcribe?(pcm: Int16Array, options: { sampleRate: number; language?: string | undefined; prompt?: string | undefined; signal: AbortSignal }): Promise<PassResult>;
}

export interface VadSpeechEvent {
  type: 'speech_start' | 'speech_end';
  /** Samples since the detector's stream start. */
  offset: number;
  forced?: boolean;
}

/** A per-session voice activity detector. Events may arrive after push() returns, in order. */
export interface SessionVad {
  /** Samples classified so far (events are decided up to here); without it the session assumes all pushed. */
  readonly processedOffset?: number;
  push(samples: Float32Array): void;
  /** End of input: an open speech segment ends (speech_end) once pending windows are decided; resolves after those events. */
  flush(): Promise<void> | void;
  close(): void;
}

/** The session's VAD settings (the config's `vad` section with the session's overrides). */
export interface SessionVadSettings {
  sensitivity: 'high' | 'normal' | 'low';
  minSpeechMs: number;
  minSilenceMs: number;
  maxSegmentMs: number;
}

export type SessionVadFactory = (sampleRate: number, onEvent: (ev: VadSpeechEvent) => void, settings: SessionVadSettings) => SessionVad;
