// The end-to-end soak: a real `theo serve` (PocketSphinx worker, API key) transcribing, in real time and for
// as long as asked, a realtime WebSocket session (Theo protocol, 8 kHz PCM16, 20 ms frames) and an RTP fork
// call (G.711 µ-law, 20 ms packets), both fed real speech: the 5-minute cycles of Asterisk prompts and line
// noise of test/helpers/session-soak.ts (the in-process soak with a fake worker and clock), looped. The
// runtime's own memory (/metrics: RSS, heap, external) and the worker's RSS are sampled; after a warm-up the
// growth and its slope are reported; every utterance the VAD ended must get its final, and both sessions
// must close cleanly at the end.
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { float32ToInt16 } from '../../src/audio/resample.js';
import { PCMU } from '../../src/mediaplane/codec/codec.js';
import { writeRtp } from '../../src/mediaplane/rtp/packet.js';
import { MonitoredTheo } from '../helpers/monitored-theo.js';
import { CYCLE_S, INPUT_RATE, buildCycle, type Cycle } from '../helpers/session-soak.js';

const FRAME = (INPUT_RATE * 20) / 1000;
const MiB = 2 ** 20;
const API_KEY = 'soak-api-key';

export interface SoakOptions {
  minutes: number;
  /** Memory before this is not counted (model load, first allocations, JIT). */
  warmupMinutes: number;
  sampleSeconds?: number;
  ports: { fork: number; rtp: [number, number] };
  log?: (line: string) => void;
}

export interface Sample {
  /** Seconds since the audio started. */
  t: number;
  rss: number;
  heapUsed: number;
  external: number;
  workerRss: number;
}

export interface StreamResult {
  utterancesSent: number;
  /** Utterances the VAD ended (vad.speech_end). */
  segments: number;
  finals: number;
  /** Segment ids that ended without a final. */
  missingFinals: number[];
  errors: string[];
  closed: string | undefined;
}

export interface Growth {
  /** Last minute's mean minus the first minute after warm-up's mean (MB). */
  mb: number;
  /** Least-squares slope over the samples after warm-up (MB per hour). */
  mbPerHour: number;
}

export interface SoakResult {
  minutes: number;
  warmupMinutes: number;
  ws: StreamResult;
  rtp: StreamResult;
  samples: Sample[];
  growth: { rss: Growth; heapUsed: Growth; external: Growth; workerRss: Growth };
  /** The same over the second half of the run alone: growth that has levelled off shows here as ~0. */
  secondHalf: { rss: Growth; heapUsed: Growth };
  /** theo serve's exit after SIGTERM (0: graceful). */
  exit: { code: number | null; signal: NodeJS.Signals | null };
  serverCrashed: boolean;
  errorLogs: string[];
}

/** The utterances of `cycle` whose speech ends within the first `samples` samples of the looped cycle. */
function utterancesIn(cycle: Cycle, samples: number): number {
  const len = CYCLE_S * INPUT_RATE;
  let n = Math.floor(samples / len) * cycle.truth.length;
  const rest = samples % len;
  for (const t of cycle.truth) if (t.end <= rest) n++;
  return n;
}

class Tally {
  readonly ends = new Set<number>();
  readonly finals = new Set<number>();
  finalCount = 0;
  readonly errors: string[] = [];
  closed: string | undefined;

  on(ev: { type?: string; segment_id?: number; code?: string; message?: string; reason?: string }): void {
    if (ev.type === 'vad.speech_end' && ev.segment_id !== undefined) this.ends.add(ev.segment_id);
    else if (ev.type === 'transcript.final' && ev.segment_id !== undefined) {
      this.finals.add(ev.segment_id);
      this.finalCount++;
    } else if (ev.type === 'error') this.errors.push(`${ev.code ?? ''}: ${ev.message ?? ''}`);
    else if (ev.type === 'session.closed') this.closed = ev.reason ?? 'closed';
  }

  result(utterancesSent: number): StreamResult {
    return { utterancesSent, segments: this.ends.size, finals: this.finalCount, missingFinals: [...this.ends].filter((id) => !this.finals.has(id)), errors: this.errors, closed: this.closed };
  }
}

function growth(samples: Sample[], key: keyof Omit<Sample, 't'>, from: number): Growth {
  const xs = samples.filter((s) => s.t >= from);
  if (xs.length < 2) return { mb: 0, mbPerHour: 0 };
  const end = xs[xs.length - 1]!.t;
  const mean = (a: Sample[]): number => a.reduce((s, x) => s + x[key], 0) / Math.max(1, a.length);
  const window = Math.min(60, (end - from) / 3);
  const first = mean(xs.filter((s) => s.t < from + window));
  const last = mean(xs.filter((s) => s.t > end - window));
  const mt = xs.reduce((s, x) => s + x.t, 0) / xs.length;
  const mv = mean(xs);
  let num = 0;
  let den = 0;
  for (const x of xs) {
    num += (x.t - mt) * (x[key] - mv);
    den += (x.t - mt) ** 2;
  }
  return { mb: (last - first) / MiB, mbPerHour: den > 0 ? ((num / den) * 3600) / MiB : 0 };
}

function workerRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${API_KEY}` } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'theo-soak-'));
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(cfg, ['rtp:', '  idleTimeoutMs: 3000', ''].join('\n'));
  const wsCycle = buildCycle(7);
  const rtpCycle = buildCycle(11);
  const wsPcm = float32ToInt16(wsCycle.samples);
  const rtpPcm = float32ToInt16(rtpCycle.samples);
  const rtpUlaw = new Uint8Array(rtpPcm.length);
  PCMU.encode(rtpPcm, rtpUlaw);
  log(`soak: ${opts.minutes} min, cycles of ${wsCycle.truth.length} (WS) and ${rtpCycle.truth.length} (RTP) prompts per ${CYCLE_S / 60} min`);

  const theo = await MonitoredTheo.start({ args: ['--preload', '--config', cfg, '--rtp-fork', String(opts.ports.fork), '--rtp-ports', `${opts.ports.rtp[0]}-${opts.ports.rtp[1]}`], env: { THEO_API_KEY: API_KEY } });
  const wsBase = theo.url.replace(/^http/, 'ws');
  const health = await theo.health(5000, API_KEY);
  const workerPid = Number((health.body?.components as { workers?: { workers?: Array<{ pid?: number }> } } | undefined)?.workers?.workers?.[0]?.pid ?? 0);
  if (!(workerPid > 0)) {
    await theo.stop();
    throw new Error(`no worker pid in /health (status ${health.status ?? health.error}): the worker's memory cannot be followed`);
  }
  const wsTally = new Tally();
  const rtpTally = new Tally();
  const firehose = await openWs(`${wsBase}/v1/calls/events`);
  firehose.on('message', (d: Buffer) => rtpTally.on(JSON.parse(d.toString('utf8')) as Record<string, never>));
  firehose.on('error', () => undefined);
  const ws = await openWs(`${wsBase}/v1/realtime?sample_rate=8000&encoding=pcm16`);
  ws.on('message', (d: Buffer) => wsTally.on(JSON.parse(d.toString('utf8')) as Record<string, never>));
  ws.on('error', (err) => wsTally.errors.push(`socket: ${err.message}`));
  const udp = dgram.createSocket('udp4');
  udp.on('error', () => undefined);
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));

  const samples: Sample[] = [];
  const frames = Math.round((opts.minutes * 60 * 1000) / 20);
  const cycleLen = wsPcm.length;
  const packet = new Uint8Array(12 + FRAME);
  const ssrc = 0x50a4;
  const t0 = performance.now();
  let nextSample = 0;
  const sampleEvery = opts.sampleSeconds ?? 10;
  try {
    for (let k = 0; k < frames; k++) {
      const off = (k * FRAME) % cycleLen;
      const pcm = wsPcm.subarray(off, off + FRAME);
      ws.send(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      const n = writeRtp({ payloadType: 0, marker: k === 0, sequenceNumber: k & 0xffff, timestamp: (k * FRAME) >>> 0, ssrc }, rtpUlaw.subarray(off, off + FRAME), packet);
      udp.send(packet.subarray(0, n), opts.ports.fork, '127.0.0.1');
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed >= nextSample) {
        nextSample += sampleEvery;
        if (!theo.alive()) break;
        const m = await theo.metrics().catch(() => undefined);
        if (m) samples.push({ t: elapsed, rss: m.get('process_resident_memory_bytes') ?? 0, heapUsed: m.get('nodejs_heap_size_used_bytes') ?? 0, external: m.get('nodejs_external_memory_bytes') ?? 0, workerRss: workerRss(workerPid) });
        if (samples.length % 30 === 0) log(`soak: ${(elapsed / 60).toFixed(1)} min, RSS ${((samples[samples.length - 1]?.rss ?? 0) / MiB).toFixed(1)} MB, finals ${wsTally.finalCount} (WS) / ${rtpTally.finalCount} (RTP)`);
      }
      // Real time: each 20 ms frame leaves at its own wall-clock time, whatever the loop's own delays.
      const wait = t0 + (k + 1) * 20 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    // The end: the WS client closes its session (finals first); the RTP call ends on the idle timeout.
    ws.send(JSON.stringify({ type: 'session.close' }));
    const until = performance.now() + 60_000;
    while (performance.now() < until && theo.alive() && (wsTally.closed === undefined || rtpTally.closed === undefined)) await new Promise((r) => setTimeout(r, 100));
  } finally {
    udp.close();
    ws.terminate();
    firehose.terminate();
  }
  const serverCrashed = !theo.alive();
  const errorLogs = theo.logKinds(50).map((k) => `${k.count}× ${k.component ?? '-'}: ${k.msg}: ${k.first.slice(0, 400)}`);
  const exit = await theo.stop();
  if (serverCrashed) errorLogs.push(theo.rawStderr().slice(-4000));
  rmSync(dir, { recursive: true, force: true });
  const from = opts.warmupMinutes * 60;
  const sent = frames * FRAME;
  return {
    minutes: opts.minutes,
    warmupMinutes: opts.warmupMinutes,
    ws: wsTally.result(utterancesIn(wsCycle, sent)),
    rtp: rtpTally.result(utterancesIn(rtpCycle, sent)),
    samples,
    growth: { rss: growth(samples, 'rss', from), heapUsed: growth(samples, 'heapUsed', from), external: growth(samples, 'external', from), workerRss: growth(samples, 'workerRss', from) },
    secondHalf: { rss: growth(samples, 'rss', opts.minutes * 30), heapUsed: growth(samples, 'heapUsed', opts.minutes * 30) },
    exit,
    serverCrashed,
    errorLogs,
  };
}

const mb = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MB`;
const g = (x: Growth): string => `${x.mb >= 0 ? '+' : ''}${x.mb.toFixed(2)} MB (slope ${x.mbPerHour >= 0 ? '+' : ''}${x.mbPerHour.toFixed(2)} MB/h)`;

export function formatSoak(r: SoakResult): string {
  const s = (name: string, x: StreamResult): string =>
    `  ${name}: ${x.utterancesSent} utterances sent, ${x.segments} ended by the VAD, ${x.finals} finals; missing finals ${x.missingFinals.length}; errors ${x.errors.length}; closed: ${x.closed ?? 'NOT CLOSED'}`;
  const after = r.samples.filter((x) => x.t >= r.warmupMinutes * 60);
  const first = after[0];
  const last = r.samples[r.samples.length - 1];
  return [
    `== soak: ${r.minutes} min of real-time speech on a realtime WebSocket session and an RTP fork call (warm-up ${r.warmupMinutes} min)`,
    s('WS  (Theo protocol, 8 kHz PCM16)', r.ws),
    s('RTP (fork, G.711 µ-law, 20 ms)  ', r.rtp),
    `  theo serve RSS ${first ? mb(first.rss) : '-'} after warm-up → ${last ? mb(last.rss) : '-'} at the end: growth ${g(r.growth.rss)}`,
    `  heap used ${g(r.growth.heapUsed)}; external ${g(r.growth.external)}; worker RSS ${g(r.growth.workerRss)}`,
    `  second half of the run alone: RSS ${g(r.secondHalf.rss)}, heap used ${g(r.secondHalf.heapUsed)}`,
    `  ${r.samples.length} samples; theo serve ${r.serverCrashed ? 'CRASHED' : `stopped with code ${r.exit.code ?? 'none'}`}; error-level log lines: ${r.errorLogs.length === 0 ? 'none' : ''}`,
    ...r.errorLogs.map((l) => `    ${l}`),
  ].join('\n');
}
