// For session.bench.ts: a worker link that answers every utterance's final at once (no recogniser, no
// gRPC), and a phone call's audio made of real Asterisk prompts (8 kHz) joined with pauses over line noise.
import type { EngineCapabilities } from '../../src/engines/engine.js';
import { POCKETSPHINX_CAPABILITIES } from '../../src/engines/pocketsphinx/engine.js';
import type { SttStreamConfig, SttStreamEvent, SttStreamFrame, WorkerLink, WorkerStream } from '../../src/session/ports.js';
import { Prng } from '../../src/util/prng.js';
import { corpusAvailable, listPrompts, readPromptAudio } from '../helpers/corpus.js';

/** The PocketSphinx engine: 16 kHz, native partials (no LocalAgreement passes). */
export const BENCH_CAPS: Readonly<EngineCapabilities> = POCKETSPHINX_CAPABILITIES;

const FINAL_TEXT = 'please press one for sales or two for the operator at 5 pm';

/** A TranscribeStream whose worker drops the audio and answers is_last with a final at once. */
class InstantStream implements WorkerStream {
  private segment: number;
  private readonly queue: SttStreamEvent[] = [];
  private waiter: ((r: IteratorResult<SttStreamEvent>) => void) | undefined;
  private done = false;

  constructor(private readonly config: SttStreamConfig) {
    this.segment = config.firstSegmentId ?? 0;
  }

  write(frame: SttStreamFrame): boolean {
    if (this.done) return false;
    if (frame.isLast) {
      this.deliver({
        kind: 'final',
        sessionId: this.config.sessionId,
        segmentId: this.segment++,
        text: FINAL_TEXT,
        startMs: 0,
        endMs: 0,
        language: 'en',
        confidence: 0.9,
        words: [],
      });
    }
    return true;
  }

  updatePrompt(): void {}

  end(): void {
    this.finish();
  }

  cancel(): void {
    this.finish();
  }

  [Symbol.asyncIterator](): AsyncIterator<SttStreamEvent> {
    return {
      next: () => {
        const ev = this.queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        this.finish();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private deliver(ev: SttStreamEvent): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w({ value: ev, done: false });
    else this.queue.push(ev);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
  }
}

/** Workers that are always serving and answer finals instantly; counts streams and finals. */
export class InstantWorkerLink implements WorkerLink {
  streams = 0;

  open(config: SttStreamConfig): WorkerStream {
    this.streams++;
    return new InstantStream(config);
  }

  whenServing(): Promise<void> {
    return Promise.resolve();
  }
}

export interface CallAudio {
  /** 8 kHz Int16 PCM. */
  pcm: Int16Array;
  /** Share of samples that are prompt audio (speech, with the prompts' own short silences). */
  promptShare: number;
  prompts: number;
  source: string;
}

/** Line noise under the whole call, RMS dBFS (a quiet G.711 line). */
export const LINE_NOISE_DB = -66;

/**
 * About `seconds` of a call: Asterisk prompts in a seeded random order, each followed by 0.3–2 s of pause,
 * all over white line noise at LINE_NOISE_DB. Without the Debian prompts, bursts of a modulated tone.
 */
export function callAudio(seconds: number, seed = 1): CallAudio {
  const rate = 8000;
  const rng = new Prng(seed);
  const parts: Float32Array[] = [];
  let total = 0;
  let speech = 0;
  let count = 0;
  const prompts = corpusAvailable() ? listPrompts() : [];
  const order = prompts.map((p) => ({ p, r: rng.next() })).sort((a, b) => a.r - b.r);
  let next = 0;
  while (total < seconds * rate) {
    let clip: Float32Array;
    if (order.length > 0) {
      clip = readPromptAudio(order[next++ % order.length]!.p.path, rate);
    } else {
      clip = new Float32Array(rate * (1 + rng.next()));
      for (let i = 0; i < clip.length; i++) clip[i] = 0.3 * Math.sin(i / 5) * Math.abs(Math.sin(i / 900));
    }
    parts.push(clip);
    total += clip.length;
    speech += clip.length;
    count++;
    const gap = new Float32Array(Math.round(rate * (0.3 + 1.7 * rng.next())));
    parts.push(gap);
    total += gap.length;
  }
  const noise = 10 ** (LINE_NOISE_DB / 20) * Math.sqrt(3);
  const pcm = new Int16Array(total);
  let o = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      const v = ((part[i] as number) + noise * (2 * rng.next() - 1)) * 32768;
      pcm[o++] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
    }
  }
  return {
    pcm,
    promptShare: speech / total,
    prompts: count,
    source: order.length > 0 ? `${count} Asterisk prompts (en_US_f_Allison, 8 kHz)` : 'modulated tone bursts (Asterisk prompts not installed)',
  };
}
