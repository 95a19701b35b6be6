// Cross-segment context: the tail of a session's finals, kept as the prompt for its next segment, so a
// decoder that conditions on earlier text (Whisper's <|startofprev|>) keeps names and spelling
// consistent across segments. The prompt holds at most `maxTokens` (default 224: Whisper's prompt
// room, half its 448-token text context; its decoder keeps the last 223 and also cuts from the front).
//
// The session's hot words go either into the prompt, as a leading "Glossary: a, b, c." that counts
// toward the budget and is kept before any context (the oldest context is dropped first), or, for an
// engine that takes them on their own (`capabilities.hotWords`), stay out of the prompt and are
// handed over by `hotWords()`.
//
// Text is cut from the front at word borders (whitespace). A run of text without spaces longer than
// LONG_RUN_TOKENS (Chinese, Japanese, Thai) is cut at a grapheme border instead, so those sessions
// keep context too.
//
// Tokens are counted by an injected counter (the engine's tokenizer, where the runtime has one). The
// default approximates byte-level BPE: ceil(UTF-8 bytes / 4) per whitespace word, at least 1. That is
// close for English, over-counts accented Latin, Cyrillic and Greek a little, and under-counts CJK
// (0.75 per character where Whisper spends 1 to 2): inject a real count where that matters. Counters
// are assumed monotonic: a text never has fewer tokens than its own suffix.
import { TheoError } from '../errors/index.js';

export type TokenCounter = ((text: string) => number) | { encode(text: string): ArrayLike<number> };

export interface SegmentContextOptions {
  /** Prompt budget in tokens, glossary included (default 224; 0 means no prompt). */
  maxTokens?: number;
  /** Default: `approxTokenCount`. */
  tokenCounter?: TokenCounter;
  /** Put hot words into the prompt as a glossary (default true); false for engines that bias natively. */
  hotWordsInPrompt?: boolean;
  /** How hot words read in the prompt (default "Glossary: a, b, c."). */
  glossary?: (hotWords: readonly string[]) => string;
}

export const DEFAULT_CONTEXT_TOKENS = 224;

export const defaultGlossary = (hotWords: readonly string[]): string => `Glossary: ${hotWords.join(', ')}.`;

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;

/** The default counter: ceil(UTF-8 bytes / 4) per whitespace-separated word, at least 1 per word. */
export function approxTokenCount(text: string): number {
  let tokens = 0;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      if (bytes > 0) tokens += Math.ceil(bytes / 4);
      bytes = 0;
    } else if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else bytes += 3; // the rest of the BMP, and a lone surrogate (UTF-8 writes U+FFFD, 3 bytes)
  }
  if (bytes > 0) tokens += Math.ceil(bytes / 4);
  return tokens;
}

/**
 * A "word" costing more than this is a run of text in a script written without spaces: it may be cut
 * inside (at a grapheme border) rather than dropped whole. No spaced word comes near it.
 */
export const LONG_RUN_TOKENS = 16;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

const words = (text: string): string[] => text.split(/\s+/u).filter((w) => w !== '');

/** The hot-word key: two spellings that differ only in case, width or spacing are one hot word. */
const hotWordKey = (w: string): string => w.normalize('NFKC').toLowerCase();

export class SegmentContext {
  readonly maxTokens: number;
  readonly hotWordsInPrompt: boolean;
  private readonly count: (text: string) => number;
  /**
   * The default counter is additive: a text of words joined by spaces costs the sum of its words. Then a
   * fit is a running sum over per-word costs instead of joining and counting candidate texts.
   */
  private readonly additive: boolean;
  private readonly glossary: (hotWords: readonly string[]) => string;
  /** Words of the recent finals, oldest first, within `maxTokens` on their own. */
  private tail: string[] = [];
  private hot: string[] = [];
  private cached: string | undefined;

  constructor(opts: SegmentContextOptions = {}) {
    const max = opts.maxTokens ?? DEFAULT_CONTEXT_TOKENS;
    if (!Number.isSafeInteger(max) || max < 0) throw new TheoError('invalid_argument', `context maxTokens must be a non-negative integer, got ${max}`, { maxTokens: max });
    this.maxTokens = max;
    this.hotWordsInPrompt = opts.hotWordsInPrompt ?? true;
    const counter = opts.tokenCounter ?? approxTokenCount;
    this.count = typeof counter === 'function' ? counter : (text) => counter.encode(text).length;
    this.additive = counter === approxTokenCount;
    this.glossary = opts.glossary ?? defaultGlossary;
  }

  /** Appends a final's text; the oldest context beyond the budget is dropped. */
  addFinal(text: string): void {
    const add = words(text);
    if (add.length === 0) return;
    this.tail = this.fit(this.tail.concat(add), this.maxTokens, '');
    this.cached = undefined;
  }

  /** The prompt for the next segment: glossary (when hot words go in the prompt), then recent context. */
  prompt(): string {
    this.cached ??= this.build();
    return this.cached;
  }

  /** Replaces the session's hot words: trimmed, inner spaces collapsed, empty and repeated ones dropped. */
  setHotWords(list: readonly string[]): void {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const raw of list) {
      const w = words(raw).join(' ');
      const key = hotWordKey(w);
      if (w === '' || seen.has(key)) continue;
      seen.add(key);
      out.push(w);
    }
    this.hot = out;
    this.cached = undefined;
  }

  /** The hot words as set (deduplicated), e.g. for an engine that biases natively. */
  hotWords(): string[] {
    return [...this.hot];
  }

  /** Forgets the context (a new conversation); the hot words stay. */
  reset(): void {
    this.tail = [];
    this.cached = undefined;
  }

  private build(): string {
    if (this.maxTokens === 0) return '';
    let head = '';
    if (this.hotWordsInPrompt && this.hot.length > 0) {
      // Hot words before context: as many as fit, in the order given, if not all.
      let n = this.hot.length;
      while (n > 0 && this.count(this.glossary(this.hot.slice(0, n))) > this.maxTokens) n--;
      if (n > 0) head = this.glossary(this.hot.slice(0, n));
    }
    return join(head, '', this.fit(this.tail, this.maxTokens, head), 0);
  }

  /**
   * The words of `ws` that fit `budget` after `head`: whole words dropped from the front. When the word
   * just before the kept ones is a long run (see LONG_RUN_TOKENS), its end fills the room left.
   */
  private fit(ws: readonly string[], budget: number, head: string): string[] {
    const lo = this.additive ? this.firstFittingAdditive(ws, budget, head) : this.firstFitting(ws, budget, head);
    if (lo === 0) return [...ws];
    const kept = ws.slice(lo);
    const dropped = ws[lo - 1] as string;
    if (this.count(dropped) <= LONG_RUN_TOKENS) return kept;
    const piece = this.cutRun(dropped, (p) => this.count(join(head, p, kept, 0)) <= budget);
    return piece === '' ? kept : [piece, ...kept];
  }

  /** The first index of `ws` from which head + ws[i..] fits `budget` (ws.length: none does). */
  private firstFitting(ws: readonly string[], budget: number, head: string): number {
    const cost = (from: number): number => this.count(join(head, '', ws, from));
    if (ws.length === 0 || cost(0) <= budget) return 0;
    // Binary search for the first start index that fits (cost falls as words are dropped).
    let lo = 1;
    let hi = ws.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cost(mid) <= budget) hi = mid;
      else lo = mid + 1;
    }
    // A counter that is not quite monotonic: step on until it fits.
    while (lo < ws.length && cost(lo) > budget) lo++;
    return lo;
  }

  /** `firstFitting` for an additive counter: word costs summed, words dropped from the front. */
  private firstFittingAdditive(ws: readonly string[], budget: number, head: string): number {
    let total = head === '' ? 0 : this.count(head);
    for (const w of ws) total += this.count(w);
    let lo = 0;
    while (lo < ws.length && total > budget) total -= this.count(ws[lo++] as string);
    return lo;
  }

  /** The longest grapheme suffix of `run` that `fits`, or ''. */
  private cutRun(run: string, fits: (piece: string) => boolean): string {
    const starts: number[] = [];
    for (const g of graphemes.segment(run)) starts.push(g.index);
    let lo = 1; // the whole run did not fit
    let hi = starts.length; // starts.length: nothing
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (fits(run.slice(starts[mid]))) hi = mid;
      else lo = mid + 1;
    }
    while (lo < starts.length && !fits(run.slice(starts[lo]))) lo++;
    return lo < starts.length ? run.slice(starts[lo]) : '';
  }
}

/** `head`, `lead` and ws[from..] joined by single spaces, empty parts left out. */
function join(head: string, lead: string, ws: readonly string[], from: number): string {
  let out = head;
  if (lead !== '') out = out === '' ? lead : `${out} ${lead}`;
  for (let i = from; i < ws.length; i++) out = out === '' ? (ws[i] as string) : `${out} ${ws[i] as string}`;
  return out;
}
