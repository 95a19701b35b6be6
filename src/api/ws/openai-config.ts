// Configuration of an OpenAI realtime transcription session (`WS /v1/realtime?intent=transcription`): the
// `session.update` (GA, `session.type = 'transcription'`) and `transcription_session.update` (beta) shapes,
// their mapping onto a Theo session's options, and the effective configuration echoed back in
// `session.created/updated` and `transcription_session.created/updated`.
import { z } from 'zod';
import type { VadConfig } from '../../config/schema.js';
import type { CreateSessionOptions } from '../../session/manager.js';
import type { FrameEncoding } from './frames.js';

export type OpenAiFormat = 'pcm16' | 'g711_ulaw' | 'g711_alaw';

const transcription = z
  .object({
    model: z.string().max(200),
    language: z.string().max(16),
    prompt: z.string().max(10_000),
    keywords: z.array(z.string().min(1).max(100)).max(200),
    languages: z.array(z.string().max(16)).max(50),
    delay: z.enum(['minimal', 'low', 'medium', 'high', 'xhigh']),
  })
  .partial()
  .strict();

const turnDetection = z
  .object({
    type: z.enum(['server_vad', 'semantic_vad']),
    threshold: z.number().min(0).max(1).optional(),
    prefix_padding_ms: z.number().int().min(0).max(10_000).optional(),
    silence_duration_ms: z.number().int().min(0).max(60_000).optional(),
    idle_timeout_ms: z.number().int().min(0).nullable().optional(),
    create_response: z.boolean().optional(),
    interrupt_response: z.boolean().optional(),
    eagerness: z.enum(['low', 'medium', 'high', 'auto']).optional(),
  })
  .strict();

const noiseReduction = z.object({ type: z.enum(['near_field', 'far_field']).optional(), strength: z.number().optional() }).strict();

const gaFormat = z.object({ type: z.enum(['audio/pcm', 'audio/pcmu', 'audio/pcma']), rate: z.literal(24000).optional() }).strict();

const include = z.array(z.literal('item.input_audio_transcription.logprobs')).max(1);

/** `session.update` → `session` of a GA transcription session. */
export const gaSessionSchema = z
  .object({
    type: z.literal('transcription', { message: "Theo serves transcription sessions: session.type must be 'transcription'" }),
    audio: z
      .object({
        input: z
          .object({
            format: gaFormat,
            transcription: transcription.nullable(),
            turn_detection: turnDetection.nullable(),
            noise_reduction: noiseReduction.nullable(),
          })
          .partial()
          .strict(),
      })
      .partial()
      .strict()
      .optional(),
    include: include.optional(),
  })
  .strict();

/** `transcription_session.update` → `session` (beta; also a `session.update` without `type`). */
export const betaSessionSchema = z
  .object({
    input_audio_format: z.enum(['pcm16', 'g711_ulaw', 'g711_alaw']),
    input_audio_transcription: transcription.nullable(),
    turn_detection: turnDetection.nullable(),
    input_audio_noise_reduction: noiseReduction.nullable(),
    include: include.nullable(),
    modalities: z.array(z.enum(['text', 'audio'])),
  })
  .partial()
  .strict();

type TurnDetection = z.infer<typeof turnDetection>;

export interface OpenAiSettings {
  format: OpenAiFormat;
  /** The transcription model as the client named it ('' = the server's default). */
  model: string;
  language: string | undefined;
  prompt: string | undefined;
  keywords: string[];
  turnDetection: TurnDetection | null;
  /** undefined = the server's preprocessing default. */
  noiseReduction: z.infer<typeof noiseReduction> | null | undefined;
  include: string[];
}

export function defaultSettings(): OpenAiSettings {
  return { format: 'pcm16', model: '', language: undefined, prompt: undefined, keywords: [], turnDetection: { type: 'server_vad' }, noiseReduction: undefined, include: [] };
}

const GA_FORMATS: Record<z.infer<typeof gaFormat>['type'], OpenAiFormat> = { 'audio/pcm': 'pcm16', 'audio/pcmu': 'g711_ulaw', 'audio/pcma': 'g711_alaw' };

/** Settings after a GA `session.update` (only the fields present change). */
export function applyGa(s: OpenAiSettings, u: z.infer<typeof gaSessionSchema>): OpenAiSettings {
  const input = u.audio?.input;
  const next = { ...s };
  if (input?.format) next.format = GA_FORMATS[input.format.type];
  if (input?.transcription !== undefined) Object.assign(next, transcriptionFields(input.transcription));
  if (input?.turn_detection !== undefined) next.turnDetection = input.turn_detection;
  if (input?.noise_reduction !== undefined) next.noiseReduction = input.noise_reduction;
  if (u.include) next.include = u.include;
  return next;
}

/** Settings after a beta `transcription_session.update`. */
export function applyBeta(s: OpenAiSettings, u: z.infer<typeof betaSessionSchema>): OpenAiSettings {
  const next = { ...s };
  if (u.input_audio_format) next.format = u.input_audio_format;
  if (u.input_audio_transcription !== undefined) Object.assign(next, transcriptionFields(u.input_audio_transcription));
  if (u.turn_detection !== undefined) next.turnDetection = u.turn_detection;
  if (u.input_audio_noise_reduction !== undefined) next.noiseReduction = u.input_audio_noise_reduction;
  if (u.include !== undefined) next.include = u.include ?? [];
  return next;
}

function transcriptionFields(t: z.infer<typeof transcription> | null): Pick<OpenAiSettings, 'model' | 'language' | 'prompt' | 'keywords'> {
  const language = t?.language ?? t?.languages?.[0];
  return { model: t?.model ?? '', language: language ? language.toLowerCase() : undefined, prompt: t?.prompt, keywords: t?.keywords ?? [] };
}

/** Fields a running Theo session cannot take: a change ends it (its finals still arrive) and the next audio starts another. */
export function needsNewSession(a: OpenAiSettings, b: OpenAiSettings): boolean {
  return a.format !== b.format || a.model !== b.model || a.language !== b.language || JSON.stringify(a.turnDetection) !== JSON.stringify(b.turnDetection) || JSON.stringify(a.noiseReduction) !== JSON.stringify(b.noiseReduction);
}

export function encodingOf(format: OpenAiFormat): { encoding: FrameEncoding; rate: number } {
  if (format === 'g711_ulaw') return { encoding: 'mulaw', rate: 8000 };
  if (format === 'g711_alaw') return { encoding: 'alaw', rate: 8000 };
  return { encoding: 'pcm16', rate: 24000 };
}

const THRESHOLDS = { high: 0.3, normal: 0.5, low: 0.7 } as const;
/** Without turn detection an item ends at a commit, the longest pause the VAD allows, or the maximum segment length. */
const MANUAL_SILENCE_MS = 10_000;
const EAGERNESS_SILENCE_MS = { low: 1200, medium: 700, auto: 700, high: 300 } as const;

/** The Theo VAD settings a turn detection asks for, over the server's `vad` config. */
export function vadOf(td: TurnDetection | null, base: VadConfig): Pick<VadConfig, 'sensitivity' | 'minSilenceMs' | 'speechPadMs'> {
  if (td === null) return { sensitivity: base.sensitivity, minSilenceMs: MANUAL_SILENCE_MS, speechPadMs: base.speechPadMs };
  const t = td.threshold;
  const sensitivity = t === undefined ? base.sensitivity : t < 0.4 ? 'high' : t < 0.6 ? 'normal' : 'low';
  const silence = td.type === 'semantic_vad' ? EAGERNESS_SILENCE_MS[td.eagerness ?? 'auto'] : (td.silence_duration_ms ?? base.minSilenceMs);
  return {
    sensitivity,
    minSilenceMs: Math.min(10_000, Math.max(32, silence)),
    speechPadMs: Math.min(2000, td.prefix_padding_ms ?? base.speechPadMs),
  };
}

/** Models OpenAI clients name: served by the default model. */
export function isOpenAiModelName(name: string): boolean {
  return name === '' || name === 'whisper-1' || /^gpt-.*(transcribe|realtime|whisper)/.test(name);
}

export function sessionOptions(s: OpenAiSettings, base: VadConfig, defaultModel: string): Omit<CreateSessionOptions, 'id'> {
  const { rate } = encodingOf(s.format);
  return {
    model: isOpenAiModelName(s.model) ? defaultModel : s.model,
    inputRate: rate,
    ...(s.language ? { language: s.language } : {}),
    hotWords: s.keywords,
    interimResults: true,
    realtime: true,
    ...(s.turnDetection === null ? { pushToTalk: true } : {}),
    vad: vadOf(s.turnDetection, base),
    ...(s.noiseReduction !== undefined ? { denoise: s.noiseReduction !== null } : {}),
  };
}

function turnDetectionView(s: OpenAiSettings, base: VadConfig): Record<string, unknown> | null {
  const td = s.turnDetection;
  if (!td) return null;
  const v = vadOf(td, base);
  if (td.type === 'semantic_vad') return { type: 'semantic_vad', eagerness: td.eagerness ?? 'auto' };
  return { type: 'server_vad', threshold: THRESHOLDS[v.sensitivity], prefix_padding_ms: v.speechPadMs, silence_duration_ms: v.minSilenceMs, idle_timeout_ms: null };
}

function transcriptionView(s: OpenAiSettings, defaultModel: string): Record<string, unknown> {
  return { model: s.model || defaultModel, language: s.language ?? null, prompt: s.prompt ?? '', ...(s.keywords.length ? { keywords: s.keywords } : {}) };
}

/** The GA session object of `session.created/updated`. */
export function gaView(id: string, s: OpenAiSettings, base: VadConfig, defaultModel: string): Record<string, unknown> {
  const format = s.format === 'pcm16' ? { type: 'audio/pcm', rate: 24000 } : { type: s.format === 'g711_ulaw' ? 'audio/pcmu' : 'audio/pcma' };
  return {
    type: 'transcription',
    object: 'realtime.transcription_session',
    id,
    audio: {
      input: {
        format,
        transcription: transcriptionView(s, defaultModel),
        turn_detection: turnDetectionView(s, base),
        noise_reduction: s.noiseReduction ?? null,
      },
    },
    include: s.include,
  };
}

/** The beta session object of `transcription_session.created/updated`. */
export function betaView(id: string, s: OpenAiSettings, base: VadConfig, defaultModel: string): Record<string, unknown> {
  return {
    id,
    object: 'realtime.transcription_session',
    modalities: ['text'],
    input_audio_format: s.format,
    input_audio_transcription: transcriptionView(s, defaultModel),
    turn_detection: turnDetectionView(s, base),
    input_audio_noise_reduction: s.noiseReduction ?? null,
    include: s.include,
  };
}
