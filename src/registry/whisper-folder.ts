// What Theo knows about a Whisper model folder in the onnx-community export layout without loading it:
// which files a dtype needs, and the manifest (theo.yaml) those files imply. `theo pull` writes that
// manifest; the registry derives it for a pulled folder that has none. Engine code is not imported here.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { TheoError } from '../errors/index.js';
import { manifestSchema, type ModelManifest } from './manifest.js';

/** The dtypes `theo pull` offers, with the ONNX file suffix @huggingface/transformers gives each. */
export const PULL_DTYPES = { fp32: '', fp16: '_fp16', q8: '_quantized', q4: '_q4' } as const;
export type PullDtype = keyof typeof PULL_DTYPES;
export const DEFAULT_PULL_DTYPE: PullDtype = 'q8';

/** Progress of `theo pull` in a model folder: { hub, repo, commit, dtype, files }. */
export const PULL_STATE_FILE = '.theo-pull.json';

export function isPullDtype(v: string): v is PullDtype {
  return Object.hasOwn(PULL_DTYPES, v);
}

/** JSON files every Whisper export needs, whatever the dtype. */
export const WHISPER_JSON_FILES = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;

export function whisperOnnxFiles(dtype: PullDtype): { encoder: string; decoder: string } {
  const sfx = PULL_DTYPES[dtype];
  return { encoder: `onnx/encoder_model${sfx}.onnx`, decoder: `onnx/decoder_model_merged${sfx}.onnx` };
}

/** Repository paths a Whisper model of this dtype needs, in download order (small files first). */
export function whisperFilesFor(dtype: PullDtype): string[] {
  const onnx = whisperOnnxFiles(dtype);
  return [...WHISPER_JSON_FILES, onnx.encoder, onnx.decoder];
}

/** The dtypes whose two ONNX files are all in `paths` (a repository listing or a folder). */
export function availableDtypes(paths: Iterable<string>): PullDtype[] {
  const set = new Set(paths);
  return (Object.keys(PULL_DTYPES) as PullDtype[]).filter((d) => {
    const f = whisperOnnxFiles(d);
    return set.has(f.encoder) && set.has(f.decoder);
  });
}

type Json = Record<string, unknown>;

export interface WhisperManifestInput {
  name: string;
  /** Parsed config.json. */
  config: Json;
  /** Parsed generation_config.json. */
  generationConfig: Json;
  dtype: PullDtype;
  description?: string;
  source?: { hub: string; repo: string; revision: string };
}

/** True when config.json describes a Whisper model. */
export function isWhisperConfig(config: unknown): boolean {
  return typeof config === 'object' && config !== null && (config as Json).model_type === 'whisper';
}

/** ISO codes from generation_config.lang_to_id ({"<|en|>": 50259, ...}), in token id order. */
export function whisperLanguages(gen: Json): string[] {
  const map = gen.lang_to_id;
  if (gen.is_multilingual === false || typeof map !== 'object' || map === null) return ['en'];
  const codes = Object.entries(map as Record<string, unknown>)
    .map(([tok, id]) => ({ code: /^<\|([a-z]{2,3})\|>$/.exec(tok)?.[1], id: typeof id === 'number' ? id : Number.MAX_SAFE_INTEGER }))
    .filter((x): x is { code: string; id: number } => x.code !== undefined)
    .sort((a, b) => a.id - b.id)
    .map((x) => x.code);
  return codes.length > 0 ? codes : ['en'];
}

/** The manifest a Whisper folder implies; validated against the manifest schema. */
export function whisperManifest(input: WhisperManifestInput): ModelManifest {
  const gen = input.generationConfig;
  const languages = whisperLanguages(gen);
  const multilingual = gen.is_multilingual === true || (gen.is_multilingual === undefined && languages.length > 1);
  const heads = gen.alignment_heads;
  const onnx = whisperOnnxFiles(input.dtype);
  const raw = {
    name: input.name,
    engine: 'whisper',
    architecture: 'encoder-decoder',
    description: input.description ?? `Whisper (${multilingual ? 'multilingual' : 'English-only'}, ${input.dtype})`,
    files: {
      model: '.',
      encoder: onnx.encoder,
      decoder: onnx.decoder,
      config: 'config.json',
      generationConfig: 'generation_config.json',
      preprocessorConfig: 'preprocessor_config.json',
      tokenizer: 'tokenizer.json',
      tokenizerConfig: 'tokenizer_config.json',
    },
    sampleRate: 16000,
    languages,
    capabilities: {
      nativePartials: false,
      translate: multilingual,
      segmentTimestamps: true,
      wordTimestamps: Array.isArray(heads) && heads.length > 0,
      hotWords: true,
      languageDetection: multilingual,
    },
    defaults: { ...(multilingual ? {} : { language: 'en' }), options: { dtype: input.dtype } },
    ...(input.source ? { source: input.source } : {}),
  };
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new TheoError('model_invalid', `cannot describe Whisper model '${input.name}': ${issues.join('; ')}`, { issues });
  }
  return parsed.data;
}

/** theo.yaml text for a manifest, with a header saying where it came from. */
export function manifestYaml(manifest: ModelManifest, header: string): string {
  const comment = header
    .split('\n')
    .map((l) => `# ${l}`.trimEnd())
    .join('\n');
  return `${comment}\n${stringifyYaml(manifest, { lineWidth: 0 })}`;
}

function readJsonSync(path: string): Json | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The manifest of a Whisper folder without theo.yaml (a pull that never finished writing one, or a
 * folder copied in by hand): undefined when config.json is not a Whisper config. The dtype is the first
 * whose ONNX files are present (q8 first, as `theo pull` defaults to it).
 */
export function detectWhisperFolder(dir: string, name: string): ModelManifest | undefined {
  const config = readJsonSync(join(dir, 'config.json'));
  if (!config || !isWhisperConfig(config)) return undefined;
  const gen = readJsonSync(join(dir, 'generation_config.json')) ?? {};
  // An unfinished `theo pull` left its state: the dtype it was fetching and where from.
  const state = readJsonSync(join(dir, PULL_STATE_FILE)) ?? {};
  const pulling = typeof state.dtype === 'string' && isPullDtype(state.dtype) ? state.dtype : undefined;
  const source =
    typeof state.hub === 'string' && typeof state.repo === 'string' && typeof state.commit === 'string' ? { hub: state.hub, repo: state.repo, revision: state.commit } : undefined;
  const present = (p: string): boolean => existsSync(join(dir, p)) && statSync(join(dir, p)).isFile();
  const order: PullDtype[] = ['q8', 'fp32', 'fp16', 'q4'];
  const dtype = pulling ?? order.find((d) => present(whisperOnnxFiles(d).encoder) && present(whisperOnnxFiles(d).decoder)) ?? DEFAULT_PULL_DTYPE;
  return whisperManifest({ name, config, generationConfig: gen, dtype, description: `Whisper model folder without theo.yaml (detected, ${dtype})`, ...(source ? { source } : {}) });
}
