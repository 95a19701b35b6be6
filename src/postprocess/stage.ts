// One interface for every text post-processing stage. Stages run on final transcripts only (never on
// partials), must never throw on any string, and must keep every word they do not rewrite, in order.

export interface TextContext {
  /** BCP-47-ish language of the transcript as the engine reported it: 'en', 'pt', 'pt-BR', 'english', ... */
  language: string;
  /** Words or phrases the caller expects (names, products); empty when none. */
  hotWords: readonly string[];
}

export interface TextStage {
  /** Short stable name: 'hot_words', 'itn', 'entities' (metrics label, logs). */
  readonly name: string;
  apply(text: string, ctx: TextContext): string;
}

/** The language family a stage's tables are for, from whatever the engine reported; undefined = none. */
export function languageFamily(language: string): 'en' | 'pt' | undefined {
  const l = language.trim().toLowerCase();
  if (l === 'en' || l.startsWith('en-') || l.startsWith('en_') || l === 'english') return 'en';
  if (l === 'pt' || l.startsWith('pt-') || l.startsWith('pt_') || l === 'portuguese') return 'pt';
  return undefined;
}
