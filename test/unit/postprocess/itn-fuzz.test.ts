// Property tests: ITN + entities never throw, and keep every word they do not own, in order.
import { describe, expect, it } from 'vitest';
import { inverseNormalize } from '../../../src/postprocess/itn.js';
import { vocabulary } from '../../../src/postprocess/itn/engine.js';
import { EN_TABLE } from '../../../src/postprocess/itn/tables-en.js';
import { PT_TABLE } from '../../../src/postprocess/itn/tables-pt.js';
import { tokenize } from '../../../src/postprocess/itn/tokens.js';
import { Prng } from '../../../src/util/prng.js';

/** Seeded (mulberry32), so every run sees the same cases. */
function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function randomUnicode(r: () => number, maxLen: number): string {
  const n = Math.floor(r() * maxLen);
  let s = '';
  for (let k = 0; k < n; k++) {
    const kind = r();
    if (kind < 0.3) s += String.fromCharCode(Math.floor(r() * 0x80));
    else if (kind < 0.45) s += String.fromCharCode(Math.floor(r() * 0x20)); // control characters
    else if (kind < 0.6) s += String.fromCharCode(0xd800 + Math.floor(r() * 0x800)); // lone surrogates
    else if (kind < 0.75) s += String.fromCodePoint(0x1f300 + Math.floor(r() * 0x300)); // emoji
    else if (kind < 0.85) s += pick(r, ['\u0301', '\u200b', '\u00a0', '\ufeff', '\u2028', 'º', 'ª', '$', 'R$', ',', '.', '-', "'", '’']);
    else s += String.fromCodePoint(Math.floor(r() * 0x10ffff));
  }
  return s;
}

const OTHER_WORDS = {
  pt: ['casa', 'comprei', 'carro', 'o', 'a', 'de', 'para', 'ele', 'vez', 'andar', 'lugar', 'telefone', 'cpf', 'cep', 'cartão', 'é', 'segundo', 'quarto',
    'dia', 'ontem', 'Brasil', 'São', 'Paulo', 'já', 'não', 'obrigado', 'às', 'em', 'desde', 'nós', 'os', 'as', 'porque', '2024', '15', 'R$', 'meio', 'dúzia'],
  en: ['house', 'bought', 'car', 'the', 'a', 'of', 'to', 'he', 'time', 'floor', 'place', 'phone', 'card', 'is', 'second', 'first', 'day', 'yesterday',
    'New', 'York', 'at', 'in', 'since', 'may', 'march', 'no', 'thanks', 'because', '2024', '15', '$', 'half', 'dozen', 'or', 'by'],
};
const PUNCT = ['', '', '', '', ',', '.', '!', '?', ';', ':', '-', '"', ')'];
const SPACES = [' ', ' ', ' ', ' ', '  ', '\n', '\t'];

function randomSentence(r: () => number, numberWords: readonly string[], other: readonly string[]): string {
  const n = 1 + Math.floor(r() * 25);
  let s = '';
  for (let k = 0; k < n; k++) {
    let w = r() < 0.55 ? pick(r, numberWords) : pick(r, other);
    const c = r();
    if (c < 0.1) w = w.toUpperCase();
    else if (c < 0.2) w = w.charAt(0).toUpperCase() + w.slice(1);
    s += (k > 0 ? pick(r, SPACES) : '') + w + pick(r, PUNCT);
  }
  return s;
}

function words(s: string): string[] {
  return tokenize(s).filter((t) => t.kind === 'word').map((t) => t.key);
}

function isSubsequence(needle: readonly string[], hay: readonly string[]): boolean {
  let k = 0;
  for (const w of hay) if (k < needle.length && w === needle[k]) k++;
  return k === needle.length;
}

/** The tokeniser's definition as one regex: the scanner must split and key every string as this does. */
const TOKEN_RE = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*|\s+|[^\s\p{L}\p{M}\p{N}]/gsu;
function regexTokens(text: string): { text: string; kind: string; key: string }[] {
  return [...text.matchAll(TOKEN_RE)].map(([t]) => {
    const c = String.fromCodePoint(t.codePointAt(0) ?? 0);
    if (/\s/u.test(c)) return { text: t, kind: 'space', key: '' };
    if (/[\p{L}\p{M}\p{N}]/u.test(c)) return { text: t, kind: 'word', key: t.normalize('NFC').toLowerCase().replace(/’/g, "'") };
    return { text: t, kind: 'punct', key: '' };
  });
}

describe('tokenize', () => {
  it('splits and keys random Unicode exactly as the regex definition does', () => {
    const r = prng(777);
    const parts = ["don't", 'rock’n’roll', "dogs'", "'90s", 'É', 'e\u0301', 'İstanbul', 'ß', 'ǅ', 'Σας', '٣٤', '中文', '𝐀𝐁', 'ﬁ', '  ', '\u00a0', '\u2028', '😀', '-', '.'];
    for (let n = 0; n < 4000; n++) {
      const s = r() < 0.5 ? randomUnicode(r, 40) : Array.from({ length: Math.floor(r() * 10) }, () => pick(r, parts)).join('');
      expect(tokenize(s), JSON.stringify(s)).toEqual(regexTokens(s));
    }
  });
});

describe('ITN fuzz', () => {
  it('never throws on random Unicode, for any language', () => {
    const r = prng(12345);
    for (let n = 0; n < 3000; n++) {
      const s = randomUnicode(r, 60);
      for (const lang of ['pt-BR', 'en', 'fr']) {
        const out = inverseNormalize(s, lang);
        expect(typeof out).toBe('string');
        if (lang === 'fr') expect(out).toBe(s);
      }
    }
  });

  for (const [family, table] of [['pt', PT_TABLE], ['en', EN_TABLE]] as const) {
    it(`keeps every word it does not own, in order (${family})`, () => {
      const vocab = vocabulary(table);
      const numberWords = [...Object.keys(table.cardinals), ...Object.keys(table.ordinals), ...vocab];
      const r = prng(family === 'pt' ? 777 : 888);
      for (let n = 0; n < 3000; n++) {
        const s = randomSentence(r, numberWords, OTHER_WORDS[family]);
        const out = inverseNormalize(s, family);
        const kept = words(s).filter((w) => !vocab.has(w) && !/^[0-9]+$/.test(w));
        if (!isSubsequence(kept, words(out))) expect.fail(`lost or reordered words: ${JSON.stringify(s)} → ${JSON.stringify(out)}`);
        expect(out).not.toMatch(/undefined|NaN|Infinity/);
      }
    });
  }

  // No clock here: a super-linear path shows up as this test running into vitest's timeout.
  it('handles very long inputs', () => {
    const r = prng(99);
    const pieces: string[] = [];
    for (let k = 0; k < 4000; k++) pieces.push(randomSentence(r, Object.keys(PT_TABLE.cardinals), OTHER_WORDS.pt));
    const long = pieces.join(' ');
    const digits = Array.from({ length: 20000 }, () => 'nove').join(' ');
    expect(typeof inverseNormalize(long, 'pt-BR')).toBe('string');
    expect(inverseNormalize(digits, 'pt-BR')).toMatch(/^[0-9 ]+$/);
    expect(typeof inverseNormalize(long, 'en')).toBe('string');
  });
});
