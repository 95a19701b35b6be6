// Splits long audio into pieces of at most `maxSeconds`, cutting at the quietest 20 ms window in the last
// `searchSeconds` of each piece, so words are not cut in half. Used to report progress on long files and
// to bound the audio one engine call sees. splitAtSilence() cuts a whole clip; PieceCutter makes the same
// cuts on a stream, holding at most one piece (as 16-bit PCM) while it waits for the next cut.
import { float32ToInt16 } from './resample.js';

export interface Chunk {
  start: number; // sample index, inclusive
  end: number; // exclusive
}

/** A piece of a stream cut by PieceCutter. */
export interface AudioPiece {
  /** Index of its first sample in the whole stream. */
  offset: number;
  samples: Int16Array;
}

interface CutGeometry {
  /** Longest piece, in samples. */
  max: number;
  /** How far back from `max` a cut may go, in samples. */
  search: number;
  /** The window whose energy is compared (20 ms). */
  win: number;
}

function geometry(sampleRate: number, maxSeconds: number, searchSeconds: number): CutGeometry {
  const max = Math.max(1, Math.floor(maxSeconds * sampleRate));
  return { max, search: Math.min(max - 1, Math.floor(searchSeconds * sampleRate)), win: Math.max(1, Math.floor(sampleRate / 50)) };
}

/** Where a piece starting at `start` ends: the middle of the quietest window in its last `search` samples. */
function cutPoint(samples: ArrayLike<number>, start: number, g: CutGeometry): number {
  let best = start + g.max;
  let bestEnergy = Infinity;
  for (let w = start + g.max - g.search; w + g.win <= start + g.max; w += g.win) {
    let e = 0;
    for (let k = w; k < w + g.win; k++) {
      const v = samples[k] ?? 0;
      e += v * v;
    }
    if (e < bestEnergy) {
      bestEnergy = e;
      best = w + (g.win >> 1);
    }
  }
  return best;
}

export function splitAtSilence(samples: Float32Array, sampleRate: number, maxSeconds = 30, searchSeconds = 5): Chunk[] {
  const g = geometry(sampleRate, maxSeconds, searchSeconds);
  const chunks: Chunk[] = [];
  let start = 0;
  while (samples.length - start > g.max) {
    const end = cutPoint(samples, start, g);
    chunks.push({ start, end });
    start = end;
  }
  if (start < samples.length || chunks.length === 0) chunks.push({ start, end: samples.length });
  return chunks;
}

/** splitAtSilence on a stream: push blocks, take the finished pieces, end() for the rest. */
export class PieceCutter {
  private readonly g: CutGeometry;
  private buf: Int16Array;
  private length = 0;
  /** Stream index of buf[0]. */
  private offset = 0;

  constructor(sampleRate: number, maxSeconds = 30, searchSeconds = 5) {
    this.g = geometry(sampleRate, maxSeconds, searchSeconds);
    this.buf = new Int16Array(this.g.max + sampleRate);
  }

  /** Takes the next block (float in [-1, 1]); returns the pieces it completed, in order. */
  push(block: Float32Array): AudioPiece[] {
    if (this.length + block.length > this.buf.length) {
      const grown = new Int16Array(Math.max(this.buf.length * 2, this.length + block.length));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    float32ToInt16(block, this.buf.subarray(this.length, this.length + block.length));
    this.length += block.length;
    const out: AudioPiece[] = [];
    while (this.length > this.g.max) out.push(this.take(cutPoint(this.buf, 0, this.g)));
    return out;
  }

  /** End of stream: the last piece, or undefined when nothing is left. */
  end(): AudioPiece | undefined {
    return this.length > 0 ? this.take(this.length) : undefined;
  }

  private take(n: number): AudioPiece {
    const piece = { offset: this.offset, samples: this.buf.slice(0, n) };
    this.buf.copyWithin(0, n, this.length);
    this.length -= n;
    this.offset += n;
    return piece;
  }
}
