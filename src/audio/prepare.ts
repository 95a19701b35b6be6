// Batch input for an engine: decode the upload at its own rate, then run the preprocessing chain (DC
// removal, resampling to the model's rate, denoise, gain) or, with preprocessing off, only the resampler.
// The source is tagged 'telephony' or 'wideband' either way.
import { TheoError } from '../errors/index.js';
import { MAX_SOURCE_RATE, decodeAudio, type DecodedAudio } from './decode.js';
import { preprocessFile, type DenoiserFactory } from './stages/pipeline.js';
import type { AudioQuality } from './stages/stage.js';
import { detectAudioQuality } from './stages/telephony.js';

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
  signal?: AbortSignal;
  ffmpegPath?: string;
  maxSeconds?: number;
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

/** Source rates the preprocessing chain accepts. */
export const MIN_SOURCE_RATE = 1000;

const G711 = /mulaw|alaw/;

export async function prepareAudio(bytes: Uint8Array, opts: PrepareOptions): Promise<PreparedAudio> {
  const t0 = process.hrtime.bigint();
  const decoded = await decodeAudio(bytes, {
    targetRate: opts.targetRate,
    keepSourceRate: true,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.ffmpegPath ? { ffmpegPath: opts.ffmpegPath } : {}),
    ...(opts.maxSeconds !== undefined ? { maxSeconds: opts.maxSeconds } : {}),
  });
  const decodeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = decoded.sampleRate;
  if (!Number.isInteger(rate) || rate < MIN_SOURCE_RATE || rate > MAX_SOURCE_RATE) {
    throw new TheoError('audio_decode', `the ${decoded.sourceFormat} audio is sampled at ${rate} Hz; Theo takes ${MIN_SOURCE_RATE} to ${MAX_SOURCE_RATE} Hz`, { reason: 'unsupported_rate', rate });
  }
  const quality: AudioQuality = G711.test(decoded.sourceFormat) ? 'telephony' : detectAudioQuality(rate, decoded.samples, rate);
  const pre = preprocessFile(decoded.samples, rate, {
    outputRate: opts.targetRate,
    quality,
    dc: opts.preprocess ? opts.dc : false,
    gain: opts.preprocess && opts.gain,
    denoise: opts.preprocess ? opts.denoise : false,
    ...(opts.denoiser ? { denoiser: opts.denoiser } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
  return {
    ...decoded,
    samples: pre.samples,
    sampleRate: pre.sampleRate,
    duration: pre.samples.length / pre.sampleRate,
    quality,
    stages: pre.stages,
    timings: pre.timings,
    decodeSeconds,
  };
}
