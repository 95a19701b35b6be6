// Property tests for hot word correction on seeded random input: it never throws, and whatever it
// changes is a span replaced by one of the hot words, with every other character kept, in order.
import { describe, expect, it } from 'vitest';
import { correctHotWords, createHotWordStage, type HotWordOptions } from '../../../src/postprocess/hot-words.js';
import { Prng } from '../../../src/util/prng.js';

/** Seeded (mulberry32), so every run sees the same cases. */
function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

// Code point ranges the random strings draw from: ASCII, Latin-1 and Latin Extended letters, combining
// marks, Greek, Cyrillic, Arabic, CJK, emoji (surrogate pairs), zero-width characters, lone surrogates.
const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x20, 0x7e],
  [0x20, 0x7e],
  [0x61, 0x7a],
  [0xc0, 0xff],
  [0x100, 0x17f],
  [0x300, 0x36f],
  [0x370, 0x3ff],
  [0x400, 0x4ff],
  [0x600, 0x6ff],
  [0x4e00, 0x4e80],
  [0x1f300, 0x1f64f],
  [0x200b, 0x200f],
  [0xd800, 0xdfff],
  [0x09, 0x0d],
  [0xfb00, 0xfb06],
  [0xff21, 0xff3a],
];

function randomUnicode(r: Rand, maxLen: number): string {
  const len = int(r, maxLen + 1);
  let s = '';
  for (let i = 0; i < len; i++) {
    const [lo, hi] = pick(r, RANGES);
    const cp = lo + int(r, hi - lo + 1);
    s += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
  }
  return s;
}

const HOT_WORDS = ['Theo', 'Itaú', 'Bradesco', 'Kubernetes', 'Dr. Oliveira', 'PIX', 'Nubank', 'Banco do Brasil', "McDonald's", 'São Paulo', 'C++', 'O', 'IT', 'Dr.', '.NET'];
// Words a recogniser might write, near-misses of the hot words among them.
const VOCABULARY = [
  'the', 'o', 'a', 'de', 'que', 'and', 'theo', 'Theo', 'there', 'they', 'ita', 'u', 'itau', 'itaú', 'bra', 'desco', 'bradesco', 'bradesko',
  'cooper', 'netties', 'kubernetes', 'pics', 'pix', 'PIX', 'new', 'bank', 'nubank', 'dr', 'doctor', 'oliveira', 'olivera', 'banco', 'do',
  'brasil', 'mcdonalds', 'sao', 'paulo', 'são', 'c', 'it', 'net', 'hello', 'conta', 'minha', 'call', 'now', '42', 'ótimo', 'ação', 'x',
];
const SEPARATORS = [' ', ' ', ' ', '  ', ', ', '. ', '-', '\n', '\t', '? ', "'", ' (', ') ', '…', '.'];
const LANGUAGES = ['en', 'pt', 'pt-BR', 'fr', '', 'xx', 'english', 'portuguese', 'EN_us'];

function randomWordMix(r: Rand): string {
  const n = int(r, 14);
  let s = r() < 0.2 ? pick(r, SEPARATORS) : '';
  for (let i = 0; i < n; i++) {
    s += pick(r, VOCABULARY);
    if (i + 1 < n || r() < 0.3) s += pick(r, SEPARATORS);
  }
  return s;
}

function randomHotWords(r: Rand, text: string): string[] {
  const n = int(r, 7);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const roll = r();
    if (roll < 0.5) out.push(pick(r, HOT_WORDS));
    else if (roll < 0.7) out.push(randomUnicode(r, 12));
    else if (roll < 0.9 && text.length > 0) {
      // A piece of the text itself, so exact and near matches happen.
      const a = int(r, text.length);
      out.push(text.slice(a, a + 1 + int(r, 12)));
    } else out.push(pick(r, ['', '  ', 'x'.repeat(101), ' Theo ', 'theo', 'THEO']));
  }
  return out;
}

function randomOptions(r: Rand): HotWordOptions | undefined {
  const roll = r();
  if (roll < 0.5) return undefined;
  return {
    threshold: pick(r, [0, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 1, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY]),
    maxWindowExtra: pick(r, [0, 1, 2, 3, 5, -1, 0.5, Number.NaN]),
  };
}

/**
 * Whether `output` is `input` with some non-empty spans replaced by one of `replacements`, and every other
 * element (character, or word) kept in its place and order. A search over (position in input, in output).
 */
function explainedByReplacements<T extends string | readonly string[]>(input: T, output: T, replacements: readonly T[]): boolean {
  const n = input.length;
  const m = output.length;
  const seen = new Uint8Array((n + 1) * (m + 1));
  const stack: Array<[number, number]> = [[0, 0]];
  const push = (i: number, j: number): void => {
    const k = i * (m + 1) + j;
    if (seen[k] === 0) {
      seen[k] = 1;
      stack.push([i, j]);
    }
  };
  seen[0] = 1;
  while (stack.length > 0) {
    const [i, j] = stack.pop()!;
    if (i === n && j === m) return true;
    if (i < n && j < m && input[i] === output[j]) push(i + 1, j + 1);
    for (const h of replacements) {
      if (h.length === 0 || !startsWith(output, h, j)) continue;
      for (let i2 = i + 1; i2 <= n; i2++) push(i2, j + h.length);
    }
  }
  return false;
}

function startsWith(s: string | readonly string[], prefix: string | readonly string[], at: number): boolean {
  if (at + prefix.length > s.length) return false;
  for (let i = 0; i < prefix.length; i++) if (s[at + i] !== prefix[i]) return false;
  return true;
}

function check(text: string, hotWords: string[], language: string, opts: HotWordOptions | undefined): void {
  let out = '';
  expect(() => {
    out = correctHotWords(text, hotWords, language, opts);
  }).not.toThrow();
  expect(typeof out).toBe('string');
  if (out === text) return;
  const replacements = [...new Set(hotWords.map((h) => h.trim()).filter((h) => h !== ''))];
  if (!explainedByReplacements(text, out, replacements)) {
    throw new Error(`unexplained change: ${JSON.stringify({ text, hotWords, language, opts, out })}`);
  }
}

describe('hot word correction, fuzzed', () => {
  it('random Unicode strings with random hot words: never throws, changes only hot word spans', () => {
    const r = prng(0x7e0);
    for (let i = 0; i < 3000; i++) {
      const text = randomUnicode(r, 40);
      check(text, randomHotWords(r, text), pick(r, LANGUAGES), randomOptions(r));
    }
  });

  it('random word mixes with near-miss words: never throws, changes only hot word spans', () => {
    const r = prng(0x5eed);
    let changed = 0;
    for (let i = 0; i < 4000; i++) {
      const text = randomWordMix(r);
      const hotWords = randomHotWords(r, text);
      const opts = randomOptions(r);
      check(text, hotWords, pick(r, LANGUAGES), opts);
      if (correctHotWords(text, hotWords, 'pt', opts) !== text) changed++;
    }
    // The mixes are built to hit hot words: a good share of them must actually be corrected.
    expect(changed).toBeGreaterThan(400);
  });

  it('words that are not replaced keep their order (word-level view)', () => {
    const r = prng(42);
    for (let i = 0; i < 2000; i++) {
      const words = Array.from({ length: 1 + int(r, 10) }, () => pick(r, VOCABULARY));
      const text = words.join(' ');
      const hotWords = randomHotWords(r, text).filter((h) => !/\s/u.test(h.trim()));
      const out = correctHotWords(text, hotWords, pick(r, LANGUAGES), randomOptions(r));
      // The output words are the input words, in order, with some runs of them replaced by a hot word.
      const hots = hotWords.map((h) => h.trim()).filter((h) => h !== '');
      const ok = explainedByReplacements(words, out.split(' '), hots.map((h) => [h]));
      expect(ok, JSON.stringify({ text, hotWords, out })).toBe(true);
    }
  });

  it('an empty hot word list returns every string unchanged', () => {
    const r = prng(7);
    const stage = createHotWordStage();
    for (let i = 0; i < 1000; i++) {
      const text = r() < 0.5 ? randomUnicode(r, 60) : randomWordMix(r);
      expect(stage.apply(text, { language: pick(r, LANGUAGES), hotWords: [] })).toBe(text);
      expect(correctHotWords(text, ['', ' \t '], 'en')).toBe(text);
    }
  });

  it('survives hostile inputs', () => {
    const long = 'the o '.repeat(5000);
    expect(correctHotWords(long, ['Theo'], 'en')).toBe('Theo '.repeat(5000));
    const many = Array.from({ length: 3000 }, (_, i) => `w${i} ${'x'.repeat(i % 120)}`);
    expect(() => correctHotWords('w1 x and w2 xx', many, 'en')).not.toThrow();
    expect(correctHotWords('\ud800\udc00\udfff', ['\ud800'], 'pt')).toBe('\ud800\udc00\udfff');
    expect(correctHotWords(undefined as unknown as string, ['Theo'], 'en')).toBe(undefined);
    expect(correctHotWords('call theo', undefined as unknown as string[], 'en')).toBe('call theo');
    expect(correctHotWords('call theo', ['Theo'], undefined as unknown as string)).toBe('call Theo');
  });
});
