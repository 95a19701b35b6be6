// Speech detector: turns per-window speech probabilities into speech_start / speech_end events with sample
// offsets. Pure logic (no model, no clock), so every rule is testable with synthetic sequences.
//
// Rules, all counted in samples from the first window pushed (they follow Silero's own iterator, made causal):
//   - a window with p >= threshold opens a candidate segment; from then on the first window below
//     negThreshold (threshold - 0.15, the hysteresis) marks where silence began, and a window at or above
//     threshold cancels that mark (windows in between neither start nor cancel it);
//   - a candidate becomes speech once it has lasted minSpeech with no silence pending: speech_start is
//     emitted with the offset where the candidate began. A candidate whose silence lasts minSilence is
//     dropped without events, so a lone blip shorter than minSpeech never starts a segment, while a word
//     with a short dip in it is still one run (Silero keeps such a segment and drops short ones);
//   - while speaking, once the silence lasts minSilence, speech_end is emitted with the offset where the
//     silence began;
//   - a segment never grows past maxSegment: at the last window border that keeps it within, it is split:
//     speech_end { forced: true } and, unless silence had already begun, speech_start { forced: true } at
//     the same offset. If silence had begun, the segment ends where the silence began and a new one needs
//     min speech again.
// Windows the energy pre-filter skipped are pushed with probability 0.
import type { DetectorSettings } from './options.js';

export type VadEventType = 'speech_start' | 'speech_end';

export interface VadEvent {
  type: VadEventType;
  /** Samples since the stream started (or was last reset). */
  offset: number;
  /** Set on both events of a split at max segment length. */
  forced?: boolean;
  /** Speech probability of the window that decided the event. */
  probability?: number;
}

export interface VadEventCounts {
  speech_start: number;
  speech_end: number;
  /** Splits at max segment length (each also counted in speech_end, and in speech_start when speech went on). */
  forced: number;
}

/** Called synchronously for each event; it must not throw (the stream wraps listeners). */
export type DetectorEmit = (event: VadEvent) => void;

export class SpeechDetector {
  readonly counts: VadEventCounts = { speech_start: 0, speech_end: 0, forced: 0 };
  private readonly s: DetectorSettings;
  private readonly emit: DetectorEmit;
  private pos = 0;
  private inSpeech = false;
  /** Start of the candidate segment (not yet min speech long), or -1. */
  private candidate = -1;
  /** Where silence began inside the candidate or segment, or -1. */
  private silence = -1;
  private segment = 0;

  constructor(settings: DetectorSettings, emit: DetectorEmit) {
    this.s = settings;
    this.emit = emit;
  }

  /** Whether a segment is open (speech_start emitted, speech_end not yet). */
  get speaking(): boolean {
    return this.inSpeech;
  }

  /** Samples consumed so far: the end of the last window pushed. */
  get offset(): number {
    return this.pos;
  }

  /** One window of `samples` samples with speech probability `probability` (non-finite counts as 0). */
  push(probability: number, samples: number): void {
    const p = probability >= 0 ? (probability <= 1 ? probability : 1) : 0;
    const { threshold, negThreshold } = this.s;
    const start = this.pos;
    const end = start + samples;
    this.pos = end;
    if (!this.inSpeech && this.candidate < 0) {
      if (p >= threshold) {
        this.candidate = start;
        this.silence = -1;
      } else return;
    }
    if (p >= threshold) this.silence = -1;
    else if (p < negThreshold && this.silence < 0) this.silence = start;
    const silent = this.silence >= 0 && end - this.silence >= this.s.minSilenceSamples;
    if (!this.inSpeech) {
      if (silent) {
        this.candidate = -1;
        this.silence = -1;
      } else if (this.silence < 0 && end - this.candidate >= this.s.minSpeechSamples) {
        this.inSpeech = true;
        this.segment = this.candidate;
        this.candidate = -1;
        this.event('speech_start', this.segment, p, false);
      }
      return;
    }
    if (silent) {
      this.close(this.silence, p, false);
      return;
    }
    if (end - this.segment + samples > this.s.maxSegmentSamples) {
      this.counts.forced++;
      if (this.silence >= 0) {
        this.close(this.silence, p, true);
      } else {
        this.event('speech_end', end, p, true);
        this.segment = end;
        this.event('speech_start', end, p, true);
      }
    }
  }

  /** End of stream: closes an open segment where silence began, or at the current offset. */
  flush(): void {
    if (this.inSpeech) this.close(this.silence >= 0 ? this.silence : this.pos, undefined, false);
    this.candidate = -1;
    this.silence = -1;
  }

  /** Back to the initial state at offset 0, without events. */
  reset(): void {
    this.pos = 0;
    this.inSpeech = false;
    this.candidate = -1;
    this.silence = -1;
    this.segment = 0;
  }

  private close(offset: number, p: number | undefined, forced: boolean): void {
    this.inSpeech = false;
    this.silence = -1;
    this.event('speech_end', offset, p, forced);
  }

  private event(type: VadEventType, offset: number, probability: number | undefined, forced: boolean): void {
    this.counts[type]++;
    const e: VadEvent = { type, offset };
    if (forced) e.forced = true;
    if (probability !== undefined) e.probability = probability;
    this.emit(e);
  }
}
