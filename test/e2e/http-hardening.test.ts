// `theo serve` with an API key, started from outside the checkout with a config file in its own folder,
// as an attacker and a new user meet it: the key cannot be bypassed by spelling a /v1 path differently,
// errors name no server path and echo no huge value, a model copied into the models folder while it
// serves is found without a restart, and SIGTERM does not wait for an upload that trickles in. Real
// PocketSphinx worker, real recorded speech, real sockets.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOUNDS } from '../helpers/audio.js';
import { ROOT, serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const KEY = 'sk-theo-hardening';
const AUTH = { authorization: `Bearer ${KEY}` };
const SPEECH = `${SOUNDS}/queue-thankyou.wav`;
const root = mkdtempSync(join(tmpdir(), 'theo-hardening-'));
const confDir = join(root, 'conf');
const models = join(confDir, 'models');
const elsewhere = join(root, 'elsewhere');

function upload(model: string): FormData {
  const form = new FormData();
  form.set('file', new Blob([readFileSync(SPEECH)], { type: 'audio/wav' }), 'speech.wav');
  form.set('model', model);
  return form;
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

describe('theo serve with an API key, from another folder', () => {
  let run: TheoRun | undefined;
  let url = '';

  beforeAll(async () => {
    mkdirSync(elsewhere, { recursive: true });
    mkdirSync(models, { recursive: true });
    cpSync(join(ROOT, 'models', 'pocketsphinx-en-us'), join(models, 'pocketsphinx-en-us'), { recursive: true });
    mkdirSync(join(models, 'gone'));
    writeFileSync(join(models, 'gone', 'theo.yaml'), 'name: gone\nengine: pocketsphinx\narchitecture: hmm\nfiles: { hmm: /nonexistent/secret-dir/hmm }\nsampleRate: 16000\nlanguages: [en]\n');
    const cfg = join(confDir, 'theo.yaml');
    // models.dir is relative: it is the config file's folder's models/, not the working directory's.
    writeFileSync(
      cfg,
      ['api:', `  apiKey: ${KEY}`, 'models:', '  dir: models', '  rescanIntervalMs: 60000', 'server:', '  drainTimeoutMs: 1000', 'rtp:', '  portMin: 43000', '  portMax: 43019', ''].join('\n'),
    );
    ({ run, url } = await serveTheo(['--preload', '--config', cfg], { THEO_MODELS_DIR: '' }, { cwd: elsewhere }));
  }, 180_000);

  afterAll(async () => {
    await stopTheo(run);
    rmSync(root, { recursive: true, force: true });
  });

  // First: the only test that may rescan the folder (the interval is a minute).
  it('finds a model folder copied in while it serves, on the first request that names it, and rescans no more for garbage names', async () => {
    const copy = join(models, 'pocketsphinx-copy');
    cpSync(join(models, 'pocketsphinx-en-us'), copy, { recursive: true });
    writeFileSync(join(copy, 'theo.yaml'), readFileSync(join(copy, 'theo.yaml'), 'utf8').replace(/^name: .*$/m, 'name: pocketsphinx-copy'));
    // Found at once: its worker starts on this first request, which waits for it (batch.modelWaitMs) and is answered.
    const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', headers: AUTH, body: upload('pocketsphinx-copy') });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect((JSON.parse(body) as { text: string }).text.toLowerCase()).toMatch(/thank you/);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^theo_batch_model_waits_total\{model="pocketsphinx-copy",outcome="served"\} 1$/m);
    const list = (await (await fetch(`${url}/v1/models`, { headers: AUTH })).json()) as { data: Array<{ id: string; state: string }> };
    expect(list.data.map((m) => m.id)).toContain('pocketsphinx-copy');

    for (let i = 0; i < 30; i++) {
      const r = await fetch(`${url}/v1/models/garbage-${i}`, { headers: AUTH });
      expect(r.status).toBe(404);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^theo_model_rescans_total 1$/m);
  });

  it('a mixed-case /v1 path reaches no handler without the key', async () => {
    const bypass = await fetch(`${url}/V1/audio/transcriptions`, { method: 'POST', body: upload('pocketsphinx-en-us') });
    expect(bypass.status).toBe(404);
    for (const path of ['/V1/sessions', '/V1/calls', '/V1/models', '/v1/Models', '/V1/models/pocketsphinx-en-us']) {
      const r = await fetch(`${url}${path}`);
      expect(r.status, path).toBe(404);
      expect(((await r.json()) as ErrorBody).error.code).toBe('not_found');
    }
    for (const path of ['/v1/sessions', '/v1/calls', '/v1/models', '/v1/models/', '/v1/sessions/x']) {
      const r = await fetch(`${url}${path}`);
      expect(r.status, path).toBe(401);
    }
    const ok = await fetch(`${url}/v1/calls`, { headers: AUTH });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ object: 'list', data: [] });
  });

  it('GET on a POST route is 405 with Allow, in the OpenAI error shape', async () => {
    const r = await fetch(`${url}/v1/audio/transcriptions`, { headers: AUTH });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
    expect(await r.json()).toEqual({ error: { message: 'GET is not allowed on /v1/audio/transcriptions; use POST', type: 'invalid_request_error', param: null, code: 'method_not_allowed' } });
  });

  it('errors name no server path and echo at most a short prefix of what was sent', async () => {
    const huge = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', headers: AUTH, body: upload('x'.repeat(60_000)) });
    expect(huge.status).toBe(404);
    const hugeBody = (await huge.json()) as ErrorBody;
    expect(hugeBody.error).toMatchObject({ type: 'not_found_error', code: 'model_not_found', param: 'model' });
    expect(hugeBody.error.message).toMatch(/^model 'x{64}… \(60000 characters\)' not found \(available: gone, pocketsphinx-copy, pocketsphinx-en-us\)$/);

    const gone = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', headers: AUTH, body: upload('gone') });
    expect(gone.status).toBe(503);
    const goneBody = (await gone.json()) as ErrorBody;
    expect(goneBody.error.message).toBe("model 'gone' is not usable: 1 of its files is missing");

    const session = await fetch(`${url}/v1/sessions/${'s'.repeat(8000)}`, { headers: AUTH });
    expect(session.status).toBe(404);
    const sessionBody = (await session.json()) as ErrorBody;
    expect(sessionBody.error.message.length).toBeLessThan(200);

    for (const body of [hugeBody, goneBody, sessionBody]) {
      const text = JSON.stringify(body);
      expect(text).not.toContain(root);
      expect(text).not.toContain('/nonexistent');
      expect(text).not.toContain(ROOT);
    }
  });

  // Last: it stops the server.
  it('a request Node cannot parse gets 400, oversized headers 431, each counted, and the runtime serves on', async () => {
    const port = Number(new URL(url).port);
    const raw = (bytes: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString()));
        socket.on('error', reject);
        socket.on('close', () => resolve(answer));
        socket.end(bytes);
      });
    expect(await raw('GARBAGE \x00\x01 HTTP/9\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/theo_http_client_errors_total\{code="HPE_INVALID_METHOD"\} 1/);
    expect(metrics).toMatch(/theo_http_client_errors_total\{code="HPE_HEADER_OVERFLOW"\} 1/);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('SIGTERM closes an upload that trickles in once the drain time has passed, and exits 0', async () => {
    const { port } = new URL(url);
    const socket = net.connect(Number(port), '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined); // the server cuts the connection: a reset is expected
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const total = 1_000_000;
    socket.write(`POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${total}\r\n\r\n--b\r\n`);
    let sent = 0;
    const trickle = setInterval(() => {
      if (socket.destroyed) return;
      socket.write('x');
      sent++;
    }, 200);
    try {
      while (sent < 3) await new Promise((r) => setTimeout(r, 50));
      run!.child.kill('SIGTERM');
      const done = await run!.done;
      await closed;
      expect(done.code, done.stderr).toBe(0);
      expect(sent).toBeLessThan(total);
      expect(done.stderr).toMatch(/"requests":1,.*HTTP requests still open after the drain time; closing their connections/);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });
});
