// The ITN rules, in the order they are tried at each word. Each rule is generic: it reads a language
// table and either claims a range of tokens (and says what to write for it) or passes. No rule knows a
// word of any language; the tables in tables-*.ts hold them all.

import { groupThousands, pad2 } from './format.js';
import { parseAmount, parseCardinal, parseOrdinal, type Amount, type NumPhrase } from './numbers.js';
import { digitRun } from './phones.js';
import { continuesNumber, isKeptAlone, isPluralNoun, key, type Rule, type RuleContext } from './rule.js';
import { joinTokens, matchPhrase, nextWord, prevWord } from './tokens.js';
import type { CurrencyEntry } from './types.js';
import { parseYear, year } from './years.js';

/** A number written with the language's separators: 2500 → "2.500", with fraction "3,5". */
function writeAmount(ctx: RuleContext, a: Amount): string {
  const int = groupThousands(a.int.value, ctx.table.thousandsSep);
  return a.frac === undefined ? int : `${int}${ctx.table.decimalSep}${a.frac}`;
}

function writeMoney(ctx: RuleContext, cur: CurrencyEntry, major: number, cents: string): string {
  const { table } = ctx;
  return `${cur.symbol}${table.currencySpace ? ' ' : ''}${groupThousands(major, table.thousandsSep)}${table.decimalSep}${cents}`;
}

/** Word sequences that always stay as spoken, unless a number phrase goes on after them. */
export const protectedPhrases: Rule = {
  name: 'protected',
  apply(ctx, i) {
    for (const phrase of ctx.table.protectedPhrases) {
      const end = matchPhrase(ctx.tokens, i, phrase);
      if (end >= 0 && !continuesNumber(ctx, nextWord(ctx.tokens, end))) return { end, text: undefined };
    }
    return undefined;
  },
};

/** Matches a 12-hour marker ("pm", "p.m", "p m") after word `k`; the end index and the marker. */
function clockMarker(ctx: RuleContext, k: number): { end: number; marker: string } | undefined {
  const { tokens, table } = ctx;
  if (tokens[k + 1]?.kind !== 'space') return undefined;
  let acc = '';
  let found: { end: number; marker: string } | undefined;
  for (let j = k + 2; j < tokens.length && j < k + 7; j++) {
    const t = tokens[j];
    if (t === undefined) break;
    if (t.kind === 'space') {
      if (t.text !== ' ' || acc.length !== 1) break;
      continue;
    }
    acc += t.kind === 'word' ? t.key : t.text;
    if (acc.length > 4) break;
    const m = table.clockMarkers[acc];
    if (m !== undefined && t.kind === 'word') found = { end: j, marker: m };
  }
  if (found === undefined) return undefined;
  // "p.m." keeps its last dot at the end of a sentence; mid-sentence the dot belongs to the marker.
  const dot = tokens[found.end + 1];
  const after = tokens[found.end + 3];
  if (dot?.text === '.' && tokens[found.end + 2]?.kind === 'space' && after?.kind === 'word' && after.text === after.text.toLowerCase()) found.end += 1;
  return found;
}

/** "três e meia da tarde" → 15:30, "dez horas" → 10h, "three thirty p m" → 3:30 PM. */
const time: Rule = {
  name: 'time',
  apply(ctx, i) {
    const { tokens, table } = ctx;
    const hour = parseCardinal(tokens, i, table);
    if (hour === undefined || hour.value > 24) return undefined;
    let k = hour.end;
    let hourWord = false;
    let minutes: number | undefined;
    let n = nextWord(tokens, k);
    if (n >= 0 && table.hourWords.includes(key(ctx, n))) {
      hourWord = true;
      k = n;
      n = nextWord(tokens, k);
    }
    if (n >= 0 && table.connectors.includes(key(ctx, n))) {
      const m = nextWord(tokens, n);
      if (m >= 0 && table.halfHour.includes(key(ctx, m))) {
        minutes = 30;
        k = m;
      } else {
        const p = m >= 0 ? parseCardinal(tokens, m, table) : undefined;
        if (p !== undefined && p.value >= 1 && p.value <= 59) {
          minutes = p.value;
          k = p.end;
          const w = nextWord(tokens, k);
          if (w >= 0 && table.minuteWords.includes(key(ctx, w))) k = w;
        }
      }
    } else if (n >= 0 && table.timeStyle === '12h' && !hourWord) {
      if (table.runDigits[key(ctx, n)] === 0) {
        const m = nextWord(tokens, n);
        const p = m >= 0 ? parseCardinal(tokens, m, table) : undefined;
        if (p !== undefined && p.words === 1 && p.value >= 1 && p.value <= 9) {
          minutes = p.value;
          k = p.end;
        }
      } else {
        const p = parseCardinal(tokens, n, table);
        if (p !== undefined && p.value >= 10 && p.value <= 59) {
          minutes = p.value;
          k = p.end;
        }
      }
    }
    let h = hour.value;
    let marker: string | undefined;
    let daypart = false;
    const d = nextWord(tokens, k);
    for (const dp of table.dayparts) {
      const e = d >= 0 ? matchPhrase(tokens, d, dp.words) : -1;
      if (e < 0) continue;
      daypart = true;
      k = e;
      if (dp.plus12?.includes(h)) h += 12;
      if (dp.marker !== undefined) marker = dp.marker;
      break;
    }
    if (table.timeStyle === '12h' && marker === undefined) {
      const m = clockMarker(ctx, k);
      if (m !== undefined) {
        marker = m.marker;
        k = m.end;
      }
    }
    const prefixed = table.timePrefixes.includes(key(ctx, prevWord(tokens, i)));
    if (!hourWord && !daypart && marker === undefined && !(minutes !== undefined && prefixed)) return undefined;
    if (isKeptAlone(ctx, hour) && minutes === undefined && !daypart && marker === undefined && !prefixed) return undefined;
    if (marker !== undefined && (hour.value < 1 || hour.value > 12)) return undefined;
    let text: string;
    if (table.timeStyle === '12h') {
      const clock = minutes !== undefined ? `${h}:${pad2(minutes)}` : marker !== undefined ? String(h) : `${h}:00`;
      text = marker !== undefined ? `${clock} ${marker}` : clock;
    } else text = minutes !== undefined ? `${h}:${pad2(minutes)}` : `${h}h`;
    return { end: k, text };
  },
};

/** "25 de dezembro de 2024", "primeiro de maio" → "1º de maio"; "december twenty fifth twenty twenty four" → "December 25, 2024". */
const date: Rule = {
  name: 'date',
  apply(ctx, i) {
    const { tokens, table } = ctx;
    const monthAt = (j: number): number | undefined => (j >= 0 && Object.hasOwn(table.months, key(ctx, j)) ? table.months[key(ctx, j)] : undefined);
    const monthText = (j: number, m: number): string => table.monthNames?.[m] ?? tokens[j]?.text ?? '';
    const dayAt = (j: number): { value: number; end: number; ordinal: NumPhrase | undefined; alone: boolean } | undefined => {
      if (j < 0) return undefined;
      const o = parseOrdinal(tokens, j, table);
      if (o !== undefined && o.value >= 1 && o.value <= 31) return { value: o.value, end: o.end, ordinal: o, alone: false };
      const c = parseCardinal(tokens, j, table);
      if (c !== undefined && c.value >= 1 && c.value <= 31) return { value: c.value, end: c.end, ordinal: undefined, alone: isKeptAlone(ctx, c) };
      return undefined;
    };
    const yearAfter = (j: number, comma: boolean): { value: number; end: number; gap: number } | undefined => {
      let n = nextWord(tokens, j);
      if (n < 0 && comma && tokens[j + 1]?.text === ',' && tokens[j + 2]?.kind === 'space' && tokens[j + 3]?.kind === 'word') n = j + 3;
      if (n < 0) return undefined;
      const y = parseYear(ctx, n);
      return y === undefined ? undefined : { ...y, gap: n };
    };
    if (table.dateStyle === 'dayOfMonth') {
      const day = dayAt(i);
      if (day === undefined) return undefined;
      const of = nextWord(tokens, day.end);
      if (of < 0 || !table.dateOf.includes(key(ctx, of))) return undefined;
      const mi = nextWord(tokens, of);
      const m = monthAt(mi);
      if (m === undefined) return undefined;
      const dayText = day.value === 1 && table.firstDay !== undefined ? table.firstDay : String(day.value);
      let text = `${dayText}${joinTokens(tokens, day.end + 1, mi)}${monthText(mi, m)}`;
      let end = mi;
      const of2 = nextWord(tokens, mi);
      if (of2 >= 0 && table.dateOf.includes(key(ctx, of2))) {
        const y = yearAfter(of2, false);
        if (y !== undefined) {
          text += `${joinTokens(tokens, mi + 1, y.gap)}${y.value}`;
          end = y.end;
        }
      }
      return { end, text };
    }
    // monthDay: "december twenty fifth[, twenty twenty four]" or "the fifth of may".
    const m = monthAt(i);
    if (m !== undefined) {
      const ambiguous = table.ambiguousMonths.includes(key(ctx, i));
      const name = monthText(i, m);
      const day = dayAt(nextWord(tokens, i));
      const y = day !== undefined ? yearAfter(day.end, true) : undefined;
      if (day !== undefined && y !== undefined) return { end: y.end, text: `${name} ${day.value}, ${y.value}` };
      const yOnly = yearAfter(i, false);
      if (yOnly !== undefined) return { end: yOnly.end, text: `${name} ${yOnly.value}` };
      if (day !== undefined && !day.alone && (!ambiguous || day.ordinal !== undefined)) return { end: day.end, text: `${name} ${day.value}` };
      return undefined;
    }
    const o = parseOrdinal(tokens, i, table);
    if (o === undefined || o.value > 31) return undefined;
    const of = nextWord(tokens, o.end);
    if (of < 0 || !table.dateOf.includes(key(ctx, of))) return undefined;
    const mi = nextWord(tokens, of);
    const mm = monthAt(mi);
    if (mm === undefined) return undefined;
    let text = `${o.value}${o.suffix ?? table.ordinalSuffix(o.value)}${joinTokens(tokens, o.end + 1, mi)}${monthText(mi, mm)}`;
    let end = mi;
    const y = yearAfter(mi, true);
    if (y !== undefined) {
      text += ` ${y.value}`;
      end = y.end;
    }
    return { end, text };
  },
};

/** "dois mil e quinhentos reais" → "R$ 2.500,00", "cinquenta centavos" → "R$ 0,50", "two dollars and fifty cents" → "$2.50". */
const money: Rule = {
  name: 'money',
  apply(ctx, i) {
    const { tokens, table } = ctx;
    const a = parseAmount(tokens, i, table);
    if (a === undefined) return undefined;
    let n = nextWord(tokens, a.end);
    if (n >= 0 && a.int.scale >= 1e6 && a.int.lastCls === 'scale' && table.currencyOf.includes(key(ctx, n))) n = nextWord(tokens, n);
    if (n < 0) return undefined;
    const k = key(ctx, n);
    const major = table.currencies.find((c) => c.major.includes(k));
    if (major !== undefined) {
      if (a.frac !== undefined && a.frac.length > 2) return undefined;
      let cents = (a.frac ?? '').padEnd(2, '0');
      let end = n;
      const e = nextWord(tokens, n);
      if (a.frac === undefined && e >= 0 && table.connectors.includes(key(ctx, e))) {
        const c = nextWord(tokens, e);
        const p = c >= 0 ? parseCardinal(tokens, c, table) : undefined;
        const w = p !== undefined ? nextWord(tokens, p.end) : -1;
        if (p !== undefined && p.value <= 99 && w >= 0 && major.minor.includes(key(ctx, w))) {
          cents = pad2(p.value);
          end = w;
        } else if (p !== undefined && p.value <= 99 && !isKeptAlone(ctx, p) && !continuesNumber(ctx, w) && !isPluralNoun(ctx, w)) {
          // "dez reais e noventa": cents without their name, unless the number counts something ("e 2 cafés").
          cents = pad2(p.value);
          end = p.end;
        }
      }
      return { end, text: writeMoney(ctx, major, a.int.value, cents) };
    }
    const minor = table.currencies.find((c) => c.minorDefault === true && c.minor.includes(k));
    if (minor !== undefined && a.frac === undefined && a.int.scale === 1) {
      const v = a.int.value;
      return { end: n, text: writeMoney(ctx, minor, Math.floor(v / 100), pad2(v % 100)) };
    }
    return undefined;
  },
};

/** "dez por cento" → "10%", "three point five percent" → "3.5%". */
const percent: Rule = {
  name: 'percent',
  apply(ctx, i) {
    const a = parseAmount(ctx.tokens, i, ctx.table);
    if (a === undefined) return undefined;
    const n = nextWord(ctx.tokens, a.end);
    if (n < 0) return undefined;
    for (const phrase of ctx.table.percentPhrases) {
      const end = matchPhrase(ctx.tokens, n, phrase);
      if (end >= 0) return { end, text: `${writeAmount(ctx, a)}%` };
    }
    return undefined;
  },
};

/** "três vírgula cinco" → "3,5"; "um milhão e meio" → "1.500.000". */
const decimal: Rule = {
  name: 'decimal',
  apply(ctx, i) {
    const a = parseAmount(ctx.tokens, i, ctx.table);
    if (a === undefined || (a.frac === undefined && a.scaled !== true)) return undefined;
    return { end: a.end, text: writeAmount(ctx, a) };
  },
};

/**
 * "vigésimo primeiro" → "21º", "twenty first" → "21st". A one-word ordinal below 10 ("segundo", "first")
 * is written as digits only before a noun of the table's `ordinalNouns` ("segundo andar"); elsewhere it
 * is too often something else ("segundo ele", "first, we").
 */
const ordinal: Rule = {
  name: 'ordinal',
  apply(ctx, i) {
    const { tokens, table } = ctx;
    const o = parseOrdinal(tokens, i, table);
    if (o === undefined) return undefined;
    if (o.words === 1 && o.value < 10 && !table.ordinalNouns.includes(key(ctx, nextWord(tokens, o.end)))) return undefined;
    return { end: o.end, text: `${o.value}${o.suffix ?? table.ordinalSuffix(o.value)}` };
  },
};

/**
 * Any other cardinal: "vinte e três" → "23", "dois mil e quinhentos" → "2.500"; "um"/"one" alone stays, but
 * for a key or option on a phone menu ("press one", "digite um").
 */
const cardinal: Rule = {
  name: 'cardinal',
  apply(ctx, i) {
    const p = parseCardinal(ctx.tokens, i, ctx.table);
    if (p === undefined || (isKeptAlone(ctx, p) && (p.article || !ctx.table.keyWords.includes(key(ctx, prevWord(ctx.tokens, i)))))) return undefined;
    return { end: p.end, text: groupThousands(p.value, ctx.table.thousandsSep) };
  },
};

export const RULES: readonly Rule[] = [protectedPhrases, time, date, money, percent, decimal, ordinal, year, digitRun, cardinal];
