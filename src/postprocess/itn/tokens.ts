// Tokeniser that loses nothing: words, runs of whitespace and single punctuation characters, so that
// joining the tokens gives back the input exactly. Rules read word keys (lower case, NFC) and replace
// whole token ranges; everything they do not replace is copied as it was.

export type TokenKind = 'word' | 'space' | 'punct';

export interface Token {
  text: string;
  kind: TokenKind;
  /** Lower-case NFC form of a word (typographic apostrophe folded to '), '' for other tokens. */
  key: string;
}

const TOKEN_RE = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*|\s+|[^\s\p{L}\p{M}\p{N}]/gsu;

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  for (const m of text.matchAll(TOKEN_RE)) {
    const t = m[0];
    const first = t.codePointAt(0) ?? 0;
    const c = String.fromCodePoint(first);
    if (/\s/u.test(c)) out.push({ text: t, kind: 'space', key: '' });
    else if (/[\p{L}\p{M}\p{N}]/u.test(c)) out.push({ text: t, kind: 'word', key: t.normalize('NFC').toLowerCase().replace(/’/g, "'") });
    else out.push({ text: t, kind: 'punct', key: '' });
  }
  return out;
}

export function joinTokens(tokens: readonly Token[], from = 0, to = tokens.length): string {
  let s = '';
  for (let k = from; k < to; k++) s += tokens[k]?.text ?? '';
  return s;
}

/** A word is all decimal digits ("2024"). */
export function isDigits(t: Token | undefined): boolean {
  return t !== undefined && t.kind === 'word' && /^[0-9]+$/.test(t.text);
}

/**
 * The index of the word after word `i` when only whitespace (or, with `hyphen`, one '-' with no space
 * around it) lies between them; -1 otherwise.
 */
export function nextWord(tokens: readonly Token[], i: number, hyphen = false): number {
  const a = tokens[i + 1];
  if (a === undefined) return -1;
  if (a.kind === 'space') return tokens[i + 2]?.kind === 'word' ? i + 2 : -1;
  if (hyphen && a.text === '-' && tokens[i + 2]?.kind === 'word') return i + 2;
  return -1;
}

/** The index of the word before word `i` across whitespace only; -1 otherwise. */
export function prevWord(tokens: readonly Token[], i: number): number {
  const a = tokens[i - 1];
  if (a?.kind !== 'space') return -1;
  return tokens[i - 2]?.kind === 'word' ? i - 2 : -1;
}

/** The keys of up to `n` words before token `i`, nearest first, across any tokens. */
export function wordsBefore(tokens: readonly Token[], i: number, n: number): string[] {
  const out: string[] = [];
  for (let k = i - 1; k >= 0 && out.length < n; k--) {
    const t = tokens[k];
    if (t?.kind === 'word') out.push(t.key);
  }
  return out;
}

/**
 * Matches a phrase of word keys starting at word `i`, words separated by whitespace only; returns the
 * index of the last word, or -1.
 */
export function matchPhrase(tokens: readonly Token[], i: number, phrase: readonly string[]): number {
  let k = i;
  for (let p = 0; p < phrase.length; p++) {
    if (p > 0) k = nextWord(tokens, k);
    if (k < 0 || tokens[k]?.key !== phrase[p]) return -1;
  }
  return k;
}
