// The one module that touches @huggingface/transformers: loads the processor, tokenizer and the two ONNX
// sessions of a Whisper folder on onnxruntime-node, and exposes the three calls decoding needs (log-mel,
// encoder, one decoder step with its KV cache). The library's generate() gives no per-token log-probs,
// no <|nospeech|> probability, no language detection and no prompt, so the decoding loop is ours.
//
// Device: 'cpu' by default. 'cuda' needs onnxruntime-node's CUDA provider libraries, which this
// project's .npmrc (`onnxruntime-node-install=skip`) leaves out; on a GPU host, with network access, run
// `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` once (or
// `npm rebuild onnxruntime-node` without the skip) to fetch them.
import { AutoProcessor, AutoTokenizer, Tensor, WhisperForConditionalGeneration, env } from '@huggingface/transformers';
import type { WhisperDtype } from './model-files.js';

export type WhisperDevice = 'cpu' | 'cuda';

/** Library tensor, narrowed to what we read. */
export interface LibTensor {
  readonly dims: number[];
  readonly data: unknown;
  readonly type: string;
  to(type: 'float32'): LibTensor;
}

type KvCache = Record<string, LibTensor>;

export interface DecoderStep {
  /** Logits of every fed position, row-major [positions, vocab]. */
  logits: Float32Array;
  vocab: number;
  /** cross_attentions.N for this step (word timestamps), when the export has them. */
  crossAttentions: LibTensor[] | undefined;
}

interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, unknown>>;
  readonly outputNames: readonly string[];
}

interface LibModel {
  sessions: Record<string, OrtSession>;
  forward(inputs: Record<string, unknown>): Promise<Record<string, LibTensor>>;
  dispose(): Promise<unknown>;
  _extract_token_timestamps(
    outputs: { cross_attentions: LibTensor[][]; sequences: LibTensor },
    alignmentHeads: [number, number][],
    numFrames: number,
    timePrecision: number,
    numInputIds: number,
  ): LibTensor;
}

interface LibTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  combineTokensIntoWords(tokens: number[], language: string): [string[], number[][], number[][]];
}

interface LibProcessor {
  (audio: Float32Array): Promise<{ input_features: LibTensor & { ort_tensor: unknown } }>;
}

let envConfigured = false;
function configureEnv(): void {
  if (envConfigured) return;
  // Models come only from local folders: a worker must never reach a hub at run time.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  envConfigured = true;
}

/** One loaded model. The decoder KV cache lives in a DecoderState owned by one decoding pass. */
export class WhisperRuntime {
  private constructor(
    private readonly model: LibModel,
    readonly tokenizer: LibTokenizer,
    private readonly processor: LibProcessor,
    readonly hasCrossAttentions: boolean,
  ) {}

  static async load(dir: string, dtype: WhisperDtype, device: WhisperDevice, threads?: number): Promise<WhisperRuntime> {
    configureEnv();
    const sessionOptions = threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : undefined;
    const model = (await WhisperForConditionalGeneration.from_pretrained(dir, {
      dtype,
      device,
      local_files_only: true,
      ...(sessionOptions ? { session_options: sessionOptions } : {}),
    })) as unknown as LibModel;
    try {
      const tokenizer = (await AutoTokenizer.from_pretrained(dir, { local_files_only: true })) as unknown as LibTokenizer;
      const processor = (await AutoProcessor.from_pretrained(dir, { local_files_only: true })) as unknown as LibProcessor;
      const decoder = model.sessions.decoder_model_merged;
      if (!model.sessions.model || !decoder) throw new Error('the model has no encoder or merged decoder session');
      const cross = decoder.outputNames.some((n) => n.startsWith('cross_attentions'));
      return new WhisperRuntime(model, tokenizer, processor, cross);
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }

  /** Log-mel features of up to 30 s of audio, zero-padded to 30 s. */
  async features(window: Float32Array): Promise<LibTensor & { ort_tensor: unknown }> {
    return (await this.processor(window)).input_features;
  }

  async encode(features: LibTensor & { ort_tensor: unknown }): Promise<LibTensor> {
    const out = await this.model.sessions.model!.run({ input_features: features.ort_tensor });
    // The library's Tensor wraps an onnxruntime tensor as is.
    const wrap = Tensor as unknown as new (ortTensor: unknown) => LibTensor;
    return new wrap(out.last_hidden_state);
  }

  newState(encoderOutput: LibTensor): DecoderState {
    return new DecoderState(this.model, encoderOutput);
  }

  /** Per-token start times (seconds) by DTW over the alignment heads' cross-attention. */
  tokenTimes(
    crossAttentions: LibTensor[][],
    sequence: number[],
    alignmentHeads: [number, number][],
    numFrames: number,
    numInputIds: number,
  ): Float32Array {
    const sequences = new Tensor('int64', BigInt64Array.from(sequence.map(BigInt)), [1, sequence.length]) as unknown as LibTensor;
    const times = this.model._extract_token_timestamps({ cross_attentions: crossAttentions, sequences }, alignmentHeads, numFrames, 0.02, numInputIds);
    return times.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

/** The decoder's KV cache for one window; feed tokens, get logits. */
export class DecoderState {
  private cache: KvCache | undefined;

  constructor(
    private readonly model: LibModel,
    private readonly encoderOutput: LibTensor,
  ) {}

  /** Runs the decoder on `ids` after everything fed so far. */
  async step(ids: readonly number[]): Promise<DecoderStep> {
    const input = new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
    const out = await this.model.forward({
      encoder_outputs: this.encoderOutput,
      decoder_input_ids: input,
      ...(this.cache ? { past_key_values: this.cache } : {}),
    });
    const next: KvCache = {};
    const crossAttentions: LibTensor[] = [];
    for (const [name, tensor] of Object.entries(out)) {
      if (name.startsWith('present.')) {
        const pastName = name.replace('present', 'past_key_values');
        // Merged decoders return placeholders for the cross-attention cache once it exists.
        next[pastName] = name.includes('.encoder.') && this.cache?.[pastName] ? this.cache[pastName] : tensor;
      } else if (name.startsWith('cross_attentions')) {
        crossAttentions[Number(name.split('.')[1])] = tensor;
      }
    }
    this.cache = next;
    const logits = out.logits;
    if (!logits) throw new Error('decoder returned no logits');
    const vocab = logits.dims.at(-1) ?? 0;
    // fp16 exports return float16 logits; decoding works in float32.
    const data = logits.type === 'float32' ? logits.data : logits.to('float32').data;
    const floats = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    return { logits: floats, vocab, crossAttentions: crossAttentions.length > 0 ? crossAttentions : undefined };
  }
}
