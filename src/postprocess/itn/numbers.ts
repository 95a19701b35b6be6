// Number-phrase parser over a language table: cardinals ("dois mil e quinhentos"), ordinals ("vigésimo
// primeiro", "twenty first"), digit-by-digit runs ("nove oito sete", "four one five") and amounts with a
// fraction ("três vírgula cinco"). It only reads; rules.ts decides what a phrase becomes.

import { matchPhrase, nextWord, type Token } from './tokens.js';
import type { ItnTable, NumClass, NumWord, OrdinalWord } from './types.js';

/** Numbers above this stay words (beyond what anyone dictates; keeps arithmetic exact). */
const MAX_VALUE = 1e15;
/** Longest phrase or run the parser reads from one position (keeps very long inputs linear). */
const MAX_WORDS = 48;

export interface NumPhrase {
  value: number;
  /** Token index of the first and last number word. */
  start: number;
  end: number;
  /** Number words read (connectors not counted). */
  words: number;
  /** Largest scale used (1 when none): "dois milhões" → 1e6. */
  scale: number;
  lastCls: NumClass;
  /** Key of the first word. */
  firstKey: string;
  /** The first word is a scale article ("a hundred"): it counts in `words`. */
  article: boolean;
  /** Where the phrase stood at its hundreds word when units followed it with no connector ("eight hundred | five"). */
  hundreds?: { value: number; end: number };
  /** Suffix of the last word when it is an ordinal that carries one. */
  suffix?: string;
}

interface State {
  total: number;
  group: number;
  lastScale: number;
  last: NumClass | undefined;
}

function fits(s: State, w: NumWord, key: string, table: ItnTable): boolean {
  const { group, last } = s;
  switch (w.cls) {
    case 'unit':
      return group % 10 === 0 && last !== 'unit' && last !== 'teen' && (group % 100 === 0 || last === 'ten');
    case 'teen':
    case 'ten':
      return group % 100 === 0 && last !== 'unit' && last !== 'teen' && last !== 'ten';
    case 'hundred':
      return group === 0 && last !== 'unit' && last !== 'teen' && last !== 'ten' && last !== 'hundred' && last !== 'hundredMul';
    case 'hundredMul':
      return group > 0 && group < 100 && (last === 'unit' || last === 'teen' || last === 'ten');
    case 'scale':
      if (w.value >= s.lastScale) return false;
      // "mil" opens a number and follows a larger scale without a multiplier ("dois milhões e mil").
      return group > 0 || ((last === undefined || last === 'scale') && table.bareScales.includes(key));
  }
}

function add(s: State, w: NumWord): void {
  if (w.cls === 'hundredMul') s.group *= 100;
  else if (w.cls === 'scale') {
    s.total += (s.group === 0 ? 1 : s.group) * w.value;
    s.group = 0;
    s.lastScale = w.value;
  } else s.group += w.value;
  s.last = w.cls;
}

type Lexicon = (key: string) => { word: NumWord; ordinal: boolean } | undefined;

function lexicon(table: ItnTable, mode: 'cardinal' | 'ordinal'): Lexicon {
  if (mode === 'cardinal') return (k) => (Object.hasOwn(table.cardinals, k) ? { word: table.cardinals[k] as NumWord, ordinal: false } : undefined);
  if (table.ordinalStyle === 'every') return (k) => (Object.hasOwn(table.ordinals, k) ? { word: table.ordinals[k] as NumWord, ordinal: true } : undefined);
  return (k) => {
    if (Object.hasOwn(table.ordinals, k)) return { word: table.ordinals[k] as NumWord, ordinal: true };
    if (Object.hasOwn(table.cardinals, k)) return { word: table.cardinals[k] as NumWord, ordinal: false };
    return undefined;
  };
}

/** An article opens a cardinal only right before a hundred or scale word ("a hundred", not "a dog"). */
export function articleOpens(tokens: readonly Token[], i: number, table: ItnTable): boolean {
  if (!table.scaleArticles.includes(tokens[i]?.key ?? '')) return false;
  const n = nextWord(tokens, i);
  const k = n < 0 ? '' : (tokens[n]?.key ?? '');
  const w = Object.hasOwn(table.cardinals, k) ? table.cardinals[k] : undefined;
  return w?.cls === 'hundredMul' || w?.cls === 'scale';
}

const ONE: NumWord = { value: 1, cls: 'unit' };

function parse(tokens: readonly Token[], i: number, table: ItnTable, mode: 'cardinal' | 'ordinal'): NumPhrase | undefined {
  const lex = lexicon(table, mode);
  const s: State = { total: 0, group: 0, lastScale: Infinity, last: undefined };
  let k = i;
  let end = -1;
  let words = 0;
  let sawOrdinal = false;
  let suffix: string | undefined;
  const article = mode === 'cardinal' && articleOpens(tokens, i, table);
  // Where the phrase stood before its last connector: "dois mil e vinte | e dois mil" is two numbers.
  let beforeConnector: { s: State; end: number; words: number } | undefined;
  let stoppedAtMultiplier = false;
  let hundreds: NumPhrase['hundreds'];
  while (words < MAX_WORDS) {
    const key = tokens[k]?.key ?? '';
    let at = k;
    let hit = article && words === 0 ? { word: ONE, ordinal: false } : lex(key);
    if (hit === undefined && words > 0 && table.connectors.includes(key) && s.last !== undefined && table.connectorAfter.includes(s.last)) {
      const n = nextWord(tokens, k, true);
      if (n < 0) break;
      hit = lex(tokens[n]?.key ?? '');
      at = n;
      beforeConnector = { s: { ...s }, end, words };
    }
    if (hit === undefined || !fits(s, hit.word, tokens[at]?.key ?? '', table)) {
      stoppedAtMultiplier = hit?.word.cls === 'scale' || hit?.word.cls === 'hundredMul';
      break;
    }
    if (at === k && (s.last === 'hundred' || s.last === 'hundredMul') && hit.word.cls !== 'scale') hundreds = { value: s.total + s.group, end };
    add(s, hit.word);
    if (s.total + s.group > MAX_VALUE) return undefined;
    words++;
    end = at;
    if (hit.ordinal) {
      sawOrdinal = true;
      suffix = (hit.word as OrdinalWord).suffix;
      if (table.ordinalStyle === 'last') break;
    }
    const n = nextWord(tokens, at, true);
    if (n < 0) break;
    k = n;
  }
  // A scale word that cannot join means a second number began at the last connector: "two thousand and
  // two thousand" is 2,000 and 2,000, never 2,002 and a stray "thousand" ("five hundred and five hundred" too).
  if (stoppedAtMultiplier && beforeConnector !== undefined) {
    Object.assign(s, beforeConnector.s);
    end = beforeConnector.end;
    words = beforeConnector.words;
  }
  if (words === 0 || (mode === 'ordinal' && !sawOrdinal)) return undefined;
  const phrase: NumPhrase = {
    value: s.total + s.group,
    start: i,
    end,
    words,
    scale: Number.isFinite(s.lastScale) ? s.lastScale : 1,
    lastCls: s.last ?? 'unit',
    firstKey: tokens[i]?.key ?? '',
    article,
  };
  if (suffix !== undefined) phrase.suffix = suffix;
  if (hundreds !== undefined && hundreds.end < end) phrase.hundreds = hundreds;
  return phrase;
}

export function parseCardinal(tokens: readonly Token[], i: number, table: ItnTable): NumPhrase | undefined {
  return parse(tokens, i, table, 'cardinal');
}

export function parseOrdinal(tokens: readonly Token[], i: number, table: ItnTable): NumPhrase | undefined {
  return parse(tokens, i, table, 'ordinal');
}

export interface DigitRun {
  digits: string;
  start: number;
  end: number;
  /** Phrases read one after the other ("onze" "nove" "oito" = 3). */
  chunks: number;
  /** Every phrase was one digit word. */
  allSingle: boolean;
}

/** Word `k` can carry a digit run on. */
function inRun(tokens: readonly Token[], k: number, table: ItnTable): boolean {
  const key = tokens[k]?.key ?? '';
  return !table.notInRuns.includes(key) && (Object.hasOwn(table.runDigits, key) || Object.hasOwn(table.cardinals, key));
}

/**
 * Number phrases said one after another with nothing between them, read as the digits they write:
 * "nove oito sete" → "987", "onze nove oito" → "1198". Phrases with a scale word (mil, thousand) end it.
 * Hundreds said as a group end their phrase when the run goes on: "one eight hundred five five five ..."
 * is 1 800 555 ..., not 1 805 55 ....
 */
export function parseDigitRun(tokens: readonly Token[], i: number, table: ItnTable): DigitRun | undefined {
  let digits = '';
  let chunks = 0;
  let allSingle = true;
  let k = i;
  let end = -1;
  while (chunks < MAX_WORDS) {
    const key = tokens[k]?.key ?? '';
    if (table.notInRuns.includes(key)) break;
    if (Object.hasOwn(table.runDigits, key)) {
      digits += String(table.runDigits[key]);
      end = k;
    } else {
      const p = parseCardinal(tokens, k, table);
      if (p === undefined || p.value >= 1000 || p.scale > 1 || p.article) break;
      const cut = p.hundreds !== undefined && inRun(tokens, nextWord(tokens, p.end, true), table) ? p.hundreds : undefined;
      digits += String(cut?.value ?? p.value);
      if (p.words > 1 || p.value >= 10) allSingle = false;
      end = cut?.end ?? p.end;
    }
    chunks++;
    const n = nextWord(tokens, end, true);
    if (n < 0) break;
    k = n;
  }
  if (chunks === 0) return undefined;
  return { digits, start: i, end, chunks, allSingle };
}

export interface Amount {
  int: NumPhrase;
  /** Fraction digits after "vírgula"/"point", as spoken ("zero cinco" → "05"). */
  frac?: string;
  end: number;
  /** A fraction or half of a scale worked into `int` ("dois vírgula cinco milhões", "um milhão e meio"). */
  scaled?: boolean;
}

/** The value of the scale word (thousand, milhão, ...) at word `k`. */
function scaleAt(tokens: readonly Token[], k: number, table: ItnTable): number | undefined {
  const key = tokens[k]?.key ?? '';
  const w = Object.hasOwn(table.cardinals, key) ? table.cardinals[key] : undefined;
  return w?.cls === 'scale' ? w.value : undefined;
}

/** The digit a single digit word writes ("cinco", "oh"), inside a fraction. */
function digitAt(tokens: readonly Token[], k: number, table: ItnTable): number | undefined {
  const key = tokens[k]?.key ?? '';
  if (table.notInRuns.includes(key)) return undefined;
  if (Object.hasOwn(table.runDigits, key)) return table.runDigits[key];
  const w = Object.hasOwn(table.cardinals, key) ? table.cardinals[key] : undefined;
  return w?.cls === 'unit' ? w.value : undefined;
}

/** `int` and a fraction of `scale` ("2" and "5" of a million), as a whole number ending at word `end`. */
function scaled(int: NumPhrase, frac: string, scale: number, end: number): Amount | undefined {
  const step = scale / 10 ** frac.length;
  if (!Number.isInteger(step) || int.scale > 1 || int.value >= 1000) return undefined;
  return { int: { ...int, value: int.value * scale + Number(frac) * step, end, scale, lastCls: 'scale' }, end, scaled: true };
}

/**
 * A cardinal, optionally followed by a decimal word and fraction digits. A fraction or a half of a scale
 * word is worked out, so no part of it is left as words: "dois vírgula cinco milhões", "two and a half
 * million" → 2500000, "um milhão e meio", "a million and a half" → 1500000.
 */
export function parseAmount(tokens: readonly Token[], i: number, table: ItnTable): Amount | undefined {
  const int = parseCardinal(tokens, i, table);
  if (int === undefined) return undefined;
  const d = nextWord(tokens, int.end);
  for (const half of table.halfPhrases) {
    const e = matchPhrase(tokens, d, half);
    if (e < 0) continue;
    if (int.lastCls === 'scale') return { int: { ...int, value: int.value + int.scale / 2, end: e }, end: e, scaled: true };
    const s = nextWord(tokens, e);
    const scale = scaleAt(tokens, s, table);
    const a = scale === undefined ? undefined : scaled(int, '5', scale, s);
    if (a !== undefined) return a;
  }
  if (d >= 0 && table.decimalWords.includes(tokens[d]?.key ?? '')) {
    const f = nextWord(tokens, d);
    let frac = '';
    let k = f;
    for (let digit = digitAt(tokens, k, table); digit !== undefined && frac.length < 6; digit = digitAt(tokens, k, table)) {
      frac += String(digit);
      k = nextWord(tokens, k);
    }
    const scale = frac === '' ? undefined : scaleAt(tokens, k, table);
    const a = scale === undefined ? undefined : scaled(int, frac, scale, k);
    if (a !== undefined) return a;
    const run = f >= 0 ? parseDigitRun(tokens, f, table) : undefined;
    if (run !== undefined) return { int, frac: run.digits, end: run.end };
  }
  return { int, end: int.end };
}
