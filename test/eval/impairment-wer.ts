// npm run eval:impairment — what network impairments cost in word error rate, measured deterministically.
// Each prompt of Debian's asterisk-core-sounds-en-wav (8 kHz) is sent as G.711 µ-law RTP, 20 ms packets,
// through an ImpairedLink (loss, jitter, reordering; seeded per prompt) into Theo's real receive path — an
// RtpListener endpoint: validation, the adaptive jitter buffer, loss concealment, G.711 decoding — on a
// simulated clock ticking every rtp.tickMs as in `theo serve`, so the result does not depend on this machine's
// load. The audio the endpoint gives out is transcribed by the model in this process as a call session's
// utterance is (a stream with the telephone-channel settings), and scored against the prompts' transcripts; "clean" is the same path with no impairment. Live calls through `theo serve` add the
// VAD's segmentation and real-time timing on top (test/bench/calls.bench.ts), which move PocketSphinx's WER by a
// few points from run to run whatever the network does; this isolates what the network costs.
//
// Options: --limit N (prompts spread over the sorted list; default 120), --seeds K (impaired runs per condition,
// each with other seeds; default 2), --model NAME (default pocketsphinx-en-us), --json FILE (default
// test/bench/results/impairment-wer.json).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { int16ToFloat32, resample } from '../../src/audio/resample.js';
import { readWav } from '../../src/audio/wav.js';
import { loadConfig } from '../../src/config/index.js';
import { createEngineFor } from '../../src/engines/factory.js';
import { MediaClock } from '../../src/mediaplane/clock.js';
import type { ConcealmentMode } from '../../src/mediaplane/rtp/concealment.js';
import { mulawEncode } from '../../src/mediaplane/codec/g711.js';
import { ImpairedLink, type ImpairmentOptions } from '../../src/mediaplane/rtp/impairment.js';
import type { RtpEndpoint } from '../../src/mediaplane/rtp/endpoint.js';
import { RtpListener } from '../../src/mediaplane/rtp/listener.js';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';
import type { RtpStream } from '../../src/mediaplane/rtp/stream.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { corpusAvailable, listPrompts, wordErrors, type Prompt } from '../helpers/corpus.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PEER = '10.0.0.1';

interface Condition {
  label: string;
  impairment: ImpairmentOptions | undefined;
  seeds: number;
  /** How lost audio is replaced (rtp.concealment); default the config's. */
  concealment?: ConcealmentMode;
}

interface Received {
  pcm: Int16Array;
  packets: number;
  dropped: number;
  concealed: number;
}

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '120' },
    seeds: { type: 'string', default: '2' },
    model: { type: 'string', default: 'pocketsphinx-en-us' },
    json: { type: 'string', default: resolve(ROOT, 'test/bench/results/impairment-wer.json') },
  },
});

const seeds = Number(values.seeds);
const ISSUE = { loss: 0.05, jitterMs: 40, reorder: 0.05 };
const HEAVY = { loss: 0.1, jitterMs: 60, reorder: 0.05 };
const CONDITIONS: Condition[] = [
  { label: 'clean', impairment: undefined, seeds: 1 },
  { label: '40 ms jitter', impairment: { jitterMs: 40 }, seeds: 1 },
  { label: '5% reordering', impairment: { reorder: 0.05 }, seeds: 1 },
  ...(['pitch', 'fade', 'silence'] as const).map((concealment) => ({ label: `5% loss + 40 ms jitter + 5% reordering, ${concealment} concealment`, impairment: ISSUE, seeds, concealment })),
  ...(['pitch', 'fade'] as const).map((concealment) => ({ label: `10% loss + 60 ms jitter + 5% reordering, ${concealment} concealment`, impairment: HEAVY, seeds, concealment })),
];

function pick(prompts: Prompt[], n: number): Prompt[] {
  if (n >= prompts.length) return prompts;
  const step = prompts.length / n;
  return Array.from({ length: n }, (_, i) => prompts[Math.floor(i * step)]!);
}

/**
 * The receive path: one endpoint taking every source as its own stream (the fork's policy), on a simulated
 * clock; each prompt is a new source, sent from simulated time `at` on.
 */
class Receiver {
  private at = 0;
  private calls = 0;

  private constructor(
    private readonly ep: RtpEndpoint,
    private readonly clock: MediaClock,
    private readonly tickMs: number,
  ) {}

  static async open(listener: RtpListener, clock: MediaClock, tickMs: number): Promise<Receiver> {
    return new Receiver(await listener.open({ sourcePolicy: 'multi' }), clock, tickMs);
  }

  /** The prompt as 20 ms packets, impaired or not; what the endpoint gives out for it. */
  receive(pcm8k: Int16Array, impairment: ImpairmentOptions | undefined): Received {
    const ulaw = Buffer.alloc(pcm8k.length);
    mulawEncode(pcm8k, ulaw);
    const port = 4000 + 2 * (this.calls++ % 20_000);
    const chunks: Int16Array[] = [];
    let concealed = 0;
    let stream: RtpStream | undefined;
    const onStream = (s: RtpStream): void => {
      stream = s;
      s.on('audio', (f) => {
        chunks.push(f.pcm.slice());
        if (f.kind === 'concealed') concealed += f.pcm.length;
      });
    };
    this.ep.on('stream', onStream);
    let now = this.at;
    const deliver = (d: Buffer): void => this.ep.onDatagram(d, PEER, port, now);
    const link = impairment ? new ImpairedLink(impairment, this.clock, deliver) : undefined;
    const packets = Math.ceil(ulaw.length / 160);
    const start = this.at;
    const end = start + packets * 20 + 1000;
    for (let k = 0; now <= end; now += this.tickMs) {
      for (; k < packets && start + k * 20 <= now; k++) {
        const d = serializeRtp({ marker: k === 0, payloadType: 0, sequenceNumber: (1000 + k) & 0xffff, timestamp: (160 * k) >>> 0, ssrc: 0x5eed0000 + this.calls }, ulaw.subarray(k * 160, (k + 1) * 160));
        if (link) link.offer(d, now);
        else deliver(d);
      }
      this.clock.tick(now);
    }
    this.at = now;
    this.ep.off('stream', onStream);
    stream?.flush();
    stream?.close('closed');
    if (link) this.clock.remove(link);
    const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return { pcm: out, packets, dropped: link?.stats.dropped ?? 0, concealed };
  }
}

async function main(): Promise<void> {
  if (!corpusAvailable()) throw new Error('the corpus is missing: apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en');
  const prompts = pick(listPrompts(), Number(values.limit));
  const entry = ModelRegistry.scan(resolve(ROOT, 'models')).get(values.model);
  if (entry.state !== 'available') throw new Error(`model '${values.model}' is not available`);
  const engine = await createEngineFor(entry);
  await engine.load();
  const rate = engine.capabilities.sampleRate;
  const openStream = engine.openStream?.bind(engine);
  if (!openStream) throw new Error(`model '${values.model}' cannot stream`);
  // As a call session decodes: a stream with the telephone-channel settings, one utterance per prompt.
  const stream = openStream({ task: 'transcribe', language: entry.manifest.defaults.language, hotWords: [], interimResults: false, audioQuality: 'telephony' }, () => undefined);
  const transcribe = async (pcm: Float32Array): Promise<string> => {
    stream.push(pcm);
    return (await stream.endUtterance()).text;
  };
  const clock = new MediaClock(1_000_000); // ticked by hand: simulated time
  // One receive path per concealment mode (the mode is the RTP config's).
  const listeners: RtpListener[] = [];
  const receivers = new Map<ConcealmentMode | undefined, Receiver>();
  for (const mode of new Set(CONDITIONS.map((c) => c.concealment))) {
    const config = loadConfig({ env: {}, overrides: { rtp: { portMin: 42960 + 4 * listeners.length, portMax: 42963 + 4 * listeners.length, ...(mode ? { concealment: mode } : {}) } } });
    const listener = new RtpListener({ config: config.rtp, logger: silentLogger(), clock });
    listeners.push(listener);
    receivers.set(mode, await Receiver.open(listener, clock, config.rtp.tickMs));
  }
  const audio = prompts.map((p) => readWav(readFileSync(p.path)).samples);
  if (audio.some((a, i) => readWav(readFileSync(prompts[i]!.path)).sampleRate !== 8000 || a.length === 0)) throw new Error('the prompts are expected at 8 kHz');
  const rows: Array<{ label: string; wer: number; errors: number; words: number; lossPct: number; concealedPct: number; perSeed: number[] }> = [];
  try {
    for (const c of CONDITIONS) {
      let errors = 0;
      let words = 0;
      let dropped = 0;
      let packets = 0;
      let concealed = 0;
      let samples = 0;
      const perSeed: number[] = [];
      for (let s = 0; s < c.seeds; s++) {
        let e = 0;
        let w = 0;
        for (const [i, p] of prompts.entries()) {
          const r = receivers.get(c.concealment)!.receive(audio[i]!, c.impairment ? { ...c.impairment, seed: 1 + s * 10_000 + i } : undefined);
          const we = wordErrors(p.text, await transcribe(resample(int16ToFloat32(r.pcm), 8000, rate)));
          e += we.errors;
          w += we.refWords;
          dropped += r.dropped;
          packets += r.packets;
          concealed += r.concealed;
          samples += r.pcm.length;
        }
        perSeed.push((100 * e) / w);
        errors += e;
        words += w;
      }
      const row = { label: c.label, wer: (100 * errors) / words, errors, words, lossPct: (100 * dropped) / packets, concealedPct: (100 * concealed) / samples, perSeed };
      rows.push(row);
      process.stderr.write(`${row.label}: WER ${row.wer.toFixed(2)}% (${row.perSeed.map((x) => x.toFixed(2)).join(', ')}), network loss ${row.lossPct.toFixed(1)}%, concealed ${row.concealedPct.toFixed(1)}% of the audio\n`);
    }
  } finally {
    stream.close();
    for (const l of listeners) l.close();
    clock.stop();
    await engine.close();
  }
  const clean = rows[0]!.wer;
  console.log(`\n${prompts.length} prompts (${rows[0]!.words} words), model ${values.model}; impaired conditions ${seeds} seed(s) each\n`);
  console.log('| condition | WER | vs clean (points) | per seed | lost on the network | concealed audio |');
  console.log('|---|---:|---:|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.label} | ${r.wer.toFixed(2)}% | ${r === rows[0] ? '' : `${r.wer - clean >= 0 ? '+' : ''}${(r.wer - clean).toFixed(2)}`} | ${r.perSeed.map((x) => x.toFixed(2)).join(', ')} | ${r.lossPct.toFixed(1)}% | ${r.concealedPct.toFixed(1)}% |`);
  mkdirSync(dirname(values.json), { recursive: true });
  writeFileSync(values.json, JSON.stringify({ prompts: prompts.length, model: values.model, seeds, rows }, null, 2));
}

await main();
