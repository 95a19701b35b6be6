// Push-to-talk latency of OpenAI's realtime transcription protocol (`WS /v1/realtime?intent=transcription`)
// on `theo serve` with the real PocketSphinx worker: each item is ~8 s of real speech (Asterisk prompts
// joined with 0.3 s pauses, 24 kHz PCM16 by sox), appended in 20 ms `input_audio_buffer.append` chunks at
// real-time pace. With `turn_detection: null` the client commits right after the last chunk; measured:
// `input_audio_buffer.commit` sent → `conversation.item.input_audio_transcription.completed` received.
// Baseline in the same run, on the same server and audio: server VAD (`silence_duration_ms` 1000, longer than
// any pause inside an item, so the 8 s stay one item), 1.5 s of silence after the speech, measured from the
// item's `input_audio_buffer.speech_stopped` → its `completed` (the same span: the item's end is known → its
// transcript; the VAD's pause gives the recogniser a second more to catch up than a commit does). Modes
// alternate item by item so both see the same load; the first item of each mode is a warm-up, not scored.
//
// Usage: npx tsx test/bench/ptt.bench.ts [--items 12] [--seconds 8] [--nice N] [--no-build] [--json FILE]
// --nice sets workers.nice (default: the config's, 10): on a machine shared with other work, a worker ten
// nice steps down gets what that work leaves and falls behind real time in both modes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { listPrompts } from '../helpers/corpus.js';
import { paced } from '../helpers/pace.js';
import { ROOT, serveTheo, stopTheo } from '../helpers/theo.js';
import { fmt, summarize } from './stats.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '8' },
    nice: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    json: { type: 'string', default: 'test/bench/results/ptt.json' },
  },
  strict: true,
});
const ITEMS = Number(args.items);
const SECONDS = Number(args.seconds);
const RATE = 24000;
const CHUNK = (RATE / 50) * 2;
const TARGET_P95_MS = 500;

interface Ev {
  type: string;
  /** performance.now() when it arrived (set here, not by the server). */
  at: number;
  [k: string]: unknown;
}

/** Prompts (24 kHz PCM16 by sox) joined with 0.3 s pauses until the item holds `seconds` of audio. */
function items(n: number, seconds: number): Buffer[] {
  const prompts = listPrompts().filter((p) => !p.name.startsWith('digits/') && !p.name.startsWith('letters/'));
  const out: Buffer[] = [];
  let k = 0;
  for (let i = 0; i < n; i++) {
    const parts: Buffer[] = [Buffer.alloc(Math.round(0.3 * RATE) * 2)];
    let bytes = parts[0]!.length;
    while (bytes < seconds * RATE * 2) {
      const p = prompts[(k++ * 37) % prompts.length]!;
      const pcm = execFileSync('sox', [p.path, '-r', String(RATE), '-t', 'raw', '-e', 'signed', '-b', '16', '-']);
      parts.push(pcm, Buffer.alloc(Math.round(0.3 * RATE) * 2));
      bytes += pcm.length + Math.round(0.3 * RATE) * 2;
    }
    out.push(Buffer.concat(parts).subarray(0, seconds * RATE * 2));
  }
  return out;
}

class Conn {
  readonly events: Ev[] = [];
  private readonly waiters: Array<() => void> = [];
  readonly ws: WebSocket;

  constructor(url: string) {
    this.ws = new WebSocket(`${url}/v1/realtime?intent=transcription`);
    this.ws.on('message', (d) => {
      this.events.push({ ...(JSON.parse((d as Buffer).toString('utf8')) as Ev), at: performance.now() });
      for (const w of this.waiters.splice(0)) w();
    });
    this.ws.on('error', (err) => console.error('websocket error', err));
  }

  async open(): Promise<void> {
    await new Promise((resolve, reject) => this.ws.once('open', resolve).once('error', reject));
  }

  send(ev: object): void {
    this.ws.send(JSON.stringify(ev));
  }

  /** Resolves with the first event from index `from` on that matches. */
  async next(from: number, ok: (e: Ev) => boolean, ms = 60_000): Promise<Ev> {
    const end = performance.now() + ms;
    for (;;) {
      const ev = this.events.slice(from).find(ok);
      if (ev) return ev;
      if (performance.now() > end) throw new Error(`timed out; got ${this.events.slice(from).map((e) => e.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

async function main(): Promise<void> {
  if (!args['no-build']) execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const audio = items(ITEMS + 1, SECONDS);
  const dir = mkdtempSync(join(tmpdir(), 'theo-ptt-'));
  const cfg = join(dir, 'theo.json');
  writeFileSync(cfg, JSON.stringify(args.nice !== undefined ? { workers: { nice: Number(args.nice) } } : {}));
  const { run, url } = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '43280-43289']);
  const base = url.replace(/^http/, 'ws');
  const ptt: number[] = [];
  const vad: number[] = [];
  /** Items the VAD cut at a pause inside them (measured from the last cut). */
  let splits = 0;
  const texts: Array<{ mode: string; transcript: string }> = [];
  try {
    const manual = new Conn(base);
    const server = new Conn(base);
    await Promise.all([manual.open(), server.open()]);
    manual.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { turn_detection: null } } } });
    server.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { turn_detection: { type: 'server_vad', silence_duration_ms: 1000 } } } } });
    await manual.next(0, (e) => e.type === 'session.updated');
    await server.next(0, (e) => e.type === 'session.updated');
    const append = (c: Conn) => (chunk: Buffer) => c.send({ type: 'input_audio_buffer.append', audio: chunk.toString('base64') });
    for (let i = 0; i <= ITEMS; i++) {
      const item = audio[i]!;
      // Push-to-talk: the commit right after the last chunk.
      await paced(item, CHUNK, append(manual));
      const sent = performance.now();
      const mark = manual.events.length;
      manual.send({ type: 'input_audio_buffer.commit' });
      const committed = await manual.next(mark, (e) => e.type === 'input_audio_buffer.committed');
      const done = await manual.next(mark, (e) => e.type === 'conversation.item.input_audio_transcription.completed' && e.item_id === committed.item_id);
      if (i > 0) ptt.push(done.at - sent);
      texts.push({ mode: 'ptt', transcript: String(done.transcript) });
      // Server VAD: the same audio and 1.5 s of silence; the last speech_stopped → completed of its item.
      const from = server.events.length;
      await paced(Buffer.concat([item, Buffer.alloc(Math.round(1.5 * RATE) * 2)]), CHUNK, append(server));
      await server.next(from, (e) => e.type === 'input_audio_buffer.speech_stopped');
      const stopped = server.events.slice(from).filter((e) => e.type === 'input_audio_buffer.speech_stopped').at(-1)!;
      if (server.events.slice(from).filter((e) => e.type === 'input_audio_buffer.speech_stopped').length > 1) splits++;
      const completed = await server.next(from, (e) => e.type === 'conversation.item.input_audio_transcription.completed' && e.item_id === stopped.item_id);
      if (i > 0) vad.push(completed.at - stopped.at);
      texts.push({ mode: 'server_vad', transcript: String(completed.transcript) });
      process.stderr.write(`item ${i}: ptt ${fmt(ptt.at(-1) ?? NaN, 0)} ms, server_vad ${fmt(vad.at(-1) ?? NaN, 0)} ms\n`);
    }
    manual.ws.close();
    server.ws.close();
  } finally {
    await stopTheo(run);
    rmSync(dir, { recursive: true, force: true });
  }
  const p = summarize(ptt);
  const v = summarize(vad);
  console.log(`\nPush-to-talk commit → completed, ${ITEMS} items of ${SECONDS} s, workers.nice ${args.nice ?? 'default'} (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})\n`);
  console.log('| | turn_detection null: commit → completed | server_vad: speech_stopped → completed |');
  console.log('|---|---|---|');
  for (const k of ['p50', 'p95', 'max', 'mean'] as const) console.log(`| ${k} (ms) | ${fmt(p[k], 0)} | ${fmt(v[k], 0)} |`);
  console.log(`\nitems the VAD split: ${splits} of ${ITEMS + 1}`);
  console.log(`\ntarget: push-to-talk p95 ≤ ${TARGET_P95_MS} ms: ${p.p95 <= TARGET_P95_MS ? 'met' : 'NOT met'}`);
  if (args.json) {
    mkdirSync(dirname(args.json), { recursive: true });
    writeFileSync(args.json, JSON.stringify({ items: ITEMS, seconds: SECONDS, nice: args.nice ?? null, splits, pttMs: ptt, serverVadMs: vad, ptt: p, serverVad: v, texts, loadavg: loadavg() }, null, 2));
  }
}

await main();
