// The demo page (`GET /`) in real headless Chromium (Debian `chromium`, driven by playwright-core): its fake
// audio capture plays a real speech file into getUserMedia, the page streams it to /v1/realtime and shows
// the final; Stop closes the session. A wrong API key (an HTTP 401 the page cannot see on the handshake) is
// explained from an HTTP request with the same key. Set
// THEO_DEMO_SCREENSHOT=docs/demo-page.png to refresh the screenshot kept in docs/.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOUNDS } from '../helpers/audio.js';
import { serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const KEY = 'demo-key-42';
const dir = mkdtempSync(join(tmpdir(), 'theo-demo-'));
const speech = join(dir, 'speech.wav');

let run: TheoRun | undefined;
let url = '';
let browser: Browser | undefined;

beforeAll(async () => {
  // 1 s of silence, a prompt, 2 s of silence: what the fake microphone plays (once).
  const silence = join(dir, 'silence.wav');
  execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', silence, 'trim', '0', '1']);
  execFileSync('sox', [silence, `${SOUNDS}/queue-thankyou.wav`, silence, silence, speech]);
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(cfg, ['api:', `  apiKey: ${KEY}`, ''].join('\n'));
  const s = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '42250-42259']);
  run = s.run;
  url = s.url;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${speech}%noloop`,
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  const done = await stopTheo(run);
  rmSync(dir, { recursive: true, force: true });
  expect(done?.code ?? 0).toBe(0);
});

describe('demo page in headless Chromium', () => {
  it('streams the microphone to /v1/realtime and shows the final; Stop closes the session', async () => {
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(`${url}/`);
    expect(await page.title()).toBe('Theo · live transcription');
    await page.fill('#key', KEY);
    await page.click('#toggle');
    await page.waitForSelector('#finals li', { timeout: 30_000 });
    expect(await page.textContent('#finals li')).toMatch(/thank you/);
    expect(await page.textContent('#toggle')).toBe('Stop');
    // The page's session is a live session of the server.
    const sessionId = (await page.textContent('#session')) ?? '';
    expect(sessionId).toMatch(/^sess_/);
    const live = (await (await fetch(`${url}/v1/sessions`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { data: { id: string }[] };
    expect(live.data.map((s) => s.id)).toContain(sessionId);
    const shot = process.env.THEO_DEMO_SCREENSHOT ?? join(dir, 'demo-page.png');
    await page.screenshot({ path: shot });

    await page.click('#toggle');
    await page.waitForFunction("document.getElementById('status').textContent.startsWith('closed')", null, { timeout: 15_000 });
    expect(await page.textContent('#status')).toMatch(/^closed \(1 utterances/);
    expect(await page.textContent('#toggle')).toBe('Start');
    expect(await page.textContent('#error')).toBe('');
    const after = (await (await fetch(`${url}/v1/sessions`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { data: { id: string }[] };
    expect(after.data.map((s) => s.id)).not.toContain(sessionId);

    // Start again at once: a second session opens, and the first socket's late close does not tear it down.
    await page.click('#toggle');
    await page.waitForFunction(`document.getElementById('session').textContent !== '${sessionId}'`, null, { timeout: 15_000 });
    await page.waitForFunction("document.getElementById('toggle').textContent === 'Stop'", null, { timeout: 15_000 });
    const second = (await page.textContent('#session')) ?? '';
    expect(second).toMatch(/^sess_/);
    await page.click('#toggle');
    await page.waitForFunction("document.getElementById('status').textContent.startsWith('closed')", null, { timeout: 15_000 });
    expect(await page.textContent('#toggle')).toBe('Start');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows why the connection closed when the API key is wrong', async () => {
    const page = await browser!.newPage();
    await page.goto(`${url}/`);
    await page.fill('#key', 'wrong');
    await page.click('#toggle');
    await page.waitForFunction("document.getElementById('error').textContent !== ''", null, { timeout: 15_000 });
    await page.waitForFunction("document.getElementById('error').textContent !== 'could not connect'", null, { timeout: 15_000 });
    expect(await page.textContent('#error')).toMatch(/unauthorized \(HTTP 401\): incorrect API key/);
    expect(await page.textContent('#toggle')).toBe('Start');
    await page.close();
  });

  it('serves the page and its assets without the API key, and nothing else under /demo/', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    for (const asset of ['demo.js', 'pcm-capture.js', 'demo.css']) expect((await fetch(`${url}/demo/${asset}`)).status).toBe(200);
    expect((await fetch(`${url}/demo/index.ts`)).status).toBe(404);
    expect((await fetch(`${url}/demo/..%2F..%2Fpackage.json`)).status).toBe(404);
  });
});
