// The model manifest: `theo.yaml` in each model folder under the models directory. It names the engine
// that runs the model, where its files are, and what the model can do. Parsed and validated here once.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TheoError } from '../errors/index.js';

export const MANIFEST_FILE = 'theo.yaml';

const languageCode = z.string().regex(/^[a-z]{2,3}$/, 'an ISO-639 code such as "en"');

export const manifestSchema = z
  .object({
    /** Registry name, used as the API's `model` field. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"'),
    engine: z.enum(['pocketsphinx', 'whisper']),
    architecture: z.enum(['encoder-decoder', 'ctc', 'hmm']),
    description: z.string().default(''),
    /** Files the engine loads, by role (e.g. hmm, lm, dict; or the model folder). Relative paths are relative to the manifest's folder. */
    files: z.record(z.string(), z.string().min(1)),
    sampleRate: z.number().int().min(8000).max(48000),
    languages: z.array(languageCode).min(1),
    capabilities: z
      .object({
        nativePartials: z.boolean().default(false),
        translate: z.boolean().default(false),
        segmentTimestamps: z.boolean().default(false),
        wordTimestamps: z.boolean().default(false),
        hotWords: z.boolean().default(false),
        languageDetection: z.boolean().default(false),
      })
      .strict()
      .default({ nativePartials: false, translate: false, segmentTimestamps: false, wordTimestamps: false, hotWords: false, languageDetection: false }),
    defaults: z
      .object({
        language: languageCode.optional(),
        temperature: z.number().min(0).max(1).optional(),
        /** Engine-specific options, passed through (e.g. whisper dtype, pocketsphinx beam). */
        options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      })
      .strict()
      .default({}),
    /** Debian packages that provide the files (the quick start installs them when missing). */
    debianPackages: z.array(z.string()).default([]),
    /** Where `theo pull` fetched it from. */
    source: z.object({ hub: z.string(), repo: z.string(), revision: z.string() }).strict().optional(),
  })
  .strict();

export type ModelManifest = z.infer<typeof manifestSchema>;

/** A manifest with its folder and its file paths resolved to absolute paths. */
export interface ModelEntry {
  manifest: ModelManifest;
  dir: string;
  files: Record<string, string>;
}

export function parseManifest(text: string, path: string): ModelEntry {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new TheoError('model_invalid', `${path}: not valid YAML: ${(err as Error).message}`, { path });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new TheoError('model_invalid', `${path}: invalid model manifest:\n  - ${issues.join('\n  - ')}`, { path, issues });
  }
  const dir = dirname(resolve(path));
  const files: Record<string, string> = {};
  for (const [role, p] of Object.entries(parsed.data.files)) files[role] = isAbsolute(p) ? p : resolve(dir, p);
  return { manifest: parsed.data, dir, files };
}

export function readManifest(path: string): ModelEntry {
  return parseManifest(readFileSync(path, 'utf8'), path);
}
