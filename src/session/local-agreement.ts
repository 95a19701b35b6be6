// LocalAgreement-n (Machacek et al., "Turning Whisper into Real-Time Transcription System", 2023) for
// engines without native partials: the runtime re-decodes the growing utterance, and a word becomes
// confirmed once the last n passes agree on it and on every word before it. Confirmed words are final
// for the partials (they never change or shrink); what the latest pass says past them is tentative.
// A partial is confirmed + tentative, so each partial extends the confirmed text of the ones before.
// The utterance's final replaces all of it (`finalize`), since a full decode may still revise words.
//
// Passes are aligned by word position, as each one decodes the utterance from its start. A pass that
// revises a word inside the confirmed prefix keeps its position alignment (its revision is ignored),
// which is how whisper_streaming behaves after it drops the words its buffer has committed: only the
// words past the confirmed prefix are compared. A revision that splits or merges confirmed words
// ("all right" -> "alright") shifts the tail by a word until the final. Word timings are accepted (so
// engine words pass straight in) but unused.
//
// Words compare normalised (NFKC, lower case, punctuation removed: "Hello," = "hello") and are emitted
// as the latest pass wrote them, trimmed. A token that is only punctuation is dropped.
import { TheoError } from '../errors/index.js';

export type HypothesisWord = string | { readonly word: string; readonly start?: number; readonly end?: number };

export type LocalAgreementMode = 'agreement' | 'disabled';

export interface LocalAgreementOptions {
  /** Consecutive passes that must agree (default 2). */
  n?: number;
  /** 'disabled' passes every hypothesis through as tentative and confirms nothing (default 'agreement'). */
  mode?: LocalAgreementMode;
}

export interface AgreementResult {
  /** Every word confirmed so far in this utterance. */
  confirmed: string[];
  /** The latest pass's words past the confirmed ones. */
  tentative: string[];
  /** The words this pass confirmed (the tail of `confirmed`). */
  newlyConfirmed: string[];
}

export interface AgreementFinal {
  words: string[];
  /** The words joined by single spaces. */
  text: string;
  /** The final differs from what had been confirmed (a partial showed a word the final changed). */
  revised: boolean;
}

export const DEFAULT_AGREEMENT_N = 2;

/** The comparison form of a word: NFKC, lower case, no punctuation or format characters. */
export function normalizeWord(word: string): string {
  return word.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{Cf}\s]+/gu, '');
}

/** Whitespace-separated words of a text, for engines that return text only. */
export function splitWords(text: string): string[] {
  return text.split(/\s+/u).filter((w) => w !== '');
}

interface Pass {
  readonly words: string[];
  readonly norms: string[];
}

function toPass(hyp: readonly HypothesisWord[]): Pass {
  const words: string[] = [];
  const norms: string[] = [];
  for (const h of hyp) {
    const word = (typeof h === 'string' ? h : h.word).trim();
    const norm = normalizeWord(word);
    if (norm === '') continue;
    words.push(word);
    norms.push(norm);
  }
  return { words, norms };
}

export class LocalAgreement {
  readonly n: number;
  readonly mode: LocalAgreementMode;
  private readonly window: Pass[] = [];
  private readonly confirmedWords: string[] = [];
  private readonly confirmedNorms: string[] = [];
  private passCount = 0;

  constructor(opts: LocalAgreementOptions = {}) {
    const n = opts.n ?? DEFAULT_AGREEMENT_N;
    if (!Number.isSafeInteger(n) || n < 1) throw new TheoError('invalid_argument', `LocalAgreement n must be a positive integer, got ${n}`, { n });
    const mode = opts.mode ?? 'agreement';
    if (mode !== 'agreement' && mode !== 'disabled') throw new TheoError('invalid_argument', `LocalAgreement mode must be 'agreement' or 'disabled', got '${String(mode)}'`, { mode });
    this.n = n;
    this.mode = mode;
  }

  /** The words confirmed so far (a copy). */
  get confirmed(): string[] {
    return [...this.confirmedWords];
  }

  /** Passes pushed since the last final or reset. */
  get passes(): number {
    return this.passCount;
  }

  /** One re-decoding pass over the utterance so far. */
  push(hypothesis: readonly HypothesisWord[]): AgreementResult {
    const pass = toPass(hypothesis);
    this.passCount++;
    if (this.mode === 'disabled') return { confirmed: [], tentative: pass.words, newlyConfirmed: [] };
    this.window.push(pass);
    if (this.window.length > this.n) this.window.shift();
    const k = this.confirmedWords.length;
    let j = k;
    if (this.window.length === this.n) {
      for (; ; j++) {
        const norm = pass.norms[j];
        if (norm === undefined || !this.window.every((p) => p.norms[j] === norm)) break;
      }
    }
    const newlyConfirmed = pass.words.slice(k, j);
    for (let i = k; i < j; i++) {
      this.confirmedWords.push(pass.words[i] as string);
      this.confirmedNorms.push(pass.norms[i] as string);
    }
    return { confirmed: [...this.confirmedWords], tentative: pass.words.slice(j), newlyConfirmed };
  }

  /** The utterance's final: it replaces everything shown so far; the agreement starts over. */
  finalize(hypothesis: readonly HypothesisWord[]): AgreementFinal {
    const pass = toPass(hypothesis);
    const revised = this.confirmedNorms.some((norm, i) => pass.norms[i] !== norm);
    this.reset();
    return { words: pass.words, text: pass.words.join(' '), revised };
  }

  /** Drops the passes and the confirmed words (a new utterance without a final for the last). */
  reset(): void {
    this.window.length = 0;
    this.confirmedWords.length = 0;
    this.confirmedNorms.length = 0;
    this.passCount = 0;
  }
}
