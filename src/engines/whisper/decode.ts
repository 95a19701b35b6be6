// One 30 s window of Whisper decoding, step by step, following openai-whisper's DecodingTask: the same
// logit filters (suppressed specials, blank suppression at the start, timestamp rules), greedy or
// temperature sampling, and the per-window statistics openai reports (sum/avg log-prob, <|nospeech|>
// probability at the <|startoftranscript|> position).
import { TheoError } from '../../errors/index.js';
import type { WhisperTokenIds } from './model-files.js';
import type { DecoderStep, LibTensor } from './runtime.js';

/** openai-whisper: the first timestamp is at most 1.0 s (50 × 20 ms). */
const MAX_INITIAL_TIMESTAMP_INDEX = 50;

export interface Stepper {
  step(ids: readonly number[]): Promise<DecoderStep>;
}

export interface DecodeParams {
  tokens: WhisperTokenIds;
  /** Prompt part (<|startofprev|> ...) + <|startoftranscript|> [lang] [task]. */
  initTokens: readonly number[];
  /** Index of <|startoftranscript|> in initTokens (its logits give the no-speech probability). */
  sotIndex: number;
  temperature: number;
  /** Most tokens to sample in this window. */
  sampleLen: number;
  suppressTokens: readonly number[];
  beginSuppressTokens: readonly number[];
  collectCrossAttentions: boolean;
  signal: AbortSignal | undefined;
  random: () => number;
}

export interface DecodeResult {
  /** Sampled tokens without the final <|endoftext|>. */
  tokens: number[];
  /** Log-prob of each token in `tokens`. */
  logprobs: number[];
  /** Sum of log-probs of the sampled tokens, <|endoftext|> included (as openai-whisper). */
  sumLogprob: number;
  avgLogprob: number;
  noSpeechProb: number;
  temperature: number;
  /** Whether the model ended with <|endoftext|> (else it hit sampleLen). */
  ended: boolean;
  /** cross_attentions per decoder call, per layer (word timestamps). */
  crossAttentions: LibTensor[][] | undefined;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TheoError('cancelled', 'transcription cancelled', {}, { cause: signal.reason });
}

function logSumExp(values: Float32Array, from = 0, to = values.length): number {
  let max = -Infinity;
  for (let i = from; i < to; i++) if (values[i]! > max) max = values[i]!;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = from; i < to; i++) sum += Math.exp(values[i]! - max);
  return max + Math.log(sum);
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** P(<|nospeech|>) from the raw logits of one position. */
export function noSpeechProbability(row: Float32Array, noSpeech: number | undefined): number {
  if (noSpeech === undefined || noSpeech >= row.length) return 0;
  return Math.exp(row[noSpeech]! - logSumExp(row));
}

/** openai-whisper's SuppressTokens, SuppressBlank and ApplyTimestampRules, in place. */
export function applyFilters(row: Float32Array, sampled: readonly number[], p: DecodeParams): void {
  const { eot, timestampBegin: tb } = p.tokens;
  const v = row.length;
  // Every special token except <|endoftext|> (language, task, <|nospeech|>, <|notimestamps|>, ...).
  row.fill(-Infinity, Math.min(eot + 1, v), Math.min(tb, v));
  for (const id of p.suppressTokens) if (id < v) row[id] = -Infinity;
  if (sampled.length === 0) for (const id of p.beginSuppressTokens) if (id < v) row[id] = -Infinity;

  const last = sampled.at(-1);
  const lastWasTimestamp = last !== undefined && last >= tb;
  const penultimate = sampled.at(-2);
  const penultimateWasTimestamp = sampled.length < 2 || (penultimate !== undefined && penultimate >= tb);
  if (lastWasTimestamp) {
    // Timestamps come in pairs, except directly before <|endoftext|>.
    if (penultimateWasTimestamp) row.fill(-Infinity, tb);
    else row.fill(-Infinity, 0, eot);
  }
  // Timestamps never go backwards.
  let lastTimestamp = -1;
  for (const t of sampled) if (t >= tb) lastTimestamp = t;
  if (lastTimestamp >= 0) {
    const floor = lastWasTimestamp && !penultimateWasTimestamp ? lastTimestamp : lastTimestamp + 1;
    row.fill(-Infinity, tb, Math.min(floor, v));
  }
  if (sampled.length === 0) {
    row.fill(-Infinity, 0, tb);
    row.fill(-Infinity, Math.min(tb + MAX_INITIAL_TIMESTAMP_INDEX + 1, v));
  }
  // If all timestamps together outweigh the best text token, a timestamp it is.
  const norm = logSumExp(row);
  const timestampLogprob = logSumExp(row, tb) - norm;
  let maxText = -Infinity;
  for (let i = 0; i < tb && i < v; i++) if (row[i]! > maxText) maxText = row[i]!;
  if (timestampLogprob > maxText - norm) row.fill(-Infinity, 0, tb);
}

function sample(row: Float32Array, temperature: number, random: () => number): number {
  if (temperature <= 0) return argmax(row);
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let total = 0;
  const weights = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const w = Math.exp((row[i]! - max) / temperature);
    weights[i] = w;
    total += w;
  }
  let r = random() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r <= 0 && weights[i]! > 0) return i;
  }
  return argmax(row);
}

/** Decodes one window with one temperature. */
export async function decodeWindow(stepper: Stepper, p: DecodeParams): Promise<DecodeResult> {
  const { eot } = p.tokens;
  const sampled: number[] = [];
  const logprobs: number[] = [];
  const cross: LibTensor[][] = [];
  let sumLogprob = 0;
  let noSpeechProb = 0;
  let ended = false;
  let feed: readonly number[] = p.initTokens;

  for (let i = 0; i < p.sampleLen; i++) {
    throwIfAborted(p.signal);
    const out = await stepper.step(feed);
    throwIfAborted(p.signal);
    const { vocab } = out;
    if (p.collectCrossAttentions && out.crossAttentions) cross.push(out.crossAttentions);
    if (i === 0) noSpeechProb = noSpeechProbability(out.logits.subarray(p.sotIndex * vocab, (p.sotIndex + 1) * vocab), p.tokens.noSpeech);
    const lastRow = (out.logits.length / vocab - 1) * vocab;
    const row = out.logits.slice(lastRow, lastRow + vocab);
    applyFilters(row, sampled, p);
    const token = sample(row, p.temperature, p.random);
    const logprob = row[token]! - logSumExp(row);
    sumLogprob += logprob;
    if (token === eot) {
      ended = true;
      break;
    }
    sampled.push(token);
    logprobs.push(logprob);
    feed = [token];
  }
  return {
    tokens: sampled,
    logprobs,
    sumLogprob,
    avgLogprob: sumLogprob / (sampled.length + 1),
    noSpeechProb,
    temperature: p.temperature,
    ended,
    crossAttentions: p.collectCrossAttentions && cross.length > 0 ? cross : undefined,
  };
}
