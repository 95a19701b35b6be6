// Seeded mutations for the fuzz targets: every input is a pure function of (run seed, target, index), so any
// one of them can be regenerated alone (`npm run fuzz -- --target T --seed S --replay I`). The mutations are
// the classic ones: bit flips, byte sets, interesting values, truncation, extension, block insert / delete /
// duplicate, splices of two seeds and tweaks of known length fields.
import { Prng } from '../../src/util/prng.js';

/** A PRNG for input `index` of `target`: independent of every other input, so inputs replay one by one. */
export function inputPrng(seed: number, target: string, index: number): Prng {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 0xcc9e2d51) >>> 0;
  h = Math.imul(h ^ index, 0x1b873593) >>> 0;
  h = Math.imul(h ^ Math.floor(index / 0x100000000), 0xe6546b64) >>> 0;
  return new Prng((h ^ (h >>> 16)) >>> 0);
}

export const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0xfe] as const;
export const INTERESTING_16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff] as const;
export const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x10000, 0xffff, 0x7fff] as const;

/** A length (or count) field inside a seed: where it is and how it is stored. */
export interface LengthField {
  offset: number;
  size: 1 | 2 | 3 | 4;
  littleEndian?: boolean;
}

export interface MutateOptions {
  /** Mutations land in the first `region` bytes 9 times out of 10 (headers); default the whole input. */
  region?: number;
  /** Known length fields, tweaked by the length mutation (±1, 0, max, the input's real size...). */
  fields?: readonly LengthField[];
  /** Another seed for splices. */
  other?: Uint8Array;
  /** Longest output; default 4× the input plus 4 KB. */
  maxLength?: number;
  /** How many mutations are stacked (1 to this; default 4). */
  maxStack?: number;
}

export function pick<T>(prng: Prng, xs: readonly T[]): T {
  return xs[prng.int(xs.length)] as T;
}

function offsetIn(prng: Prng, len: number, region: number | undefined): number {
  if (len === 0) return 0;
  const r = region !== undefined && region < len && prng.next() < 0.9 ? region : len;
  return prng.int(r);
}

function writeUint(b: Uint8Array, off: number, size: number, value: number, le: boolean): void {
  for (let i = 0; i < size && off + i < b.length; i++) {
    const shift = le ? i : size - 1 - i;
    b[off + i] = Math.floor(value / 2 ** (8 * shift)) & 0xff;
  }
}

function readUint(b: Uint8Array, off: number, size: number, le: boolean): number {
  let v = 0;
  for (let i = 0; i < size; i++) v += (b[off + i] ?? 0) * 2 ** (8 * (le ? i : size - 1 - i));
  return v;
}

const MUTATIONS = ['flip', 'set', 'interesting', 'truncate', 'extend', 'insert', 'delete', 'duplicate', 'length', 'splice'] as const;
export type MutationName = (typeof MUTATIONS)[number];

/** One to `maxStack` mutations of `seed` (a copy: the seed is not touched). */
export function mutate(prng: Prng, seed: Uint8Array, opts: MutateOptions = {}): Uint8Array {
  let b: Uint8Array = Uint8Array.from(seed);
  const n = 1 + prng.int(opts.maxStack ?? 4);
  const maxLength = opts.maxLength ?? seed.length * 4 + 4096;
  for (let k = 0; k < n; k++) b = mutateOnce(prng, b, opts, pick(prng, MUTATIONS));
  return b.length > maxLength ? b.subarray(0, maxLength) : b;
}

export function mutateOnce(prng: Prng, input: Uint8Array, opts: MutateOptions, what: MutationName): Uint8Array {
  let b = input;
  const len = b.length;
  switch (what) {
    case 'flip': {
      if (len === 0) return b;
      const bits = 1 + prng.int(8);
      for (let i = 0; i < bits; i++) {
        const off = offsetIn(prng, len, opts.region);
        b[off] = (b[off] as number) ^ (1 << prng.int(8));
      }
      return b;
    }
    case 'set': {
      if (len === 0) return b;
      b[offsetIn(prng, len, opts.region)] = prng.int(256);
      return b;
    }
    case 'interesting': {
      if (len === 0) return b;
      const size = pick(prng, [1, 2, 4] as const);
      const value = size === 1 ? pick(prng, INTERESTING_8) : size === 2 ? pick(prng, INTERESTING_16) : pick(prng, INTERESTING_32);
      writeUint(b, offsetIn(prng, len, opts.region), size, value, prng.chance(0.5));
      return b;
    }
    case 'truncate':
      return b.subarray(0, prng.chance(0.3) ? offsetIn(prng, len, opts.region) : prng.int(len + 1));
    case 'extend': {
      const extra = prng.chance(0.8) ? 1 + prng.int(64) : 1 + prng.int(4096);
      const out = new Uint8Array(len + extra);
      out.set(b);
      if (prng.chance(0.5)) prng.fill(out.subarray(len));
      else out.fill(pick(prng, INTERESTING_8), len);
      return out;
    }
    case 'insert': {
      const at = offsetIn(prng, len + 1, opts.region);
      const block = prng.fill(new Uint8Array(1 + prng.int(prng.chance(0.9) ? 16 : 1024)));
      return concat(b.subarray(0, at), block, b.subarray(at));
    }
    case 'delete': {
      if (len === 0) return b;
      const at = offsetIn(prng, len, opts.region);
      const count = 1 + prng.int(Math.min(len - at, prng.chance(0.9) ? 16 : 1024));
      return concat(b.subarray(0, at), b.subarray(at + count));
    }
    case 'duplicate': {
      if (len === 0) return b;
      const at = offsetIn(prng, len, opts.region);
      const count = 1 + prng.int(Math.min(len - at, 256));
      const block = b.subarray(at, at + count);
      return concat(b.subarray(0, at + count), block, b.subarray(at + count));
    }
    case 'length': {
      const fields = (opts.fields ?? []).filter((f) => f.offset + f.size <= len);
      if (fields.length === 0) return mutateOnce(prng, b, opts, 'interesting');
      const f = pick(prng, fields);
      const le = f.littleEndian ?? false;
      const max = 2 ** (8 * f.size) - 1;
      const cur = readUint(b, f.offset, f.size, le);
      const choices = [0, 1, max, Math.floor(max / 2), Math.floor(max / 2) + 1, cur + 1, cur - 1, cur + 1 + prng.int(64), cur - 1 - prng.int(64), len, len - f.offset, cur * 2, Math.floor(cur / 2)];
      const v = Math.min(max, Math.max(0, pick(prng, choices)));
      b = Uint8Array.from(b);
      writeUint(b, f.offset, f.size, v, le);
      return b;
    }
    case 'splice': {
      const other = opts.other;
      if (!other || other.length === 0) return mutateOnce(prng, b, opts, 'duplicate');
      const cut = prng.int(len + 1);
      const from = prng.int(other.length);
      return concat(b.subarray(0, cut), other.subarray(from));
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Line-level mutations of a text format (SDP, headers): drop, duplicate, swap, splice lines, or mutate one. */
export function mutateLines(prng: Prng, text: string, mutateLine: (prng: Prng, line: string) => string, sep = '\r\n'): string {
  const lines = text.split(/\r?\n/);
  const n = 1 + prng.int(3);
  for (let k = 0; k < n; k++) {
    const i = prng.int(lines.length);
    switch (prng.int(6)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, lines[i] ?? '');
        break;
      case 2: {
        const j = prng.int(lines.length);
        [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
        break;
      }
      default:
        lines[i] = mutateLine(prng, lines[i] ?? '');
    }
  }
  const ending = prng.chance(0.1) ? pick(prng, ['\n', '\r', '\r\r\n', '']) : sep;
  return lines.join(ending);
}

/** Strings that break naive parsers. */
export const INTERESTING_STRINGS = [
  '',
  ' ',
  '-1',
  '0',
  '-0',
  '1e309',
  'NaN',
  'Infinity',
  '4294967296',
  '18446744073709551616',
  '9'.repeat(400),
  '0x7f',
  '\u0000',
  '%00',
  '%s%n',
  '../../etc/passwd',
  '\uD800',
  '\uFFFF',
  'ü',
  '🎤',
  '\r\n',
  '"',
  "'",
  '\\',
  '{',
  '[]',
  'null',
  'true',
  '__proto__',
  'constructor',
  'a'.repeat(70_000),
] as const;

/** Token-level mutation of one line: a number or word replaced by an interesting value, chars injected. */
export function mutateTokenLine(prng: Prng, line: string): string {
  const tokens = line.split(/([\s:/=,;])/);
  const i = prng.int(tokens.length);
  switch (prng.int(5)) {
    case 0:
      tokens[i] = pick(prng, INTERESTING_STRINGS);
      break;
    case 1:
      tokens[i] = String(pick(prng, [...INTERESTING_32, -1, 65535, 65536, 128, 127, 255, 256, 0.5, 1e21]));
      break;
    case 2:
      tokens[i] = (tokens[i] ?? '').repeat(1 + prng.int(50));
      break;
    case 3:
      tokens.splice(i, 1);
      break;
    default: {
      const s = tokens[i] ?? '';
      const at = prng.int(s.length + 1);
      tokens[i] = s.slice(0, at) + String.fromCharCode(prng.int(0x10000)) + s.slice(at);
    }
  }
  return tokens.join('');
}
