// Years: when a number phrase is a year (written without separator, "em 2024") and when it stays a
// quantity ("em 2.025 pessoas"). A full number ("dois mil e vinte e cinco", "two thousand and five") is a
// year only in year context: after a year word ("em", "desde", "in", "since"), or after "de"/"of" that
// follows a month or a year noun ("início de", "the end of"). An English pair ("nineteen ninety nine") is a
// year wherever its first part cannot be a clock hour. A plural noun right after a full number makes it a
// quantity; a range or list ("de 2020 a 2025", "em 2023, 2024 e 2025") is written as years while its
// members are years.

import { parseCardinal } from './numbers.js';
import { continuesNumber, isPluralNoun, key, type Rule, type RuleContext, type RuleMatch } from './rule.js';
import { isDigits, joinTokens, nextWord, prevWord } from './tokens.js';

export interface Year {
  value: number;
  end: number;
  /** Read as two parts ("nineteen eighty four", "nineteen oh five"); first = 19, second = 84. */
  pair?: { first: number; second: number };
}

/** A year 1000–2099 starting at word `i`: 4 digits, a full cardinal, or (where the table allows) a pair "nineteen eighty four". */
export function parseYear(ctx: RuleContext, i: number): Year | undefined {
  const { tokens, table } = ctx;
  if (isDigits(tokens[i]) && (tokens[i]?.text.length ?? 0) === 4) return { value: Number(tokens[i]?.text), end: i };
  const full = parseCardinal(tokens, i, table);
  if (full === undefined || full.article) return undefined;
  if (full.value >= 1000 && full.value <= 2099) return { value: full.value, end: full.end };
  if (!table.yearPairs || full.value < 10 || full.value > 20 || full.scale > 1 || full.lastCls === 'hundredMul') return undefined;
  const n = nextWord(tokens, full.end);
  if (n < 0) return undefined;
  if (table.runDigits[key(ctx, n)] === 0) {
    const m = nextWord(tokens, n);
    const unit = m >= 0 ? parseCardinal(tokens, m, table) : undefined;
    if (unit === undefined || unit.value < 1 || unit.value > 9 || unit.words > 1) return undefined;
    return { value: full.value * 100 + unit.value, end: unit.end, pair: { first: full.value, second: unit.value } };
  }
  const second = parseCardinal(tokens, n, table);
  if (second === undefined || second.value < 10 || second.value > 99) return undefined;
  return { value: full.value * 100 + second.value, end: second.end, pair: { first: full.value, second: second.value } };
}

/** Word `i` follows a year word or "de"/"of" after a year noun ('word'), or "de"/"of" after a month ('month'). */
function yearContext(ctx: RuleContext, i: number): 'word' | 'month' | undefined {
  const { tokens, table } = ctx;
  const p = prevWord(tokens, i);
  const pk = key(ctx, p);
  if (table.yearPrefixes.includes(pk)) return 'word';
  if (!table.dateOf.includes(pk)) return undefined;
  const pp = key(ctx, prevWord(tokens, p));
  return Object.hasOwn(table.months, pp) ? 'month' : table.yearNouns.includes(pp) ? 'word' : undefined;
}

/**
 * A pair outside year context: its first part is no 12-hour clock hour ("ten thirty" stays), it is not one
 * round ten said twice ("twenty twenty", as in 20/20, stays).
 */
function pairStandsAlone(y: Year): boolean {
  const p = y.pair;
  return p !== undefined && p.first >= 13 && !(p.first === p.second && p.first % 10 === 0);
}

/** "nineteen nineties" → "1990s", "the eighteen hundreds" → "1800s". */
function decade(ctx: RuleContext, i: number): RuleMatch | undefined {
  const { tokens, table } = ctx;
  const century = parseCardinal(tokens, i, table);
  if (century === undefined || century.words !== 1 || century.value < 10 || century.value > 20) return undefined;
  const n = nextWord(tokens, century.end);
  const d = key(ctx, n);
  if (n < 0 || !Object.hasOwn(table.decades, d)) return undefined;
  return { end: n, text: `${century.value * 100 + (table.decades[d] ?? 0)}s` };
}

/**
 * A number before another number word or a unit ("dollars", "por cento"), or a full number before a plural
 * noun ("in 2,000 cases"), counts things; after a month ("maio de 2025 pessoas ...") a number is a year still.
 */
function isQuantity(ctx: RuleContext, y: Year, afterMonth = false): boolean {
  const n = nextWord(ctx.tokens, y.end);
  return continuesNumber(ctx, n) || (y.pair === undefined && !afterMonth && isPluralNoun(ctx, n));
}

/** Most years read as one range or list. */
const MAX_LIST = 12;

/** The word after ", " that follows word `end`, or -1. */
function listNext(ctx: RuleContext, end: number): number {
  const t = ctx.tokens;
  return t[end + 1]?.text === ',' && t[end + 2]?.kind === 'space' && t[end + 3]?.kind === 'word' ? end + 3 : -1;
}

export const year: Rule = {
  name: 'year',
  apply(ctx, i) {
    const { tokens, table } = ctx;
    if (isDigits(tokens[i])) return undefined;
    const dec = decade(ctx, i);
    if (dec !== undefined) return dec;
    const y = parseYear(ctx, i);
    if (y === undefined) return undefined;
    const context = yearContext(ctx, i);
    if (context === undefined && !pairStandsAlone(y)) return undefined;
    // A range or list goes on while the next number is a year too: "de 2020 a 2025", "em 2023, 2024 e 2025".
    // Members after a comma count only once a range word ("e", "and") closes the list: in "em 2020, mil e
    // quinhentos morreram" the comma starts another clause.
    let end = y.end;
    let text = String(y.value);
    let at = y.end;
    let pending = '';
    for (let items = 1; items < MAX_LIST; items++) {
      const n = nextWord(tokens, at);
      const range = n >= 0 && table.rangeWords.includes(key(ctx, n));
      const m = range ? nextWord(tokens, n) : listNext(ctx, at);
      const to = m >= 0 ? parseYear(ctx, m) : undefined;
      if (to === undefined || isQuantity(ctx, to)) {
        // "entre dois mil e três mil pessoas": a range of quantities ("em 2024 e 5" is no range).
        if (items === 1 && range && (parseCardinal(tokens, m, table)?.value ?? 0) >= 1000) return undefined;
        break;
      }
      pending += `${joinTokens(tokens, at + 1, m)}${to.value}`;
      at = to.end;
      if (range) {
        text += pending;
        pending = '';
        end = at;
      }
    }
    // "em dois mil e vinte quatro vezes" is no year either: a number phrase right after stays for the other rules.
    if (end === y.end && isQuantity(ctx, y, context === 'month')) return undefined;
    return { end, text };
  },
};
