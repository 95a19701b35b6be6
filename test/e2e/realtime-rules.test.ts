// The WebSocket API's rules under hostile or careless clients, against `theo serve` with the real
// PocketSphinx worker: handshakes with a wrong key are answered with HTTP 401 before any upgrade and take
// no connection slot, however many never finish; paths are matched as the HTTP router matches them and a
// key is needed whatever the path; a client that floods and never reads costs nothing once Theo closes it;
// a model or language the catalog does not have is refused when it is named, before any audio; and on
// shutdown each realtime client gets the end of its session before the 1001 close.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '../../src/audio/wav.js';
import { mulawEncode } from '../../src/mediaplane/codec/g711.js';
import { SOUNDS, callAudio, pcm16 } from '../helpers/audio.js';
import { paced } from '../helpers/pace.js';
import { serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';
import { Client, refused, type Msg } from '../helpers/ws-client.js';

const KEY = 'rules-key-7';
const LIMIT = 6;
const dir = mkdtempSync(join(tmpdir(), 'theo-ws-rules-'));
const THANKS = readWav(readFileSync(`${SOUNDS}/queue-thankyou.wav`)).samples;
const auth = { headers: { authorization: `Bearer ${KEY}` } };

let run: TheoRun | undefined;
let http = '';
let base = '';
let port = 0;
beforeAll(async () => {
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(cfg, ['api:', `  apiKey: ${KEY}`, 'realtime:', `  maxConnections: ${LIMIT}`, '  heartbeatMs: 0', '  maxQueuedBytes: 1024', ''].join('\n'));
  const s = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '43200-43219']);
  run = s.run;
  http = s.url;
  base = s.url.replace(/^http/, 'ws');
  port = Number(new URL(s.url).port);
}, 180_000);
afterAll(async () => {
  const done = await stopTheo(run);
  rmSync(dir, { recursive: true, force: true });
  expect(done?.code ?? 0).toBe(0);
});

/** A raw TCP client: a WebSocket handshake for `path`, then whatever the test writes; it reads only when `read`. */
class RawClient {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  received = '';

  constructor(path: string, key: string, read: boolean) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('data', (d: Buffer) => (this.received += d.toString('latin1')));
    if (!read) this.socket.pause();
    this.socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${key}\r\n\r\n`,
    );
  }
}

/** One masked client frame (RFC 6455 §5.2). */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([head, mask, body]);
}

async function metrics(): Promise<string> {
  return (await fetch(`${http}/metrics`)).text();
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Waits until the server counts no open WebSocket connection. */
async function noConnections(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const open = [...(await metrics()).matchAll(/^theo_ws_connections\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('connections from earlier tests are still open');
}

describe('the API key is checked before the upgrade', () => {
  it('answers wrong keys with HTTP 401 and no WebSocket: 4x the limit of them, never read or closed, leave every slot to valid clients', async () => {
    await noConnections();
    const before = metric(await metrics(), 'theo_ws_rejected_total', 'reason="unauthorized"');
    const silent = Array.from({ length: 4 * LIMIT }, () => new RawClient('/v1/realtime', 'wrong', false));
    const reading = new RawClient('/v1/realtime', 'wrong', true);
    await reading.closed;
    expect(reading.received).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(reading.received).not.toMatch(/101 Switching Protocols/);
    expect(JSON.parse(reading.received.split('\r\n\r\n')[1]!)).toMatchObject({ error: { code: 'invalid_api_key', type: 'authentication_error' } });
    // Valid clients still get every slot.
    const valid = Array.from({ length: LIMIT }, () => new Client(`${base}/v1/realtime`, auth));
    await Promise.all(valid.map((c) => c.open()));
    await Promise.all(valid.map((c) => c.until('session.created', () => c.of('session.created').length === 1)));
    for (const c of valid) expect(c.closed).toBeUndefined();
    // Past the limit, the next one is refused as before.
    expect(await new Client(`${base}/v1/realtime`, auth).closedWith()).toMatchObject({ code: 1013 });
    for (const c of valid) c.ws.close();
    await Promise.all(valid.map((c) => c.closedWith()));
    // What the silent ones were sent, read now: the same refusal, and the server ended them.
    for (const s of silent) s.socket.resume();
    await Promise.all(silent.map((s) => s.closed));
    for (const s of silent) expect(s.received).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n[^]*"code":"invalid_api_key"/);
    expect(metric(await metrics(), 'theo_ws_rejected_total', 'reason="unauthorized"') - before).toBe(4 * LIMIT + 1);
  });

  it('matches paths as the HTTP router does (exact letter case, a trailing slash), needs the key on every path, and counts what it refuses', async () => {
    const before = await metrics();
    expect(await refused(`${base}/V1/Realtime`)).toMatchObject({ status: 401 });
    expect(await refused(`${base}/V1/REALTIME`, auth)).toMatchObject({ status: 404 });
    expect(await refused(`${base}/no/such/path`)).toMatchObject({ status: 401 });
    expect(await refused(`${base}/v1/sessions/%E0%A4%A/events`)).toMatchObject({ status: 401 });
    expect(await refused(`${base}/v1/sessions/%E0%A4%A/events`, auth)).toMatchObject({ status: 404 });
    expect(await refused(`${base}/no/such/path`, auth)).toMatchObject({ status: 404 });
    expect(metric(await metrics(), 'theo_ws_rejected_total', 'reason="not_found"') - metric(before, 'theo_ws_rejected_total', 'reason="not_found"')).toBe(3);
    for (const path of ['/v1/realtime', '/v1/realtime/']) {
      const c = new Client(`${base}${path}`, auth);
      await c.until('session.created', () => c.of('session.created').length === 1);
      c.ws.close();
      await c.closedWith();
    }
    expect((await fetch(`${http}/health`)).status).toBe(200);
  });
});

describe('what breaks the WebSocket protocol is counted', () => {
  it('a frame with a reserved opcode is closed 1002 and counted by its error code; a bad handshake version gets 400, counted', async () => {
    const before = await metrics();
    const c = new RawClient('/v1/realtime', KEY, true);
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (c.received.includes('101 Switching Protocols')) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
    c.socket.write(frame(3, Buffer.from('x')));
    await c.closed;
    const after = await metrics();
    expect(metric(after, 'theo_ws_protocol_errors_total', 'code="WS_ERR_INVALID_OPCODE"') - metric(before, 'theo_ws_protocol_errors_total', 'code="WS_ERR_INVALID_OPCODE"')).toBe(1);

    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let got = '';
      socket.on('error', () => undefined);
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('close', () => resolve(got));
      socket.write(`GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 7\r\nAuthorization: Bearer ${KEY}\r\n\r\n`);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"bad_handshake"');
    expect(metric(await metrics(), 'theo_ws_rejected_total', 'reason="bad_handshake"') - metric(before, 'theo_ws_rejected_total', 'reason="bad_handshake"')).toBe(1);
  });
});

describe('a client that floods and never reads', () => {
  it('is no longer read once Theo closes it (1008, not reading): its writes stall and the socket is destroyed', async () => {
    await noConnections();
    const c = new RawClient('/v1/realtime?sample_rate=16000', KEY, false);
    let closed = false;
    void c.closed.then(() => (closed = true));
    // Small malformed messages, each answered with an error event the client never reads: the outbox passes
    // its hard limit and Theo closes the connection. Then 64 KiB audio frames for as long as it takes.
    const bad = Buffer.concat(Array.from({ length: 2000 }, () => frame(1, Buffer.from('{'))));
    const audio = frame(2, Buffer.alloc(65534, 1));
    const cap = 96 * 1024 * 1024;
    let written = 0;
    for (let k = 0; !closed && written < cap; k++) {
      const chunk = k < 200 ? bad : audio;
      written += chunk.length;
      if (!c.socket.write(chunk)) await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.closed]);
    }
    // Before the fix the server read all of it for the 30 s its close handshake could last.
    expect(closed).toBe(true);
    expect(written).toBeLessThan(cap / 2);
    await c.closed;
    await noConnections();
    expect(metric(await metrics(), 'theo_ws_input_errors_total', 'protocol="theo",code="invalid_json"')).toBeGreaterThan(0);
  });
});

describe('models and languages are checked when they are named', () => {
  it('Theo protocol: an unknown model or language in the URL gets an error event and close 1008 before any audio; in a first configure, an error and the old settings', async () => {
    const nope = new Client(`${base}/v1/realtime?model=nope`, auth);
    await nope.until('the refusal', () => nope.closed !== undefined, 10_000);
    expect(await nope.closedWith()).toMatchObject({ code: 1008, reason: expect.stringMatching(/model 'nope' is not available/) as unknown });
    expect(nope.messages).toEqual([expect.objectContaining({ type: 'error', code: 'model_not_found', param: 'model', recoverable: false })]);
    expect(nope.messages[0]!.message).toMatch(/available: pocketsphinx-en-us/);
    const xx = new Client(`${base}/v1/realtime?language=xx`, auth);
    await xx.until('the refusal', () => xx.closed !== undefined, 10_000);
    expect(await xx.closedWith()).toMatchObject({ code: 1008, reason: expect.stringMatching(/language 'xx'/) as unknown });
    expect(xx.messages[0]).toMatchObject({ type: 'error', code: 'unsupported_language', param: 'language' });
    // Upper case is the same language.
    const en = new Client(`${base}/v1/realtime?language=EN&sample_rate=8000`, auth);
    await en.until('session.created', () => en.of('session.created').length === 1);
    expect(en.messages[0]).toMatchObject({ config: { language: 'en' } });

    en.send({ type: 'session.configure', model: 'nope' });
    en.send({ type: 'session.configure', language: 'xx' });
    en.send({ type: 'session.configure', hot_words: ['thank'] });
    await en.until('two errors and an update', () => en.of('error').length === 2 && en.of('session.updated').length === 1);
    expect(en.of('error').map((e) => [e.code, e.param, e.recoverable])).toEqual([
      ['model_not_found', 'model', true],
      ['unsupported_language', 'language', true],
    ]);
    expect(en.of('session.updated')[0]).toMatchObject({ config: { model: 'pocketsphinx-en-us', language: 'en', hot_words: ['thank'] } });
    // The connection serves with the settings it kept.
    await en.stream(pcm16(callAudio([THANKS])), 320);
    en.send({ type: 'session.close' });
    await en.closedWith();
    expect(en.of('transcript.final')[0]?.text).toMatch(/thank you/);
  });

  it('a long non-ASCII name in the URL is refused with its close reason cut to what a close frame carries (it took the process down)', async () => {
    const long = 'é'.repeat(100);
    for (const query of [`${encodeURIComponent(long)}=1`, `model=${encodeURIComponent(long)}`]) {
      const c = new Client(`${base}/v1/realtime?${query}`, auth);
      await c.until('the refusal', () => c.closed !== undefined, 10_000);
      const { code, reason } = await c.closedWith();
      expect(code).toBe(1008);
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
      expect(c.messages[0]).toMatchObject({ type: 'error', recoverable: false });
    }
    expect((await fetch(`${http}/health`)).status).toBe(200);
  });

  it('OpenAI protocol: session.update / transcription_session.update with an unknown model or language is refused and changes nothing', async () => {
    const c = new Client(`${base}/v1/realtime?intent=transcription`, auth);
    await c.until('session.created', () => c.of('session.created').length === 1);
    c.send({ type: 'session.update', event_id: 'e1', session: { type: 'transcription', audio: { input: { transcription: { model: 'nope' } } } } });
    c.send({ type: 'session.update', event_id: 'e2', session: { type: 'transcription', audio: { input: { transcription: { model: 'gpt-4o-transcribe', language: 'xx' } } } } });
    c.send({ type: 'transcription_session.update', event_id: 'e3', session: { input_audio_transcription: { model: 'whisper-1', language: 'xx' } } });
    c.send({ type: 'session.update', event_id: 'e4', session: { type: 'transcription', audio: { input: { transcription: { model: 'gpt-4o-transcribe', language: 'en' } } } } });
    await c.until('three errors and an update', () => c.of('error').length === 3 && c.of('session.updated').length === 1, 10_000);
    const errors = c.of('error').map((e) => e.error as Msg);
    expect(errors.map((e) => [e.code, e.param, e.event_id])).toEqual([
      ['model_not_found', 'session.audio.input.transcription.model', 'e1'],
      ['unsupported_language', 'session.audio.input.transcription.language', 'e2'],
      ['unsupported_language', 'session.input_audio_transcription.language', 'e3'],
    ]);
    expect(errors[0]!.message).toMatch(/model 'nope' is not available/);
    expect(c.of('session.updated')[0]).toMatchObject({ session: { audio: { input: { transcription: { model: 'gpt-4o-transcribe', language: 'en' } } } } });
    c.ws.close();
    await c.closedWith();
  });
});

describe('shutdown', () => {
  it('each realtime client gets the end of its session (finals, session.closed) before the 1001 close; observers too', async () => {
    const cfg = join(dir, 'shutdown.yaml');
    // Closing sessions wait for their finals however loaded the machine is.
    writeFileSync(cfg, ['api:', `  apiKey: ${KEY}`, 'sessions:', '  timeouts:', '    closingMs: 20000', ''].join('\n'));
    const s = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '43220-43229']);
    const wsBase = s.url.replace(/^http/, 'ws');
    try {
      const theo = new Client(`${wsBase}/v1/realtime?sample_rate=8000`, auth);
      const idle = new Client(`${wsBase}/v1/realtime`, auth);
      const openai = new Client(`${wsBase}/v1/realtime?intent=transcription`, auth);
      await Promise.all([theo.open(), idle.open(), openai.open()]);
      openai.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: null } } } });
      await openai.until('session.updated', () => openai.of('session.updated').length === 1);
      // Speech in flight on both, up to the end of the prompt: the Theo session's utterance and the OpenAI item are open.
      const pcm = callAudio([THANKS]).subarray(0, 4000 + THANKS.length);
      const mu = Buffer.alloc(pcm.length);
      mulawEncode(pcm, mu);
      const streaming = Promise.all([
        theo.stream(pcm16(pcm), 320),
        paced(mu, 160, (chunk) => openai.send({ type: 'input_audio_buffer.append', audio: chunk.toString('base64') })),
      ]);
      await theo.until('speech', () => theo.of('vad.speech_start').length > 0);
      const id = theo.messages[0]!.session_id as string;
      const observer = new Client(`${wsBase}/v1/sessions/${id}/events`, auth);
      await observer.until('session.observed', () => observer.of('session.observed').length === 1);
      await streaming;
      s.run.child.kill('SIGTERM');
      const [theoEnd, idleEnd, openaiEnd, observerEnd] = await Promise.all([theo.closedWith(), idle.closedWith(), openai.closedWith(), observer.closedWith()]);
      expect((await s.run.done).code).toBe(0);
      expect(theoEnd).toEqual({ code: 1001, reason: 'server shutting down' });
      expect(idleEnd).toEqual({ code: 1001, reason: 'server shutting down' });
      expect(openaiEnd).toEqual({ code: 1001, reason: 'server shutting down' });
      expect(observerEnd.code).toBe(1000);
      const types = theo.messages.map((m) => m.type);
      expect(types.at(-1)).toBe('session.closed');
      expect(theo.of('session.closed')[0]).toMatchObject({ session_id: id, reason: 'shutdown', segments: 1 });
      expect(theo.of('transcript.final')[0]?.text).toMatch(/thank you/);
      expect(idle.messages.map((m) => m.type)).toEqual(['session.created', 'session.closed']);
      expect(idle.of('session.closed')[0]).toMatchObject({ reason: 'shutdown' });
      expect(observer.of('session.closed')).toHaveLength(1);
      expect(openai.of('conversation.item.input_audio_transcription.completed')[0]?.transcript).toMatch(/thank you/);
    } finally {
      await stopTheo(s.run);
    }
  }, 120_000);
});
