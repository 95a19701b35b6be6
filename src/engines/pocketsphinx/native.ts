// koffi bindings to Debian 12's PocketSphinx (0.8+5prealpha C API: libpocketsphinx.so.3 and
// libsphinxbase.so.3) and `Decoder`, the one owner of a ps_decoder_t. Everything here is synchronous and
// blocks the calling thread; the engine decides how much audio to hand over per call.
import koffi from 'koffi';
import { TheoError } from '../../errors/index.js';

/** PocketSphinx computes one feature frame per 10 ms (-frate 100, the model's default). */
export const FRAMES_PER_SECOND = 100;

/** One entry of the best path's word segmentation, as the decoder reports it. */
export interface RawSegment {
  /** Dictionary word, alternates still marked ("read(2)"), fillers included ("<sil>", "[NOISE]"). */
  word: string;
  /** First frame, inclusive. */
  startFrame: number;
  /** Last frame, inclusive. */
  endFrame: number;
  /** Natural log of the word's lattice posterior (0 = certain); 0 for partial hypotheses. */
  logPosterior: number;
}

type KoffiLib = ReturnType<typeof koffi.load>;

interface Api {
  cmdLnInit: ReturnType<KoffiLib['func']>;
  cmdLnFree: (cfg: unknown) => number;
  psArgs: () => unknown;
  psInit: (cfg: unknown) => unknown;
  psFree: (ps: unknown) => number;
  startUtt: (ps: unknown) => number;
  startStream: (ps: unknown) => number;
  processRaw: (ps: unknown, data: Int16Array, n: number, noSearch: number, fullUtt: number) => number;
  endUtt: (ps: unknown) => number;
  getHyp: (ps: unknown, score: number[]) => string | null;
  getProb: (ps: unknown) => number;
  getLogmath: (ps: unknown) => unknown;
  logToLn: (lmath: unknown, logb: number) => number;
  segIter: (ps: unknown) => unknown;
  segNext: (seg: unknown) => unknown;
  segWord: (seg: unknown) => string | null;
  segFrames: (seg: unknown, sf: number[], ef: number[]) => void;
  segProb: (seg: unknown, ascr: number[], lscr: number[], lback: number[]) => number;
  getFeat: (ps: unknown) => unknown;
  getConfig: (ps: unknown) => unknown;
  cmnGet: (cmn: unknown, vec: Float32Array) => void;
  cmnSet: (cmn: unknown, vec: Float32Array) => void;
  feInit: (config: unknown) => unknown;
  feFree: (fe: unknown) => number;
  feStartUtt: (fe: unknown) => number;
  feStartStream: (fe: unknown) => void;
  feProcessUtt: (fe: unknown, data: Int16Array, n: number, cep: unknown[], nframes: number[]) => number;
  feFree2d: (arr: unknown) => void;
}

let api: Api | undefined;
/** Tail of the queue of model loads (createAsync). */
let loading: Promise<unknown> = Promise.resolve();
/** Native calls in flight on koffi's threads; koffi refuses calls past its queue limit (256), so more wait here. */
const MAX_NATIVE_CALLS = 128;
let nativeCalls = 0;
const waitingCalls: (() => void)[] = [];

/** Calls a koffi function on koffi's native threads. */
async function callAsync<T>(fn: unknown, ...args: unknown[]): Promise<T> {
  if (nativeCalls >= MAX_NATIVE_CALLS) await new Promise<void>((resolve) => waitingCalls.push(resolve));
  nativeCalls++;
  try {
    return await new Promise<T>((resolve, reject) => {
      (fn as { async: (...a: unknown[]) => void }).async(...args, (err: unknown, result: T) => {
        if (err) reject(err instanceof Error ? err : new Error(typeof err === "string" ? err : "native call failed"));
        else resolve(result);
      });
    });
  } finally {
    nativeCalls--;
    waitingCalls.shift()?.();
  }
}

/** Loads both libraries once per process and silences PocketSphinx's logging (it writes to stderr). */
function loadApi(): Api {
  if (api) return api;
  let sb: KoffiLib;
  let ps: KoffiLib;
  try {
    sb = koffi.load('libsphinxbase.so.3');
    ps = koffi.load('libpocketsphinx.so.3');
  } catch (err) {
    throw new TheoError(
      'model_invalid',
      `pocketsphinx: cannot load libsphinxbase.so.3 / libpocketsphinx.so.3 (install the Debian packages libpocketsphinx3 and libsphinxbase3): ${err instanceof Error ? err.message : String(err)}`,
      {},
      { cause: err },
    );
  }
  // Opaque handles: koffi checks that a decoder is never passed where a config is expected.
  koffi.opaque('cmd_ln_t');
  koffi.opaque('arg_t');
  koffi.opaque('ps_decoder_t');
  koffi.opaque('ps_seg_t');
  koffi.opaque('logmath_t');
  koffi.opaque('fe_t');
  const errSetLogfile = sb.func('int err_set_logfile(const char *path)') as (path: string) => number;
  errSetLogfile('/dev/null');
  api = {
    // Variadic: name/value pairs as `const char *`, NULL-terminated (koffi needs each extra argument's type).
    cmdLnInit: sb.func('cmd_ln_t *cmd_ln_init(cmd_ln_t *inout_cmdln, const arg_t *defn, int strict, ...)'),
    cmdLnFree: sb.func('int cmd_ln_free_r(cmd_ln_t *cmdln)') as Api['cmdLnFree'],
    psArgs: ps.func('const arg_t *ps_args(void)') as Api['psArgs'],
    psInit: ps.func('ps_decoder_t *ps_init(cmd_ln_t *config)') as Api['psInit'],
    psFree: ps.func('int ps_free(ps_decoder_t *ps)') as Api['psFree'],
    startUtt: ps.func('int ps_start_utt(ps_decoder_t *ps)') as Api['startUtt'],
    startStream: ps.func('int ps_start_stream(ps_decoder_t *ps)') as Api['startStream'],
    processRaw: ps.func('int ps_process_raw(ps_decoder_t *ps, const int16_t *data, size_t n_samples, int no_search, int full_utt)') as Api['processRaw'],
    endUtt: ps.func('int ps_end_utt(ps_decoder_t *ps)') as Api['endUtt'],
    getHyp: ps.func('const char *ps_get_hyp(ps_decoder_t *ps, _Out_ int32_t *out_best_score)') as Api['getHyp'],
    getProb: ps.func('int32_t ps_get_prob(ps_decoder_t *ps)') as Api['getProb'],
    getLogmath: ps.func('logmath_t *ps_get_logmath(ps_decoder_t *ps)') as Api['getLogmath'],
    logToLn: sb.func('double logmath_log_to_ln(logmath_t *lmath, int32_t logb_p)') as Api['logToLn'],
    segIter: ps.func('ps_seg_t *ps_seg_iter(ps_decoder_t *ps)') as Api['segIter'],
    segNext: ps.func('ps_seg_t *ps_seg_next(ps_seg_t *seg)') as Api['segNext'],
    segWord: ps.func('const char *ps_seg_word(ps_seg_t *seg)') as Api['segWord'],
    segFrames: ps.func('void ps_seg_frames(ps_seg_t *seg, _Out_ int *out_sf, _Out_ int *out_ef)') as Api['segFrames'],
    // 5prealpha has a fourth out-parameter (lback); declaring it is harmless where it is absent, omitting it is not.
    segProb: ps.func('int32_t ps_seg_prob(ps_seg_t *seg, _Out_ int32_t *out_ascr, _Out_ int32_t *out_lscr, _Out_ int32_t *out_lback)') as Api['segProb'],
    getFeat: ps.func('void *ps_get_feat(ps_decoder_t *ps)') as Api['getFeat'],
    getConfig: ps.func('cmd_ln_t *ps_get_config(ps_decoder_t *ps)') as Api['getConfig'],
    cmnGet: sb.func('void cmn_live_get(void *cmn, _Out_ float *vec)') as Api['cmnGet'],
    cmnSet: sb.func('void cmn_live_set(void *cmn, const float *vec)') as Api['cmnSet'],
    feInit: sb.func('fe_t *fe_init_auto_r(cmd_ln_t *config)') as Api['feInit'],
    feFree: sb.func('int fe_free(fe_t *fe)') as Api['feFree'],
    feStartUtt: sb.func('int fe_start_utt(fe_t *fe)') as Api['feStartUtt'],
    feStartStream: sb.func('void fe_start_stream(fe_t *fe)') as Api['feStartStream'],
    feProcessUtt: sb.func('int fe_process_utt(fe_t *fe, const int16_t *spch, size_t nsamps, _Out_ void **cep_block, _Out_ int32_t *nframes)') as Api['feProcessUtt'],
    feFree2d: sb.func('void fe_free_2d(void *arr)') as Api['feFree2d'],
  };
  return api;
}

/**
 * Cepstral mean normalisation is the one piece of decoder state that outlives an utterance: in block
 * (live) mode PocketSphinx subtracts a running mean that starts at the model's -cmninit and is updated at
 * each utterance's end. The model's -cmninit suits 16 kHz wideband speech, far from upsampled telephone
 * audio (whose empty 4-8 kHz band tilts every cepstrum), so the first utterances of a decoder decode badly
 * and every result depends on what the decoder heard before. The public API has no way to reach that
 * mean; 5prealpha's feat_t (sphinxbase feat.h) holds its cmn_t pointer after 11 fields, at byte 88 on
 * LP64, and cmn_t holds veclen at byte 28. Both are checked against the cepstrum size before use, and
 * without a match the decoder simply runs without CMN control (`cmnControl` false).
 * Not reset: the front end's noise-removal statistics (-remove_noise, on by default) also carry over
 * between utterances, so a decoder's results still depend a little on what it decoded before.
 */
const FEAT_CEPSIZE_OFFSET = 16;
const FEAT_CMN_STRUCT_OFFSET = 88;
const CMN_VECLEN_OFFSET = 28;
export const CEPSTRUM_SIZE = 13;

export interface DecoderConfig {
  hmm: string;
  lm: string;
  dict: string;
  /** Extra command-line arguments, e.g. { '-beam': '1e-60' }; names include the dash. */
  args?: Readonly<Record<string, string>>;
}

/**
 * One PocketSphinx decoder: an acoustic model, language model and dictionary in native memory, decoding
 * one utterance at a time. Not re-entrant; the engine serialises its use. `free()` is idempotent.
 */
export class Decoder {
  private handle: unknown;
  private config: unknown;
  private readonly lmath: unknown;
  private readonly scoreOut = [0];
  private readonly sfOut = [0];
  private readonly efOut = [0];
  private readonly ascrOut = [0];
  private readonly lscrOut = [0];
  private readonly lbackOut = [0];
  private inUtt = false;
  /** The decoder's cmn_t, when its layout checked out. */
  private readonly cmn: unknown;
  /** The mean the model starts with (-cmninit), restored by resetCmn(). */
  private readonly initialMean = new Float32Array(CEPSTRUM_SIZE);
  /** A private front end (same parameters as the decoder's) for computing a clip's cepstral mean. */
  private fe: unknown;

  private constructor(private readonly native: Api, config: unknown, handle: unknown) {
    this.config = config;
    this.handle = handle;
    this.lmath = native.getLogmath(handle);
    this.cmn = findCmn(native, handle);
    if (this.cmn) {
      native.cmnGet(this.cmn, this.initialMean);
      this.fe = native.feInit(native.getConfig(handle)) ?? undefined;
    }
  }

  /** Loads the model (~0.5-1 s, blocking). Throws TheoError('model_invalid') when PocketSphinx refuses it. */
  static create(cfg: DecoderConfig): Decoder {
    const { native, config } = Decoder.configure(cfg);
    return Decoder.init(native, config, native.psInit(config), cfg);
  }

  /**
   * create() with the model loaded on a native thread, so the event loop stays free. Loads run one at a
   * time (PocketSphinx's loader is not known to be thread-safe).
   */
  static createAsync(cfg: DecoderConfig): Promise<Decoder> {
    const run = loading.then(() => {
      const { native, config } = Decoder.configure(cfg);
      return callAsync<unknown>(native.psInit, config).then((handle) => Decoder.init(native, config, handle, cfg));
    });
    loading = run.catch(() => undefined);
    return run;
  }

  private static configure(cfg: DecoderConfig): { native: Api; config: unknown } {
    const native = loadApi();
    const pairs: [string, string][] = [['-hmm', cfg.hmm], ['-lm', cfg.lm], ['-dict', cfg.dict], ...Object.entries(cfg.args ?? {})];
    const variadic: unknown[] = [];
    for (const [k, v] of pairs) variadic.push('const char *', k, 'const char *', v);
    variadic.push('const char *', null);
    const config = native.cmdLnInit(null, native.psArgs(), 1, ...variadic) as unknown;
    if (!config) {
      throw new TheoError('model_invalid', `pocketsphinx: invalid decoder arguments ${JSON.stringify(Object.keys(cfg.args ?? {}))}`, { args: cfg.args });
    }
    return { native, config };
  }

  private static init(native: Api, config: unknown, handle: unknown, cfg: DecoderConfig): Decoder {
    if (!handle) {
      native.cmdLnFree(config);
      throw new TheoError('model_invalid', `pocketsphinx: cannot load the model (hmm ${cfg.hmm}, lm ${cfg.lm}, dict ${cfg.dict})`, { hmm: cfg.hmm, lm: cfg.lm, dict: cfg.dict });
    }
    return new Decoder(native, config, handle);
  }

  get freed(): boolean {
    return this.handle === undefined;
  }

  get inUtterance(): boolean {
    return this.inUtt;
  }

  /**
   * Starts a new audio stream: the front end's noise estimate (-remove_noise) and sample counter start
   * afresh, so what an earlier clip taught them cannot change how this one is heard.
   */
  startStream(): void {
    this.check(this.native.startStream(this.live()), 'ps_start_stream');
  }

  startUtterance(): void {
    this.check(this.native.startUtt(this.live()), 'ps_start_utt');
    this.inUtt = true;
  }

  /** Feeds 16-bit samples at the model's rate; searches them at once. */
  process(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.check(this.native.processRaw(this.live(), samples, samples.length, 0, 0), 'ps_process_raw');
  }

  /** process() on a native thread: the event loop stays free while the search runs. Not re-entrant either. */
  async processAsync(samples: Int16Array): Promise<void> {
    if (samples.length === 0) return;
    this.check(await callAsync<number>(this.native.processRaw, this.live(), samples, samples.length, 0, 0), 'ps_process_raw');
  }

  endUtterance(): void {
    this.inUtt = false;
    this.check(this.native.endUtt(this.live()), 'ps_end_utt');
  }

  /** endUtterance() on a native thread (the final search and best path of a long utterance take a while). */
  async endUtteranceAsync(): Promise<void> {
    this.inUtt = false;
    this.check(await callAsync<number>(this.native.endUtt, this.live()), 'ps_end_utt');
  }

  /** The best hypothesis so far (words separated by spaces, fillers already removed by PocketSphinx). */
  hypothesis(): string {
    return this.native.getHyp(this.live(), this.scoreOut) ?? '';
  }

  /** Natural log of the utterance's posterior; 0 until the utterance ends (needs -bestpath, on by default). */
  logPosterior(): number {
    return this.native.logToLn(this.lmath, this.native.getProb(this.live()));
  }

  /**
   * The best path's word segmentation, fillers included, in frames from the utterance's start. The 0.8
   * decoder numbers frames on from the previous utterance (its second utterance's <s> starts at ~150), so
   * frames are taken relative to the sentence-start token, which always opens the utterance.
   */
  segments(): RawSegment[] {
    const out: RawSegment[] = [];
    for (let seg = this.native.segIter(this.live()); seg; seg = this.native.segNext(seg)) {
      this.native.segFrames(seg, this.sfOut, this.efOut);
      const prob = this.native.segProb(seg, this.ascrOut, this.lscrOut, this.lbackOut);
      out.push({
        word: this.native.segWord(seg) ?? '',
        startFrame: this.sfOut[0] ?? 0,
        endFrame: this.efOut[0] ?? 0,
        logPosterior: this.native.logToLn(this.lmath, prob),
      });
    }
    const base = out[0]?.word === '<s>' ? out[0].startFrame : 0;
    if (base > 0) {
      for (const seg of out) {
        seg.startFrame -= base;
        seg.endFrame -= base;
      }
    }
    return out;
  }

  /** Whether cepstralMean/setCmn/resetCmn work (see FEAT_CMN_STRUCT_OFFSET). */
  get cmnControl(): boolean {
    return this.cmn !== undefined && this.fe !== undefined;
  }

  /** The mean cepstrum of a clip (all frames, as the model's batch CMN computes it); undefined without CMN control or frames. */
  cepstralMean(samples: Int16Array): Float32Array | undefined {
    if (!this.cmnControl || this.handle === undefined) return undefined;
    const cep: unknown[] = [null];
    const nframes = [0];
    this.native.feStartStream(this.fe); // a fresh noise estimate: the mean depends on this clip alone
    this.native.feStartUtt(this.fe);
    if (this.native.feProcessUtt(this.fe, samples, samples.length, cep, nframes) < 0 || !cep[0]) return undefined;
    try {
      const n = nframes[0] ?? 0;
      if (n <= 0) return undefined;
      // fe_process_utt allocates one contiguous block; row 0 points at its start.
      const first = koffi.decode(cep[0], 'void *') as unknown;
      const data = new Float32Array(koffi.view(first, n * CEPSTRUM_SIZE * 4));
      const mean = new Float32Array(CEPSTRUM_SIZE);
      for (let i = 0; i < n; i++) for (let j = 0; j < CEPSTRUM_SIZE; j++) mean[j] = (mean[j] as number) + (data[i * CEPSTRUM_SIZE + j] as number);
      for (let j = 0; j < CEPSTRUM_SIZE; j++) mean[j] = (mean[j] as number) / n;
      return mean;
    } finally {
      this.native.feFree2d(cep[0]);
    }
  }

  /** Sets the running cepstral mean the next frames are normalised with. No-op without CMN control. */
  setCmn(mean: Float32Array): void {
    if (this.cmn && this.handle !== undefined && mean.length === CEPSTRUM_SIZE) this.native.cmnSet(this.cmn, mean);
  }

  /** Restores the model's initial cepstral mean, forgetting what earlier utterances taught the decoder. */
  resetCmn(): void {
    this.setCmn(this.initialMean);
  }

  /** Frees the decoder and its configuration. Safe to call twice. */
  free(): void {
    if (this.handle === undefined) return;
    if (this.fe) this.native.feFree(this.fe);
    this.fe = undefined;
    if (this.inUtt) {
      this.inUtt = false;
      this.native.endUtt(this.handle);
    }
    this.native.psFree(this.handle);
    this.handle = undefined;
    if (this.config) this.native.cmdLnFree(this.config);
    this.config = undefined;
  }

  private live(): unknown {
    if (this.handle === undefined) throw new TheoError('closed', 'pocketsphinx decoder is freed', { what: 'pocketsphinx decoder' });
    return this.handle;
  }

  private check(rc: number, fn: string): void {
    if (rc < 0) throw new TheoError('engine_failed', `pocketsphinx: ${fn} failed (${rc})`, { fn, rc });
  }
}

function findCmn(native: Api, handle: unknown): unknown {
  const feat = native.getFeat(handle);
  if (!feat) return undefined;
  if (koffi.decode(feat, FEAT_CEPSIZE_OFFSET, 'int32_t') !== CEPSTRUM_SIZE) return undefined;
  const cmn = koffi.decode(feat, FEAT_CMN_STRUCT_OFFSET, 'void *') as unknown;
  if (!cmn) return undefined;
  return koffi.decode(cmn, CMN_VECLEN_OFFSET, 'int32_t') === CEPSTRUM_SIZE ? cmn : undefined;
}
