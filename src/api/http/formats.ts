// The OpenAI `response_format`s of /v1/audio/transcriptions and /translations, built from an engine
// result: json, text, srt, vtt and verbose_json, with the field names and shapes the OpenAI API uses.
import type { EngineResult, EngineSegment, Task } from '../../engines/engine.js';
import type { ResponseFormat } from './audio-params.js';

export interface FormattedResponse {
  /** A string is sent as is; an object as JSON. */
  body: string | object;
  contentType: string;
}

export interface Granularities {
  word: boolean;
  segment: boolean;
}

/** Whisper's language codes (ISO-639-1, plus its own 'haw', 'jw' and 'yue') and the names it reports. */
export const WHISPER_LANGUAGES: Readonly<Record<string, string>> = {
  en: 'english', zh: 'chinese', de: 'german', es: 'spanish', ru: 'russian', ko: 'korean', fr: 'french', ja: 'japanese',
  pt: 'portuguese', tr: 'turkish', pl: 'polish', ca: 'catalan', nl: 'dutch', ar: 'arabic', sv: 'swedish', it: 'italian',
  id: 'indonesian', hi: 'hindi', fi: 'finnish', vi: 'vietnamese', he: 'hebrew', uk: 'ukrainian', el: 'greek', ms: 'malay',
  cs: 'czech', ro: 'romanian', da: 'danish', hu: 'hungarian', ta: 'tamil', no: 'norwegian', th: 'thai', ur: 'urdu',
  hr: 'croatian', bg: 'bulgarian', lt: 'lithuanian', la: 'latin', mi: 'maori', ml: 'malayalam', cy: 'welsh', sk: 'slovak',
  te: 'telugu', fa: 'persian', lv: 'latvian', bn: 'bengali', sr: 'serbian', az: 'azerbaijani', sl: 'slovenian', kn: 'kannada',
  et: 'estonian', mk: 'macedonian', br: 'breton', eu: 'basque', is: 'icelandic', hy: 'armenian', ne: 'nepali', mn: 'mongolian',
  bs: 'bosnian', kk: 'kazakh', sq: 'albanian', sw: 'swahili', gl: 'galician', mr: 'marathi', pa: 'punjabi', si: 'sinhala',
  km: 'khmer', sn: 'shona', yo: 'yoruba', so: 'somali', af: 'afrikaans', oc: 'occitan', ka: 'georgian', be: 'belarusian',
  tg: 'tajik', sd: 'sindhi', gu: 'gujarati', am: 'amharic', yi: 'yiddish', lo: 'lao', uz: 'uzbek', fo: 'faroese',
  ht: 'haitian creole', ps: 'pashto', tk: 'turkmen', nn: 'nynorsk', mt: 'maltese', sa: 'sanskrit', lb: 'luxembourgish', my: 'myanmar',
  bo: 'tibetan', tl: 'tagalog', mg: 'malagasy', as: 'assamese', tt: 'tatar', haw: 'hawaiian', ln: 'lingala', ha: 'hausa',
  ba: 'bashkir', jw: 'javanese', su: 'sundanese', yue: 'cantonese',
};

/** Codes other tools use for the same languages. */
const LANGUAGE_ALIASES: Readonly<Record<string, string>> = { jv: 'jw', nb: 'no', iw: 'he', in: 'id' };

/** The English name OpenAI reports for a language code ('en' -> 'english'); an unknown code comes back unchanged. */
export function languageName(code: string): string {
  const c = code.trim().toLowerCase();
  if (Object.hasOwn(WHISPER_LANGUAGES, c)) return WHISPER_LANGUAGES[c] as string;
  const alias = Object.hasOwn(LANGUAGE_ALIASES, c) ? LANGUAGE_ALIASES[c] : undefined;
  return alias !== undefined ? (WHISPER_LANGUAGES[alias] ?? c) : c;
}

/** Whisper's decoding window in 10 ms mel frames (30 s). */
const WINDOW_FRAMES = 3000;

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const VTT_TYPE = 'text/vtt; charset=utf-8';

/** The response body for one format. `usage` is reported on transcriptions, as OpenAI does (not on translations). */
export function formatTranscription(result: EngineResult, task: Task, format: ResponseFormat, granularities: Granularities = { word: false, segment: true }): FormattedResponse {
  const text = result.text.trim();
  const usage = task === 'transcribe' ? { usage: { type: 'duration' as const, seconds: Math.ceil(result.duration) } } : {};
  switch (format) {
    case 'json':
      return { body: { text, ...usage }, contentType: JSON_TYPE };
    case 'text':
      return { body: `${text}\n`, contentType: TEXT_TYPE };
    case 'srt':
      return { body: toSrt(result.segments), contentType: TEXT_TYPE };
    case 'vtt':
      return { body: toVtt(result.segments), contentType: VTT_TYPE };
    case 'verbose_json':
      return { body: toVerboseJson(result, task, text, granularities, usage), contentType: JSON_TYPE };
  }
}

function toVerboseJson(result: EngineResult, task: Task, text: string, granularities: Granularities, usage: object): object {
  const body: Record<string, unknown> = { task, language: languageName(result.language), duration: result.duration, text };
  // Asking only for words drops segments, as OpenAI does; asking for neither means segments.
  if (granularities.segment || !granularities.word) body.segments = result.segments.map(verboseSegment);
  if (granularities.word) {
    body.words = result.segments.flatMap((s) => (s.words ?? []).map((w) => ({ word: w.word.trim(), start: w.start, end: w.end })));
  }
  return { ...body, ...usage };
}

function verboseSegment(s: EngineSegment): object {
  return {
    id: s.id,
    // Engines do not report Whisper's seek (the frame offset of the window a segment was decoded in); the
    // 30 s window the segment starts in is the same for single-window audio and close to it otherwise.
    seek: Math.floor(Math.max(0, s.start) / 30) * WINDOW_FRAMES,
    start: s.start,
    end: s.end,
    text: s.text,
    tokens: s.tokens,
    temperature: s.temperature,
    avg_logprob: s.avgLogprob,
    compression_ratio: s.compressionRatio,
    no_speech_prob: s.noSpeechProb,
  };
}

/** HH:MM:SS<sep>mmm, rounded to the millisecond (59.9996 s -> 00:01:00,000); negative or NaN times are 0. */
export function formatTimestamp(seconds: number, sep: ',' | '.'): string {
  const totalMs = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;
  const ms = totalMs % 1000;
  const totalS = (totalMs - ms) / 1000;
  const s = totalS % 60;
  const m = Math.floor(totalS / 60) % 60;
  const h = Math.floor(totalS / 3600);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(h)}:${two(m)}:${two(s)}${sep}${String(ms).padStart(3, '0')}`;
}

/** Cue text: lines trimmed, no blank lines inside (a blank line ends a cue in both SRT and WebVTT). */
function cueText(text: string, vtt: boolean): string {
  const t = text
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join('\n');
  // "-->" inside a WebVTT cue would be read as a timing line.
  return vtt ? t.replaceAll('-->', '->') : t;
}

/** SubRip: numbered cues from 1, each followed by a blank line. */
export function toSrt(segments: readonly EngineSegment[]): string {
  let out = '';
  segments.forEach((s, i) => {
    out += `${i + 1}\n${formatTimestamp(s.start, ',')} --> ${formatTimestamp(s.end, ',')}\n${cueText(s.text, false)}\n\n`;
  });
  return out;
}

/** WebVTT: the header and a blank line, then one cue per segment, each followed by a blank line. */
export function toVtt(segments: readonly EngineSegment[]): string {
  let out = 'WEBVTT\n\n';
  for (const s of segments) out += `${formatTimestamp(s.start, '.')} --> ${formatTimestamp(s.end, '.')}\n${cueText(s.text, true)}\n\n`;
  return out;
}
