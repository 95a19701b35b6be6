// Calls as sessions over a plain RTP fork: `theo serve --rtp-fork PORT` with a webhook, real speech
// (Asterisk prompts) sent as G.711 RTP by `theo rtp send` — clean, and with 5% loss, 40 ms jitter and
// reordering. The call's events, each carrying its call metadata, arrive on the firehose WS /v1/calls/events
// and, signed, at the webhook; GET /v1/calls lists the live call; the session ends when the RTP stops. DTMF
// digits (RFC 4733) pressed during a call come out as dtmf events.
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTelephoneEvent } from '../../src/mediaplane/rtp/dtmf.js';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';
import { SOUNDS } from '../helpers/audio.js';
import { hookReceiver, serveCalls, type CallEv, type HookReceiver, type ServedCalls } from '../helpers/calls.js';
import { waitFor } from '../helpers/pace.js';
import { metricValue } from '../helpers/rtp-flood.js';
import { runTheo } from '../helpers/theo.js';

const SECRET = 'hook-secret';
const HOOK_PASS = 'hookpass-7q';
const HOOK_TOKEN = 'tok_4f1c9e27b8d35a60';
const HOOK_QUERY = 'qs3cret';
const FORK_PORT = 42290;
const dir = mkdtempSync(join(tmpdir(), 'theo-fork-'));
const callWav = join(dir, 'call.wav');

let hooks: HookReceiver;
let served: ServedCalls | undefined;
let firehose: CallEv[] = [];
let base = '';

beforeAll(async () => {
  // 1 s of silence, two prompts with a 1.2 s pause, 1 s of silence (8 kHz).
  const silence = join(dir, 'silence.wav');
  const gap = join(dir, 'gap.wav');
  execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', silence, 'trim', '0', '1']);
  execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', gap, 'trim', '0', '1.2']);
  execFileSync('sox', [silence, `${SOUNDS}/queue-thankyou.wav`, gap, `${SOUNDS}/auth-thankyou.wav`, silence, callWav]);
  hooks = await hookReceiver();
  // A webhook URL with credentials in it, as CRMs hand them out: they must never show in /metrics or logs.
  const hookUrl = `${hooks.url.replace('http://', `http://theo:${HOOK_PASS}@`)}/${HOOK_TOKEN}?token=${HOOK_QUERY}`;
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(cfg, ['rtp:', '  idleTimeoutMs: 1500', 'telephony:', '  webhooks:', `    - url: ${hookUrl}`, `      secret: ${SECRET}`, ''].join('\n'));
  served = await serveCalls(['--preload', '--config', cfg, '--rtp-fork', String(FORK_PORT), '--rtp-ports', '42270-42289']);
  ({ base, firehose } = served);
}, 180_000);

afterAll(async () => {
  const code = (await served?.stop())?.code;
  hooks.close();
  rmSync(dir, { recursive: true, force: true });
  expect(code ?? 0).toBe(0);
});

/** Sends the call from a fresh source port; returns its local port (the call's channel). */
async function sendCall(extra: string[] = []): Promise<number> {
  const sent = await runTheo(['rtp', 'send', '--to', `127.0.0.1:${FORK_PORT}`, ...extra, callWav]).done;
  expect(sent.code).toBe(0);
  return (JSON.parse(sent.stdout.trim().split('\n').pop()!) as { local_port: number }).local_port;
}

function eventsOf(from: number): CallEv[] {
  return firehose.filter((e) => e.call?.channel_id?.startsWith(`127.0.0.1:${from}>`));
}

describe('RTP fork → call sessions', () => {
  it('transcribes a forked call: call metadata on every event, firehose, signed webhooks, GET /v1/calls, closed when the RTP stops', async () => {
    const sending = sendCall();
    // While the call is live it is listed.
    await waitFor('the live call', () => firehose.some((e) => e.type === 'session.created'), () => firehose.map((e) => e.type).join(', '));
    const listed = (await (await fetch(`${base}/v1/calls`)).json()) as { data: { id: string; call: Record<string, string> }[] };
    expect(listed.data).toHaveLength(1);
    expect(listed.data[0]!.call).toMatchObject({ direction: 'inbound', source: 'rtp-fork' });
    const from = await sending;
    await waitFor('session.closed', () => eventsOf(from).some((e) => e.type === 'session.closed'), () => firehose.map((e) => e.type).join(', '));

    const evs = eventsOf(from);
    const id = evs[0]!.session_id!;
    expect(evs[0]).toMatchObject({ type: 'session.created', call: { call_id: expect.stringMatching(/^fork-127\.0\.0\.1:/) as unknown, channel_id: `127.0.0.1:${from}>${FORK_PORT}`, source: 'rtp-fork' } });
    for (const e of evs) {
      expect(e.session_id).toBe(id);
      expect(e.call).toEqual(evs[0]!.call);
    }
    const finals = evs.filter((e) => e.type === 'transcript.final').map((e) => e.text);
    expect(finals).toHaveLength(2);
    expect(finals[0]).toMatch(/thank you/);
    expect(finals[1]).toMatch(/thank/);
    expect(evs.at(-1)).toMatchObject({ type: 'session.closed', reason: 'rtp_timeout' });
    expect((await (await fetch(`${base}/v1/calls`)).json()) as { data: unknown[] }).toMatchObject({ data: [] });

    // The webhook got the call's lifecycle and finals, each signed with the secret.
    await waitFor('webhook session.closed', () => hooks.hooks.some((h) => h.event.type === 'session.closed'), () => String(hooks.hooks.length));
    const types = hooks.hooks.map((h) => h.event.type);
    expect(types).toEqual(['session.created', 'vad.speech_start', 'transcript.final', 'vad.speech_start', 'transcript.final', 'session.closed']);
    for (const h of hooks.hooks) {
      expect(h.path).toBe(`/hook/${HOOK_TOKEN}?token=${HOOK_QUERY}`);
      expect(h.authorization).toBe(`Basic ${Buffer.from(`theo:${HOOK_PASS}`).toString('base64')}`);
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(h.signature);
      expect(m?.[2]).toBe(createHmac('sha256', SECRET).update(`${m?.[1]}.${h.body}`).digest('hex'));
      expect(h.event.call?.channel_id).toBe(`127.0.0.1:${from}>${FORK_PORT}`);
    }
    // /metrics (unauthenticated) names the webhook by its host, and nothing secret.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain(`theo_webhook_queue{webhook="${new URL(hooks.url).host}"}`);
    for (const secret of [HOOK_PASS, HOOK_TOKEN, HOOK_QUERY]) expect(metrics).not.toContain(secret);
  });

  it('still transcribes a call with 5% loss, 40 ms jitter and reordering', async () => {
    const from = await sendCall(['--loss', '0.05', '--jitter', '40', '--reorder', '0.05', '--seed', '7']);
    await waitFor('session.closed', () => eventsOf(from).some((e) => e.type === 'session.closed'), () => firehose.map((e) => e.type).join(', '));
    const finals = eventsOf(from).filter((e) => e.type === 'transcript.final').map((e) => e.text);
    expect(finals.join(' ')).toMatch(/thank you/);
  });

  it('reports the DTMF digits pressed during a call (RFC 4733) as dtmf events, at the firehose and the webhook', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const from = sock.address().port;
    let seq = 100;
    let ts = 0;
    const send = (pt: number, payload: Uint8Array, marker = false, timestamp = ts): void => {
      sock.send(serializeRtp({ marker, payloadType: pt, sequenceNumber: seq++, timestamp, ssrc: 0xd7f0 }, payload), FORK_PORT, '127.0.0.1');
    };
    const audio = async (packets: number): Promise<void> => {
      for (let i = 0; i < packets; i++) {
        send(0, new Uint8Array(160).fill(0xff));
        ts += 160;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const digit = async (event: number): Promise<void> => {
      const ev = (end: boolean, duration: number): Uint8Array => {
        const b = new Uint8Array(4);
        writeTelephoneEvent({ event, end, volume: 10, duration }, b, 0);
        return b;
      };
      const start = ts;
      for (const [i, d] of [160, 320, 480].entries()) {
        send(101, ev(false, d), i === 0, start);
        await new Promise((r) => setTimeout(r, 20));
      }
      for (let i = 0; i < 3; i++) send(101, ev(true, 640), false, start); // the end, sent three times
      ts += 640;
    };
    await audio(25);
    await digit(7);
    await audio(10);
    await digit(11); // '#'
    await audio(10);
    sock.close();
    await waitFor('two digits', () => eventsOf(from).filter((e) => e.type === 'dtmf').length === 2, () => eventsOf(from).map((e) => e.type).join(', '));
    const digits = eventsOf(from).filter((e) => e.type === 'dtmf') as Array<CallEv & { digit: string; duration_ms: number; at_ms: number }>;
    expect(digits.map((d) => [d.digit, d.duration_ms])).toEqual([
      ['7', 80],
      ['#', 80],
    ]);
    expect(digits[0]!.at_ms).toBeGreaterThanOrEqual(500);
    expect(digits[1]!.at_ms).toBeGreaterThan(digits[0]!.at_ms);
    expect(digits[0]!.call?.channel_id).toBe(`127.0.0.1:${from}>${FORK_PORT}`);
    await waitFor('webhook digits', () => hooks.hooks.filter((h) => h.event.type === 'dtmf' && h.event.call?.channel_id === `127.0.0.1:${from}>${FORK_PORT}`).length === 2, () => String(hooks.hooks.length));
  });

  it('reports a digit whose packets came after the next digit (reordered within the jitter window), and counts one far too late', async () => {
    const m0 = await (await fetch(`${base}/metrics`)).text();
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const from = sock.address().port;
    let seq = 2000;
    let ts = 100_000;
    const send = (pt: number, payload: Uint8Array, s: number, timestamp: number, marker = false): void => {
      sock.send(serializeRtp({ marker, payloadType: pt, sequenceNumber: s & 0xffff, timestamp, ssrc: 0xd7f1 }, payload), FORK_PORT, '127.0.0.1');
    };
    const audio = async (packets: number): Promise<void> => {
      for (let i = 0; i < packets; i++) {
        send(0, new Uint8Array(160).fill(0xff), seq++, ts);
        ts += 160;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const ev = (event: number, end: boolean, duration: number): Uint8Array => {
      const b = new Uint8Array(4);
      writeTelephoneEvent({ event, end, volume: 10, duration }, b, 0);
      return b;
    };
    /** A digit's four packets (three steps and the end) with its own sequence numbers and start timestamp. */
    const digit = (event: number, firstSeq: number, start: number): void => {
      for (const [i, d] of [160, 320, 480].entries()) send(101, ev(event, false, d), firstSeq + i, start, i === 0);
      send(101, ev(event, true, 640), firstSeq + 3, start);
    };
    await audio(25);
    // '4' then '8' were pressed (8 at 80 ms after 4 ended); the network delivered 8's packets first.
    const t4 = ts;
    const t8 = ts + 640 + 640;
    digit(8, seq + 4, t8);
    digit(4, seq, t4);
    seq += 8;
    ts = t8 + 640;
    await audio(10);
    // A '9' from two seconds before: far past the jitter buffer's reach.
    digit(9, seq - 200, ts - 16_000);
    await audio(10);
    sock.close();
    const mine = (): CallEv[] => eventsOf(from).filter((e) => e.type === 'dtmf');
    await waitFor('two digits', () => mine().length === 2, () => eventsOf(from).map((e) => e.type).join(', '));
    expect(mine().map((d) => (d as CallEv & { digit: string }).digit)).toEqual(['8', '4']);
    const m = await (await fetch(`${base}/metrics`)).text();
    const reordered = (outcome: string): number => metricValue(m, 'theo_rtp_dtmf_reordered_total', { outcome }) - metricValue(m0, 'theo_rtp_dtmf_reordered_total', { outcome });
    expect(reordered('reported')).toBe(1);
    expect(reordered('dropped')).toBe(1);
  });
});
