// The post-processing chain for final transcripts: hot word correction, then inverse text normalisation,
// then entity formatting (which reads the digits ITN wrote). Partials never come here. Each stage's time
// is measured so the API can export postprocessing_duration_seconds per stage. A stage that throws (it
// must not) is skipped for that text and counted, so a transcript is never lost to post-processing.
import { entitiesStage } from './entities.js';
import { createHotWordStage } from './hot-words.js';
import { itnStage } from './itn.js';
import type { TextContext, TextStage } from './stage.js';

export interface PostprocessOptions {
  /** Inverse text normalisation and entity formatting. */
  itn: boolean;
  /** Words the caller expects; empty = no hot word correction. */
  hotWords: readonly string[];
  language: string;
}

export interface PostprocessorConfig {
  /** Hot word similarity threshold (0..1); the stage's default when undefined. */
  hotWordThreshold?: number | undefined;
  /** Called after each stage with its name and the seconds it took. */
  onStage?: (stage: string, seconds: number) => void;
  /** Called when a stage threw; the text goes on unchanged by that stage. */
  onError?: (stage: string, err: unknown) => void;
}

export interface Postprocessor {
  /** The final text, post-processed as the options ask. Never throws. */
  apply(text: string, options: PostprocessOptions): string;
  /** The stages a request with these options runs, in order. */
  stagesFor(options: PostprocessOptions): string[];
}

export function createPostprocessor(config: PostprocessorConfig = {}): Postprocessor {
  const hotWords = createHotWordStage(config.hotWordThreshold === undefined ? {} : { threshold: config.hotWordThreshold });
  const chain = (o: PostprocessOptions): TextStage[] => {
    const stages: TextStage[] = [];
    if (o.hotWords.length > 0) stages.push(hotWords);
    if (o.itn) stages.push(itnStage, entitiesStage);
    return stages;
  };
  return {
    stagesFor: (o) => chain(o).map((s) => s.name),
    apply(text, o) {
      const ctx: TextContext = { language: o.language, hotWords: o.hotWords };
      let out = text;
      for (const stage of chain(o)) {
        const t0 = process.hrtime.bigint();
        try {
          out = stage.apply(out, ctx);
        } catch (err) {
          config.onError?.(stage.name, err);
        }
        config.onStage?.(stage.name, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return out;
    },
  };
}

/** A transcript with segments, as engines and workers return it. */
interface SegmentedText {
  text: string;
  segments: ReadonlyArray<{ text: string }>;
}

/**
 * Post-processes a whole result: each segment's text, and the full text as the join of the processed
 * segments (so the two always agree). Word lists keep the recogniser's words.
 */
export function postprocessResult<T extends SegmentedText>(pp: Postprocessor, result: T, options: PostprocessOptions): T {
  if (pp.stagesFor(options).length === 0) return result;
  if (result.segments.length === 0) return { ...result, text: pp.apply(result.text, options) };
  const sep = joinSeparator(result.text, result.segments.map((s) => s.text));
  const segments = result.segments.map((s) => ({ ...s, text: pp.apply(s.text, options) }));
  return { ...result, segments, text: segments.map((s) => s.text).join(sep).trim() };
}

/** How the engine joined its segments into the text: Whisper's segments carry their own leading space. */
function joinSeparator(text: string, segments: string[]): string {
  return segments.join('').trim() === text.trim() ? '' : ' ';
}
