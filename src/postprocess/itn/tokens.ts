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

// Character classes of the tokens (a word runs over letters, marks and numbers, and on across an apostrophe
// followed by more of them; whitespace runs; anything else is one character of punctuation). The scanner
// below reads code points with a table for ASCII, so a final's tokens cost their own strings and objects
// only, not a regex match array and a test string per token.
const IS_WORD = /[\p{L}\p{M}\p{N}]/u;
const IS_SPACE = /\s/u;
const PUNCT = 0;
const WORD = 1;
const SPACE = 2;
const ASCII = Uint8Array.from({ length: 128 }, (_, c) => {
  const ch = String.fromCharCode(c);
  return IS_SPACE.test(ch) ? SPACE : IS_WORD.test(ch) ? WORD : PUNCT;
});

function classOf(c: number): number {
  if (c < 128) return ASCII[c] as number;
  const ch = String.fromCodePoint(c);
  return IS_SPACE.test(ch) ? SPACE : IS_WORD.test(ch) ? WORD : PUNCT;
}

/** The end of the run of code points of class `cls` that starts at i (text[i] need not be one). */
function runEnd(text: string, i: number, cls: number): number {
  const n = text.length;
  while (i < n) {
    const c = text.codePointAt(i) as number;
    if (classOf(c) !== cls) break;
    i += c > 0xffff ? 2 : 1;
  }
  return i;
}

function isAscii(t: string): boolean {
  for (let i = 0; i < t.length; i++) if (t.charCodeAt(i) >= 128) return false;
  return true;
}

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const start = i;
    const c = text.codePointAt(i) as number;
    const cls = classOf(c);
    i += c > 0xffff ? 2 : 1;
    if (cls === PUNCT) {
      out.push({ text: text.slice(start, i), kind: 'punct', key: '' });
    } else if (cls === SPACE) {
      i = runEnd(text, i, SPACE);
      out.push({ text: text.slice(start, i), kind: 'space', key: '' });
    } else {
      i = runEnd(text, i, WORD);
      // ' or ’ joins the word only when a word character follows it ("don't", not "the '90s" or "dogs' ").
      while (i + 1 < n) {
        const a = text.charCodeAt(i);
        if ((a !== 39 && a !== 0x2019) || classOf(text.codePointAt(i + 1) as number) !== WORD) break;
        i = runEnd(text, i + 1, WORD);
      }
      const t = text.slice(start, i);
      // ASCII is its own NFC form and has no typographic apostrophe.
      const key = isAscii(t) ? t.toLowerCase() : t.normalize('NFC').toLowerCase().replace(/’/g, "'");
      out.push({ text: t, kind: 'word', key });
    }
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
