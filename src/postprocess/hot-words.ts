// Hot word correction: words or phrases the caller expects ("Theo", "Itaú", "Kubernetes", "Dr. Oliveira")
// replace what the recogniser wrote when that sounds or reads alike ("the o", "ita u", "cooper netties").
//
// How a match is decided
// - The text is split into words (runs of letters, marks and digits) and the separators between them;
//   only the spans that are replaced change, every other character is kept as it was.
// - Words are compared in folded form: compatibility-decomposed, accents stripped, lower case, only
//   letters and digits ("Itaú" → "itau", "Dr. Oliveira" → "droliveira").
// - A hot word of k words is compared with every window of k-1 .. k+1 consecutive recognised words (the
//   spread is `maxWindowExtra`) and with every single word, the window's words joined without spaces,
//   so split ("bra desco") and merged ("bancodobrasil") recognitions are found. The words of a window
//   may only be separated by whitespace, "-", or punctuation the hot word itself has between its words
//   (the "." of "Dr. Oliveira").
// - similarity = 1 − levenshtein(window, hot word) / longer length, on the folded forms.
// - A window matches when similarity ≥ threshold (default 0.85). When the two also share a phonetic key
//   (Double Metaphone for English, the rule table of phonetic-pt.ts for Portuguese; none for other
//   languages) the bar is lowered: similarity ≥ max(0.5, 1 − 3.5 × (1 − threshold)), i.e. 3.5 times as
//   many edits are allowed, but never more than half the letters (0.5 at the default threshold, 0.825 at
//   0.95, 1 at threshold 1, so a strict threshold stays strict).
// - Score of a match = similarity, + 0.05 when the phonetic keys agree, − 0.01 for each word the window
//   has more or fewer than the hot word. Matches are taken best score first (then the one covering more
//   text, then the earlier one), skipping any that overlaps one already taken.
//
// Guards against false positives
// - A single common function word ("the", "and", "o", "de", "que", ...) is never replaced, not even to
//   fix its case; a window made only of function words ("the o") must equal the hot word exactly.
// - A function word at the edge of a multi-word window must be where the hot word has it too: "no
//   bradisco" may become "no Bradesco", never "Bradesco" alone.
// - Windows or hot words shorter than 3 folded characters only match exactly.
// - The lowered phonetic bar needs folded lengths of at least 5 on one side and 6 on the other (short
//   names collide: "Mario" does not become "Maria", nor "clear" "Claro") and a window without function
//   words ("the door" does not become "Theodore").
// - A window with fewer words than the hot word (a merged recognition) must be at least 90% of the hot
//   word's folded length, so "Oliveira" alone does not grow into "Dr. Oliveira".
// - A window equal to the hot word when folded is rewritten to the hot word's spelling ("itau" → "Itaú").
//
// Hot words: trimmed; blank ones, ones with no letter or digit, ones longer than 100 characters and
// duplicates (by folded form, the first spelling wins) are ignored; only the first 1000 usable ones count.
// Nothing here throws: on any internal failure the text is returned unchanged.

import { doubleMetaphone } from 'double-metaphone';
import { distance } from 'fastest-levenshtein';
import { portugueseKey } from './phonetic-pt.js';
import { languageFamily, type TextContext, type TextStage } from './stage.js';

/** Similarity (0..1) a window needs to be replaced by a hot word, when the phonetic keys do not agree. */
export const DEFAULT_HOT_WORD_THRESHOLD = 0.85;
/** How many words more or fewer than the hot word a compared window may have. */
export const DEFAULT_MAX_WINDOW_EXTRA = 1;
/** A shared phonetic key allows this many times the edits the threshold allows... */
export const PHONETIC_SLACK = 3.5;
/** ...but the similarity must still be at least this. */
export const MIN_PHONETIC_SIMILARITY = 0.5;
/** Thresholds below this act as this (a lower one would rewrite nearly every word). */
export const MIN_HOT_WORD_THRESHOLD = 0.5;
/** At most this many hot words are used; the rest are ignored. */
export const MAX_HOT_WORDS = 1000;
/** Hot words longer than this (characters) are ignored. */
export const MAX_HOT_WORD_LENGTH = 100;

/** Folded length under which only exact matches count. */
const MIN_FUZZY_LENGTH = 3;
/** Folded lengths (shorter, longer side) under which a shared phonetic key does not lower the bar. */
const MIN_PHONETIC_SHORTER = 5;
const MIN_PHONETIC_LONGER = 6;
/** A merged window (fewer words than the hot word) must be at least this share of the hot word's length. */
const MIN_MERGED_LENGTH_RATIO = 0.9;
const PHONETIC_BONUS = 0.05;
const WINDOW_SIZE_PENALTY = 0.01;
const MAX_WINDOW_EXTRA_LIMIT = 3;

/** Function words never replaced on their own (folded: no accents, lower case). */
const STOP_WORDS: Record<'en' | 'pt', readonly string[]> = {
  en: [
    'a', 'an', 'the', 'and', 'or', 'but', 'nor', 'so', 'if', 'then', 'than', 'of', 'to', 'in', 'on', 'at', 'by',
    'for', 'with', 'from', 'into', 'onto', 'over', 'up', 'out', 'off', 'about', 'as', 'is', 'are', 'was', 'were',
    'be', 'been', 'am', 'do', 'does', 'did', 'have', 'has', 'had', 'will', 'would', 'can', 'could', 'shall',
    'should', 'may', 'might', 'must', 'not', 'no', 'yes', 'it', 'its', 'this', 'that', 'these', 'those',
    'there', 'their', 'they', 'them', 'thee', 'thy', 'i', 'me', 'my', 'we', 'us', 'our', 'you', 'your', 'he', 'him',
    'his', 'she', 'her', 'who', 'whom', 'what', 'which', 'when', 'where', 'why', 'how', 'all', 'any', 'some',
    'just', 'too', 'very', 'here', 'now', 'oh', 'ok', 'okay', 'uh', 'um', 'hi', 'hey', 'well',
  ],
  pt: [
    'o', 'a', 'os', 'as', 'um', 'uma', 'uns', 'umas', 'de', 'do', 'da', 'dos', 'das', 'em', 'no', 'na', 'nos',
    'nas', 'num', 'numa', 'ao', 'aos', 'e', 'ou', 'mas', 'nem', 'que', 'se', 'por', 'pelo', 'pela', 'para', 'pra',
    'pro', 'com', 'sem', 'sob', 'sobre', 'entre', 'ate', 'eu', 'tu', 'ele', 'ela', 'eles', 'elas', 'nós',
    'voce', 'voces', 'me', 'te', 'lhe', 'lhes', 'meu', 'minha', 'teu', 'tua', 'seu', 'sua', 'nosso', 'nossa',
    'isso', 'isto', 'aquilo', 'esse', 'essa', 'este', 'esta', 'aquele', 'aquela', 'nao', 'sim', 'ja', 'como',
    'quando', 'onde', 'qual', 'quem', 'muito', 'mais', 'menos', 'bem', 'foi', 'ser', 'ter', 'tem', 'sou', 'estou',
    'vai', 'vou', 'ai', 'la', 'aqui', 'entao', 'ne', 'ta', 'ok', 'ah', 'eh', 'hum', 'oi',
  ],
};

export interface HotWordOptions {
  /** Similarity (0..1) a window needs; higher is stricter. Default DEFAULT_HOT_WORD_THRESHOLD. */
  threshold?: number;
  /** Windows of k − extra .. k + extra words are compared with a hot word of k words (0..3). Default 1. */
  maxWindowExtra?: number;
}

type Family = 'en' | 'pt' | undefined;

interface HotWord {
  /** As the caller spelled it, trimmed: what replaces a match. */
  text: string;
  folded: string;
  words: number;
  keys: readonly string[];
  /** Non-space characters allowed between the words of a matching window. */
  joiners: string;
  /** Punctuation before the first / after the last word of the hot word ("Dr." → "."). */
  prefix: string;
  suffix: string;
}

interface Word {
  start: number;
  end: number;
  text: string;
  folded: string;
  stop: boolean;
}

/** A run of consecutive recognised words, as compared with the hot words. */
interface Window {
  /** The words' folded forms joined without spaces. */
  folded: string;
  words: number;
  allStop: boolean;
  anyStop: boolean;
  /** The folded first / last word of a multi-word window when it is a function word. */
  head: string | undefined;
  tail: string | undefined;
  /** Phonetic keys, computed on first use. */
  keys: () => readonly string[];
}

interface Match {
  first: number;
  last: number;
  hot: HotWord;
  score: number;
  chars: number;
}

const WORD_RE = /[\p{L}\p{M}\p{N}]+/gu;

/** Compatibility-decomposed, accents stripped, lower case, letters and digits only. */
export function foldForMatch(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

const FOLDED_STOP_WORDS: Record<'en' | 'pt', ReadonlySet<string>> = {
  en: new Set(STOP_WORDS.en.map(foldForMatch)),
  pt: new Set(STOP_WORDS.pt.map(foldForMatch)),
};
const ALL_STOP_WORDS: ReadonlySet<string> = new Set([...FOLDED_STOP_WORDS.en, ...FOLDED_STOP_WORDS.pt]);

function isStopWord(folded: string, family: Family): boolean {
  return (family === undefined ? ALL_STOP_WORDS : FOLDED_STOP_WORDS[family]).has(folded);
}

/** Phonetic keys of a run of words (English: both Double Metaphone codes; Portuguese: one key). */
function phoneticKeys(words: readonly string[], family: Family): string[] {
  try {
    if (family === 'en') {
      const [primary, secondary] = doubleMetaphone(words.map(foldForMatch).join(''));
      return [primary, secondary].filter((k, i, all) => k !== '' && all.indexOf(k) === i);
    }
    if (family === 'pt') {
      const key = words.map((w) => portugueseKey(w)).join('');
      return key === '' ? [] : [key];
    }
  } catch {
    // A key that cannot be computed is no key: edit distance alone decides.
  }
  return [];
}

function sharesKey(a: readonly string[], b: readonly string[]): boolean {
  return a.some((k) => b.includes(k));
}

function prepareHotWords(hotWords: readonly string[], family: Family): HotWord[] {
  const out: HotWord[] = [];
  const seen = new Set<string>();
  for (const raw of hotWords) {
    if (out.length >= MAX_HOT_WORDS) break;
    if (typeof raw !== 'string') continue;
    const text = raw.trim();
    if (text === '' || text.length > MAX_HOT_WORD_LENGTH) continue;
    const folded = foldForMatch(text);
    if (folded === '' || seen.has(folded)) continue;
    const spans = [...text.matchAll(WORD_RE)];
    const first = spans[0];
    const last = spans[spans.length - 1];
    if (first === undefined || last === undefined) continue;
    seen.add(folded);
    let joiners = '-';
    for (let i = 0; i + 1 < spans.length; i++) {
      const a = spans[i];
      const b = spans[i + 1];
      if (a === undefined || b === undefined) continue;
      joiners += text.slice(a.index + a[0].length, b.index).replace(/\s+/gu, '');
    }
    out.push({
      text,
      folded,
      words: spans.length,
      keys: phoneticKeys(spans.map((m) => m[0]), family),
      joiners,
      prefix: text.slice(0, first.index),
      suffix: text.slice(last.index + last[0].length),
    });
  }
  return out;
}

function tokenize(text: string, family: Family): Word[] {
  const words: Word[] = [];
  for (const m of text.matchAll(WORD_RE)) {
    const folded = foldForMatch(m[0]);
    words.push({ start: m.index, end: m.index + m[0].length, text: m[0], folded, stop: isStopWord(folded, family) });
  }
  return words;
}

interface Settings {
  threshold: number;
  phoneticFloor: number;
  maxWindowExtra: number;
}

function settingsFrom(opts: HotWordOptions | undefined): Settings {
  const t = opts?.threshold;
  const threshold =
    typeof t === 'number' && Number.isFinite(t) ? Math.min(1, Math.max(MIN_HOT_WORD_THRESHOLD, t)) : DEFAULT_HOT_WORD_THRESHOLD;
  const e = opts?.maxWindowExtra;
  const maxWindowExtra =
    typeof e === 'number' && Number.isFinite(e) ? Math.min(MAX_WINDOW_EXTRA_LIMIT, Math.max(0, Math.floor(e))) : DEFAULT_MAX_WINDOW_EXTRA;
  return { threshold, phoneticFloor: Math.max(MIN_PHONETIC_SIMILARITY, 1 - (1 - threshold) * PHONETIC_SLACK), maxWindowExtra };
}

/** The score of a window against a hot word, or undefined when it is no match. */
function scoreWindow(win: Window, hot: HotWord, s: Settings): number | undefined {
  const a = win.folded;
  const b = hot.folded;
  const penalty = WINDOW_SIZE_PENALTY * Math.abs(win.words - hot.words);
  if (a === b) return 1 + PHONETIC_BONUS - penalty;
  if (win.allStop) return undefined;
  if (win.head !== undefined && !b.startsWith(win.head)) return undefined;
  if (win.tail !== undefined && !b.endsWith(win.tail)) return undefined;
  if (Math.min(a.length, b.length) < MIN_FUZZY_LENGTH) return undefined;
  if (win.words < hot.words && a.length < MIN_MERGED_LENGTH_RATIO * b.length) return undefined;
  const longer = Math.max(a.length, b.length);
  const phoneticAllowed =
    !win.anyStop && hot.keys.length > 0 && Math.min(a.length, b.length) >= MIN_PHONETIC_SHORTER && longer >= MIN_PHONETIC_LONGER;
  const floor = phoneticAllowed ? Math.min(s.threshold, s.phoneticFloor) : s.threshold;
  // The edit distance is at least the difference in length: skip hopeless pairs cheaply.
  if (1 - Math.abs(a.length - b.length) / longer < floor) return undefined;
  const sim = 1 - distance(a, b) / longer;
  if (sim < floor) return undefined;
  const phonetic = hot.keys.length > 0 && sharesKey(win.keys(), hot.keys);
  if (sim >= s.threshold) return sim + (phonetic ? PHONETIC_BONUS : 0) - penalty;
  return phoneticAllowed && phonetic ? sim + PHONETIC_BONUS - penalty : undefined;
}

/** Whether the punctuation between the words of a window lets them form one window for this hot word. */
function joinable(punctuation: string, hot: HotWord): boolean {
  for (const ch of punctuation) if (!hot.joiners.includes(ch)) return false;
  return true;
}

function findMatches(text: string, words: readonly Word[], hots: readonly HotWord[], s: Settings, family: Family): Match[] {
  const maxWords = Math.max(...hots.map((h) => h.words)) + s.maxWindowExtra;
  const candidates: Match[] = [];
  for (let first = 0; first < words.length; first++) {
    for (let size = 1; size <= maxWords && first + size <= words.length; size++) {
      const last = first + size - 1;
      const run = words.slice(first, last + 1);
      // What separates the words of the window, whitespace left out.
      const punctuation = run
        .slice(1)
        .map((w, i) => text.slice(run[i]?.end ?? w.start, w.start))
        .join('')
        .replace(/\s+/gu, '');
      let cachedKeys: readonly string[] | undefined;
      const head = run[0];
      const tail = run[size - 1];
      const win: Window = {
        folded: run.map((w) => w.folded).join(''),
        words: size,
        allStop: run.every((w) => w.stop),
        anyStop: run.some((w) => w.stop),
        head: size > 1 && head?.stop ? head.folded : undefined,
        tail: size > 1 && tail?.stop ? tail.folded : undefined,
        keys: () => (cachedKeys ??= phoneticKeys(run.map((w) => w.text), family)),
      };
      // A lone function word is never replaced, not even to fix its spelling.
      if (size === 1 && win.allStop) continue;
      if (win.folded === '') continue;
      for (const hot of hots) {
        if (size > 1 && Math.abs(size - hot.words) > s.maxWindowExtra) continue;
        if (punctuation !== '' && !joinable(punctuation, hot)) continue;
        const score = scoreWindow(win, hot, s);
        if (score === undefined) continue;
        const chars = (words[last]?.end ?? 0) - (words[first]?.start ?? 0);
        candidates.push({ first, last, hot, score, chars });
      }
    }
  }
  candidates.sort((x, y) => y.score - x.score || y.chars - x.chars || x.first - y.first);
  const taken = new Array<boolean>(words.length).fill(false);
  const chosen: Match[] = [];
  for (const c of candidates) {
    let free = true;
    for (let i = c.first; i <= c.last && free; i++) if (taken[i]) free = false;
    if (!free) continue;
    for (let i = c.first; i <= c.last; i++) taken[i] = true;
    chosen.push(c);
  }
  return chosen.sort((x, y) => x.first - y.first);
}

/**
 * Replaces the recognised words that are close to a hot word (by edit distance and, for English and
 * Portuguese, by a phonetic key) with the hot word as the caller spelled it. Text it does not rewrite is
 * kept byte for byte. Never throws; on any failure the text comes back unchanged.
 */
export function correctHotWords(text: string, hotWords: readonly string[], language: string, opts?: HotWordOptions): string {
  try {
    if (typeof text !== 'string' || text === '' || !Array.isArray(hotWords) || hotWords.length === 0) return text;
    const family = typeof language === 'string' ? languageFamily(language) : undefined;
    const hots = prepareHotWords(hotWords, family);
    if (hots.length === 0) return text;
    const words = tokenize(text, family);
    if (words.length === 0) return text;
    const matches = findMatches(text, words, hots, settingsFrom(opts), family);
    let out = '';
    let pos = 0;
    for (const m of matches) {
      let start = words[m.first]?.start ?? pos;
      let end = words[m.last]?.end ?? start;
      // The hot word's own leading/trailing punctuation, when the text has it already, is part of the span
      // ("dr. smith" with hot word "Dr." → "Dr. smith", not "Dr.. smith").
      const { prefix, suffix } = m.hot;
      if (prefix !== '' && start - prefix.length >= pos && text.slice(start - prefix.length, start) === prefix) start -= prefix.length;
      if (suffix !== '' && text.startsWith(suffix, end)) end += suffix.length;
      if (start < pos) continue;
      out += text.slice(pos, start) + m.hot.text;
      pos = end;
    }
    return out + text.slice(pos);
  } catch {
    return text;
  }
}

/** The hot word post-processing stage: `correctHotWords` with the context's hot words and language. */
export function createHotWordStage(opts: HotWordOptions = {}): TextStage {
  const options: HotWordOptions = { ...opts };
  return {
    name: 'hot_words',
    apply(text: string, ctx: TextContext): string {
      return correctHotWords(text, ctx.hotWords, ctx.language, options);
    },
  };
}
