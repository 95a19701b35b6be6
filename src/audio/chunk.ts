// Splits long audio into pieces of at most `maxSeconds`, cutting at the quietest 20 ms window in the last
// `searchSeconds` of each piece, so words are not cut in half. Used to report progress on long files and
// to bound the audio one engine call sees.

export interface Chunk {
  start: number; // sample index, inclusive
  end: number; // exclusive
}

export function splitAtSilence(samples: Float32Array, sampleRate: number, maxSeconds = 30, searchSeconds = 5): Chunk[] {
  const max = Math.max(1, Math.floor(maxSeconds * sampleRate));
  const search = Math.min(max - 1, Math.floor(searchSeconds * sampleRate));
  const win = Math.max(1, Math.floor(sampleRate / 50));
  const chunks: Chunk[] = [];
  let start = 0;
  while (samples.length - start > max) {
    let best = start + max;
    let bestEnergy = Infinity;
    for (let w = start + max - search; w + win <= start + max; w += win) {
      let e = 0;
      for (let k = w; k < w + win; k++) {
        const v = samples[k] ?? 0;
        e += v * v;
      }
      if (e < bestEnergy) {
        bestEnergy = e;
        best = w + (win >> 1);
      }
    }
    chunks.push({ start, end: best });
    start = best;
  }
  if (start < samples.length || chunks.length === 0) chunks.push({ start, end: samples.length });
  return chunks;
}
