// What every ITN rule shares: the context it reads, the match it returns, and the questions rules ask
// about the words around a number (is it a kept-alone word, does a number or a unit go on after it).

import type { NumPhrase } from './numbers.js';
import type { Token } from './tokens.js';
import type { ItnTable } from './types.js';

export interface RuleContext {
  tokens: readonly Token[];
  table: ItnTable;
}

/** Tokens `start`..`end` (inclusive) are replaced by `text`; `text` undefined keeps them as they were. */
export interface RuleMatch {
  end: number;
  text: string | undefined;
}

export interface Rule {
  name: string;
  apply(ctx: RuleContext, i: number): RuleMatch | undefined;
}

export const key = (ctx: RuleContext, i: number): string => (i < 0 ? '' : (ctx.tokens[i]?.key ?? ''));

/** "one", "um" alone, or an article and one scale word ("a hundred", "a million"): words, not numbers. */
export function isKeptAlone(ctx: RuleContext, p: NumPhrase): boolean {
  return p.article ? p.words === 2 : p.words === 1 && ctx.table.keptAlone.includes(p.firstKey);
}

/** Word `n` carries a number phrase on ("os dois mil reais" is no "os dois"). */
export function continuesNumber(ctx: RuleContext, n: number): boolean {
  const k = key(ctx, n);
  const t = ctx.table;
  return (
    Object.hasOwn(t.cardinals, k) ||
    t.currencies.some((c) => c.major.includes(k) || c.minor.includes(k)) ||
    t.percentPhrases.some((p) => p[0] === k) ||
    t.hourWords.includes(k) ||
    t.decimalWords.includes(k)
  );
}

/** Word `n` is a plural noun by the table's endings ("pessoas", "cases"), so a number before it counts something. */
export function isPluralNoun(ctx: RuleContext, n: number): boolean {
  const k = key(ctx, n);
  const p = ctx.table.pluralNouns;
  return p.endings.some((e) => k.endsWith(e)) && !p.except.includes(k) && !p.exceptEndings.some((e) => k.endsWith(e));
}
