// Load on the realtime WebSocket API: N concurrent `/v1/realtime` connections, each streaming a call of real
// speech (Asterisk prompts with pauses, 8 kHz PCM16) at real-time pace in 20 ms frames into `theo serve`
// with the real PocketSphinx workers; then `session.close`, and every connection waits for its
// `session.closed`. Checked: every utterance the VAD ended (vad.speech_end) got its transcript.final on the
// socket, no final_missing error, no frame dropped, and session.closed counts the same segments.
//
// Measured from /proc while it runs: CPU time and resident memory of the runtime (the `theo serve` process:
// API, WebSockets, sessions, VAD, preprocessing) and, separately, of its worker processes (PocketSphinx),
// each before the load and at its peak; the load generator's own CPU; final delay (final received − its
// speech_end received) as percentiles. Baseline in the same run, on the same server: one connection alone
// streaming the same call first. Ratios compare per-session costs at N against that one session.
//
// On a machine with fewer cores than the workers need (PocketSphinx decodes at ~0.2–0.35 core per live
// stream), the workers fall behind real time: finals then arrive late, and the bench waits for them
// (sessions.timeouts.closingMs is raised so closing sessions wait too).
//
// Usage: npx tsx test/bench/ws-load.bench.ts [--sessions 100] [--replicas 2] [--prompts 2] [--no-build] [--json FILE]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { listPrompts } from '../helpers/corpus.js';
import { paced } from '../helpers/pace.js';
import { callAudio, pcm16, readSpeech } from '../helpers/audio.js';
import { ROOT, serveTheo, stopTheo } from '../helpers/theo.js';
import { serverUsage, type ProcUsage } from './proc.js';
import { fmt, summarize } from './stats.js';

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100' },
    replicas: { type: 'string', default: String(Math.max(1, cpus().length)) },
    prompts: { type: 'string', default: '2' },
    'stagger-ms': { type: 'string', default: '3000' },
    'no-build': { type: 'boolean', default: false },
    json: { type: 'string' },
    /** Drive a server that is already running (no warm-up server, no /proc measurements of it). */
    url: { type: 'string' },
  },
});
const N = Number(args.sessions);
const PROMPTS = Number(args.prompts);
const RATE = 8000;
const FRAME_BYTES = (RATE / 50) * 2;

interface Result {
  finals: number;
  speechEnds: number;
  closedSegments: number;
  finalMissing: number;
  framesDropped: number;
  errors: string[];
  delaysMs: number[];
  texts: string[];
}

/** Samples runtime and worker usage every second; keeps peaks. */
class Monitor {
  peakRuntimeMb = 0;
  peakWorkersMb = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number) {}

  now(): { runtime: ProcUsage; workers: ProcUsage } {
    const { runtime, workers } = serverUsage(this.pid);
    this.peakRuntimeMb = Math.max(this.peakRuntimeMb, runtime.rssMb);
    this.peakWorkersMb = Math.max(this.peakWorkersMb, workers.rssMb);
    return { runtime, workers };
  }

  start(): void {
    this.peakRuntimeMb = 0;
    this.peakWorkersMb = 0;
    this.timer = setInterval(() => this.now(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

async function session(url: string, audio: Buffer, delayMs: number): Promise<Result> {
  await new Promise((r) => setTimeout(r, delayMs));
  const r: Result = { finals: 0, speechEnds: 0, closedSegments: -1, finalMissing: 0, framesDropped: 0, errors: [], delaysMs: [], texts: [] };
  const ends = new Map<number, number>();
  const ws = new WebSocket(`${url}/v1/realtime?sample_rate=${RATE}`);
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.on('message', (d: Buffer) => {
    const ev = JSON.parse(d.toString('utf8')) as { type: string; segment_id?: number; text?: string; code?: string; message?: string; segments?: number };
    if (ev.type === 'vad.speech_end') {
      r.speechEnds++;
      ends.set(ev.segment_id ?? -1, performance.now());
    } else if (ev.type === 'transcript.final') {
      r.finals++;
      r.texts.push(ev.text ?? '');
      const end = ends.get(ev.segment_id ?? -1);
      if (end !== undefined) r.delaysMs.push(performance.now() - end);
    } else if (ev.type === 'session.frames_dropped') r.framesDropped++;
    else if (ev.type === 'error') {
      if (ev.code === 'final_missing') r.finalMissing++;
      r.errors.push(`${ev.code}: ${ev.message}`);
    } else if (ev.type === 'session.closed') r.closedSegments = ev.segments ?? -1;
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  await paced(audio, FRAME_BYTES, (chunk) => ws.send(chunk));
  ws.send(JSON.stringify({ type: 'session.close' }));
  await closed;
  return r;
}

interface Phase {
  sessions: number;
  wallS: number;
  audioS: number;
  runtimeCpuS: number;
  workersCpuS: number;
  generatorCpuS: number;
  runtimeRssMb: { idle: number; peak: number };
  workersRssMb: { idle: number; peak: number };
  results: Result[];
}

async function phase(url: string, mon: Monitor, calls: Buffer[], n: number, staggerMs: number): Promise<Phase> {
  const before = mon.now();
  const gen0 = process.cpuUsage();
  mon.start();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => session(url, calls[i % calls.length]!, n > 1 ? (i * staggerMs) / n : 0)));
  const wallS = (performance.now() - t0) / 1000;
  const after = mon.now();
  mon.stop();
  const gen = process.cpuUsage(gen0);
  return {
    sessions: n,
    wallS,
    audioS: results.reduce((s, _, i) => s + calls[i % calls.length]!.length / 2 / RATE, 0),
    runtimeCpuS: after.runtime.cpuS - before.runtime.cpuS,
    workersCpuS: after.workers.cpuS - before.workers.cpuS,
    generatorCpuS: (gen.user + gen.system) / 1e6,
    runtimeRssMb: { idle: before.runtime.rssMb, peak: mon.peakRuntimeMb },
    workersRssMb: { idle: before.workers.rssMb, peak: mon.peakWorkersMb },
    results,
  };
}

function report(p: Phase): Record<string, number> {
  const all = p.results;
  const speechEnds = all.reduce((s, r) => s + r.speechEnds, 0);
  const finals = all.reduce((s, r) => s + r.finals, 0);
  const delays = summarize(all.flatMap((r) => r.delaysMs));
  return {
    sessions: p.sessions,
    audio_s: p.audioS,
    wall_s: p.wallS,
    speech_ends: speechEnds,
    finals,
    closed_segments: all.reduce((s, r) => s + r.closedSegments, 0),
    final_missing: all.reduce((s, r) => s + r.finalMissing, 0),
    frames_dropped: all.reduce((s, r) => s + r.framesDropped, 0),
    errors: all.reduce((s, r) => s + r.errors.length, 0),
    sessions_complete: all.filter((r) => r.finals === r.speechEnds && r.closedSegments === r.finals && r.errors.length === 0).length,
    final_delay_p50_ms: delays.p50,
    final_delay_p95_ms: delays.p95,
    final_delay_max_ms: Math.max(...all.flatMap((r) => r.delaysMs)),
    runtime_cores_per_session: p.runtimeCpuS / p.audioS,
    workers_cores_per_session: p.workersCpuS / p.audioS,
    runtime_cpu_s: p.runtimeCpuS,
    workers_cpu_s: p.workersCpuS,
    generator_cpu_s: p.generatorCpuS,
    runtime_rss_idle_mb: p.runtimeRssMb.idle,
    runtime_rss_peak_mb: p.runtimeRssMb.peak,
    runtime_mb_per_session: (p.runtimeRssMb.peak - p.runtimeRssMb.idle) / p.sessions,
    workers_rss_idle_mb: p.workersRssMb.idle,
    workers_rss_peak_mb: p.workersRssMb.peak,
    workers_mb_per_session: (p.workersRssMb.peak - p.workersRssMb.idle) / p.sessions,
  };
}

async function main(): Promise<void> {
  if (!args['no-build']) execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const prompts = listPrompts()
    .filter((p) => !p.name.includes('/'))
    .map((p) => ({ name: p.name, pcm: readSpeech(p.name) }))
    .filter((p) => p.pcm.length >= 1.5 * RATE && p.pcm.length <= 4 * RATE);
  const calls = Array.from({ length: Math.min(N, 50) }, (_, i) => pcm16(callAudio(Array.from({ length: PROMPTS }, (_, k) => prompts[(i * PROMPTS + k) % prompts.length]!.pcm))));
  if (args.url) {
    const results = await Promise.all(Array.from({ length: N }, (_, i) => session(args.url!, calls[i % calls.length]!, (i * Number(args['stagger-ms'])) / N)));
    const finals = results.reduce((s, r) => s + r.finals, 0);
    console.log(`${N} sessions: ${finals} finals for ${results.reduce((s, r) => s + r.speechEnds, 0)} speech ends; errors: ${results.flatMap((r) => r.errors).slice(0, 5).join(' | ')}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'theo-wsload-'));
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(
    cfg,
    [`workers: { replicas: ${args.replicas} }`, 'sessions:', '  max: 2000', '  timeouts: { closingMs: 1200000 }', 'realtime: { maxConnections: 2000 }', ''].join('\n'),
  );
  const { run, url } = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '42400-42409']);
  const ws = url.replace(/^http/, 'ws');
  const pid = run.child.pid!;
  const mon = new Monitor(pid);
  try {
    // Warm-up (not scored): one short session so every replica has decoded once.
    await phase(ws, mon, calls, Number(args.replicas), 0);
    const one = await phase(ws, mon, calls, 1, 0);
    const many = await phase(ws, mon, calls, N, Number(args['stagger-ms']));
    const a = report(one);
    const b = report(many);
    const rows: [string, keyof typeof a, number][] = [
      ['sessions', 'sessions', 0],
      ['audio streamed (s, all sessions)', 'audio_s', 0],
      ['wall time (s)', 'wall_s', 1],
      ['utterances ended (speech_end)', 'speech_ends', 0],
      ['finals delivered', 'finals', 0],
      ['segments in session.closed', 'closed_segments', 0],
      ['final_missing / frames dropped / errors', 'final_missing', 0],
      ['sessions with every final and no error', 'sessions_complete', 0],
      ['final delay p50 (ms)', 'final_delay_p50_ms', 0],
      ['final delay p95 (ms)', 'final_delay_p95_ms', 0],
      ['final delay max (ms)', 'final_delay_max_ms', 0],
      ['runtime CPU (cores per live session)', 'runtime_cores_per_session', 4],
      ['workers CPU (cores per live session)', 'workers_cores_per_session', 3],
      ['load generator CPU (s)', 'generator_cpu_s', 1],
      ['runtime RSS idle → peak (MB)', 'runtime_rss_peak_mb', 0],
      ['runtime RSS per session (MB)', 'runtime_mb_per_session', 2],
      ['workers RSS idle → peak (MB)', 'workers_rss_peak_mb', 0],
      ['workers RSS per session (MB)', 'workers_mb_per_session', 1],
    ];
    console.log(`\nWebSocket load: ${N} sessions vs 1 (${PROMPTS} prompts each, ${args.replicas} worker replicas, ${cpus().length} cores)\n`);
    console.log('| | 1 session | ' + `${N} sessions | ratio |`);
    console.log('|---|---|---|---|');
    for (const [label, key, digits] of rows) {
      let va = fmt(a[key]!, digits);
      let vb = fmt(b[key]!, digits);
      if (key === 'final_missing') {
        va = `${a.final_missing} / ${a.frames_dropped} / ${a.errors}`;
        vb = `${b.final_missing} / ${b.frames_dropped} / ${b.errors}`;
      } else if (key === 'runtime_rss_peak_mb') {
        va = `${fmt(a.runtime_rss_idle_mb!, 0)} → ${va}`;
        vb = `${fmt(b.runtime_rss_idle_mb!, 0)} → ${vb}`;
      } else if (key === 'workers_rss_peak_mb') {
        va = `${fmt(a.workers_rss_idle_mb!, 0)} → ${va}`;
        vb = `${fmt(b.workers_rss_idle_mb!, 0)} → ${vb}`;
      }
      const ratio = key.includes('per_session') || key.startsWith('final_delay') ? fmt(b[key]! / a[key]!, 2) : '';
      console.log(`| ${label} | ${va} | ${vb} | ${ratio} |`);
    }
    const bad = many.results.filter((r) => r.errors.length > 0).flatMap((r) => r.errors);
    if (bad.length) console.log(`\nerrors (first 5): ${bad.slice(0, 5).join(' | ')}`);
    if (args.json) writeFileSync(args.json, JSON.stringify({ one: a, many: b, replicas: Number(args.replicas), cores: cpus().length, prompts: PROMPTS }, null, 2));
    if (b.finals !== b.speech_ends || (b.final_missing ?? 0) > 0) process.exitCode = 1;
  } finally {
    const stopped = await stopTheo(run);
    rmSync(dir, { recursive: true, force: true });
    // What the server warned about during the run (worker restarts, recoveries), counted by message.
    const counts = new Map<string, number>();
    for (const line of `${run.stdout()}\n${stopped?.stderr ?? ''}`.split('\n')) {
      try {
        const rec = JSON.parse(line) as { level?: number; msg?: string; reason?: string };
        if ((rec.level ?? 0) >= 40) {
          const key = `${rec.msg ?? ''}${rec.reason ? ` (${rec.reason.slice(0, 80)})` : ''}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      } catch {
        // not a log record
      }
    }
    console.log(`\nserver warnings: ${counts.size === 0 ? 'none' : [...counts].map(([k, n]) => `${n}x ${k}`).join('; ')}`);
  }
}

await main();
