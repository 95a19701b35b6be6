// Signals, measurements and streaming helpers for the preprocessing stage tests.
import type { AudioStage } from '../../../../src/audio/stages/stage.js';
import { Prng } from '../../../../src/util/prng.js';

export const db = (ratio: number): number => 20 * Math.log10(ratio);

export function sine(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  const n = Math.round(rate * seconds);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/** Logarithmic sweep from f0 to f1 Hz (phase-continuous). */
export function logSweep(f0: number, f1: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  const n = Math.round(rate * seconds);
  const out = new Float32Array(n);
  const k = Math.log(f1 / f0);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    out[i] = amp * Math.sin(((2 * Math.PI * f0 * seconds) / k) * (Math.exp((t / seconds) * k) - 1));
  }
  return out;
}

/** Uniform white noise in [-amp, amp), seeded. */
export function whiteNoise(n: number, amp: number, seed = 1): Float32Array {
  const rng = new Prng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amp * (2 * rng.next() - 1);
  return out;
}

export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s / Math.max(1, to - from));
}

export function peak(x: ArrayLike<number>, from = 0, to = x.length): number {
  let p = 0;
  for (let i = from; i < to; i++) p = Math.max(p, Math.abs(x[i] as number));
  return p;
}

/** Amplitude of the component at `freq` over x[from, to), by correlation with a complex tone. */
export function toneAmplitude(x: ArrayLike<number>, rate: number, freq: number, from: number, to: number): number {
  const n = Math.floor(Math.floor(((to - from) * freq) / rate) * (rate / freq)); // whole periods
  let re = 0;
  let im = 0;
  for (let i = from; i < from + n; i++) {
    const ph = (2 * Math.PI * freq * i) / rate;
    re += (x[i] as number) * Math.cos(ph);
    im += (x[i] as number) * Math.sin(ph);
  }
  return (2 * Math.hypot(re, im)) / n;
}

export function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Whole input in one process() call, then flush(). */
export function runOnce(stage: Pick<AudioStage, 'process' | 'flush'>, x: Float32Array): Float32Array {
  const head = stage.process(x).slice();
  return concat([head, stage.flush()]);
}

/** The input in blocks of the given sizes (cycled), then flush(). */
export function runBlocks(stage: Pick<AudioStage, 'process' | 'flush'>, x: Float32Array, sizes: readonly number[]): Float32Array {
  const parts: Float32Array[] = [];
  let k = 0;
  for (let off = 0; off < x.length; k++) {
    const n = sizes[k % sizes.length] as number;
    parts.push(stage.process(x.subarray(off, Math.min(x.length, off + n))).slice());
    off += n;
  }
  parts.push(stage.flush());
  return concat(parts);
}

/** Random block sizes in [1, max], seeded. */
export function randomSizes(count: number, max: number, seed = 7): number[] {
  const rng = new Prng(seed);
  return Array.from({ length: count }, () => 1 + rng.int(max));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(a.length, b.length); i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

/** A mono 32-bit float WAV file (lossless for sox). */
export function floatWav(samples: Float32Array, rate: number): Buffer {
  const data = 46;
  const buf = Buffer.alloc(data + samples.length * 4);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(data - 8 + samples.length * 4, 4);
  buf.write('WAVE', 8);
  buf.write('fmt ', 12);
  buf.writeUInt32LE(18, 16);
  buf.writeUInt16LE(3, 20); // IEEE float
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 4, 28);
  buf.writeUInt16LE(4, 32);
  buf.writeUInt16LE(32, 34);
  buf.writeUInt16LE(0, 36); // cbSize
  buf.write('data', 38);
  buf.writeUInt32LE(samples.length * 4, 42);
  for (let i = 0; i < samples.length; i++) buf.writeFloatLE(samples[i] as number, data + i * 4);
  return buf;
}
