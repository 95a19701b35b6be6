// `theo itn "text"`: the post-processing of finals on a piece of text, for users tuning rules and hot words.
import { TheoError } from '../errors/index.js';
import { createPostprocessor } from '../postprocess/pipeline.js';
import { languageFamily } from '../postprocess/stage.js';

export function itnCommand(text: string, flags: { language: string; hotWords?: string | undefined; hotWordThreshold?: number | undefined; itn: boolean }): string {
  if (languageFamily(flags.language) === undefined) {
    throw new TheoError('invalid_argument', `no post-processing rules for language '${flags.language}'; rules exist for pt-BR (pt) and en`);
  }
  const hotWords = (flags.hotWords ?? '').split(',').map((w) => w.trim()).filter(Boolean);
  const pp = createPostprocessor({ hotWordThreshold: flags.hotWordThreshold });
  return pp.apply(text, { itn: flags.itn, hotWords, language: flags.language });
}
