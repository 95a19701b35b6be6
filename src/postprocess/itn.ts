// Inverse text normalisation of finals: spoken numbers, money, percentages, dates, times, ordinals and
// phone numbers become their written forms ("dois mil e quinhentos reais" → "R$ 2.500,00"), for
// Brazilian Portuguese and English; other languages pass through. The grammar lives in tables
// (itn/tables-*.ts), the rules in itn/rules.ts. Entity formatting (CPF, CNPJ, CEP, cards) is a separate
// stage, entities.ts, that runs on this stage's output. docs/POSTPROCESSING.md has the conventions.

import { entitiesStage } from './entities.js';
import { runItn } from './itn/engine.js';
import { itnTable } from './itn/tables.js';
import { languageFamily, type TextContext, type TextStage } from './stage.js';

export { entitiesStage } from './entities.js';

export const itnStage: TextStage = {
  name: 'itn',
  apply(text: string, ctx: TextContext): string {
    const family = languageFamily(ctx.language);
    return family === undefined ? text : runItn(text, itnTable(family));
  },
};

/** ITN, then entity formatting: what `--itn` and the API's `itn=true` do to a final. */
export function inverseNormalize(text: string, language: string): string {
  const ctx: TextContext = { language, hotWords: [] };
  return entitiesStage.apply(itnStage.apply(text, ctx), ctx);
}
