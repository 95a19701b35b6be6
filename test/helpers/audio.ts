// Audio helpers for tests: real speech from Debian's asterisk-core-sounds-en-wav, alignment by
// cross-correlation.
import { readFileSync } from 'node:fs';
import { readWav } from '../../src/audio/wav.js';

export const SOUNDS = '/usr/share/asterisk/sounds/en_US_f_Allison';

export function readSpeech(name: string): Int16Array {
  const wav = readWav(readFileSync(`${SOUNDS}/${name}.wav`));
  if (wav.sampleRate !== 8000 || wav.channels !== 1) throw new Error(`${name}: expected 8 kHz mono`);
  return wav.samples;
}

/** A call at 8 kHz: `lead` s of silence, the prompts with 1.2 s pauses between them, then 1 s of silence. */
export function callAudio(prompts: readonly Int16Array[], lead = 0.5): Int16Array {
  const gap = new Int16Array(9600);
  const parts = [new Int16Array(lead * 8000), ...prompts.flatMap((p) => [p, gap]), new Int16Array(8000)];
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** PCM16 samples as little-endian bytes (a view, no copy). */
export const pcm16 = (x: Int16Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

/** Pearson correlation of a[i] and b[i + lag] over their overlap. */
export function correlationAt(a: ArrayLike<number>, b: ArrayLike<number>, lag: number): number {
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, n = 0;
  for (let i = Math.max(0, -lag); i < a.length && i + lag < b.length; i++) {
    const x = a[i] as number;
    const y = b[i + lag] as number;
    sa += x; sb += y; saa += x * x; sbb += y * y; sab += x * y; n++;
  }
  if (n === 0) return 0;
  const cov = sab - (sa * sb) / n;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

/** The lag in [-maxLag, maxLag] with the highest correlation (b shifted against a). */
export function bestLag(a: ArrayLike<number>, b: ArrayLike<number>, maxLag: number): { lag: number; corr: number } {
  let best = { lag: 0, corr: -Infinity };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const c = correlationAt(a, b, lag);
    if (c > best.corr) best = { lag, corr: c };
  }
  return best;
}
