// One PocketSphinx stream on its own decoder. Pushed audio is converted at once into 100 ms blocks that a
// per-stream queue decodes one after another on koffi's native threads (Decoder.processAsync), so the
// worker's event loop stays free for gRPC, Health and other streams however far decoding falls behind, and
// streams decode in parallel on as many cores as there are. A partial is emitted when the best hypothesis
// changes after a block. Each utterance starts with a fixed cepstral mean (telephone audio) or is held back
// until its prime is in (see STREAM_PRIME_MS in engine.ts).
import { ClosedError } from '../../errors/index.js';
import type { EngineStream, StreamHypothesis, StreamOptions } from '../engine.js';
import type { Decoder } from './native.js';
import { cleanText, meanProbability, wordsFrom } from './results.js';

const SAMPLE_RATE = 16000;
/** Streams search every 100 ms of audio and look for a new partial then. */
export const STREAM_BLOCK = SAMPLE_RATE / 10;

export class PocketsphinxStream implements EngineStream {
  private decoder: Decoder | undefined;
  /** Tail of the decoder's work queue: every decoder call runs in it, in order. */
  private work: Promise<void>;
  private failure: Error | undefined;
  private block = new Int16Array(STREAM_BLOCK);
  private blockLength = 0;
  private readonly prime: Int16Array;
  private primeLength = 0;
  private primed = false;
  /** An utterance is open on the JS side (the queue opens it on the decoder in order). */
  private inUtterance = false;
  /** Samples pushed since the stream opened: the stream's clock. */
  private pushed = 0;
  private utteranceStart = 0;
  private lastPartial = '';
  private closed = false;
  private readonly interim: boolean;

  /** `fixedCmn`: the telephone mean, given only when the decoders have CMN control. */
  constructor(
    decoder: Decoder | Promise<Decoder>,
    primeSamples: number,
    private readonly fixedCmn: Float32Array | undefined,
    options: StreamOptions,
    private readonly onHypothesis: (h: StreamHypothesis) => void,
    private readonly onClose: (s: PocketsphinxStream, decoder: Decoder | undefined) => void,
  ) {
    this.interim = options.interimResults;
    this.prime = new Int16Array(primeSamples);
    this.work = Promise.resolve(decoder).then(
      (d) => {
        this.decoder = d;
        // A pooled decoder remembers its previous stream's channel and noise.
        d.resetCmn();
      },
      (err: unknown) => {
        this.failure = err instanceof Error ? err : new Error(String(err));
      },
    );
  }

  push(pcm: Float32Array): void {
    if (this.closed) throw new ClosedError('pocketsphinx stream');
    if (this.failure) throw this.failure;
    if (pcm.length === 0) return;
    if (!this.inUtterance) this.openUtterance();
    this.pushed += pcm.length;
    for (let i = 0; i < pcm.length; i++) {
      const s = Math.round((pcm[i] as number) * 32768);
      const v = s > 32767 ? 32767 : s < -32768 ? -32768 : s || 0;
      if (!this.primed) {
        this.prime[this.primeLength++] = v;
        if (this.primeLength === this.prime.length) this.flushPrime();
      } else {
        this.block[this.blockLength++] = v;
        if (this.blockLength === STREAM_BLOCK) this.flushBlock();
      }
    }
  }

  endUtterance(): Promise<StreamHypothesis> {
    if (this.closed) return Promise.reject(new ClosedError('pocketsphinx stream'));
    const now = this.pushed / SAMPLE_RATE;
    if (!this.inUtterance) return Promise.resolve({ kind: 'final', text: '', start: now, end: now });
    if (!this.primed) this.flushPrime();
    this.flushBlock();
    this.inUtterance = false;
    const start = this.utteranceStart / SAMPLE_RATE;
    let final: StreamHypothesis | undefined;
    this.enqueue(async (d) => {
      await d.endUtteranceAsync();
      const words = wordsFrom(d.segments(), now - start, start);
      this.lastPartial = '';
      final = { kind: 'final', text: words.map((w) => w.word).join(' '), start, end: now, confidence: meanProbability(words), words };
    });
    return this.work.then(() => {
      if (final) return final;
      throw this.failure ?? new ClosedError('pocketsphinx stream');
    });
  }

  /** Accepted and ignored: the engine has no prompt or hot-word biasing (capabilities.hotWords is false). */
  updatePrompt(_prompt: string | undefined, _hotWords: readonly string[]): void {}

  /** Drops the utterance in progress; the decoder goes back to the engine once its queued work is done. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.work.then(() => {
      const d = this.decoder;
      try {
        if (d?.inUtterance) d.endUtterance();
      } catch {
        // A decoder that cannot end its utterance is still returned; the engine frees or reuses it.
      }
      this.onClose(this, d);
    });
  }

  /** Runs `step` on the decoder after everything queued before it; skipped once the stream closed or failed. */
  private enqueue(step: (d: Decoder) => Promise<void> | void): void {
    this.work = this.work.then(async () => {
      const d = this.decoder;
      if (!d || this.failure || this.closed) return;
      try {
        await step(d);
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
      }
    });
  }

  private openUtterance(): void {
    this.inUtterance = true;
    this.utteranceStart = this.pushed;
    this.primeLength = 0;
    const fixed = this.fixedCmn;
    this.primed = fixed !== undefined;
    this.enqueue((d) => {
      // A fresh front end (noise estimate) per utterance, as each batch clip gets: see STREAM_PRIME_MS.
      d.startStream();
      d.startUtterance();
      if (fixed) d.setCmn(fixed);
    });
  }

  private flushPrime(): void {
    this.primed = true;
    const audio = this.prime.slice(0, this.primeLength);
    this.primeLength = 0;
    const span = this.span();
    this.enqueue(async (d) => {
      const mean = d.cepstralMean(audio);
      if (mean) d.setCmn(mean);
      await d.processAsync(audio);
      this.emitPartial(d, span);
    });
  }

  private flushBlock(): void {
    if (this.blockLength === 0) return;
    // The queued block keeps its own memory (a native thread reads it later); a new one takes the pushes.
    const audio = this.block.subarray(0, this.blockLength);
    this.block = new Int16Array(STREAM_BLOCK);
    this.blockLength = 0;
    const span = this.span();
    this.enqueue(async (d) => {
      await d.processAsync(audio);
      this.emitPartial(d, span);
    });
  }

  /** The utterance's start and the audio pushed so far, in seconds: what a partial after this block covers. */
  private span(): { start: number; end: number } {
    return { start: this.utteranceStart / SAMPLE_RATE, end: this.pushed / SAMPLE_RATE };
  }

  private emitPartial(d: Decoder, span: { start: number; end: number }): void {
    if (!this.interim || this.closed || !d.inUtterance) return;
    const text = cleanText(d.hypothesis());
    if (text === '' || text === this.lastPartial) return;
    this.lastPartial = text;
    try {
      this.onHypothesis({ kind: 'partial', text, ...span });
    } catch {
      // A listener that throws must not stop the decoder's queue.
    }
  }
}
