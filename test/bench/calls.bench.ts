// Simulated phone calls through the telephony ingest: `theo serve --rtp-fork PORT` with the real PocketSphinx
// workers; each call is its own UDP source sending Asterisk prompts (with their transcripts) as G.711 µ-law
// RTP the way Asterisk does: 20 ms packets in real time, no packets during the 1.2 s pauses between prompts
// (marker bit after them). Each call's events come back on the calls firehose (WS /v1/calls/events); a call
// ends when its RTP stops (rtp.idleTimeoutMs, 8 s here).
//
// 1. Impairments: the same calls clean and then with 5% loss, 40 ms jitter and 5% reordering (seeded),
//    WER of each call's finals against the prompts' transcripts (test/helpers/corpus.ts normalisation).
// 2. Load: N concurrent calls (default 50) of real speech, starts spread over 3 s: every call transcribed
//    (a final per utterance, session.closed), CPU of the runtime and of the workers per call (from /proc),
//    against one call alone as the baseline in the same run.
//
// Usage: npx tsx test/bench/calls.bench.ts [--calls 50] [--wer-calls 12] [--prompts 3] [--no-build] [--json FILE]
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MediaClock } from '../../src/mediaplane/clock.js';
import { mulawEncode } from '../../src/mediaplane/codec/g711.js';
import { ImpairedLink, type ImpairmentOptions } from '../../src/mediaplane/rtp/impairment.js';
import { writeRtp } from '../../src/mediaplane/rtp/packet.js';
import { readSpeech } from '../helpers/audio.js';
import { readFirehose, type CallEv } from '../helpers/calls.js';
import { listPrompts, normalizeText, wordErrors } from '../helpers/corpus.js';
import { ROOT, serveTheo, stopTheo } from '../helpers/theo.js';
import { serverUsage } from './proc.js';
import { fmt, summarize } from './stats.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '50' },
    'wer-calls': { type: 'string', default: '12' },
    prompts: { type: 'string', default: '3' },
    'no-build': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const FORK_PORT = 42480;
const IMPAIRED: ImpairmentOptions = { loss: 0.05, jitterMs: 40, reorder: 0.05, seed: 7 };

interface Script {
  audio: Buffer[];
  text: string;
  seconds: number;
}

/** Sends a call as Asterisk would; resolves with the local port (the call's channel) when the audio is out. */
async function sendCall(script: Script, impair: ImpairmentOptions | undefined, delayMs: number): Promise<number> {
  await new Promise((r) => setTimeout(r, delayMs));
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const port = sock.address().port;
  const clock = new MediaClock(5);
  const send = (b: Buffer): void => sock.send(b, FORK_PORT, '127.0.0.1');
  const link = impair ? new ImpairedLink(impair, clock, send) : undefined;
  const ssrc = (Math.random() * 2 ** 32) >>> 0;
  let seq = (Math.random() * 65536) | 0;
  let ts = 160;
  let marker = false;
  const t0 = MediaClock.now();
  let due = 0;
  for (const [i, part] of script.audio.entries()) {
    if (i > 0) {
      due += 1200;
      ts = (ts + 1200 * 8) >>> 0;
      marker = true;
    }
    for (let off = 0; off < part.length; off += 160) {
      const payload = part.subarray(off, off + 160);
      const wait = t0 + due - MediaClock.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const buf = Buffer.alloc(12 + payload.length);
      writeRtp({ payloadType: 0, marker, sequenceNumber: seq, timestamp: ts, ssrc }, payload, buf);
      if (link) link.offer(buf, MediaClock.now());
      else send(buf);
      marker = false;
      seq = (seq + 1) & 0xffff;
      ts = (ts + payload.length) >>> 0;
      due += 20;
    }
  }
  await new Promise((r) => setTimeout(r, 300)); // impaired packets still in flight
  if (link) clock.remove(link);
  sock.close();
  return port;
}

interface CallResult {
  finals: string[];
  speechEnds: number;
  closed: boolean;
  errors: number;
  delaysMs: number[];
  sessions: number;
  /** The call's event types, for a diagnosis. */
  trace: string[];
}

function resultOf(events: CallEv[], port: number): CallResult {
  const mine = events.filter((e) => e.call?.channel_id?.startsWith(`127.0.0.1:${port}>`));
  const ends = new Map<number, number>();
  const r: CallResult = { finals: [], speechEnds: 0, closed: false, sessions: 0, errors: 0, delaysMs: [], trace: mine.filter((e) => e.type !== 'transcript.partial' && e.type !== 'session.state').map((e) => `${e.type}${e.segment_id !== undefined ? `#${e.segment_id}` : ''}${e.reason ? `(${e.reason})` : ''}${e.type === 'session.created' ? `[${e.call?.call_id} @${Math.round(e.recvAt ?? 0)}]` : ''}${e.type === 'session.closed' ? `@${Math.round(e.recvAt ?? 0)}` : ''}`) };
  let createdCount = 0;
  let closedCount = 0;
  for (const e of mine) {
    if (e.type === 'vad.speech_end') {
      r.speechEnds++;
      ends.set(e.segment_id ?? -1, e.recvAt ?? 0);
    } else if (e.type === 'transcript.final') {
      r.finals.push(e.text ?? '');
      const end = ends.get(e.segment_id ?? -1);
      if (end !== undefined && e.recvAt !== undefined) r.delaysMs.push(e.recvAt - end);
    } else if (e.type === 'session.closed') closedCount++;
    else if (e.type === 'session.created') createdCount++;
    else if (e.type === 'error') r.errors++;
  }
  // A call whose RTP paused past the idle timeout comes back as a second session: done when all are closed.
  r.closed = createdCount > 0 && closedCount === createdCount;
  r.sessions = createdCount;
  return r;
}

async function runCalls(all: CallEv[], scripts: Script[], impair: ImpairmentOptions | undefined, staggerMs: number): Promise<{ ports: number[]; results: CallResult[] }> {
  // Only this phase's events: the OS reuses source ports across phases.
  const since = all.length;
  const ports = await Promise.all(scripts.map((s, i) => sendCall(s, impair, scripts.length > 1 ? (i * staggerMs) / scripts.length : 0)));
  const end = Date.now() + 20 * 60_000;
  const events = (): CallEv[] => all.slice(since);
  while (Date.now() < end && !ports.every((p) => resultOf(events(), p).closed)) await new Promise((r) => setTimeout(r, 200));
  return { ports, results: ports.map((p) => resultOf(events(), p)) };
}

function wer(scripts: Script[], results: CallResult[]): { wer: number; errors: number; words: number } {
  let errors = 0;
  let words = 0;
  for (const [i, s] of scripts.entries()) {
    const e = wordErrors(normalizeText(s.text), normalizeText(results[i]!.finals.join(' ')));
    errors += e.errors;
    words += e.refWords;
  }
  return { wer: (100 * errors) / words, errors, words };
}

async function main(): Promise<void> {
  if (!args['no-build']) execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const nPrompts = Number(args.prompts);
  const prompts = listPrompts()
    .filter((p) => !p.name.includes('/'))
    .map((p) => ({ text: p.text, pcm: readSpeech(p.name) }))
    .filter((p) => p.pcm.length >= 1.5 * 8000 && p.pcm.length <= 4 * 8000);
  const script = (i: number): Script => {
    const ps = Array.from({ length: nPrompts }, (_, k) => prompts[(i * nPrompts + k) % prompts.length]!);
    const audio = ps.map((p) => {
      const out = Buffer.alloc(p.pcm.length);
      mulawEncode(p.pcm, out);
      return out;
    });
    return { audio, text: ps.map((p) => p.text).join(' '), seconds: ps.reduce((s, p) => s + p.pcm.length / 8000 + 1.2, 0) };
  };
  const dir = mkdtempSync(join(tmpdir(), 'theo-calls-'));
  const cfg = join(dir, 'theo.yaml');
  // Every call comes from 127.0.0.1: the fork's per-address limit must allow them all.
  const calls = Number(args.calls);
  writeFileSync(cfg, [`workers: { replicas: ${Math.max(1, cpus().length)} }`, 'rtp: { idleTimeoutMs: 8000 }', 'sessions:', '  max: 2000', '  timeouts: { closingMs: 1200000 }', `telephony: { fork: { maxCallsPerAddress: ${Math.max(50, 2 * calls)} } }`, ''].join('\n'));
  const { run, url } = await serveTheo(['--preload', '--config', cfg, '--rtp-fork', String(FORK_PORT), '--rtp-ports', '42490-42499']);
  const pid = run.child.pid!;
  const fh = await readFirehose(url);
  try {
    // Warm-up (not scored).
    await runCalls(fh.events, [script(999)], undefined, 0);
    // 1. Impairments: the same calls clean, then impaired.
    const werScripts = Array.from({ length: Number(args['wer-calls']) }, (_, i) => script(i));
    const clean = await runCalls(fh.events, werScripts, undefined, 2000);
    const impaired = await runCalls(fh.events, werScripts, IMPAIRED, 2000);
    const wClean = wer(werScripts, clean.results);
    const wImp = wer(werScripts, impaired.results);
    // 2. Load: one call alone, then N at once.
    const phase = async (n: number): Promise<{ results: CallResult[]; cpu: { runtime: number; workers: number }; audioS: number; wallS: number }> => {
      const scripts = Array.from({ length: n }, (_, i) => script(100 + i));
      const before = serverUsage(pid);
      const t0 = performance.now();
      const r = await runCalls(fh.events, scripts, undefined, 3000);
      const after = serverUsage(pid);
      return { results: r.results, cpu: { runtime: after.runtime.cpuS - before.runtime.cpuS, workers: after.workers.cpuS - before.workers.cpuS }, audioS: scripts.reduce((s, x) => s + x.seconds, 0), wallS: (performance.now() - t0) / 1000 };
    };
    const one = await phase(1);
    const loadStart = performance.now();
    const many = await phase(Number(args.calls));
    const row = (p: Awaited<ReturnType<typeof phase>>): Record<string, number> => {
      const d = summarize(p.results.flatMap((r) => r.delaysMs));
      return {
        calls: p.results.length,
        audio_s: p.audioS,
        wall_s: p.wallS,
        utterances: p.results.reduce((s, r) => s + r.speechEnds, 0),
        finals: p.results.reduce((s, r) => s + r.finals.length, 0),
        calls_closed: p.results.filter((r) => r.closed).length,
        sessions: p.results.reduce((s, r) => s + r.sessions, 0),
        calls_with_words: p.results.filter((r) => r.finals.join('').trim() !== '').length,
        errors: p.results.reduce((s, r) => s + r.errors, 0),
        final_delay_p50_ms: d.p50,
        final_delay_p95_ms: d.p95,
        runtime_cpu_s_per_call_min: (60 * p.cpu.runtime) / p.audioS,
        workers_cpu_s_per_call_min: (60 * p.cpu.workers) / p.audioS,
      };
    };
    const a = row(one);
    const b = row(many);
    console.log(`\nImpairments (${werScripts.length} calls × ${nPrompts} prompts, ${wClean.words} words): clean WER ${fmt(wClean.wer, 2)}%, impaired (5% loss, 40 ms jitter, 5% reorder) ${fmt(wImp.wer, 2)}%: ${fmt(wImp.wer - wClean.wer, 2)} points`);
    console.log(`\nConcurrent calls: ${b.calls} vs 1 (${cpus().length} cores, ${cpus().length} worker replicas)\n`);
    console.log('| | 1 call | ' + `${b.calls} calls | ratio |`);
    console.log('|---|---|---|---|');
    for (const k of Object.keys(a)) {
      const ratio = k.includes('per_call') || k.startsWith('final_delay') ? fmt(b[k]! / a[k]!, 2) : '';
      console.log(`| ${k} | ${fmt(a[k]!, k.includes('cpu') ? 3 : 0)} | ${fmt(b[k]!, k.includes('cpu') ? 3 : 0)} | ${ratio} |`);
    }
    if (args.json) writeFileSync(args.json, JSON.stringify({ wer: { clean: wClean, impaired: wImp, impairment: IMPAIRED }, one: a, many: b }, null, 2));
    const odd = many.results.find((r) => r.finals.length !== r.speechEnds || r.sessions !== 1);
    if (odd) console.log(`phase started @${Math.round(loadStart)}`);
    if (odd) console.log(`\na call with ${odd.speechEnds} utterances and ${odd.finals.length} finals: ${odd.trace.join(' ')}`);
    if (b.calls_closed !== b.calls || b.finals !== b.utterances) process.exitCode = 1;
  } finally {
    fh.close();
    await stopTheo(run);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
