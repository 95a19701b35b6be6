// One interface for every audio preprocessing stage, usable on a whole file (one call to process, then
// flush) and on a stream of frames (many calls; the stage carries its filter state across them, so frame
// borders leave no clicks and the output equals the whole-file output for the same samples).

/** Mono float audio in [-1, 1]. */
export interface AudioStage {
  /** Short stable name: 'resample', 'dc', 'gain', 'denoise', ... (metrics label, logs). */
  readonly name: string;
  /** Sample rate the stage expects on input (Hz). */
  readonly inputRate: number;
  /** Sample rate of what it returns (differs from inputRate only for a resampler). */
  readonly outputRate: number;
  /**
   * Processes the next block. Returns the output produced so far: it may be shorter or longer than the
   * input (resampler, frame-based denoiser holding samples back) and may alias internal memory that the
   * next call overwrites, or be the block itself when the stage left every sample as it was, so callers
   * consume or copy it before calling again. Never returns NaN/Infinity: non-finite input samples are
   * treated as 0.
   */
  process(block: Float32Array): Float32Array;
  /** End of stream: returns what the stage still holds (filter tail, partial frame); then it is like new. */
  flush(): Float32Array;
  /** Drops all state (a new stream). */
  reset(): void;
}

/** How the audio reached Theo: 'telephony' for 8 kHz or narrower / G.711 sources, else 'wideband'. */
export type AudioQuality = 'telephony' | 'wideband';
