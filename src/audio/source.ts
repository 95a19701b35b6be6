// A decoded audio file as a stream: mono float blocks at the source's own rate, produced as they are
// decoded, so a long file never sits in memory whole. The errors every decoder shares live here too: each
// is a TheoError 'audio_decode' whose details.reason says what was wrong with the input.
import { CancelledError, TheoError } from '../errors/index.js';

export interface AudioSource extends AsyncIterable<Float32Array> {
  /** Container, plus the codec where it says more: 'wav/pcm_s24le', 'mp3', 'flac', 'ogg/opus', 'm4a/aac'. */
  readonly format: string;
  /** The source's rate (Hz): every block is at it. */
  readonly sampleRate: number;
  /** The source's channel count (blocks are downmixed to mono); 0 when the decoder did not report it. */
  readonly channels: number;
  /** Seconds the file says it holds (WAV data size, the container's duration); undefined when unknown or only estimated. */
  readonly declaredSeconds: number | undefined;
  /** Stops decoding and frees what the source holds (the ffmpeg process, a temporary file). Safe twice. */
  close(): void;
}

/** Highest source rate accepted. */
export const MAX_SOURCE_RATE = 384_000;
/** Lowest source rate accepted. */
export const MIN_SOURCE_RATE = 1000;
/** Longest decoded audio accepted by default, in seconds (guards against decompression bombs). */
export const DEFAULT_MAX_SECONDS = 4 * 3600;

export function decodeError(message: string, details: Record<string, unknown> = {}, cause?: unknown): TheoError {
  return new TheoError('audio_decode', message, details, cause === undefined ? undefined : { cause });
}

export function tooLong(format: string, maxSeconds: number): TheoError {
  return decodeError(`the ${format} audio is longer than the ${maxSeconds} s limit`, { reason: 'too_long', format, maxSeconds });
}

export function noSamples(format: string): TheoError {
  return decodeError(`the ${format} file holds no audio samples`, { reason: 'no_samples', format });
}

export function checkSourceRate(format: string, rate: number): void {
  if (!Number.isInteger(rate) || rate < MIN_SOURCE_RATE || rate > MAX_SOURCE_RATE) {
    throw decodeError(`the ${format} audio is sampled at ${rate} Hz; Theo takes ${MIN_SOURCE_RATE} to ${MAX_SOURCE_RATE} Hz`, { reason: 'unsupported_rate', rate, format });
  }
}

export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new CancelledError('audio decoding was cancelled');
}

/** Interleaved float frames averaged into one channel (a new array; the input itself when mono). */
export function downmix(samples: Float32Array, channels: number): Float32Array {
  if (channels === 1) return samples;
  const n = Math.floor(samples.length / channels);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[i * channels + c] as number;
    out[i] = sum / channels;
  }
  return out;
}
