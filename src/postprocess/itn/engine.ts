// The rule runner: tokenises, tries the rules at each word that can start a number phrase, writes what
// they claim and copies everything else as it was. Never throws: on any failure the input comes back.

import { articleOpens } from './numbers.js';
import type { RuleMatch } from './rule.js';
import { protectedPhrases, RULES } from './rules.js';
import { joinTokens, tokenize, type Token } from './tokens.js';
import type { ItnTable } from './types.js';

/** Words at which the number rules may start, and words that only open a protected phrase ("the", "os"). */
interface Starters {
  numbers: Set<string>;
  phrases: Set<string>;
}

const startersCache = new WeakMap<ItnTable, Starters>();
const vocabularyCache = new WeakMap<ItnTable, Set<string>>();
const PHRASE_RULES = [protectedPhrases];

function starters(table: ItnTable): Starters {
  let s = startersCache.get(table);
  if (s === undefined) {
    const numbers = new Set([
      ...Object.keys(table.cardinals),
      ...Object.keys(table.ordinals),
      ...Object.keys(table.runDigits),
      ...(table.dateStyle === 'monthDay' ? Object.keys(table.months) : []),
    ]);
    const phrases = new Set(table.protectedPhrases.map((p) => p[0] ?? '').filter((w) => !numbers.has(w)));
    s = { numbers, phrases };
    startersCache.set(table, s);
  }
  return s;
}

/** Every word a rule may consume (and so rewrite or drop): number words, connectors, units, months, ... */
export function vocabulary(table: ItnTable): ReadonlySet<string> {
  let s = vocabularyCache.get(table);
  if (s === undefined) {
    s = new Set([
      ...starters(table).numbers,
      ...starters(table).phrases,
      ...table.scaleArticles,
      ...Object.keys(table.months),
      ...Object.keys(table.decades),
      ...table.connectors,
      ...Object.keys(table.separatorWords),
      ...table.decimalWords,
      ...table.halfPhrases.flat(),
      ...table.percentPhrases.flat(),
      ...table.currencies.flatMap((c) => [...c.major, ...c.minor]),
      ...table.currencyOf,
      ...table.dateOf,
      ...table.hourWords,
      ...table.minuteWords,
      ...table.halfHour,
      ...table.dayparts.flatMap((d) => d.words),
      ...Object.keys(table.clockMarkers).flatMap((m) => m.split(/[^a-z]+/).flatMap((w) => [w, ...w.split('')])),
    ]);
    vocabularyCache.set(table, s);
  }
  return s;
}

/** A match may not cut a hyphenated compound ("dois-pontos", "segunda-feira") in two. */
function cutsCompound(tokens: readonly Token[], start: number, end: number): boolean {
  const before = tokens[start - 1]?.text === '-' && tokens[start - 2]?.kind === 'word';
  const after = tokens[end + 1]?.text === '-' && tokens[end + 2]?.kind === 'word';
  return before || after;
}

export function runItn(text: string, table: ItnTable): string {
  try {
    const tokens = tokenize(text);
    if (joinTokens(tokens) !== text) return text;
    const start = starters(table);
    const ctx = { tokens, table };
    let out = '';
    let i = 0;
    while (i < tokens.length) {
      const t = tokens[i] as Token;
      const number = t.kind === 'word' && (start.numbers.has(t.key) || articleOpens(tokens, i, table));
      if (!number && !(t.kind === 'word' && start.phrases.has(t.key))) {
        out += t.text;
        i++;
        continue;
      }
      let m: RuleMatch | undefined;
      for (const rule of number ? RULES : PHRASE_RULES) {
        m = rule.apply(ctx, i);
        if (m !== undefined && cutsCompound(tokens, i, m.end)) m = undefined;
        if (m !== undefined) break;
      }
      if (m === undefined || m.end < i) {
        out += t.text;
        i++;
        continue;
      }
      out += m.text ?? joinTokens(tokens, i, m.end + 1);
      i = m.end + 1;
    }
    return out;
  } catch {
    return text;
  }
}
