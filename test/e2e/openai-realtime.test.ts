// OpenAI's realtime transcription protocol (`/v1/realtime?intent=transcription`) against `theo serve` over
// WSS (a self-signed certificate made here): the official `openai` SDK's OpenAIRealtimeWS client streams
// real speech (Asterisk prompts, resampled to 24 kHz by sox, and as G.711 mu-law) at real-time pace through
// the PocketSphinx engine, in the GA and the beta event shapes; manual commits and clears without turn
// detection; bad input answered with `error` events on a connection that stays open.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readWav } from '../../src/audio/wav.js';
import { mulawEncode } from '../../src/mediaplane/codec/g711.js';
import { SOUNDS } from '../helpers/audio.js';
import { waitFor, paced } from '../helpers/pace.js';
import { serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const KEY = 'sk-theo-test';
const dir = mkdtempSync(join(tmpdir(), 'theo-oai-'));

interface Ev {
  type: string;
  [k: string]: unknown;
}

/** A prompt as 24 kHz PCM16 (sox's resampler). */
function at24k(name: string): Buffer {
  return execFileSync('sox', [`${SOUNDS}/${name}.wav`, '-r', '24000', '-t', 'raw', '-e', 'signed', '-b', '16', '-']);
}

/** `lead` s of silence, the prompts with 1.2 s pauses, then 1 s of silence; bytes per sample `bps`. */
function call(prompts: Buffer[], rate: number, bps: number, silenceByte = 0): Buffer {
  const gap = Buffer.alloc(Math.round(1.2 * rate) * bps, silenceByte);
  return Buffer.concat([Buffer.alloc(Math.round(0.5 * rate) * bps, silenceByte), ...prompts.flatMap((p) => [p, gap]), Buffer.alloc(rate * bps, silenceByte)]);
}

function mulaw(name: string): Buffer {
  const pcm = readWav(readFileSync(`${SOUNDS}/${name}.wav`)).samples;
  const out = Buffer.alloc(pcm.length);
  mulawEncode(pcm, out);
  return out;
}

class Rt {
  readonly events: Ev[] = [];
  readonly errors: Ev[] = [];
  readonly rt: OpenAIRealtimeWS;

  constructor(headers: Record<string, string> = {}) {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${base}/v1` });
    this.rt = new OpenAIRealtimeWS({ intent: 'transcription', options: { ca, headers } }, client);
    this.rt.on('event', (ev) => this.events.push(ev as unknown as Ev));
    this.rt.on('error', (err) => this.errors.push({ type: 'error', message: err.message, error: err.error }));
  }

  of(type: string): Ev[] {
    return this.events.filter((e) => e.type === type);
  }

  until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
    return waitFor(what, ok, () => this.events.map((m) => m.type).join(', '), ms);
  }

  /** Sends the audio in 20 ms chunks at real-time pace. */
  stream(bytes: Buffer, bytesPer20ms: number): Promise<void> {
    return paced(bytes, bytesPer20ms, (chunk) => this.rt.send({ type: 'input_audio_buffer.append', audio: chunk.toString('base64') }));
  }


  close(): void {
    this.rt.close();
  }
}

/** The events of one item, in order, as their types. */
function itemTypes(events: Ev[], itemId: string): string[] {
  const own = events.filter((e) => e.item_id === itemId || (e.item as { id?: string } | undefined)?.id === itemId);
  const types = own.map((e) => e.type.replace('conversation.item.input_audio_transcription.', 'transcription.'));
  return types.filter((t, i) => t !== 'transcription.delta' || types[i - 1] !== 'transcription.delta');
}

let run: TheoRun | undefined;
let base = '';
let ca: Buffer;
beforeAll(async () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  ca = readFileSync(cert);
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(cfg, ['api:', `  apiKey: ${KEY}`, ''].join('\n'));
  const s = await serveTheo(['--preload', '--config', cfg, '--tls-cert', cert, '--tls-key', key, '--rtp-ports', '42230-42249']);
  run = s.run;
  base = s.url.replace(/^https/, 'wss');
}, 180_000);
afterAll(async () => {
  const done = await stopTheo(run);
  rmSync(dir, { recursive: true, force: true });
  expect(done?.code ?? 0).toBe(0);
});

describe('OpenAI realtime transcription with the official SDK over WSS', () => {
  it('GA events: session.created/updated, then per utterance speech_started → speech_stopped → committed → item added → completed → item done, with the right transcripts', async () => {
    const c = new Rt();
    await c.until('session.created', () => c.of('session.created').length === 1);
    expect(c.events[0]).toMatchObject({ type: 'session.created', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad' } } } } });
    expect(c.events[0]!.event_id).toMatch(/^event_/);
    c.rt.send({
      type: 'session.update',
      session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'gpt-4o-transcribe', language: 'en' }, turn_detection: { type: 'server_vad', threshold: 0.5, silence_duration_ms: 400 } } } },
    });
    await c.until('session.updated', () => c.of('session.updated').length === 1);
    expect(c.of('session.updated')[0]).toMatchObject({ session: { audio: { input: { transcription: { model: 'gpt-4o-transcribe', language: 'en' }, turn_detection: { type: 'server_vad', silence_duration_ms: 400 } } } } });

    await c.stream(call([at24k('queue-thankyou'), at24k('agent-pass')], 24000, 2), 960);
    await c.until('two transcripts', () => c.of('conversation.item.input_audio_transcription.completed').length === 2);
    c.close();
    expect(c.errors).toEqual([]);
    const started = c.of('input_audio_buffer.speech_started');
    expect(started).toHaveLength(2);
    const ids = started.map((e) => e.item_id as string);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) {
      const types = itemTypes(c.events, id);
      expect(types.filter((t) => t !== 'transcription.delta')).toEqual([
        'input_audio_buffer.speech_started',
        'input_audio_buffer.speech_stopped',
        'input_audio_buffer.committed',
        'conversation.item.added',
        'transcription.completed',
        'conversation.item.done',
      ]);
    }
    const completed = c.of('conversation.item.input_audio_transcription.completed');
    expect(completed.map((e) => e.item_id)).toEqual(ids);
    expect(completed[0]!.transcript).toMatch(/thank you/);
    // PocketSphinx streams this prompt less reliably than it batches it (eval:stream measures that): it must have words.
    expect(completed[1]!.transcript).toMatch(/\w+ \w+/);
    expect(completed[0]).toMatchObject({ content_index: 0, usage: { type: 'duration' } });
    // Committed items chain: the second names the first as its predecessor.
    const committed = c.of('input_audio_buffer.committed');
    expect(committed.map((e) => e.previous_item_id)).toEqual([null, ids[0]]);
    // Times are ms of the connection's audio: the first prompt starts after the 0.5 s lead.
    expect(started[0]!.audio_start_ms).toBeGreaterThanOrEqual(250);
    expect(started[0]!.audio_start_ms).toBeLessThan(900);
    const stopped = c.of('input_audio_buffer.speech_stopped');
    expect(stopped[0]!.audio_end_ms).toBeGreaterThan(started[0]!.audio_start_ms as number);
    expect(started[1]!.audio_start_ms).toBeGreaterThan(stopped[0]!.audio_end_ms as number);
    // Deltas are append-only words two partials agreed on; the final pass may still revise them (`completed` is
    // authoritative), but where it extends them the last delta completes the transcript.
    let spelled = 0;
    for (const [i, id] of ids.entries()) {
      const deltas = c.of('conversation.item.input_audio_transcription.delta').filter((e) => e.item_id === id).map((e) => e.delta as string);
      const done = c.of('conversation.item.done').find((e) => (e.item as { id: string }).id === id)!;
      expect((done.item as { content: { transcript: string }[] }).content[0]!.transcript).toBe(completed[i]!.transcript);
      if (deltas.length === 0) continue;
      if (deltas.join('') === completed[i]!.transcript) spelled++;
    }
    expect(spelled).toBeGreaterThan(0);
  });

  it('beta events (OpenAI-Beta: realtime=v1): transcription_session.created/updated and G.711 mu-law audio', async () => {
    const c = new Rt({ 'OpenAI-Beta': 'realtime=v1' });
    await c.until('transcription_session.created', () => c.of('transcription_session.created').length === 1);
    expect(c.events[0]).toMatchObject({ session: { input_audio_format: 'pcm16', object: 'realtime.transcription_session' } });
    c.rt.send({ type: 'transcription_session.update', session: { input_audio_format: 'g711_ulaw', input_audio_transcription: { model: 'whisper-1' }, turn_detection: { type: 'server_vad', silence_duration_ms: 500 } } } as never);
    await c.until('transcription_session.updated', () => c.of('transcription_session.updated').length === 1);
    expect(c.of('transcription_session.updated')[0]).toMatchObject({ session: { input_audio_format: 'g711_ulaw', input_audio_transcription: { model: 'whisper-1' } } });
    await c.stream(call([mulaw('queue-thankyou')], 8000, 1, 0xff), 160);
    await c.until('a transcript', () => c.of('conversation.item.input_audio_transcription.completed').length === 1);
    c.close();
    expect(c.of('conversation.item.input_audio_transcription.completed')[0]!.transcript).toMatch(/thank you/);
    expect(c.errors).toEqual([]);
  });

  it('without turn detection: no speech events, an item ends at the client commit, an empty commit is an error, clear drops what is open', async () => {
    const c = new Rt();
    await c.until('session.created', () => c.of('session.created').length === 1);
    c.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { turn_detection: null } } } });
    await c.until('session.updated', () => c.of('session.updated').length === 1);
    expect(c.of('session.updated')[0]).toMatchObject({ session: { audio: { input: { turn_detection: null } } } });
    c.rt.send({ type: 'input_audio_buffer.commit' });
    await c.until('empty-commit error', () => c.errors.length === 1);
    expect(c.errors[0]!.error).toMatchObject({ type: 'invalid_request_error', code: 'input_audio_buffer_commit_empty' });

    // Speech and a 2.4 s pause: without turn detection the pause does not end the item.
    const thanks = at24k('queue-thankyou');
    await c.stream(Buffer.concat([Buffer.alloc(24000), thanks, Buffer.alloc(2 * 28800)]), 960);
    expect(c.of('input_audio_buffer.committed')).toHaveLength(0);
    c.rt.send({ type: 'input_audio_buffer.commit' });
    await c.until('the committed item', () => c.of('conversation.item.input_audio_transcription.completed').length === 1);
    const item = c.of('input_audio_buffer.committed')[0]!.item_id;
    expect(c.of('conversation.item.input_audio_transcription.completed')[0]).toMatchObject({ item_id: item, transcript: expect.stringMatching(/thank you/) as unknown });
    expect(c.events.filter((e) => e.type.startsWith('input_audio_buffer.speech_'))).toEqual([]);

    // Speech, then clear: nothing of it is committed, and a commit right after has nothing to commit.
    await c.stream(Buffer.concat([Buffer.alloc(4800), thanks]), 960);
    c.rt.send({ type: 'input_audio_buffer.clear' });
    await c.until('cleared', () => c.of('input_audio_buffer.cleared').length === 1);
    c.rt.send({ type: 'input_audio_buffer.commit' });
    await c.until('second empty-commit error', () => c.errors.length === 2);
    expect(c.errors[1]!.error).toMatchObject({ code: 'input_audio_buffer_commit_empty' });
    // Silence alone, committed: an item with an empty transcript.
    await c.stream(Buffer.alloc(24000), 960);
    c.rt.send({ type: 'input_audio_buffer.commit' });
    await c.until('the empty item', () => c.of('conversation.item.input_audio_transcription.completed').length === 2);
    await new Promise((r) => setTimeout(r, 1000));
    c.close();
    const completed = c.of('conversation.item.input_audio_transcription.completed');
    expect(completed).toHaveLength(2);
    expect(completed[1]!.transcript).toBe('');
    expect(c.of('input_audio_buffer.committed').map((e) => e.previous_item_id)).toEqual([null, item]);
  });
});

describe('OpenAI realtime transcription: bad input', () => {
  it('answers malformed JSON, unknown events, wrong fields, a model session and bad base64 with error events; the connection stays open', async () => {
    const ws = new WebSocket(`${base}/v1/realtime?intent=transcription`, { ca, headers: { Authorization: `Bearer ${KEY}` } });
    const got: Ev[] = [];
    ws.on('message', (d) => got.push(JSON.parse((d as Buffer).toString('utf8')) as Ev));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const errorsBefore = async (n: number): Promise<Ev[]> => {
      const end = Date.now() + 10_000;
      while (got.filter((e) => e.type === 'error').length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return got.filter((e) => e.type === 'error').map((e) => e.error as Ev);
    };
    ws.send('{not json');
    ws.send(JSON.stringify({ type: 'response.create', event_id: 'evt_1' }));
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', model: 'gpt-realtime' } }));
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: { colour: 'blue' } } } }));
    ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: 'not base64!' }));
    ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: 42 }));
    ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.from([1, 2, 3]).toString('base64') }));
    ws.send(Buffer.from([0, 0]));
    const errors = await errorsBefore(8);
    expect(errors.map((e) => e.code)).toEqual(['invalid_json', 'invalid_event', 'invalid_value', 'unknown_parameter', 'invalid_value', 'invalid_value', 'invalid_value', 'invalid_event']);
    expect(errors[1]).toMatchObject({ type: 'invalid_request_error', event_id: 'evt_1', message: expect.stringMatching(/response\.create/) as unknown });
    expect(errors[2]!.message).toMatch(/transcription/);
    expect(errors[3]!.param).toBe('session.audio.input.colour');
    expect(errors[6]!.message).toMatch(/even number of bytes/);
    // Still open and served.
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' } } } } }));
    const end = Date.now() + 10_000;
    while (!got.some((e) => e.type === 'session.updated') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(got.find((e) => e.type === 'session.updated')).toMatchObject({ session: { audio: { input: { format: { type: 'audio/pcmu' } } } } });
    ws.close();
  });

  it('refuses a wrong API key with HTTP 401 before the upgrade', async () => {
    const ws = new WebSocket(`${base}/v1/realtime?intent=transcription`, { ca, headers: { Authorization: 'Bearer nope' } });
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });
});
