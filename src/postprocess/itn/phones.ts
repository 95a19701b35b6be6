// Digit runs and phone numbers. Number phrases said one after another are digits ("quatro um cinco" →
// "415"); a run of a phone's length is written in the table's phone layout unless a document word comes
// before it. Groups dictated with a comma or a spoken separator between them ("five five five, one two
// three, four five six seven", "nove oito sete seis cinco traço ...") are one phone number when every
// break falls where the layout has one; otherwise each group stays as it was.

import { applyMask } from './format.js';
import { parseDigitRun } from './numbers.js';
import { key, type Rule, type RuleContext } from './rule.js';
import { nextWord, wordsBefore } from './tokens.js';
import type { PhoneFormat } from './types.js';

/** How many words before a run are searched for a phone or document word. */
const CONTEXT_WINDOW = 4;
/** Most groups read into one number (a phone has at most four). */
const MAX_GROUPS = 6;

const breaksCache = new Map<string, number[]>();

/** The digit counts after which a layout has a break: '(##) #####-####' → [2, 7]. */
function maskBreaks(mask: string): number[] {
  let b = breaksCache.get(mask);
  if (b === undefined) {
    b = [];
    let digits = 0;
    let gap = false;
    for (const c of mask) {
      if (c === '#' || (c >= '0' && c <= '9')) {
        if (gap && digits > 0) b.push(digits);
        gap = false;
        digits++;
      } else gap = true;
    }
    breaksCache.set(mask, b);
  }
  return b;
}

/** The first word of the next group after word `end`: past ", " or a spoken separator; -1 when none. */
function nextGroup(ctx: RuleContext, end: number): number {
  const { tokens, table } = ctx;
  if (tokens[end + 1]?.text === ',' && tokens[end + 2]?.kind === 'space' && tokens[end + 3]?.kind === 'word') return end + 3;
  const s = nextWord(tokens, end);
  return s >= 0 && Object.hasOwn(table.separatorWords, key(ctx, s)) ? nextWord(tokens, s) : -1;
}

/** The run's digits written as a phone number, or undefined; `breaks` are where the speaker grouped them. */
function writePhone(ctx: RuleContext, i: number, digits: string, breaks: readonly number[]): string | undefined {
  const { table } = ctx;
  const before = wordsBefore(ctx.tokens, i, CONTEXT_WINDOW);
  if (before.some((w) => table.phoneBlockers.includes(w))) return undefined;
  const named = before.some((w) => table.phoneWords.includes(w));
  const fits = (f: PhoneFormat): boolean => (named || breaks.length > 0 || f.needsContext !== true) && breaks.every((b) => maskBreaks(f.mask).includes(b));
  for (const f of table.phoneFormats) {
    const out = fits(f) ? applyMask(digits, f.mask) : undefined;
    if (out !== undefined) return out;
  }
  return undefined;
}

/**
 * Digit by digit ("quatro um cinco" → "415") or, from seven digits on, in groups ("onze nove oito sete
 * ..."); a phone's length is written as a phone number. Shorter mixed runs ("twenty twenty", "seven
 * eleven") are ambiguous and stay.
 */
export const digitRun: Rule = {
  name: 'digits',
  apply(ctx, i) {
    const { tokens, table } = ctx;
    const run = parseDigitRun(tokens, i, table);
    if (run === undefined) return undefined;
    let digits = run.digits;
    let end = run.end;
    const breaks: number[] = [];
    for (let g = nextGroup(ctx, end); g >= 0 && breaks.length < MAX_GROUPS; g = nextGroup(ctx, end)) {
      const next = parseDigitRun(tokens, g, table);
      if (next === undefined) break;
      breaks.push(digits.length);
      digits += next.digits;
      end = next.end;
    }
    const grouped = breaks.length > 0 ? writePhone(ctx, i, digits, breaks) : undefined;
    if (grouped !== undefined) return { end, text: grouped };
    if (run.chunks < 2) return undefined;
    if (!run.allSingle && run.digits.length < 7) return { end: run.end, text: undefined };
    return { end: run.end, text: writePhone(ctx, i, run.digits, []) ?? run.digits };
  },
};
