// openai-whisper's transcribe() over 30 s windows: language detection on the first window, the prompt
// (<|startofprev|> + initial prompt + previous text), temperature fallback, no-speech skipping, segments
// and optional word timestamps, with the seek advanced by what each window actually covered.
import { TheoError } from '../../errors/index.js';
import type { EngineResult, EngineSegment, EngineWord, TranscribeOptions } from '../engine.js';
import { type DecodeResult, decodeWindow, throwIfAborted } from './decode.js';
import type { WhisperModelInfo } from './model-files.js';
import type { WhisperRuntime } from './runtime.js';
import { INPUT_STRIDE, type TokenSlice, compressionRatio, splitWindow } from './segments.js';

const SAMPLE_RATE = 16000;
const HOP = 160; // samples per mel frame
/** openai-whisper defaults. */
const COMPRESSION_RATIO_THRESHOLD = 2.4;
const LOGPROB_THRESHOLD = -1;
const NO_SPEECH_THRESHOLD = 0.6;
const FALLBACK_STEP = 0.2;
/** Languages written without spaces: words split on unicode boundaries. */
const NO_SPACE_LANGUAGES: Record<string, string> = { zh: 'chinese', ja: 'japanese', th: 'thai', lo: 'lao', my: 'myanmar' };

export interface TranscribeContext {
  runtime: WhisperRuntime;
  info: WhisperModelInfo;
  random: () => number;
}

/** The prompt text: the caller's prompt, then hot words (Whisper has no biasing, so they become context). */
export function promptText(prompt: string | undefined, hotWords: readonly string[]): string {
  const parts = [prompt?.trim() ?? '', hotWords.map((w) => w.trim()).filter(Boolean).join(', ')].filter(Boolean);
  return parts.join(' ');
}

async function detectLanguage(ctx: TranscribeContext, encoderOutput: Parameters<WhisperRuntime['newState']>[0]): Promise<string> {
  const { tokens } = ctx.info;
  const out = await ctx.runtime.newState(encoderOutput).step([tokens.sot]);
  const row = out.logits.subarray(out.logits.length - out.vocab);
  let best: string | undefined;
  let bestLogit = -Infinity;
  for (const [code, id] of tokens.languages) {
    const logit = row[id] ?? -Infinity;
    if (logit > bestLogit) {
      bestLogit = logit;
      best = code;
    }
  }
  return best ?? 'en';
}

function temperatures(requested: number): number[] {
  // temperature 0 means "greedy, and raise it while the output looks wrong" (openai API semantics).
  if (requested > 0) return [requested];
  const out: number[] = [];
  for (let t = 0; t <= 1 + 1e-9; t += FALLBACK_STEP) out.push(Math.round(t * 10) / 10);
  return out;
}

export async function transcribeAudio(ctx: TranscribeContext, audio: Float32Array, options: TranscribeOptions): Promise<EngineResult> {
  const { runtime, info } = ctx;
  const { tokens } = info;
  const windowFrames = info.maxSourcePositions * INPUT_STRIDE;
  const contentFrames = Math.floor(audio.length / HOP);
  const sampleLen = Math.floor(info.maxTargetPositions / 2);
  const wantWords = options.wordTimestamps && info.alignmentHeads !== undefined && runtime.hasCrossAttentions;

  const text = promptText(options.prompt, options.hotWords);
  const initialPrompt = text ? runtime.tokenizer.encode(` ${text}`, { add_special_tokens: false }) : [];
  let previous: number[] = [...initialPrompt];

  let language = options.language?.toLowerCase();
  if (!info.multilingual) language ??= 'en';
  const segments: EngineSegment[] = [];
  let seek = 0;

  while (seek < contentFrames) {
    throwIfAborted(options.signal);
    const segmentFrames = Math.min(windowFrames, contentFrames - seek);
    const timeOffset = (seek * HOP) / SAMPLE_RATE;
    const window = audio.subarray(seek * HOP, (seek + segmentFrames) * HOP);
    const encoderOutput = await runtime.encode(await runtime.features(window));
    throwIfAborted(options.signal);
    language ??= await detectLanguage(ctx, encoderOutput);

    const sotSequence = [tokens.sot];
    if (info.multilingual) {
      const lang = tokens.languages.get(language);
      const task = options.task === 'translate' ? tokens.translate : tokens.transcribe;
      if (lang === undefined || task === undefined) throw new TheoError('invalid_argument', `whisper: language '${language}' or task '${options.task}' is not in this model`);
      sotSequence.push(lang, task);
    }
    const promptPart = previous.length > 0 && tokens.sotPrev !== undefined ? [tokens.sotPrev, ...previous.slice(-(sampleLen - 1))] : [];
    const initTokens = [...promptPart, ...sotSequence];

    let result: DecodeResult | undefined;
    for (const temperature of temperatures(options.temperature)) {
      result = await decodeWindow(runtime.newState(encoderOutput), {
        tokens,
        initTokens,
        sotIndex: promptPart.length,
        temperature,
        sampleLen: Math.min(sampleLen, info.maxTargetPositions - initTokens.length),
        suppressTokens: info.suppressTokens,
        beginSuppressTokens: info.beginSuppressTokens,
        collectCrossAttentions: wantWords,
        signal: options.signal,
        random: ctx.random,
      });
      const ratio = compressionRatio(decodeText(runtime, result.tokens, tokens.eot));
      const needsFallback = (ratio > COMPRESSION_RATIO_THRESHOLD || result.avgLogprob < LOGPROB_THRESHOLD) && result.noSpeechProb <= NO_SPEECH_THRESHOLD;
      if (!needsFallback) break;
    }
    if (!result) break;

    if (result.noSpeechProb > NO_SPEECH_THRESHOLD && result.avgLogprob < LOGPROB_THRESHOLD) {
      seek += segmentFrames; // silence
      continue;
    }
    const windowText = decodeText(runtime, result.tokens, tokens.eot);
    const ratio = compressionRatio(windowText);
    const split = splitWindow(result.tokens, tokens.timestampBegin, segmentFrames);
    const times = wantWords && result.crossAttentions ? tokenTimes(ctx, result, initTokens, segmentFrames) : undefined;
    const windowEnd = timeOffset + (segmentFrames * HOP) / SAMPLE_RATE;

    for (const slice of split.slices) {
      const sliceTokens = result.tokens.slice(slice.from, slice.to);
      const segText = decodeText(runtime, sliceTokens, tokens.eot);
      const start = Math.min(timeOffset + slice.start, windowEnd);
      const end = Math.min(Math.max(timeOffset + slice.end, start), windowEnd);
      if (segText.trim() === '' || end <= start) continue;
      const seg: EngineSegment = {
        id: segments.length,
        start: round(start),
        end: round(end),
        text: segText,
        tokens: sliceTokens,
        temperature: result.temperature,
        avgLogprob: result.avgLogprob,
        compressionRatio: ratio,
        noSpeechProb: result.noSpeechProb,
      };
      if (times) seg.words = words(ctx, result, slice, initTokens.length, times, timeOffset, seg, language);
      segments.push(seg);
    }
    // Condition the next window on this one's text, unless it was sampled hot (openai-whisper).
    if (result.temperature > 0.5) previous = [];
    else previous.push(...result.tokens.filter((t) => t < tokens.eot));
    seek += split.advance;
  }

  const all = segments.flatMap((s) => s.tokens.map(() => s.avgLogprob));
  const meanLogprob = all.length > 0 ? all.reduce((a, b) => a + b, 0) / all.length : undefined;
  return {
    text: segments.map((s) => s.text).join('').trim(),
    language: language ?? 'en',
    duration: audio.length / SAMPLE_RATE,
    segments,
    ...(meanLogprob !== undefined ? { confidence: Math.min(1, Math.max(0, Math.exp(meanLogprob))) } : {}),
  };
}

function decodeText(runtime: WhisperRuntime, ids: readonly number[], eot: number): string {
  return runtime.tokenizer.decode(ids.filter((t) => t < eot));
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function tokenTimes(ctx: TranscribeContext, result: DecodeResult, initTokens: number[], segmentFrames: number): Float32Array | undefined {
  const sequence = [...initTokens, ...result.tokens];
  // The last sampled token (<|endoftext|> or the token that hit the limit) is never fed back.
  if (result.ended) sequence.push(ctx.info.tokens.eot);
  try {
    return ctx.runtime.tokenTimes(result.crossAttentions!, sequence, ctx.info.alignmentHeads!, Math.max(1, Math.floor(segmentFrames / INPUT_STRIDE)), initTokens.length);
  } catch {
    return undefined; // an export whose attention shapes the library cannot align: segments stay word-less
  }
}

function words(
  ctx: TranscribeContext,
  result: DecodeResult,
  slice: TokenSlice,
  numInit: number,
  times: Float32Array,
  timeOffset: number,
  seg: EngineSegment,
  language: string | undefined,
): EngineWord[] {
  const { eot } = ctx.info.tokens;
  const textIdx: number[] = [];
  for (let i = slice.from; i < slice.to; i++) if (result.tokens[i]! < eot) textIdx.push(i);
  if (textIdx.length === 0) return [];
  const [texts, , indices] = ctx.runtime.tokenizer.combineTokensIntoWords(
    textIdx.map((i) => result.tokens[i]!),
    NO_SPACE_LANGUAGES[language ?? ''] ?? 'english',
  );
  const out: EngineWord[] = [];
  texts.forEach((word, w) => {
    const idx = indices[w] ?? [];
    const first = textIdx[idx[0] ?? 0]!;
    const last = textIdx[idx.at(-1) ?? 0]!;
    const start = clamp(timeOffset + (times[numInit + first] ?? 0), seg.start, seg.end);
    const end = clamp(timeOffset + (times[numInit + last + 1] ?? times[numInit + last] ?? 0), start, seg.end);
    const probs = idx.map((k) => Math.exp(result.logprobs[textIdx[k]!] ?? 0));
    out.push({ word, start: round(start), end: round(end), probability: probs.reduce((a, b) => a + b, 0) / Math.max(1, probs.length) });
  });
  return out;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
