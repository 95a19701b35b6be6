// The results of consecutive parts of one audio joined into one result on the audio's own timeline:
// every segment and word moves by its part's offset (exact, from the part's first sample) and stays inside
// its part, so times run on across cuts; segment ids count on; the texts join with a space.
import type { EngineResult, EngineSegment } from '../engines/engine.js';

export interface PartResult {
  /** Seconds from the start of the audio to the part's first sample. */
  offset: number;
  /** Seconds of audio in the part. */
  duration: number;
  result: EngineResult;
}

const clamp = (t: number, lo: number, hi: number): number => (t < lo ? lo : t > hi ? hi : t);

export function joinParts(parts: readonly PartResult[], duration: number): EngineResult {
  const segments: EngineSegment[] = [];
  const spoken = new Map<string, number>();
  let weighted = 0;
  let weight = 0;
  for (const { offset, duration: d, result } of parts) {
    const end = offset + d;
    const at = (t: number): number => clamp(t + offset, offset, end);
    for (const s of result.segments) {
      segments.push({
        ...s,
        id: segments.length,
        start: at(s.start),
        end: at(s.end),
        words: s.words?.map((w) => ({ ...w, start: at(w.start), end: at(w.end) })),
      });
    }
    if (result.text.trim()) spoken.set(result.language, (spoken.get(result.language) ?? 0) + d);
    if (result.confidence !== undefined) {
      weighted += result.confidence * d;
      weight += d;
    }
  }
  const text = parts
    .map((p) => p.result.text.trim())
    .filter(Boolean)
    .join(' ');
  // The language heard longest; with no speech at all, the first part's.
  let language = parts[0]?.result.language ?? 'en';
  let longest = 0;
  for (const [lang, seconds] of spoken) {
    if (seconds > longest) {
      longest = seconds;
      language = lang;
    }
  }
  return { text, language, duration, segments, confidence: weight > 0 ? weighted / weight : undefined };
}
