// Turns PocketSphinx's best-path segmentation (frames, dictionary words, fillers, lattice posteriors)
// into the engine contract's words, segments and scores. Pure functions: no native calls here.
import { deflateSync } from 'node:zlib';
import type { EngineSegment, EngineWord } from '../engine.js';
import { FRAMES_PER_SECOND, type RawSegment } from './native.js';

/** A pause between two words at least this long starts a new segment. */
export const SEGMENT_GAP_SECONDS = 0.8;

/**
 * Fillers in the model's noisedict (<s>, </s>, <sil>, [NOISE], [SPEECH]) and the ++NOISE++ style of
 * other models: the decoder reports them as path entries, but they are not words.
 */
export function isFiller(word: string): boolean {
  return word === '' || word.startsWith('<') || word.startsWith('[') || word.startsWith('+');
}

/** "read(2)" is the second pronunciation of "read" in the dictionary; the text is the same word. */
export function baseWord(word: string): string {
  return word.replace(/\(\d+\)$/, '');
}

/** A hypothesis string as text: alternates folded, fillers dropped, spaces collapsed. */
export function cleanText(hyp: string): string {
  return hyp
    .split(/\s+/)
    .filter((w) => !isFiller(w))
    .map(baseWord)
    .join(' ');
}

/**
 * The real words of a segmentation, timed in seconds from `offset`. A word's end is the end of its last
 * frame (frames are inclusive); times are clamped to [offset, offset + duration]. `probability` is the
 * word's lattice posterior.
 */
export function wordsFrom(raw: readonly RawSegment[], duration: number, offset = 0): EngineWord[] {
  const words: EngineWord[] = [];
  const clamp = (t: number): number => Math.min(offset + duration, Math.max(offset, t));
  for (const s of raw) {
    if (isFiller(s.word)) continue;
    words.push({
      word: baseWord(s.word),
      start: clamp(offset + s.startFrame / FRAMES_PER_SECOND),
      end: clamp(offset + (s.endFrame + 1) / FRAMES_PER_SECOND),
      probability: Math.min(1, Math.max(0, Math.exp(s.logPosterior))),
    });
  }
  return words;
}

/**
 * Whisper's compression ratio: UTF-8 bytes of the text over its zlib-compressed size (Python's
 * zlib.compress, i.e. deflate level 6 with the zlib wrapper). High values flag repetitive output.
 */
export function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return 0;
  return bytes.length / deflateSync(bytes, { level: 6 }).length;
}

/** Mean word probability, the result's confidence; undefined without words. */
export function meanProbability(words: readonly EngineWord[]): number | undefined {
  if (words.length === 0) return undefined;
  let sum = 0;
  for (const w of words) sum += w.probability;
  return sum / words.length;
}

/**
 * Groups words into segments, splitting at pauses of SEGMENT_GAP_SECONDS or more. What the scores mean
 * for this engine (they are named after Whisper's, whose thresholds the runtime may apply):
 * - avgLogprob: the mean natural log of the segment's word posteriors in the decoder's lattice, the
 *   closest analogue of Whisper's mean token log-probability (-0.1: sure of every word; below -1: the
 *   average word had under 37% posterior).
 * - noSpeechProb: 0. PocketSphinx has no no-speech model; a segment exists only where it decoded words,
 *   and a clip with none gets no segments at all.
 * - compressionRatio: computed on the segment text as Whisper does (see compressionRatio).
 * - tokens: empty; the engine has no tokenizer, only dictionary words. temperature: 0 (Viterbi beam
 *   search, no sampling).
 */
export function segmentWords(words: readonly EngineWord[], includeWords: boolean): EngineSegment[] {
  const groups: EngineWord[][] = [];
  let current: EngineWord[] = [];
  for (const w of words) {
    const prev = current[current.length - 1];
    if (prev && w.start - prev.end >= SEGMENT_GAP_SECONDS) {
      groups.push(current);
      current = [];
    }
    current.push(w);
  }
  if (current.length > 0) groups.push(current);
  return groups.map((g, id) => {
    const text = g.map((w) => w.word).join(' ');
    let logSum = 0;
    for (const w of g) logSum += Math.log(Math.max(w.probability, Number.MIN_VALUE));
    const segment: EngineSegment = {
      id,
      start: (g[0] as EngineWord).start,
      end: (g[g.length - 1] as EngineWord).end,
      text,
      tokens: [],
      temperature: 0,
      avgLogprob: logSum / g.length,
      compressionRatio: compressionRatio(text),
      noSpeechProb: 0,
    };
    if (includeWords) segment.words = g;
    return segment;
  });
}
