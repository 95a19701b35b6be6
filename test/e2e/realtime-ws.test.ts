// The Theo realtime WebSocket protocol against `theo serve` with the real PocketSphinx worker: real speech
// (Asterisk prompts) streamed at real-time pace as PCM16 and as G.711, the event sequence and texts, bad
// input answered with error events on a connection that stays open, session observers, and the
// connection rules (API key, connection limit, message size, heartbeat).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readWav } from '../../src/audio/wav.js';
import { mulawEncode } from '../../src/mediaplane/codec/g711.js';
import { SOUNDS, callAudio, pcm16 } from '../helpers/audio.js';
import { runTheo, serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';
import { Client, refused, text, type Msg } from '../helpers/ws-client.js';

const KEY = 'test-key-123';
const dir = mkdtempSync(join(tmpdir(), 'theo-ws-'));
const THANKS = readWav(readFileSync(`${SOUNDS}/queue-thankyou.wav`)).samples;
const HELLO = readWav(readFileSync(`${SOUNDS}/hello-world.wav`)).samples;

let run: TheoRun | undefined;
let base = '';
let http = '';
beforeAll(async () => {
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(cfg, ['api:', `  apiKey: ${KEY}`, 'realtime:', '  maxConnections: 4', '  heartbeatMs: 500', '  maxMessageBytes: 65536', ''].join('\n'));
  const s = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '42200-42219']);
  run = s.run;
  http = s.url;
  base = s.url.replace(/^http/, 'ws');
}, 180_000);
afterAll(async () => {
  const done = await stopTheo(run);
  rmSync(dir, { recursive: true, force: true });
  expect(done?.code ?? 0).toBe(0);
});

const auth = { headers: { authorization: `Bearer ${KEY}` } };

/** Waits until the server counts no open WebSocket connection (earlier tests' closes have landed). */
async function noConnections(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const metrics = await (await fetch(`${http}/metrics`)).text();
    const open = [...metrics.matchAll(/^theo_ws_connections\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('connections from earlier tests are still open');
}

describe('Theo realtime protocol over WebSocket (PocketSphinx)', () => {
  it('streams real speech: session.created, then per utterance speech_start, partials, speech_end and a final; close gives session.closed', async () => {
    const c = new Client(`${base}/v1/realtime?sample_rate=8000`, auth);
    await c.open();
    await c.stream(pcm16(callAudio([THANKS, HELLO])), 320);
    c.send({ type: 'session.close' });
    expect(await c.closedWith()).toEqual({ code: 1000, reason: 'session closed' });
    const created = c.messages[0]!;
    expect(created).toMatchObject({ type: 'session.created', config: { model: 'pocketsphinx-en-us', sample_rate: 8000, encoding: 'pcm16' } });
    const id = created.session_id as string;
    expect(id).toMatch(/^sess_/);
    const seq = c.messages.filter((m) => m.type !== 'session.state').map((m) => (m.type === 'transcript.partial' ? 'partial' : m.type));
    const collapsed = seq.filter((t, i) => t !== 'partial' || seq[i - 1] !== 'partial');
    expect(collapsed).toEqual([
      'session.created',
      'vad.speech_start',
      'partial',
      'vad.speech_end',
      'transcript.final',
      'vad.speech_start',
      'partial',
      'vad.speech_end',
      'transcript.final',
      'session.closed',
    ]);
    for (const m of c.messages.slice(1)) expect(m.session_id).toBe(id);
    const finals = c.of('transcript.final');
    expect(finals.map((f) => f.segment_id)).toEqual([0, 1]);
    expect(finals[0]!.text).toMatch(/thank you/);
    // Times are in ms of the session's audio: the first prompt starts after the 0.5 s lead.
    const starts = c.of('vad.speech_start');
    expect(starts[0]!.start_ms).toBeGreaterThanOrEqual(450);
    expect(starts[0]!.start_ms).toBeLessThan(900);
    expect(starts[1]!.start_ms).toBeGreaterThan(500 + (THANKS.length / 8000) * 1000 + 1000);
    expect(finals[0]).toMatchObject({ language: 'en' });
    expect(Array.isArray(finals[0]!.words)).toBe(true);
    expect(c.of('session.closed')[0]).toMatchObject({ reason: 'client_closed', segments: 2, dropped_samples: 0 });
  });

  it('takes G.711 mu-law at 8 kHz', async () => {
    const c = new Client(`${base}/v1/realtime?encoding=mulaw`, auth);
    await c.open();
    const pcm = callAudio([THANKS]);
    const ulaw = new Uint8Array(pcm.length);
    mulawEncode(pcm, ulaw);
    await c.stream(Buffer.from(ulaw), 160);
    c.send({ type: 'session.close' });
    await c.closedWith();
    expect(c.messages[0]).toMatchObject({ type: 'session.created', config: { encoding: 'mulaw', sample_rate: 8000 } });
    expect(c.of('transcript.final')[0]?.text).toMatch(/thank you/);
  });

  it('answers bad input with error events and keeps the connection: bad JSON, unknown type, wrong fields, odd-length audio, late configure', async () => {
    const c = new Client(`${base}/v1/realtime?sample_rate=8000`, auth);
    await c.open();
    c.ws.send('{not json');
    c.ws.send('[1,2]');
    c.send({ type: 'no.such.event' });
    c.send({ type: 'session.configure', vad_sensitivity: 'loud' });
    c.send({ type: 'session.configure', hot_words: 'patience' });
    c.send({ type: 'session.configure', colour: 'blue' });
    c.ws.send(Buffer.alloc(321));
    c.send({ type: 'session.configure', hot_words: ['patience'], itn: false });
    await c.until('six errors and an update', () => c.of('error').length >= 7 && c.of('session.updated').length >= 1);
    expect(c.of('error').map((e) => e.code)).toEqual(['invalid_json', 'invalid_event', 'unknown_event', 'invalid_event', 'invalid_event', 'invalid_event', 'odd_length']);
    expect(c.of('error').map((e) => e.param)).toEqual([undefined, 'type', 'type', 'vad_sensitivity', 'hot_words', 'colour', undefined]);
    for (const e of c.of('error')) expect(e.recoverable).toBe(true);
    expect(c.of('session.updated')[0]).toMatchObject({ config: { hot_words: ['patience'], itn: false } });
    // Audio starts the session: from then on only hot words may change.
    await c.stream(pcm16(callAudio([THANKS])), 320);
    c.send({ type: 'session.configure', sample_rate: 16000 });
    c.send({ type: 'session.configure', hot_words: ['thank'] });
    await c.until('the late configure answered', () => c.of('error').length >= 8 && c.of('session.updated').length >= 2);
    expect(c.of('error')[7]).toMatchObject({ code: 'session_started', param: 'sample_rate', recoverable: true });
    c.send({ type: 'session.close' });
    await c.closedWith();
    expect(c.of('transcript.final')[0]?.text).toMatch(/thank you/);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/^theo_ws_input_errors_total\{protocol="theo",code="odd_length"\} [1-9]/m);
  });

  it('commit finalises the open utterance at once; cancel drops the session and the next audio starts a new one', async () => {
    const c = new Client(`${base}/v1/realtime?sample_rate=8000`, auth);
    await c.open();
    c.send({ type: 'input_audio_buffer.commit' });
    await c.stream(pcm16(callAudio([THANKS, THANKS], 0.3)).subarray(0, 2 * (2400 + 8000)), 320);
    await c.until('speech', () => c.of('vad.speech_start').length > 0);
    c.send({ type: 'input_audio_buffer.commit' });
    await c.until('committed', () => c.of('input_audio_buffer.committed').length > 0);
    expect(c.of('input_audio_buffer.committed')[0]).toMatchObject({ segment_id: 0 });
    await c.until('the committed final', () => c.of('transcript.final').length > 0);
    expect(c.of('vad.speech_end')[0]).toMatchObject({ segment_id: 0, forced: true });
    const first = c.messages[0]!.session_id;
    c.send({ type: 'session.cancel' });
    await c.until('cancelled', () => c.of('session.cancelled').length > 0 && c.of('session.created').length === 2);
    const second = c.of('session.created')[1]!.session_id;
    expect(second).not.toBe(first);
    await c.stream(pcm16(callAudio([THANKS])), 320);
    c.send({ type: 'session.close' });
    await c.closedWith();
    expect(c.of('error').map((e) => e.code)).toEqual(['nothing_to_commit']);
    const after = c.messages.slice(c.messages.indexOf(c.of('session.created')[1]!));
    for (const m of after) expect(m.session_id).toBe(second);
    expect(after.filter((m) => m.type === 'transcript.final').map((m) => m.segment_id)).toEqual([0]);
  });
});

describe('watching sessions', () => {
  it('GET /v1/sessions lists a live session and WS /v1/sessions/{id}/events streams its events to an observer', async () => {
    const c = new Client(`${base}/v1/realtime?sample_rate=8000`, auth);
    await c.open();
    const audio = pcm16(callAudio([THANKS, THANKS]));
    const streaming = c.stream(audio, 320);
    await c.until('speech', () => c.of('vad.speech_start').length > 0);
    const id = c.messages[0]!.session_id as string;
    const list = (await (await fetch(`${http}/v1/sessions`, auth)).json()) as { data: Array<{ id: string; model: string; state: string; input_rate: number; events_url: string }> };
    expect(list.data).toContainEqual(expect.objectContaining({ id, model: 'pocketsphinx-en-us', state: 'ACTIVE', input_rate: 8000, events_url: `/v1/sessions/${id}/events` }));
    expect((await fetch(`${http}/v1/sessions/nope`, auth)).status).toBe(404);
    const o = new Client(`${base}/v1/sessions/${id}/events`, auth);
    await o.open();
    await streaming;
    c.send({ type: 'session.close' });
    await c.closedWith();
    expect(await o.closedWith()).toMatchObject({ code: 1000 });
    expect(o.messages[0]).toMatchObject({ type: 'session.observed', session_id: id });
    // The observer joined during the first utterance: it has the second utterance's events, as the client does.
    expect(o.of('transcript.final').map((f) => f.text)).toEqual(c.of('transcript.final').slice(-o.of('transcript.final').length).map((f) => f.text));
    expect(o.of('transcript.final').length).toBeGreaterThanOrEqual(1);
    expect(o.of('session.closed')).toHaveLength(1);
    const gone = new Client(`${base}/v1/sessions/${id}/events`, auth);
    expect(await gone.closedWith()).toMatchObject({ code: 4404 });
  });
});

describe('connection rules', () => {
  it('refuses a missing or wrong API key with HTTP 401 before the upgrade, takes it as a header, a query token or a subprotocol', async () => {
    expect(await refused(`${base}/v1/realtime`)).toMatchObject({ status: 401, body: { error: { code: 'missing_api_key', type: 'authentication_error' } } });
    expect(await refused(`${base}/v1/realtime`, { headers: { authorization: 'Bearer wrong' } })).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key', message: 'incorrect API key' } } });
    expect(await refused(`${base}/v1/realtime?api_key=wrong`)).toMatchObject({ status: 401 });
    expect(await refused(`${base}/v1/realtime`, {}, ['realtime', 'openai-insecure-api-key.wrong'])).toMatchObject({ status: 401 });
    for (const c of [new Client(`${base}/v1/realtime?api_key=${KEY}`), new Client(`${base}/v1/realtime?token=${KEY}`), new Client(`${base}/v1/realtime`, auth)]) {
      await c.open();
      await c.until('created', () => c.of('session.created').length === 1);
      c.ws.close();
      await c.closedWith();
    }
    const sub = new WebSocket(`${base}/v1/realtime`, ['realtime', `openai-insecure-api-key.${KEY}`]);
    const first = await new Promise<Msg>((resolve) => sub.once('message', (d) => resolve(JSON.parse(text(d)) as Msg)));
    expect(first.type).toBe('session.created');
    expect(sub.protocol).toBe('realtime');
    const subClosed = new Promise((resolve) => sub.once('close', resolve));
    sub.close();
    await subClosed;
  });

  it('closes with 1013 past the connection limit, 1009 for an oversized message, 1008 for a bad query, 1011 without pongs; 404 for unknown paths', async () => {
    await noConnections();
    const held = [0, 1, 2, 3].map(() => new Client(`${base}/v1/realtime`, auth));
    await Promise.all(held.map((c) => c.open()));
    expect(await new Client(`${base}/v1/realtime`, auth).closedWith()).toMatchObject({ code: 1013 });
    for (const c of held) c.ws.close();
    await Promise.all(held.map((c) => c.closedWith()));

    const big = new Client(`${base}/v1/realtime`, auth);
    await big.open();
    big.ws.send(Buffer.alloc(70_000));
    expect(await big.closedWith()).toMatchObject({ code: 1009 });

    const bad = new Client(`${base}/v1/realtime?sample_rate=123`, auth);
    expect(await bad.closedWith()).toMatchObject({ code: 1008 });
    expect(bad.messages[0]).toMatchObject({ type: 'error', code: 'invalid_argument', param: 'sample_rate' });

    const silent = new Client(`${base}/v1/realtime`, { ...auth, autoPong: false });
    await silent.open();
    expect(await silent.closedWith()).toMatchObject({ code: 1011 });

    expect(await refused(`${base}/v1/nowhere`, auth)).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/^theo_ws_rejected_total\{reason="too_many_connections"\} [1-9]/m);
    expect(metrics).toMatch(/^theo_ws_rejected_total\{reason="unauthorized"\} [1-9]/m);
  });
});

describe('HTTPS and WSS', () => {
  it('serves /health over HTTPS and the realtime protocol over WSS with --tls-cert/--tls-key; refuses half a pair or a missing file', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const ca = readFileSync(cert);
    const s = await serveTheo(['--tls-cert', cert, '--tls-key', key, '--rtp-ports', '42220-42229']);
    try {
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        https
          .get(`${s.url}/health`, { ca }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
      const c = new Client(`${s.url.replace(/^https/, 'wss')}/v1/realtime`, { ca });
      await c.open();
      await c.until('created', () => c.of('session.created').length === 1);
      c.ws.close();
      // A plain-text client is not served on the TLS port.
      await expect(fetch(`${s.url.replace(/^https/, 'http')}/health`)).rejects.toThrow();
    } finally {
      await stopTheo(s.run);
    }
    const half = await runTheo(['serve', '--port', '0', '--tls-cert', cert]).done;
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/tlsCert and server\.tlsKey go together/);
    const missing = await runTheo(['serve', '--port', '0', '--tls-cert', cert, '--tls-key', join(dir, 'nope.pem')]).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the TLS key '.*nope\.pem'/);
    expect(missing.stderr).not.toMatch(/at .*\.js:\d+/);
  }, 120_000);
});
