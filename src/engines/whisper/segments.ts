// Turns one window's sampled tokens into segments the way openai-whisper's transcribe() does: segments
// end at consecutive timestamp pairs, and the next window starts at the last complete segment unless
// the window ended on a single timestamp (nothing more to say in it).
import { deflateSync } from 'node:zlib';

/** Seconds per timestamp token. */
export const TIME_PRECISION = 0.02;
/** Mel frames per timestamp token (the encoder halves the frame rate). */
export const INPUT_STRIDE = 2;

/** openai-whisper: len(text bytes) / len(zlib.compress(text bytes)); repetitive text scores high. */
export function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return 0;
  return bytes.length / deflateSync(bytes).length;
}

export interface TokenSlice {
  /** Index range [from, to) into the window's sampled tokens (timestamp tokens included). */
  from: number;
  to: number;
  /** Seconds from the start of the window. */
  start: number;
  end: number;
}

export interface WindowSplit {
  slices: TokenSlice[];
  /** Mel frames to advance the seek by. */
  advance: number;
}

/**
 * Splits sampled tokens (without <|endoftext|>) into timestamped slices.
 * @param segmentFrames mel frames of audio in this window (≤ 3000)
 */
export function splitWindow(tokens: readonly number[], timestampBegin: number, segmentFrames: number): WindowSplit {
  const isTs = tokens.map((t) => t >= timestampBegin);
  const time = (t: number): number => (t - timestampBegin) * TIME_PRECISION;
  const singleTimestampEnding = tokens.length >= 2 && isTs[tokens.length - 1] === true && isTs[tokens.length - 2] === false;
  const consecutive: number[] = [];
  for (let i = 1; i < tokens.length; i++) if (isTs[i] && isTs[i - 1]) consecutive.push(i);

  if (consecutive.length > 0) {
    const cuts = singleTimestampEnding ? [...consecutive, tokens.length] : consecutive;
    const slices: TokenSlice[] = [];
    let from = 0;
    for (const to of cuts) {
      const first = tokens[from]!;
      const last = tokens[to - 1]!;
      slices.push({ from, to, start: first >= timestampBegin ? time(first) : 0, end: last >= timestampBegin ? time(last) : time(first) });
      from = to;
    }
    if (singleTimestampEnding) return { slices, advance: segmentFrames };
    // Resume at the last complete segment's end; the unfinished tail is decoded again with the next window.
    const lastTs = tokens[from - 1]! - timestampBegin;
    return { slices, advance: Math.max(1, lastTs * INPUT_STRIDE) };
  }

  // No segment boundary: one segment for the whole window, ending at the last timestamp if there is one.
  let duration = (segmentFrames * 160) / 16000;
  const timestamps = tokens.filter((t) => t >= timestampBegin);
  const lastTs = timestamps.at(-1);
  if (lastTs !== undefined && lastTs !== timestampBegin) duration = time(lastTs);
  const first = tokens[0];
  const start = first !== undefined && first >= timestampBegin ? time(first) : 0;
  return { slices: tokens.length > 0 ? [{ from: 0, to: tokens.length, start, end: Math.max(start, duration) }] : [], advance: segmentFrames };
}
