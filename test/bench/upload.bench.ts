// Long and many batch uploads against `theo serve` with the real PocketSphinx worker, while a live session
// (a realtime WebSocket streaming a call at real-time pace) runs on the same runtime:
//   idle   no upload for 20 s: the baseline of every measurement on this machine as loaded as it is;
//   hour   one 1-hour FLAC of silence at 48 kHz (494 KB);
//   four   four of them at once;
//   burst  200 concurrent uploads of 15 s of real speech (8 kHz WAV);
//   long   (with --long) a 3 h 53 min FLAC and a 25 MB 2 kHz 8-bit WAV (3.6 h), one after the other.
// Measured: each request's status and wall time; peak resident memory of the runtime, of its workers and of
// its ffmpeg children (sampled every 20 ms from /proc) against their idle levels; /health latency probed
// every 20 ms from here (p50/p99/max); the runtime's event-loop delay over the phase (Node's own histogram,
// nodejs_eventloop_lag_*, reset by a scrape at the start); the live session's finals.
//
// --theo DIR runs another checkout's bin/theo.js (built) the same way: the before/after comparison runs
// this bench once with --theo pointing at a build of the previous code and once without.
//
// Usage: npx tsx test/bench/upload.bench.ts [--theo DIR] [--phases idle,hour,four,burst] [--long]
//        [--timeout-s 600] [--json FILE]
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { encodeWav } from '../../src/audio/wav.js';
import { callAudio, pcm16, readSpeech } from '../helpers/audio.js';
import { paced } from '../helpers/pace.js';
import { ROOT, serveTheo, stopTheo } from '../helpers/theo.js';
import { childrenOf, usageOf } from './proc.js';
import { fmt, summarize } from './stats.js';

const { values: args } = parseArgs({
  options: {
    theo: { type: 'string', default: ROOT },
    phases: { type: 'string', default: 'idle,hour,four,burst' },
    long: { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '600' },
    json: { type: 'string' },
  },
});
const THEO_DIR = args.theo;
const TIMEOUT_MS = Number(args['timeout-s']) * 1000;
const RTP_PORTS = '43160-43179';
/** Length of the baseline phase (no uploads). */
const IDLE_S = 20;

interface Server {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function serve(): Promise<Server> {
  const { run, url } = await serveTheo(['--preload', '--rtp-ports', RTP_PORTS], {}, { root: THEO_DIR });
  return {
    url,
    pid: run.child.pid as number,
    stop: async () => {
      await stopTheo(run);
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });

interface Answer {
  status: number;
  ms: number;
  error?: string;
}

/** One multipart upload over node:http (no client-side timeout but ours); status 0 = no answer. */
function upload(url: string, bytes: Buffer, name: string): Promise<Answer> {
  const boundary = `theo${Math.random().toString(16).slice(2)}`;
  const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\n`), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  const u = new URL(`${url}/v1/audio/transcriptions`);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, error?: string): void => resolve({ status, ms: performance.now() - t0, ...(error ? { error } : {}) });
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => done(res.statusCode ?? 0, res.statusCode === 200 ? undefined : text.slice(0, 200)));
      res.on('error', (e) => done(0, e.message));
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error('no answer in time')));
    req.on('error', (e) => done(0, e.message));
    req.end(body);
  });
}

/** GET /health every 20 ms until stopped; each probe's latency. */
function probeHealth(url: string): { stop(): Promise<number[]> } {
  const lat: number[] = [];
  let running = true;
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const req = http.get(`${url}/health`, { agent: probeAgent }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', () => resolve());
      });
      lat.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      probeAgent.destroy();
      return lat;
    },
  };
}

/** Peak RSS (MB) of the runtime, its worker processes and its ffmpeg children, every 50 ms. */
function sampleMemory(pid: number): { idle: { runtime: number; workers: number }; stop(): { runtime: number; workers: number; ffmpeg: number } } {
  // Scanning /proc for children is the costly part: the list is refreshed once a second.
  let children: Array<{ pid: number; ffmpeg: boolean }> = [];
  let listedAt = 0;
  const kinds = (): { runtime: number; workers: number; ffmpeg: number } => {
    if (performance.now() - listedAt > 1000) {
      listedAt = performance.now();
      children = childrenOf(pid).map((c) => {
        let cmd = '';
        try {
          cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8');
        } catch {
          // gone
        }
        return { pid: c, ffmpeg: cmd.includes('ffmpeg') };
      });
    }
    let workers = 0;
    let ffmpeg = 0;
    for (const c of children) {
      if (c.ffmpeg) ffmpeg += usageOf(c.pid).rssMb;
      else workers += usageOf(c.pid).rssMb;
    }
    return { runtime: usageOf(pid).rssMb, workers, ffmpeg };
  };
  const idle = kinds();
  const peak = { ...idle };
  const timer = setInterval(() => {
    const k = kinds();
    peak.runtime = Math.max(peak.runtime, k.runtime);
    peak.workers = Math.max(peak.workers, k.workers);
    peak.ffmpeg = Math.max(peak.ffmpeg, k.ffmpeg);
  }, 50);
  return {
    idle,
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** A live call on the runtime: a realtime WebSocket streaming speech at real-time pace until stopped. */
function liveSession(url: string): { stop(): Promise<{ finals: number; errors: string[] }> } {
  const call = pcm16(callAudio(['queue-thankyou', 'tt-weasels', 'hello-world', 'vm-goodbye'].map(readSpeech)));
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/realtime?sample_rate=8000`);
  let finals = 0;
  const errors: string[] = [];
  let running = true;
  ws.on('message', (d: Buffer) => {
    const ev = JSON.parse(d.toString('utf8')) as { type: string; code?: string; message?: string };
    if (ev.type === 'transcript.final') finals++;
    else if (ev.type === 'error') errors.push(`${ev.code}: ${ev.message}`);
  });
  ws.on('error', (e) => errors.push(e.message));
  const loop = (async () => {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    while (running) await paced(call, 320, (chunk) => ws.readyState === WebSocket.OPEN && ws.send(chunk));
  })();
  return {
    stop: async () => {
      running = false;
      await loop.catch((e: unknown) => errors.push(String(e)));
      ws.close();
      return { finals, errors };
    },
  };
}

/** The runtime's event-loop delay since the last scrape (prom-client resets Node's histogram at each). */
async function loopDelay(url: string): Promise<{ p99Ms: number; maxMs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99Ms: get('nodejs_eventloop_lag_p99_seconds'), maxMs: get('nodejs_eventloop_lag_max_seconds') };
}

interface PhaseResult {
  phase: string;
  requests: number;
  statuses: Record<string, number>;
  wallS: number;
  latencyS: ReturnType<typeof summarize>;
  okLatencyS: ReturnType<typeof summarize>;
  refusedLatencyS: ReturnType<typeof summarize>;
  memoryMb: { idle: { runtime: number; workers: number }; peak: { runtime: number; workers: number; ffmpeg: number } };
  healthMs: ReturnType<typeof summarize>;
  loop: { p99Ms: number; maxMs: number };
  live: { finals: number; errors: string[] };
  errors: string[];
}

/** The files uploaded at once; none: the live session and the probes alone for IDLE_S (the baseline). */
async function phase(name: string, files: Array<{ bytes: Buffer; name: string }>): Promise<PhaseResult> {
  const server = await serve();
  try {
    // Warm-up: the worker has decoded something before the clock starts.
    await upload(server.url, readFileSync(`/usr/share/asterisk/sounds/en_US_f_Allison/queue-thankyou.wav`), 'warm.wav');
    const live = liveSession(server.url);
    await new Promise((r) => setTimeout(r, 2000));
    const mem = sampleMemory(server.pid);
    await loopDelay(server.url); // resets the histogram
    const health = probeHealth(server.url);
    const t0 = performance.now();
    const answers = await Promise.all(files.map((f) => upload(server.url, f.bytes, f.name)));
    if (files.length === 0) await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const wallS = (performance.now() - t0) / 1000;
    const loop = await loopDelay(server.url);
    const healthMs = summarize(await health.stop());
    const peak = mem.stop();
    const liveResult = await live.stop();
    const statuses: Record<string, number> = {};
    for (const a of answers) statuses[String(a.status)] = (statuses[String(a.status)] ?? 0) + 1;
    return {
      phase: name,
      requests: answers.length,
      statuses,
      wallS,
      latencyS: summarize(answers.map((a) => a.ms / 1000)),
      okLatencyS: summarize(answers.filter((a) => a.status === 200).map((a) => a.ms / 1000)),
      refusedLatencyS: summarize(answers.filter((a) => a.status === 429).map((a) => a.ms / 1000)),
      memoryMb: { idle: mem.idle, peak },
      healthMs,
      loop,
      live: liveResult,
      errors: [...new Set(answers.filter((a) => a.error).map((a) => `${a.status}: ${a.error}`))].slice(0, 5),
    };
  } finally {
    await server.stop();
  }
}

function report(r: PhaseResult): void {
  const m = r.memoryMb;
  console.log(`\n### ${r.phase}: ${r.requests} request(s), ${fmt(r.wallS, 1)} s`);
  console.log(`statuses: ${JSON.stringify(r.statuses)}${r.errors.length > 0 ? `; e.g. ${r.errors.join(' | ')}` : ''}`);
  const l = (x: ReturnType<typeof summarize>): string => `p50 ${fmt(x.p50, 2)}, p95 ${fmt(x.p95, 2)}, p99 ${fmt(x.p99, 2)}, max ${fmt(x.max, 2)}`;
  console.log(`latency s: all ${l(r.latencyS)}; 200s ${l(r.okLatencyS)}; 429s ${l(r.refusedLatencyS)}`);
  console.log(`RSS MB runtime ${fmt(m.idle.runtime, 0)} → ${fmt(m.peak.runtime, 0)} (+${fmt(m.peak.runtime - m.idle.runtime, 0)}), workers ${fmt(m.idle.workers, 0)} → ${fmt(m.peak.workers, 0)} (+${fmt(m.peak.workers - m.idle.workers, 0)}), ffmpeg peak ${fmt(m.peak.ffmpeg, 0)}`);
  console.log(`/health ms: p50 ${fmt(r.healthMs.p50, 1)}, p99 ${fmt(r.healthMs.p99, 1)}, max ${fmt(r.healthMs.max, 1)} (${r.healthMs.n} probes)`);
  console.log(`runtime event-loop delay ms: p99 ${fmt(r.loop.p99Ms, 1)}, max ${fmt(r.loop.maxMs, 1)}; live session: ${r.live.finals} finals, ${r.live.errors.length} errors`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'theo-upload-bench-'));
  const results: PhaseResult[] = [];
  try {
    const ff = (out: string, ...a: string[]): Buffer => {
      execFileSync('ffmpeg', ['-y', '-loglevel', 'error', ...a, join(dir, out)]);
      return readFileSync(join(dir, out));
    };
    const phases = new Set(args.phases.split(','));
    console.log(`theo: ${THEO_DIR}`);
    if (phases.has('idle')) results.push(await phase('idle (live session only, the baseline)', []));
    if (phases.has('hour') || phases.has('four')) {
      const hour = ff('hour.flac', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', '3600', '-c:a', 'flac');
      console.log(`1-hour FLAC: ${hour.length} bytes`);
      if (phases.has('hour')) results.push(await phase('hour', [{ bytes: hour, name: 'hour.flac' }]));
      if (phases.has('four')) results.push(await phase('four', Array.from({ length: 4 }, () => ({ bytes: hour, name: 'hour.flac' }))));
    }
    if (phases.has('burst')) {
      const speech = callAudio(['queue-thankyou', 'tt-weasels', 'hello-world', 'vm-goodbye', 'tt-monkeys'].map(readSpeech), 0.2).subarray(0, 15 * 8000);
      const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: speech });
      results.push(await phase('burst', Array.from({ length: 200 }, () => ({ bytes: wav, name: 'call.wav' }))));
    }
    if (args.long) {
      const long = ff('long.flac', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', String(3 * 3600 + 53 * 60), '-c:a', 'flac');
      results.push(await phase('long-flac-3h53', [{ bytes: long, name: 'long.flac' }]));
      const lowRate = ff('low.wav', '-f', 'lavfi', '-i', 'anullsrc=r=2000:cl=mono', '-t', String(Math.floor((25 * 1024 * 1024 - 100) / 2000)), '-acodec', 'pcm_u8');
      results.push(await phase('wav-2khz-8bit-3h38', [{ bytes: lowRate, name: 'low.wav' }]));
    }
    for (const r of results) report(r);
    if (args.json) {
      mkdirSync(join(ROOT, 'test/bench/results'), { recursive: true });
      writeFileSync(args.json, JSON.stringify({ theo: THEO_DIR, results }, null, 2));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    agent.destroy();
  }
}

await main();
