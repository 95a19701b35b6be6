// Checks a Whisper model folder in the onnx-community export layout before anything loads it, and reads
// the token ids and capabilities the decoder needs. Every failure is a TheoError naming the file at fault,
// because the library's own errors for a half-downloaded folder are obscure.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TheoError } from '../../errors/index.js';

/** ONNX file suffix per dtype, as @huggingface/transformers names them. */
export const DTYPE_SUFFIX = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
} as const;
export type WhisperDtype = keyof typeof DTYPE_SUFFIX;

export function isWhisperDtype(value: string): value is WhisperDtype {
  return Object.hasOwn(DTYPE_SUFFIX, value);
}

export interface WhisperTokenIds {
  eot: number;
  sot: number;
  sotPrev: number | undefined;
  noSpeech: number | undefined;
  noTimestamps: number;
  /** First timestamp token (<|0.00|>); timestamps follow <|notimestamps|>. */
  timestampBegin: number;
  transcribe: number | undefined;
  translate: number | undefined;
  /** ISO-639-1 code → language token id (multilingual models). */
  languages: ReadonlyMap<string, number>;
}

export interface WhisperModelInfo {
  dir: string;
  dtype: WhisperDtype;
  multilingual: boolean;
  languages: string[];
  tokens: WhisperTokenIds;
  alignmentHeads: [number, number][] | undefined;
  /** Decoder context (448 for every released Whisper). */
  maxTargetPositions: number;
  /** Encoder positions per window (1500 = 30 s at 20 ms). */
  maxSourcePositions: number;
  /** Tokens suppressed at every step (generation_config.suppress_tokens). */
  suppressTokens: number[];
  /** Tokens suppressed at the first sampled step (generation_config.begin_suppress_tokens). */
  beginSuppressTokens: number[];
}

type Json = Record<string, unknown>;

function invalid(dir: string, file: string, problem: string): TheoError {
  return new TheoError('model_invalid', `whisper model ${dir}: ${file}: ${problem}`, { dir, file });
}

async function readJson(dir: string, file: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (err) {
    throw new TheoError('model_invalid', `whisper model ${dir}: ${file} is missing or unreadable`, { dir, file }, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TheoError('model_invalid', `whisper model ${dir}: ${file} is not valid JSON`, { dir, file }, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(dir, file, 'expected a JSON object');
  return parsed as Json;
}

function intField(dir: string, file: string, json: Json, key: string): number {
  const v = json[key];
  const n = Array.isArray(v) ? (v[0] as unknown) : v; // eos_token_id may be a list
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw invalid(dir, file, `"${key}" must be a token id`);
  return n;
}

function idList(json: Json, key: string): number[] {
  const v = json[key];
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0) : [];
}

async function requireFile(dir: string, file: string): Promise<void> {
  try {
    const s = await stat(join(dir, file));
    if (!s.isFile() || s.size === 0) throw new Error('empty or not a file');
  } catch (err) {
    throw new TheoError('model_invalid', `whisper model ${dir}: ${file} is missing`, { dir, file }, { cause: err });
  }
}

/** Validates the folder and reads what decoding needs. Rejects with model_not_found / model_invalid. */
export async function inspectWhisperDir(dir: string, dtype: WhisperDtype): Promise<WhisperModelInfo> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new TheoError('model_not_found', `whisper model folder not found: ${dir}`, { dir }, { cause: err });
  }
  const sfx = DTYPE_SUFFIX[dtype];
  await requireFile(dir, `onnx/encoder_model${sfx}.onnx`);
  await requireFile(dir, `onnx/decoder_model_merged${sfx}.onnx`);

  const config = await readJson(dir, 'config.json');
  if (config.model_type !== 'whisper') throw invalid(dir, 'config.json', `model_type is ${JSON.stringify(config.model_type)}, expected "whisper"`);
  const gen = await readJson(dir, 'generation_config.json');
  const pre = await readJson(dir, 'preprocessor_config.json');
  if (pre.sampling_rate !== undefined && pre.sampling_rate !== 16000) throw invalid(dir, 'preprocessor_config.json', 'sampling_rate must be 16000');
  const tokConfig = await readJson(dir, 'tokenizer_config.json');
  if (tokConfig.tokenizer_class !== undefined && tokConfig.tokenizer_class !== 'WhisperTokenizer') {
    throw invalid(dir, 'tokenizer_config.json', `tokenizer_class is ${JSON.stringify(tokConfig.tokenizer_class)}, expected "WhisperTokenizer"`);
  }
  const tokenizer = await readJson(dir, 'tokenizer.json');
  const added = new Map<string, number>();
  if (Array.isArray(tokenizer.added_tokens)) {
    for (const t of tokenizer.added_tokens as unknown[]) {
      const { content, id } = (t ?? {}) as { content?: unknown; id?: unknown };
      if (typeof content === 'string' && typeof id === 'number') added.set(content, id);
    }
  }
  if (!added.has('<|startoftranscript|>')) throw invalid(dir, 'tokenizer.json', 'no <|startoftranscript|> token: not a Whisper tokenizer');

  const eot = intField(dir, 'generation_config.json', gen, 'eos_token_id');
  const sot = intField(dir, 'generation_config.json', gen, 'decoder_start_token_id');
  const noTimestamps = intField(dir, 'generation_config.json', gen, 'no_timestamps_token_id');
  const multilingual = gen.is_multilingual === true;
  const languages = new Map<string, number>();
  if (multilingual) {
    const langToId = gen.lang_to_id;
    if (typeof langToId !== 'object' || langToId === null) throw invalid(dir, 'generation_config.json', 'multilingual model without "lang_to_id"');
    for (const [tok, id] of Object.entries(langToId as Record<string, unknown>)) {
      const code = /^<\|([a-z]{2,3})\|>$/.exec(tok)?.[1];
      if (code && typeof id === 'number') languages.set(code, id);
    }
    if (languages.size === 0) throw invalid(dir, 'generation_config.json', '"lang_to_id" names no language');
  }
  const taskToId = (typeof gen.task_to_id === 'object' && gen.task_to_id !== null ? gen.task_to_id : {}) as Record<string, unknown>;
  const taskId = (name: string): number | undefined => {
    const v = taskToId[name] ?? added.get(`<|${name}|>`);
    return typeof v === 'number' ? v : undefined;
  };
  if (multilingual && taskId('transcribe') === undefined) throw invalid(dir, 'generation_config.json', 'no id for <|transcribe|>');

  const heads = gen.alignment_heads;
  const alignmentHeads =
    Array.isArray(heads) && heads.length > 0 && heads.every((h) => Array.isArray(h) && h.length === 2 && h.every((x) => Number.isInteger(x)))
      ? (heads as [number, number][])
      : undefined;

  const maxTarget = typeof config.max_target_positions === 'number' ? config.max_target_positions : 448;
  const maxSource = typeof config.max_source_positions === 'number' ? config.max_source_positions : 1500;
  return {
    dir,
    dtype,
    multilingual,
    languages: multilingual ? [...languages.keys()] : ['en'],
    tokens: {
      eot,
      sot,
      sotPrev: added.get('<|startofprev|>'),
      noSpeech: added.get('<|nospeech|>') ?? added.get('<|nocaptions|>'),
      noTimestamps,
      timestampBegin: noTimestamps + 1,
      transcribe: taskId('transcribe'),
      translate: taskId('translate'),
      languages,
    },
    alignmentHeads,
    maxTargetPositions: maxTarget,
    maxSourcePositions: maxSource,
    suppressTokens: idList(gen, 'suppress_tokens'),
    beginSuppressTokens: idList(gen, 'begin_suppress_tokens'),
  };
}
