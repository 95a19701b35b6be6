// Writes a tiny, scripted Whisper model folder in the onnx-community export layout, so the whisper engine
// can be tested offline without weights. The decoder is a bigram table: the token fed at each position
// decides the next token (one-hot logits), which keeps the script independent of prompt length. The
// decoder's self-attention "cache" stores the fed token ids, and the optional cross-attention output
// peaks at a frame per token so word timestamps (DTW over alignment heads) have something to align.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type IGraphProto = onnxProto.onnx.IGraphProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const BOOL = onnx.TensorProto.DataType.BOOL;

/** Logit of the scripted token; others are 0. With [0, 1] the timestamp mass wins and decoding loops. */
const ON_LOGIT = 100;
const N_FRAMES = 1500;
const N_TIMESTAMPS = 1501; // <|0.00|> .. <|30.00|>

export interface TinyWhisperOptions {
  /** Multilingual vocabulary with language and task tokens (default true). */
  multilingual?: boolean;
  /** Language codes of the vocabulary (multilingual only; default en, fr, de, es). */
  languages?: readonly string[];
  /**
   * Bigram script: token → the token the model emits after it. Tokens are written as their text
   * (' hello', '<|0.00|>', '<|startoftranscript|>'). A token without an entry is followed by <|endoftext|>.
   */
  script: Readonly<Record<string, string>>;
  /** Extra words for the vocabulary (e.g. for prompts); words of the script are always added. */
  words?: readonly string[];
  /** Emit cross_attentions and declare alignment_heads (word timestamps). Default false. */
  alignment?: boolean;
  /** For alignment: the encoder frame (20 ms each) the cross-attention of a fed token peaks at. */
  frames?: Readonly<Record<string, number>>;
  /** Omit files or corrupt config, for negative tests. */
  omit?: readonly string[];
}

export interface TinyWhisperModel {
  dir: string;
  /** Token text → id. */
  ids: ReadonlyMap<string, number>;
  vocabSize: number;
}

/** Script helper: chain('a', 'b', 'c') → { a: 'b', b: 'c' }. */
export function chain(...tokens: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < tokens.length; i++) out[tokens[i]!] = tokens[i + 1]!;
  return out;
}

export function timestampToken(seconds: number): string {
  return `<|${seconds.toFixed(2)}|>`;
}

// GPT-2 byte-level alphabet: every byte maps to a printable character.
function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) table[b] = String.fromCharCode(b);
    else table[b] = String.fromCharCode(256 + n++);
  }
  return table;
}

const isSpecialText = (t: string): boolean => t.startsWith('<|') && t.endsWith('|>');

interface Vocab {
  vocab: Map<string, number>; // byte-level form → id (BPE part)
  merges: string[];
  ids: Map<string, number>; // token text → id (all tokens)
  eot: number;
  sot: number;
  size: number;
  langToId: Record<string, number>;
  taskToId: Record<string, number>;
  noTimestamps: number;
  specials: string[];
}

function buildVocab(opts: TinyWhisperOptions): Vocab {
  const byteChars = bytesToUnicode();
  const vocab = new Map<string, number>();
  const ids = new Map<string, number>();
  byteChars.forEach((c, i) => vocab.set(c, i));
  const merges: string[] = [];
  const words = new Set<string>(opts.words ?? []);
  for (const [a, b] of Object.entries(opts.script)) {
    for (const t of [a, b]) if (!isSpecialText(t)) words.add(t);
  }
  for (const word of words) {
    const pieces = [...Buffer.from(word, 'utf8')].map((b) => byteChars[b]!);
    let acc = pieces[0] ?? '';
    for (const piece of pieces.slice(1)) {
      const merged = acc + piece;
      if (!vocab.has(merged)) {
        merges.push(`${acc} ${piece}`);
        vocab.set(merged, vocab.size);
      }
      acc = merged;
    }
    ids.set(word, vocab.get(acc)!);
  }
  // Single-byte words map to their byte token.
  for (const [form, id] of vocab) {
    const text = Buffer.from([...form].map((c) => byteChars.indexOf(c))).toString('utf8');
    if (!ids.has(text)) ids.set(text, id);
  }

  const multilingual = opts.multilingual ?? true;
  const languages = multilingual ? (opts.languages ?? ['en', 'fr', 'de', 'es']) : [];
  // Whisper's special-token order; <|notimestamps|> must be the last special (timestamps follow it).
  const specials = [
    '<|endoftext|>',
    '<|startoftranscript|>',
    ...languages.map((l) => `<|${l}|>`),
    '<|translate|>',
    '<|transcribe|>',
    '<|startoflm|>',
    '<|startofprev|>',
    '<|nocaptions|>',
    '<|notimestamps|>',
  ];
  let next = vocab.size;
  for (const s of specials) ids.set(s, next++);
  for (let i = 0; i < N_TIMESTAMPS; i++) ids.set(timestampToken(i * 0.02), next++);

  const langToId: Record<string, number> = {};
  for (const l of languages) langToId[`<|${l}|>`] = ids.get(`<|${l}|>`)!;
  return {
    vocab,
    merges,
    ids,
    eot: ids.get('<|endoftext|>')!,
    sot: ids.get('<|startoftranscript|>')!,
    size: next,
    langToId,
    taskToId: { translate: ids.get('<|translate|>')!, transcribe: ids.get('<|transcribe|>')! },
    noTimestamps: ids.get('<|notimestamps|>')!,
    specials,
  };
}

function tokenizerJson(v: Vocab): object {
  const added = [...v.ids.entries()]
    .filter(([t]) => isSpecialText(t))
    .sort((a, b) => a[1] - b[1])
    .map(([content, id]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: v.specials.includes(content),
    }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(v.vocab),
      merges: v.merges,
    },
  };
}

// --- ONNX building helpers ---

function dimsOf(shape: readonly (number | string)[]): onnxProto.onnx.ITensorShapeProto {
  return { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
}

function valueInfo(name: string, elemType: number, shape?: readonly (number | string)[]): IValueInfoProto {
  return { name, type: { tensorType: shape ? { elemType, shape: dimsOf(shape) } : { elemType } } };
}

function int64Tensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): ITensorProto {
  return { name, dataType: INT64, dims: [...dims], int64Data: [...values] };
}

function floatTensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): ITensorProto {
  return { name, dataType: FLOAT, dims: [...dims], floatData: [...values] };
}

function node(opType: string, input: string[], output: string[], attrs: onnxProto.onnx.IAttributeProto[] = []): INodeProto {
  return { opType, input, output, name: `${opType}_${output[0]}`, attribute: attrs };
}

const intAttr = (name: string, i: number): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const intsAttr = (name: string, ints: number[]): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
const graphAttr = (name: string, g: IGraphProto): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.GRAPH, g });

function modelBytes(graph: IGraphProto): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'theo-tiny-whisper',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** input_features [B, 80, 3000] → last_hidden_state [B, 1500, 1] (mean of each 2-frame patch). */
function encoderGraph(): IGraphProto {
  return {
    name: 'encoder',
    input: [valueInfo('input_features', FLOAT, ['batch_size', 80, 3000])],
    output: [valueInfo('last_hidden_state', FLOAT, ['batch_size', N_FRAMES, 1])],
    initializer: [int64Tensor('patch_shape', [0, N_FRAMES, 160]), floatTensor('w', new Array<number>(160).fill(1 / 160), [160, 1])],
    node: [
      node('Transpose', ['input_features'], ['frames'], [intsAttr('perm', [0, 2, 1])]),
      node('Reshape', ['frames', 'patch_shape'], ['patches']),
      node('MatMul', ['patches', 'w'], ['last_hidden_state']),
    ],
  };
}

function decoderGraph(v: Vocab, opts: TinyWhisperOptions): IGraphProto {
  const table = new Array<number>(v.size).fill(v.eot);
  for (const [from, to] of Object.entries(opts.script)) {
    const a = v.ids.get(from);
    const b = v.ids.get(to);
    if (a === undefined || b === undefined) throw new Error(`tiny-whisper: script token not in vocabulary: ${a === undefined ? from : to}`);
    table[a] = b;
  }
  const kv = ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value'];
  const past = (k: string): string => `past_key_values.0.${k}`;
  const present = (k: string): string => `present.0.${k}`;
  const inputs = [
    valueInfo('input_ids', INT64, ['batch_size', 'decoder_sequence_length']),
    valueInfo('encoder_hidden_states', FLOAT, ['batch_size', 'encoder_sequence_length / 2', 1]),
    valueInfo(past('decoder.key'), FLOAT, ['batch_size', 1, 'past_decoder_sequence_length', 1]),
    valueInfo(past('decoder.value'), FLOAT, ['batch_size', 1, 'past_decoder_sequence_length', 1]),
    valueInfo(past('encoder.key'), FLOAT, ['batch_size', 1, 'encoder_sequence_length_out', 1]),
    valueInfo(past('encoder.value'), FLOAT, ['batch_size', 1, 'encoder_sequence_length_out', 1]),
    valueInfo('use_cache_branch', BOOL, [1]),
  ];
  const outputs = [
    valueInfo('logits', FLOAT, ['batch_size', 'decoder_sequence_length', v.size]),
    ...kv.map((k) => valueInfo(present(k), FLOAT, ['batch_size', 1, k.startsWith('decoder') ? 'past_decoder_sequence_length + 1' : 'encoder_sequence_length_out', 1])),
  ];
  const initializer = [
    int64Tensor('table', table),
    int64Tensor('depth', [v.size], []),
    floatTensor('onehot_values', [0, ON_LOGIT]),
    int64Tensor('axes_1_3', [1, 3]),
    int64Tensor('axes_1', [1]),
    int64Tensor('axes_2', [2]),
  ];
  const nodes: INodeProto[] = [
    node('Gather', ['table', 'input_ids'], ['next_ids']),
    node('OneHot', ['next_ids', 'depth', 'onehot_values'], ['logits']),
    node('Cast', ['input_ids'], ['ids_f'], [intAttr('to', FLOAT)]),
    node('Unsqueeze', ['ids_f', 'axes_1_3'], ['new_kv']),
    node('Concat', [past('decoder.key'), 'new_kv'], [present('decoder.key')], [intAttr('axis', 2)]),
    node('Concat', [past('decoder.value'), 'new_kv'], [present('decoder.value')], [intAttr('axis', 2)]),
  ];
  // Cross-attention K/V come from the encoder on the first step and are passed through afterwards,
  // as in optimum's merged decoders.
  const thenBranch: IGraphProto = {
    name: 'with_cache',
    node: [node('Identity', [past('encoder.key')], ['enc_k_cached']), node('Identity', [past('encoder.value')], ['enc_v_cached'])],
    output: [valueInfo('enc_k_cached', FLOAT), valueInfo('enc_v_cached', FLOAT)],
  };
  const elseBranch: IGraphProto = {
    name: 'without_cache',
    node: [node('Unsqueeze', ['encoder_hidden_states', 'axes_1'], ['enc_k_new']), node('Identity', ['enc_k_new'], ['enc_v_new'])],
    output: [valueInfo('enc_k_new', FLOAT), valueInfo('enc_v_new', FLOAT)],
  };
  nodes.push(
    node('If', ['use_cache_branch'], [present('encoder.key'), present('encoder.value')], [graphAttr('then_branch', thenBranch), graphAttr('else_branch', elseBranch)]),
  );

  if (opts.alignment) {
    // cross_attentions.0 [B, 1, S, 1500] = -|frame - peak(token)|: a tent per token that DTW can follow,
    // and that varies across tokens in every column (the per-frame normalisation divides by its std).
    const frames = new Array<number>(v.size).fill(0);
    for (const [tok, frame] of Object.entries(opts.frames ?? {})) {
      const id = v.ids.get(tok);
      if (id === undefined) throw new Error(`tiny-whisper: frame token not in vocabulary: ${tok}`);
      frames[id] = frame;
    }
    initializer.push(
      floatTensor('frame_table', frames),
      floatTensor('frame_range', Array.from({ length: N_FRAMES }, (_, i) => i)),
    );
    nodes.push(
      node('Gather', ['frame_table', 'input_ids'], ['peaks']),
      node('Unsqueeze', ['peaks', 'axes_2'], ['peaks_col']),
      node('Sub', ['frame_range', 'peaks_col'], ['dist']),
      node('Abs', ['dist'], ['adist']),
      node('Neg', ['adist'], ['tent']),
      node('Unsqueeze', ['tent', 'axes_1'], ['cross_attentions.0']),
    );
    outputs.push(valueInfo('cross_attentions.0', FLOAT, ['batch_size', 1, 'decoder_sequence_length', N_FRAMES]));
  }
  return { name: 'decoder_merged', input: inputs, output: outputs, initializer, node: nodes };
}

/** Writes the model folder and returns the token ids. */
export async function writeTinyWhisper(dir: string, opts: TinyWhisperOptions): Promise<TinyWhisperModel> {
  const v = buildVocab(opts);
  const multilingual = opts.multilingual ?? true;
  const omit = new Set(opts.omit ?? []);
  const files: Record<string, string | Uint8Array> = {
    'config.json': JSON.stringify({
      architectures: ['WhisperForConditionalGeneration'],
      model_type: 'whisper',
      is_encoder_decoder: true,
      d_model: 1,
      encoder_layers: 1,
      decoder_layers: 1,
      encoder_attention_heads: 1,
      decoder_attention_heads: 1,
      num_mel_bins: 80,
      max_source_positions: N_FRAMES,
      max_target_positions: 448,
      vocab_size: v.size,
      bos_token_id: v.eot,
      eos_token_id: v.eot,
      pad_token_id: v.eot,
      decoder_start_token_id: v.sot,
      median_filter_width: 7,
    }),
    'generation_config.json': JSON.stringify({
      bos_token_id: v.eot,
      eos_token_id: v.eot,
      pad_token_id: v.eot,
      decoder_start_token_id: v.sot,
      no_timestamps_token_id: v.noTimestamps,
      is_multilingual: multilingual,
      ...(multilingual ? { lang_to_id: v.langToId, task_to_id: v.taskToId } : {}),
      max_length: 448,
      max_initial_timestamp_index: 50,
      suppress_tokens: [],
      begin_suppress_tokens: [v.ids.get(' ') ?? 0, v.eot],
      ...(opts.alignment ? { alignment_heads: [[0, 0]] } : {}),
    }),
    'preprocessor_config.json': JSON.stringify({
      feature_extractor_type: 'WhisperFeatureExtractor',
      processor_class: 'WhisperProcessor',
      feature_size: 80,
      hop_length: 160,
      n_fft: 400,
      n_samples: 480000,
      nb_max_frames: 3000,
      chunk_length: 30,
      padding_side: 'right',
      padding_value: 0,
      return_attention_mask: false,
      sampling_rate: 16000,
    }),
    'tokenizer.json': JSON.stringify(tokenizerJson(v)),
    'tokenizer_config.json': JSON.stringify({
      tokenizer_class: 'WhisperTokenizer',
      bos_token: '<|endoftext|>',
      eos_token: '<|endoftext|>',
      unk_token: '<|endoftext|>',
      pad_token: '<|endoftext|>',
      add_prefix_space: false,
      errors: 'replace',
      model_max_length: 1024,
    }),
    'onnx/encoder_model.onnx': modelBytes(encoderGraph()),
    'onnx/decoder_model_merged.onnx': modelBytes(decoderGraph(v, opts)),
  };
  await mkdir(join(dir, 'onnx'), { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    if (!omit.has(name)) await writeFile(join(dir, name), content);
  }
  return { dir, ids: v.ids, vocabSize: v.size };
}
