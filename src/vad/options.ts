// VAD settings: the two rates Silero v5 runs at natively, its window geometry, the sensitivity presets,
// and the one place where user options (milliseconds, presets) become validated sample counts, so the
// detector and the stream work in samples only and never see a bad value.
import { TheoError } from '../errors/index.js';

export type VadSampleRate = 8000 | 16000;
export type Sensitivity = 'high' | 'normal' | 'low';

/** Samples per Silero v5 window: 32 ms at either rate (the model accepts no other length). */
export function windowSamples(rate: VadSampleRate): 256 | 512 {
  return rate === 8000 ? 256 : 512;
}

/** Samples of the previous window the model reads in front of each window (v5 was trained with them). */
export function contextSamples(rate: VadSampleRate): 32 | 64 {
  return rate === 8000 ? 32 : 64;
}

export function isVadSampleRate(rate: unknown): rate is VadSampleRate {
  return rate === 8000 || rate === 16000;
}

/** Leave-speech threshold is this far below the enter threshold (Silero's own scheme). */
export const HYSTERESIS = 0.15;

export interface PrefilterOptions {
  /** Windows whose RMS is below this are silence whatever their spectrum (dBFS). */
  floorDb: number;
  /** Windows below this RMS whose spectrum is flat (noise-like) are silence too (dBFS). */
  noiseDb: number;
  /** Spectral flatness (0..1, white noise about 0.56, voiced speech under 0.1) at or above which a quiet window is noise. */
  flatness: number;
}

interface Preset {
  threshold: number;
  prefilter: PrefilterOptions;
}

/**
 * A more sensitive level enters speech on weaker evidence and lets less audio skip the model: its floors
 * are lower, so quiet talkers on a quiet line still reach Silero. The noise levels sit only 5 dB above the
 * floors because flat spectra are not only noise: the breathy /h/ of a quiet talker is flat too (Asterisk
 * prompts played 20 dB down have /h/ onsets at -52 dBFS with flatness 0.54).
 */
export const SENSITIVITY: Readonly<Record<Sensitivity, Readonly<Preset>>> = {
  high: { threshold: 0.3, prefilter: { floorDb: -65, noiseDb: -60, flatness: 0.55 } },
  normal: { threshold: 0.5, prefilter: { floorDb: -60, noiseDb: -55, flatness: 0.5 } },
  low: { threshold: 0.7, prefilter: { floorDb: -55, noiseDb: -50, flatness: 0.45 } },
};

export const DEFAULT_MIN_SPEECH_MS = 250;
export const DEFAULT_MIN_SILENCE_MS = 300;
export const DEFAULT_MAX_SEGMENT_MS = 30_000;

export interface VadOptions {
  sampleRate: VadSampleRate;
  /** Preset for the threshold and the pre-filter floors (default 'normal'). */
  sensitivity?: Sensitivity;
  /** Enter-speech probability, overriding the preset's; leaving is HYSTERESIS below it. */
  threshold?: number;
  /** A run of speech shorter than this is ignored (default 250). */
  minSpeechMs?: number;
  /** A pause shorter than this does not end a segment (default 300). */
  minSilenceMs?: number;
  /** A segment is split before it grows past this (default 30 000). */
  maxSegmentMs?: number;
  /** Pre-filter floors overriding the preset's, or false to send every window to the model. */
  prefilter?: Partial<PrefilterOptions> | false;
}

/** Detector settings, all in samples. */
export interface DetectorSettings {
  sampleRate: VadSampleRate;
  threshold: number;
  negThreshold: number;
  minSpeechSamples: number;
  minSilenceSamples: number;
  maxSegmentSamples: number;
}

export interface ResolvedVadOptions extends DetectorSettings {
  windowSamples: number;
  contextSamples: number;
  prefilter: PrefilterOptions | null;
}

function invalid(message: string, details: Record<string, unknown>): TheoError {
  return new TheoError('invalid_argument', message, details);
}

function ms(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(`VAD ${name} must be a finite number of milliseconds >= 0, got ${String(v)}`, { [name]: v });
  return v;
}

/** Validates `opts` and converts it to samples; throws TheoError('invalid_argument') naming the bad field. */
export function resolveVadOptions(opts: VadOptions): ResolvedVadOptions {
  const rate: unknown = opts.sampleRate;
  if (!isVadSampleRate(rate)) {
    throw invalid(`VAD sample rate must be 8000 or 16000 Hz (Silero v5 runs at those natively; resample first), got ${String(rate)}`, { sampleRate: rate });
  }
  const sensitivity = opts.sensitivity ?? 'normal';
  const preset = SENSITIVITY[sensitivity] as Preset | undefined;
  if (!preset) throw invalid(`VAD sensitivity must be 'high', 'normal' or 'low', got ${String(sensitivity)}`, { sensitivity });
  const threshold = opts.threshold ?? preset.threshold;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) {
    throw invalid(`VAD threshold must be in (0, 1), got ${String(threshold)}`, { threshold });
  }
  const toSamples = (v: number): number => Math.round((v * rate) / 1000);
  const win = windowSamples(rate);
  const minSpeechSamples = toSamples(ms('minSpeechMs', opts.minSpeechMs, DEFAULT_MIN_SPEECH_MS));
  const minSilenceSamples = toSamples(ms('minSilenceMs', opts.minSilenceMs, DEFAULT_MIN_SILENCE_MS));
  const maxSegmentSamples = toSamples(ms('maxSegmentMs', opts.maxSegmentMs, DEFAULT_MAX_SEGMENT_MS));
  // Splits happen on window borders; a limit under two windows would split every window.
  if (maxSegmentSamples < 2 * win || maxSegmentSamples < minSpeechSamples) {
    throw invalid(`VAD maxSegmentMs must be at least ${(2 * win * 1000) / rate} ms and at least minSpeechMs, got ${String(opts.maxSegmentMs)}`, {
      maxSegmentMs: opts.maxSegmentMs,
    });
  }
  let prefilter: PrefilterOptions | null = null;
  if (opts.prefilter !== false) {
    prefilter = { ...preset.prefilter, ...opts.prefilter };
    for (const k of ['floorDb', 'noiseDb', 'flatness'] as const) {
      const v: unknown = prefilter[k];
      if (typeof v !== 'number' || Number.isNaN(v)) throw invalid(`VAD prefilter.${k} must be a number, got ${String(v)}`, { [k]: v });
    }
  }
  return {
    sampleRate: rate,
    threshold,
    negThreshold: Math.max(0, threshold - HYSTERESIS),
    minSpeechSamples,
    minSilenceSamples,
    maxSegmentSamples,
    windowSamples: win,
    contextSamples: contextSamples(rate),
    prefilter,
  };
}
