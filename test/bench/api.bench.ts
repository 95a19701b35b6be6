// The batch API's cost over the engine: the same 60 s file transcribed by a direct in-process engine call
// (decode + resample + engine.transcribe: the baseline) and through `theo serve` (HTTP upload, multipart,
// decode, gRPC to a worker process, engine, response), alternating, in one run. Then throughput of
// concurrent requests with 1 and 2 worker processes. Real PocketSphinx, real recorded speech.
// Usage: npx tsx test/bench/api.bench.ts [rounds=5]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeAudio } from '../../src/audio/decode.js';
import { encodeWav, readWav } from '../../src/audio/wav.js';
import { createEngineFor } from '../../src/engines/factory.js';
import { readManifest } from '../../src/registry/manifest.js';
import { fmt, summarize } from './stats.js';
import { THEO_BIN, THEO_NODE_FLAGS } from '../helpers/theo.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const SOUNDS = '/usr/share/asterisk/sounds/en_US_f_Allison';
const ROUNDS = Number(process.argv[2] ?? 5);

/** About `seconds` of real speech: consecutive prompts joined, 8 kHz 16-bit mono WAV. */
function speechWav(seconds: number): Buffer {
  const files = readdirSync(SOUNDS).filter((f) => f.endsWith('.wav')).sort();
  const parts: Int16Array[] = [];
  let n = 0;
  for (const f of files) {
    const w = readWav(readFileSync(join(SOUNDS, f)));
    if (w.sampleRate !== 8000 || w.channels !== 1) continue;
    parts.push(w.samples);
    n += w.samples.length;
    if (n >= seconds * 8000) break;
  }
  const pcm = new Int16Array(seconds * 8000);
  let at = 0;
  for (const p of parts) {
    pcm.set(p.subarray(0, Math.min(p.length, pcm.length - at)), at);
    at += p.length;
    if (at >= pcm.length) break;
  }
  return encodeWav({ sampleRate: 8000, channels: 1, samples: pcm });
}

interface Server {
  url: string;
  stop(): Promise<void>;
}

async function serve(replicas: number, port: number): Promise<Server> {
  const child = spawn(process.execPath, [...THEO_NODE_FLAGS, THEO_BIN, 'serve', '--preload', '--port', '0', '--rtp-ports', `${port}-${port + 9}`], {
    cwd: ROOT,
    env: { ...process.env, THEO_LOG_LEVEL: 'warn', THEO_WORKER_REPLICAS: String(replicas) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`theo serve exited ${code}`)));
  });
  // --preload waits for one worker per model; with replicas wait until every one serves.
  for (;;) {
    const h = (await (await fetch(`${url}/health`)).json()) as { components: { workers: { workers: Array<{ state: string }> } } };
    if (h.components.workers.workers.filter((w) => w.state === 'serving').length >= replicas) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function post(url: string, wav: Buffer): Promise<string> {
  const form = new FormData();
  form.set('file', new Blob([wav], { type: 'audio/wav' }), 'call.wav');
  form.set('model', 'pocketsphinx-en-us');
  const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
  const body = (await res.json()) as { text?: string; error?: { message: string } };
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.error?.message}`);
  return body.text ?? '';
}

async function main(): Promise<void> {
  const wav60 = speechWav(60);
  const entry = readManifest(join(ROOT, 'models/pocketsphinx-en-us/theo.yaml'));
  const engine = await createEngineFor(entry);
  await engine.load();
  const direct = async (): Promise<string> => {
    const audio = await decodeAudio(wav60, { targetRate: 16000 });
    const r = await engine.transcribe(audio.samples, { task: 'transcribe', language: 'en', hotWords: [], temperature: 0, wordTimestamps: false });
    return r.text;
  };

  const server = await serve(1, 42400);
  const times: Record<string, number[]> = { direct: [], api: [] };
  let sameText = true;
  try {
    await direct(); // warm-up both paths
    await post(server.url, wav60);
    for (let i = 0; i < ROUNDS; i++) {
      let t = performance.now();
      const a = await direct();
      times.direct!.push((performance.now() - t) / 1000);
      t = performance.now();
      const b = await post(server.url, wav60);
      times.api!.push((performance.now() - t) / 1000);
      if (a !== b) sameText = false;
    }
  } finally {
    await server.stop();
    await engine.close();
  }
  const d = summarize(times.direct!);
  const a = summarize(times.api!);
  console.log(`\n## Batch API overhead on a 60 s file (${ROUNDS} rounds, alternating)\n`);
  console.log('| path | p50 s | p95 s | RTF (p50) | vs direct (p50) |');
  console.log('|---|---|---|---|---|');
  console.log(`| direct engine call (baseline) | ${fmt(d.p50, 3)} | ${fmt(d.p95, 3)} | ${fmt(d.p50 / 60, 3)} | 1.000 |`);
  console.log(`| theo serve: HTTP + worker | ${fmt(a.p50, 3)} | ${fmt(a.p95, 3)} | ${fmt(a.p50 / 60, 3)} | ${fmt(a.p50 / d.p50, 3)} |`);
  console.log(`\noverhead: ${fmt((a.p50 / d.p50 - 1) * 100, 1)}% (same text both ways: ${sameText})`);

  // Throughput: 8 concurrent clients, 12 requests of 10 s each, with 1 and 2 workers.
  const wav10 = speechWav(10);
  const through: Array<{ workers: number; rps: number; audioPerS: number; p50: number; p95: number }> = [];
  for (const replicas of [1, 2]) {
    const s = await serve(replicas, 42400 + replicas * 10);
    try {
      await post(s.url, wav10);
      const lat: number[] = [];
      const total = 12;
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < total) {
            next++;
            const t = performance.now();
            await post(s.url, wav10);
            lat.push((performance.now() - t) / 1000);
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      const l = summarize(lat);
      through.push({ workers: replicas, rps: total / wall, audioPerS: (total * 10) / wall, p50: l.p50, p95: l.p95 });
    } finally {
      await s.stop();
    }
  }
  console.log('\n## Throughput, 8 concurrent clients, 12 requests of 10 s audio\n');
  console.log('| workers | requests/s | audio s per s | latency p50 s | p95 s | x 1 worker |');
  console.log('|---|---|---|---|---|---|');
  for (const t of through) console.log(`| ${t.workers} | ${fmt(t.rps, 2)} | ${fmt(t.audioPerS, 1)} | ${fmt(t.p50, 2)} | ${fmt(t.p95, 2)} | ${fmt(t.rps / (through[0]?.rps ?? 1), 2)} |`);

  mkdirSync(join(ROOT, 'test/bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'test/bench/results/api.json'), JSON.stringify({ rounds: ROUNDS, direct: d, api: a, sameText, throughput: through }, null, 2));
}

await main();
