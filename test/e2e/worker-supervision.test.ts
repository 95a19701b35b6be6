// A model whose real worker keeps dying, against `theo serve`: PocketSphinx with a corrupt language model
// exits at every start. Once it has gone down maxRestarts times the model is down: /health fails (the
// liveness rule), /ready says why, a batch request gets 503 with a Retry-After from the retry backoff, a
// realtime session is refused at once; the worker is still retried, and serves again once the file is
// repaired. Waits by polling, never on the clock.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SOUNDS } from '../helpers/audio.js';
import { ROOT, serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const MODEL = 'pocketsphinx-en-us';
const REAL_LM = '/usr/share/pocketsphinx/model/en-us/en-us.lm.bin';
const dir = mkdtempSync(join(tmpdir(), 'theo-supervision-'));
const lm = join(dir, 'en-us.lm.bin');

interface Health {
  status: string;
  components: { models: { status: string; error?: string }; workers: { workers: Array<{ model: string; state: string; restarts: number; retry_after_s?: number }> } };
}

let run: TheoRun | undefined;
let url = '';

beforeAll(async () => {
  // The shipped manifest with its language model swapped for a corrupt copy.
  const manifest = readFileSync(join(ROOT, 'models', MODEL, 'theo.yaml'), 'utf8').replace(REAL_LM, lm);
  mkdirSync(join(dir, 'models', MODEL), { recursive: true });
  writeFileSync(join(dir, 'models', MODEL, 'theo.yaml'), manifest);
  writeFileSync(lm, Buffer.alloc(5000, 0x5a));
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(
    cfg,
    [
      'models:',
      `  dir: ${join(dir, 'models')}`,
      'workers:',
      '  maxRestarts: 2',
      '  restartWindowMs: 600000',
      '  retryMaxMs: 1000',
      'sessions:',
      // Without the early refusal a session would wait this long before it failed.
      '  recoveryTimeoutMs: 600000',
      'rtp:',
      '  portMin: 43500',
      '  portMax: 43519',
      '',
    ].join('\n'),
  );
  ({ run, url } = await serveTheo(['--config', cfg]));
}, 120_000);

afterAll(async () => {
  const done = await stopTheo(run);
  rmSync(dir, { recursive: true, force: true });
  expect(done?.code ?? 0).toBe(0);
});

async function health(): Promise<{ status: number; body: Health }> {
  const r = await fetch(`${url}/health`);
  return { status: r.status, body: (await r.json()) as Health };
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a model whose worker keeps dying', () => {
  it('fails /health and refuses work with the retry in its answers, keeps retrying, and serves again once repaired', async () => {
    const dead = await until('/health to fail', health, (h) => h.status === 503);
    expect(dead.body.status).toBe('degraded');
    expect(dead.body.components.models.error).toMatch(/model 'pocketsphinx-en-us' is down: its worker went down \d+ times within 600 s \(last: worker exited with code 2: model failed to load: pocketsphinx: cannot load the model/);
    const worker = dead.body.components.workers.workers.find((w) => w.model === MODEL)!;
    expect(worker.state).toBe('failed');
    expect(worker.retry_after_s).toBeGreaterThanOrEqual(1);

    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/is down/);

    // Batch: 503 whose Retry-After follows the retry backoff (capped at 1 s here) plus a start never seen (5 s).
    const form = new FormData();
    form.append('file', new Blob([readFileSync(`${SOUNDS}/hello-world.wav`)]), 'hello-world.wav');
    form.append('model', MODEL);
    const batch = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    expect(batch.status).toBe(503);
    const retryAfter = Number(batch.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(6);
    expect(((await batch.json()) as { error: { message: string } }).error.message).toMatch(/is down: .*; (next retry in \d+ s|a retry is starting)/);

    // Realtime: refused at connect (1013, try again later) with the reason, not accepted and failed after
    // recoveryTimeoutMs.
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/realtime?sample_rate=8000`);
    const messages: Array<{ type: string; code?: string; message?: string }> = [];
    ws.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString()) as { type: string }));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    expect(await closed).toBe(1013);
    expect(messages.find((m) => m.type === 'error')).toMatchObject({ code: 'worker_unavailable', message: expect.stringMatching(/model 'pocketsphinx-en-us' is down: its worker keeps failing; (next retry in \d+ s|a retry is starting)/) as string });

    // Still retried past maxRestarts; repaired, a retry serves and the process is healthy again.
    await until('retries past maxRestarts', health, (h) => (h.body.components.workers.workers.find((w) => w.model === MODEL)?.restarts ?? 0) >= 4);
    copyFileSync(REAL_LM, lm);
    const back = await until('/health to pass', health, (h) => h.status === 200);
    expect(back.body.components.models.status).toBe('ok');
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    const again = new FormData();
    again.append('file', new Blob([readFileSync(`${SOUNDS}/queue-thankyou.wav`)]), 'queue-thankyou.wav');
    again.append('model', MODEL);
    const ok = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: again });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { text: string }).text.toLowerCase()).toMatch(/thank you/);
  }, 240_000);
});
