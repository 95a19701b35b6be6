// The form fields of POST /v1/audio/transcriptions and /translations, checked against the OpenAI contract
// and against what the chosen model can do. Every rejection names the parameter; a bad value is echoed
// only as a short prefix (errors.excerpt).
import type { EngineCapabilities, Task } from '../../engines/engine.js';
import { excerpt } from '../../errors/index.js';
import { badParam } from './api-error.js';

export const RESPONSE_FORMATS = ['json', 'verbose_json', 'text', 'srt', 'vtt'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

export interface AudioParams {
  model?: string;
  language?: string;
  prompt?: string;
  responseFormat: ResponseFormat;
  temperature: number;
  granularities: { word: boolean; segment: boolean };
  hotWords: string[];
  /** Undefined = the server's default (config postprocess.itn). */
  itn: boolean | undefined;
  /** Undefined = the server's default (config preprocess.enabled). */
  preprocess: boolean | undefined;
  /** Undefined = the server's default (config preprocess.gain). */
  gain: boolean | undefined;
  /** Undefined = the server's default (config preprocess.denoise). */
  denoise: boolean | 'auto' | undefined;
}

const KNOWN_FIELDS = new Set(['model', 'language', 'prompt', 'response_format', 'temperature', 'timestamp_granularities[]', 'timestamp_granularities', 'hot_words', 'hot_words[]', 'itn', 'preprocess', 'gain', 'denoise', 'stream', 'chunking_strategy', 'include[]']);

function one(fields: Map<string, string[]>, name: string): string | undefined {
  const v = fields.get(name);
  if (!v || v.length === 0) return undefined;
  if (v.length > 1) throw badParam(name, `'${name}' was given ${v.length} times; give it once`);
  return v[0];
}

export function parseAudioParams(fields: Map<string, string[]>, task: Task): AudioParams {
  for (const name of fields.keys()) {
    // busboy reports a part with an empty or missing name as one without a name (undefined at run time).
    if (typeof name !== 'string' || name === '') throw badParam(null, 'a form field has no name (Content-Disposition: form-data; name="...")', 'unknown_parameter');
    if (!KNOWN_FIELDS.has(name)) throw badParam(excerpt(name), `unknown parameter '${excerpt(name)}'`, 'unknown_parameter');
  }
  if (task === 'translate' && fields.has('language')) throw badParam('language', "translations take no 'language': the output is always English", 'unknown_parameter');
  const stream = one(fields, 'stream');
  if (stream !== undefined && stream !== 'false') throw badParam('stream', "'stream' is not supported on this endpoint; use the realtime WebSocket for streaming", 'unsupported_parameter');

  const model = one(fields, 'model')?.trim() || undefined;

  const language = one(fields, 'language')?.trim().toLowerCase() || undefined;
  if (language !== undefined && !/^[a-z]{2,3}$/.test(language)) throw badParam('language', `language must be an ISO-639-1 code such as 'en', got '${excerpt(language)}'`);

  const prompt = one(fields, 'prompt');

  const rf = one(fields, 'response_format') ?? 'json';
  if (!(RESPONSE_FORMATS as readonly string[]).includes(rf)) throw badParam('response_format', `response_format must be one of ${RESPONSE_FORMATS.join(', ')}; got '${excerpt(rf)}'`);
  const responseFormat = rf as ResponseFormat;

  const t = one(fields, 'temperature');
  let temperature = 0;
  if (t !== undefined) {
    temperature = Number(t);
    if (t.trim() === '' || !Number.isFinite(temperature) || temperature < 0 || temperature > 1) throw badParam('temperature', `temperature must be a number between 0 and 1, got '${excerpt(t)}'`);
  }

  const granularities = { word: false, segment: false };
  for (const g of [...(fields.get('timestamp_granularities[]') ?? []), ...(fields.get('timestamp_granularities') ?? [])]) {
    if (g !== 'word' && g !== 'segment') throw badParam('timestamp_granularities[]', `timestamp_granularities[] values are 'word' and 'segment', got '${excerpt(g)}'`);
    granularities[g] = true;
  }
  if ((granularities.word || granularities.segment) && responseFormat !== 'verbose_json') {
    throw badParam('timestamp_granularities[]', "timestamp_granularities[] needs response_format 'verbose_json'");
  }
  if (!granularities.word) granularities.segment = true;

  const hotWords: string[] = [];
  for (const v of [...(fields.get('hot_words') ?? []), ...(fields.get('hot_words[]') ?? [])]) {
    for (const w of v.split(',')) if (w.trim()) hotWords.push(w.trim());
  }
  if (hotWords.length > 100) throw badParam('hot_words', `at most 100 hot words, got ${hotWords.length}`);

  for (const w of hotWords) if (w.length > 100) throw badParam('hot_words', `a hot word is at most 100 characters, got ${w.length}`);

  const itn = flag(fields, 'itn');
  const preprocess = flag(fields, 'preprocess');
  const gain = flag(fields, 'gain');
  const denoiseRaw = one(fields, 'denoise');
  if (denoiseRaw !== undefined && !['true', 'false', 'auto'].includes(denoiseRaw)) throw badParam('denoise', `denoise must be 'true', 'false' or 'auto', got '${excerpt(denoiseRaw)}'`);
  const denoise = denoiseRaw === undefined ? undefined : denoiseRaw === 'auto' ? 'auto' : denoiseRaw === 'true';

  return { model, language, prompt, responseFormat, temperature, granularities, hotWords, itn, preprocess, gain, denoise };
}

/** A 'true'/'false' form field; undefined when absent. */
function flag(fields: Map<string, string[]>, name: string): boolean | undefined {
  const raw = one(fields, name);
  if (raw === undefined) return undefined;
  if (raw !== 'true' && raw !== 'false') throw badParam(name, `${name} must be 'true' or 'false', got '${excerpt(raw)}'`);
  return raw === 'true';
}

/** Rejects what the model cannot do. */
export function checkCapabilities(p: AudioParams, task: Task, model: string, caps: EngineCapabilities): void {
  if (task === 'translate' && !caps.translate) throw badParam('model', `model '${model}' cannot translate`, 'unsupported_for_model');
  if (p.language !== undefined && !caps.languages.includes(p.language)) {
    throw badParam('language', `model '${model}' does not know language '${p.language}' (it knows: ${caps.languages.join(', ')})`, 'unsupported_language');
  }
  if (p.granularities.word && !caps.wordTimestamps) throw badParam('timestamp_granularities[]', `model '${model}' gives no word timestamps`, 'unsupported_for_model');
  // Hot words work with every model: post-processing corrects near misses; engines that can also bias
  // decoding towards them (caps.hotWords) get them too.
}
