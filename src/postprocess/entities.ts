// Entity formatting, run on the ITN stage's output: digit strings that are Brazilian documents or card
// numbers get their written layout, and amounts already written in digits before a currency name become
// money ("2500 reais" → "R$ 2.500,00"). The patterns are data (ENTITY_PATTERNS); the rules:
//   - a context word ("cpf", "cnpj", "cep", "cartão"/"card") among the few words before a digit run picks
//     the pattern, and the run must have exactly that pattern's digit count (else it stays);
//   - with no context word, only counts that are unambiguous apply: 16 digits → card, 14 → CNPJ (pt).
//     11 digits (CPF or mobile phone) and 8 (CEP or landline) need their word.
//   - a run dictated with spoken separators ("123 ponto 456 ponto 789 traço 00") in exactly a pattern's
//     layout is that entity, context word or not; in no layout, it stays as it was.
// A digit run is digits joined by single spaces, ", ", '.', '-', '/' or a spoken separator ("123.456.789-00",
// "1234 5678 ..."); numbers grouped by thousands or followed by a decimal part are amounts, never entities.

import { itnTable } from './itn/tables.js';
import { applyMask, groupThousands } from './itn/format.js';
import { isDigits, joinTokens, tokenize, wordsBefore, type Token } from './itn/tokens.js';
import type { ItnTable } from './itn/types.js';
import { languageFamily, type TextContext, type TextStage } from './stage.js';

type Family = 'en' | 'pt';

export interface EntityPattern {
  name: string;
  families: readonly Family[];
  digits: number;
  /** '#' for each digit. */
  mask: string;
  /** Words that announce the entity. */
  context: readonly string[];
  /** Families where the digit count alone is enough. */
  byCount: readonly Family[];
}

export const ENTITY_PATTERNS: readonly EntityPattern[] = [
  { name: 'cpf', families: ['pt'], digits: 11, mask: '###.###.###-##', context: ['cpf'], byCount: [] },
  { name: 'cnpj', families: ['pt'], digits: 14, mask: '##.###.###/####-##', context: ['cnpj'], byCount: ['pt'] },
  { name: 'cep', families: ['pt'], digits: 8, mask: '#####-###', context: ['cep'], byCount: [] },
  { name: 'card', families: ['pt', 'en'], digits: 16, mask: '#### #### #### ####', context: ['cartão', 'cartao', 'card'], byCount: ['pt', 'en'] },
];

/** How many words before a digit run are searched for a context word. */
const CONTEXT_WINDOW = 5;
const SEPARATORS = new Set([' ', '.', '-', '/']);

interface DigitRun {
  end: number;
  digits: string;
  groups: string[];
  /** The separator written between each two groups (a comma counts as a space). */
  seps: string[];
  /** Some separator was a spoken word ("ponto", "dash"): the groups are a layout the speaker dictated. */
  spoken: boolean;
}

/** The separator after the group ending at token `j`: its written form and the index of the next group. */
function separatorAt(tokens: readonly Token[], j: number, table: ItnTable, commas: boolean): { sep: string; spoken: boolean; next: number } | undefined {
  const a = tokens[j + 1]?.text ?? '';
  if (SEPARATORS.has(a) && isDigits(tokens[j + 2])) return { sep: a, spoken: false, next: j + 2 };
  if (commas && a === ',' && tokens[j + 2]?.text === ' ' && isDigits(tokens[j + 3])) return { sep: ' ', spoken: false, next: j + 3 };
  const w = tokens[j + 2];
  if (a === ' ' && w?.kind === 'word' && Object.hasOwn(table.separatorWords, w.key) && tokens[j + 3]?.text === ' ' && isDigits(tokens[j + 4])) {
    return { sep: table.separatorWords[w.key] ?? '', spoken: true, next: j + 4 };
  }
  return undefined;
}

/** The digit run at token `i`; with `commas`, groups after ", " belong to it too ("cpf 123, 456, 789, 00"). */
function readRun(tokens: readonly Token[], i: number, table: ItnTable, commas: boolean): DigitRun {
  const groups = [tokens[i]?.text ?? ''];
  const seps: string[] = [];
  let spoken = false;
  let j = i;
  for (let s = separatorAt(tokens, j, table, commas); s !== undefined; s = separatorAt(tokens, j, table, commas)) {
    seps.push(s.sep);
    groups.push(tokens[s.next]?.text ?? '');
    spoken ||= s.spoken;
    j = s.next;
  }
  return { end: j, digits: groups.join(''), groups, seps, spoken };
}

/** "2.500.000" (pt) or a run followed by a decimal part is an amount, not an entity. */
function isAmount(tokens: readonly Token[], run: DigitRun, table: ItnTable): boolean {
  if (run.spoken) return false;
  const thousands = run.seps.length > 0 && run.seps.every((s) => s === table.thousandsSep) && run.groups.slice(1).every((g) => g.length === 3);
  const decimal = tokens[run.end + 1]?.text === table.decimalSep && isDigits(tokens[run.end + 2]);
  return thousands || decimal;
}

function pickPattern(tokens: readonly Token[], i: number, run: DigitRun, family: Family): EntityPattern | undefined {
  const patterns = ENTITY_PATTERNS.filter((p) => p.families.includes(family));
  for (const w of wordsBefore(tokens, i, CONTEXT_WINDOW)) {
    const p = patterns.find((q) => q.context.includes(w));
    if (p !== undefined) return p.digits === run.digits.length ? p : undefined;
  }
  if (run.spoken) {
    const written = run.groups.map((g, k) => (k === 0 ? g : `${run.seps[k - 1] ?? ''}${g}`)).join('');
    return patterns.find((p) => applyMask(run.digits, p.mask) === written);
  }
  const spaced = run.seps.includes(' ');
  return patterns.find(
    (p) => p.byCount.includes(family) && p.digits === run.digits.length && (!spaced || (p.name === 'card' && run.groups.every((g) => g.length === 4))),
  );
}

function entityOf(tokens: readonly Token[], i: number, run: DigitRun, family: Family, table: ItnTable): EntityPattern | undefined {
  return isAmount(tokens, run, table) ? undefined : pickPattern(tokens, i, run, family);
}

function formatDocuments(text: string, family: Family, table: ItnTable): string {
  const tokens = tokenize(text);
  if (joinTokens(tokens) !== text) return text;
  let out = '';
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i] as Token;
    const glued = tokens[i - 1]?.kind === 'word' || (tokens[i - 1]?.kind === 'punct' && isDigits(tokens[i - 2]));
    if (!isDigits(t) || glued) {
      out += t.text;
      i++;
      continue;
    }
    // Commas join groups only when that makes an entity: in "cep 01310100, 200" the comma ends the CEP.
    let run = readRun(tokens, i, table, false);
    let pattern = entityOf(tokens, i, run, family, table);
    if (pattern === undefined) {
      const wide = readRun(tokens, i, table, true);
      pattern = wide.end > run.end ? entityOf(tokens, i, wide, family, table) : undefined;
      if (pattern !== undefined) run = wide;
    }
    const formatted = pattern !== undefined ? applyMask(run.digits, pattern.mask) : undefined;
    out += formatted ?? joinTokens(tokens, i, run.end + 1);
    i = run.end + 1;
  }
  return out;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** "2500 reais" → "R$ 2.500,00", "10 reais e 50 centavos" → "R$ 10,50", "25 dollars" → "$25.00". */
function formatMoney(text: string, table: ItnTable): string {
  const ts = escape(table.thousandsSep);
  const ds = escape(table.decimalSep);
  const conn = table.connectors.map(escape).join('|');
  for (const cur of table.currencies) {
    const major = cur.major.map(escape).join('|');
    const minor = cur.minor.map(escape).join('|');
    const re = new RegExp(
      `(?<![\\p{L}\\p{N}$€.,])(\\d{1,3}(?:${ts}\\d{3})+|\\d+)(?:${ds}(\\d{1,2}))?[ \\u00a0]+(?:${major})(?:\\s+(?:${conn})\\s+(\\d{1,2})\\s+(?:${minor}))?(?![\\p{L}\\p{N}])`,
      'giu',
    );
    text = text.replace(re, (_m: string, int: string, frac: string | undefined, cents: string | undefined) => {
      const value = Number(int.split(table.thousandsSep).join(''));
      if (!Number.isSafeInteger(value)) return _m;
      const c = cents !== undefined ? cents.padStart(2, '0') : (frac ?? '').padEnd(2, '0');
      return `${cur.symbol}${table.currencySpace ? ' ' : ''}${groupThousands(value, table.thousandsSep)}${table.decimalSep}${c}`;
    });
  }
  return text;
}

export const entitiesStage: TextStage = {
  name: 'entities',
  apply(text: string, ctx: TextContext): string {
    const family = languageFamily(ctx.language);
    if (family === undefined) return text;
    try {
      const table = itnTable(family);
      return formatMoney(formatDocuments(text, family, table), table);
    } catch {
      return text;
    }
  },
};
