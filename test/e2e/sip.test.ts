// The SIP adapter of `theo serve` (drachtio-srf) against the drachtio-server test double
// (test/helpers/drachtio-double.ts, built from a real drachtio-server's recorded wire protocol): every recorded
// scenario — OPTIONS over udp and tcp with the keep-alive ping, calls over udp and tcp, hold/unhold, a hangup
// from Theo, 486 at capacity, CANCEL while ringing — plays through with every frame Theo sends checked against
// the recording. The call's RTP (recorded timing, an Asterisk prompt as payload) goes to the port in Theo's SDP
// answer and is transcribed by the PocketSphinx worker; the words reach the firehose and a signed webhook;
// after each scenario no call, session or RTP port is left. Then drachtio-server goes away and comes back, and
// Theo shuts down with a call up (it hangs up with a BYE).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { readWav } from '../../src/audio/wav.js';
import { mulawEncode } from '../../src/mediaplane/codec/g711.js';
import { SOUNDS } from '../helpers/audio.js';
import { hookReceiver, readFirehose, type CallEv, type HookReceiver } from '../helpers/calls.js';
import { DrachtioDouble } from '../helpers/drachtio-double.js';
import { waitFor } from '../helpers/pace.js';
import { serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const dir = mkdtempSync(join(tmpdir(), 'theo-sip-'));
let firehose: CallEv[] = [];
let drachtio: DrachtioDouble;
let hooks: HookReceiver;
let closeFirehose: () => void;
let run: TheoRun | undefined;
let base = '';

/** An Asterisk prompt as µ-law, with this much silence after it (ms). */
function ulaw(name: string, trailMs = 0): Buffer {
  const pcm = readWav(readFileSync(`${SOUNDS}/${name}.wav`)).samples;
  const out = Buffer.alloc(pcm.length + trailMs * 8, 0xff);
  mulawEncode(pcm, out);
  return out;
}

const eventsOf = (callId: string): CallEv[] => firehose.filter((e) => e.call?.call_id === callId);
const types = (callId: string) => (): string => eventsOf(callId).map((e) => e.type).join(', ');

async function metric(name: string): Promise<string> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

/** The first value of `read` that `ok` accepts, polling for up to 20 s (the last value otherwise). */
async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 200 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

/** A SIP call whose session is open. */
const liveCall = (): string | undefined =>
  firehose.find((e) => e.type === 'session.created' && e.call?.source === 'sip' && !eventsOf(e.call.call_id ?? '').some((x) => x.type === 'session.closed'))?.call?.call_id;

async function nothingLeft(): Promise<void> {
  let left = '';
  for (let i = 0; i < 200; i++) {
    const calls = ((await (await fetch(`${base}/v1/calls`)).json()) as { data: unknown[] }).data.length;
    const ports = ((await (await fetch(`${base}/health`)).json()) as { components: { rtp: { ports_allocated: number } } }).components.rtp.ports_allocated;
    left = `${calls} calls, ${ports} ports`;
    if (calls === 0 && ports === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(left).toBe('0 calls, 0 ports');
  expect(await metric('theo_calls_active{source="sip"}')).toBe('');
}

beforeAll(async () => {
  drachtio = await DrachtioDouble.start({ secret: 'cymru' });
  hooks = await hookReceiver();
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(
    cfg,
    [
      'telephony:',
      '  webhooks:',
      `    - url: ${hooks.url}`,
      '      secret: hook-secret',
      '  sip:',
      '    host: 127.0.0.1',
      `    port: ${drachtio.port}`,
      '    secret: cymru',
      '    maxCalls: 1',
      '    mediaTimeoutMs: 1000',
      '    pingIntervalMs: 5000',
      "    allow: ['127.0.0.1']",
      '    numbers:',
      "      - match: '^slow$'",
      '        ringMs: 5000',
      '',
    ].join('\n'),
  );
  const s = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '42360-42379']);
  run = s.run;
  base = s.url;
  const f = await readFirehose(base);
  firehose = f.events;
  closeFirehose = f.close;
  await drachtio.whenReady();
}, 180_000);

afterAll(async () => {
  closeFirehose();
  const done = await stopTheo(run);
  await drachtio.close();
  hooks.close();
  rmSync(dir, { recursive: true, force: true });
  expect(done?.code ?? 0).toBe(0);
  expect(drachtio.violations).toEqual([]);
});

describe('SIP adapter on drachtio', () => {
  it('connects as recorded (authenticate with the secret, routes options and invite) and answers OPTIONS over udp and tcp, with keep-alive pings', async () => {
    expect(drachtio.connections).toBe(1);
    expect((await drachtio.play('options')).statuses).toEqual([200]);
    expect((await drachtio.play('options_with_ping')).statuses).toEqual([200]);
    await waitFor('a keep-alive ping', () => drachtio.pings > 0, () => 'no ping', 15_000);
    expect(await metric('theo_sip_connected')).toMatch(/ 1$/m);
  });

  it('answers a call (udp) with an SDP pointing at a pool port, transcribes its RTP, and releases everything on the caller’s BYE', async () => {
    const play = drachtio.play('basic_call', { audio: ulaw('queue-thankyou', 800) });
    // An observer of the call's session (WS /v1/sessions/{id}/events), joined as the call starts.
    await waitFor('the call up', () => liveCall() !== undefined, () => '', 10_000);
    const sessionId = firehose.find((e) => e.type === 'session.created' && e.call?.call_id === liveCall())!.session_id!;
    const observed: CallEv[] = [];
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/sessions/${encodeURIComponent(sessionId)}/events`);
    ws.on('message', (d: Buffer) => observed.push(JSON.parse(d.toString()) as CallEv));
    const r = await play;
    // 200 to the INVITE, 200 to the caller's BYE.
    expect(r.statuses).toEqual([200, 200]);
    expect(r.answerSdp).toMatch(/^m=audio (\d+) RTP\/AVP 0 101\r?$/m);
    expect(r.answerSdp).toMatch(/^a=recvonly\r?$/m);
    expect(r.rtpPort).toBeGreaterThanOrEqual(42360);
    expect(r.rtpPort).toBeLessThanOrEqual(42379);
    await waitFor('closed', () => eventsOf(r.callId).some((e) => e.type === 'session.closed'), types(r.callId));
    const evs = eventsOf(r.callId);
    expect(evs[0]).toMatchObject({ type: 'session.created', call: { call_id: r.callId, from: 'sipp', to: 'echo', direction: 'inbound', source: 'sip' } });
    expect(evs[0]!.call!.channel_id).toContain(`${r.callId};from-tag=`);
    const finals = evs.filter((e) => e.type === 'transcript.final').map((e) => e.text);
    expect(finals.join(' ')).toMatch(/thank you/);
    expect(evs.at(-1)).toMatchObject({ type: 'session.closed', reason: 'hangup' });
    await waitFor('observer closed', () => observed.some((e) => e.type === 'session.closed'), () => observed.map((e) => e.type).join(', '));
    ws.close();
    expect(sessionId).toBe(`call_${r.callId.replace(/[^\w.:-]/g, '_')}`);
    expect(observed.filter((e) => e.type === 'transcript.final').map((e) => e.text)).toEqual(finals);
    expect(observed.filter((e) => e.call?.call_id !== r.callId).map((e) => JSON.stringify(e).slice(0, 200))).toEqual([]);
    const hooked = (): CallEv[] => hooks.hooks.map((h) => h.event).filter((e) => e.call?.call_id === r.callId);
    await waitFor('webhook close', () => hooked().some((e) => e.type === 'session.closed'), () => String(hooks.hooks.length));
    expect(hooked().filter((e) => e.type === 'transcript.final').map((e) => e.text)).toEqual(finals);
    await nothingLeft();
  });

  it('answers a call over tcp the same way', async () => {
    const r = await drachtio.play('basic_call_tcp', { audio: ulaw('queue-thankyou', 800) });
    expect(r.statuses).toEqual([200, 200]);
    await waitFor('closed', () => eventsOf(r.callId).some((e) => e.type === 'session.closed'), types(r.callId));
    expect(eventsOf(r.callId).filter((e) => e.type === 'transcript.final').map((e) => e.text).join(' ')).toMatch(/thank you/);
    await nothingLeft();
  });

  it('puts the session on hold on a sendonly re-INVITE (answered recvonly), with no media timeout while held, and resumes on sendrecv', async () => {
    const r = await drachtio.play('hold_unhold', { audio: ulaw('queue-thankyou', 1500) });
    // INVITE, hold re-INVITE, unhold re-INVITE, BYE.
    expect(r.statuses).toEqual([200, 200, 200, 200]);
    await waitFor('closed', () => eventsOf(r.callId).some((e) => e.type === 'session.closed'), types(r.callId));
    const evs = eventsOf(r.callId);
    expect(evs.some((e) => e.type === 'session.hold' && (e as { reason?: string }).reason === 'sip_hold')).toBe(true);
    // The 1.5 s pause in the RTP is longer than the 1 s media timeout: had the hold not suspended it, Theo
    // would have sent a BYE (a violation of the recording) and closed for media_timeout.
    expect(evs.at(-1)).toMatchObject({ type: 'session.closed', reason: 'hangup' });
    await nothingLeft();
  });

  it('hangs up (BYE, as recorded) when the caller’s RTP stops for the media timeout', async () => {
    const r = await drachtio.play('uas_hangup', { audio: ulaw('queue-thankyou', 300) });
    expect(r.statuses).toEqual([200]);
    expect(r.appMessages.some((l) => l.startsWith('BYE sip:placeholder'))).toBe(true);
    await waitFor('closed', () => eventsOf(r.callId).some((e) => e.type === 'session.closed'), types(r.callId));
    expect(eventsOf(r.callId).at(-1)).toMatchObject({ type: 'session.closed', reason: 'media_timeout' });
    expect(eventsOf(r.callId).filter((e) => e.type === 'transcript.final').map((e) => e.text).join(' ')).toMatch(/thank you/);
    await nothingLeft();
  });

  it('answers 486 Busy Here at capacity (maxCalls 1) while a call is up', async () => {
    const call = drachtio.play('basic_call', { audio: Buffer.concat([ulaw('queue-thankyou', 600), ulaw('auth-thankyou', 600)]) });
    await waitFor('the first call up', () => liveCall() !== undefined, () => '', 10_000);
    const busy = await drachtio.play('reject_486');
    expect(busy.statuses).toEqual([486]);
    expect((await call).statuses).toEqual([200, 200]);
    expect(await metric('theo_sip_invites_total{outcome="busy"}')).toMatch(/ 1$/);
    await nothingLeft();
  });

  it('refuses what it cannot take with a reason: 488 for an offer with no codec in common, 403 for a source not allowed', async () => {
    const g729 = ['v=0', 'o=carrier 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 6000 RTP/AVP 18 101', 'a=rtpmap:18 G729/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
    expect((await drachtio.play('reject_486', { offer: g729, status: 488 })).statuses).toEqual([488]);
    expect((await drachtio.play('reject_486', { source: '192.0.2.9', status: 403 })).statuses).toEqual([403]);
    expect(await metric('theo_sip_invites_total{outcome="not_acceptable"}')).toMatch(/ 1$/);
    expect(await metric('theo_sip_invites_total{outcome="forbidden"}')).toMatch(/ 1$/);
    await nothingLeft();
  });

  it('answers an INVITE without SDP (late offer) with its own offer, and transcribes the call', async () => {
    const r = await drachtio.play('basic_call', { offer: null, audio: ulaw('queue-thankyou', 800) });
    expect(r.statuses).toEqual([200, 200]);
    expect(r.answerSdp).toMatch(/^m=audio \d+ RTP\/AVP 0 8 96 97 101\r?$/m);
    expect(r.answerSdp).toMatch(/^a=recvonly\r?$/m);
    await waitFor('closed', () => eventsOf(r.callId).some((e) => e.type === 'session.closed'), types(r.callId));
    expect(eventsOf(r.callId).filter((e) => e.type === 'transcript.final').map((e) => e.text).join(' ')).toMatch(/thank you/);
    await nothingLeft();
  });

  it('rings (180) for a number with ringMs, and a CANCEL meanwhile releases the port', async () => {
    const r = await drachtio.play('cancel');
    expect(r.statuses).toEqual([180]);
    expect(await poll(() => metric('theo_sip_invites_total{outcome="cancelled"}'), (m) => / 1$/.test(m))).toMatch(/ 1$/);
    await nothingLeft();
  });

  it('reconnects when drachtio-server goes away, and takes calls again', async () => {
    drachtio.dropConnection();
    await drachtio.whenReady();
    expect(drachtio.connections).toBe(2);
    expect((await drachtio.play('options')).statuses).toEqual([200]);
  });

  it('keeps retrying an unreachable drachtio-server quietly, and still shuts down cleanly', async () => {
    const unused = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const s = await serveTheo(['--drachtio-host', '127.0.0.1', '--drachtio-port', String(unused), '--drachtio-secret', 'cymru', '--rtp-ports', '42380-42389']);
    await new Promise((r) => setTimeout(r, 2500)); // several reconnect attempts (150 ms, growing 1.7x)
    expect(await (await fetch(`${s.url}/metrics`)).text()).toMatch(/^theo_sip_connected 0$/m);
    const done = await stopTheo(s.run);
    expect(done?.code).toBe(0);
    const warnings = done!.stderr.split('\n').filter((l) => l.includes('cannot reach drachtio-server'));
    expect(warnings.length).toBe(1);
  });

  it('on shutdown hangs up the calls in progress with a BYE, after their last words are finalised', async () => {
    const call = drachtio.play('uas_hangup', { audio: ulaw('queue-thankyou', 3000) });
    await waitFor('the call up', () => liveCall() !== undefined, () => '', 10_000);
    const callId = liveCall()!;
    await waitFor('speech', () => eventsOf(callId).some((e) => e.type === 'vad.speech_start'), types(callId));
    const done = await stopTheo(run);
    run = undefined;
    expect(done?.code).toBe(0);
    const r = await call;
    expect(r.callId).toBe(callId);
    expect(r.appMessages.some((l) => l.startsWith('BYE sip:placeholder'))).toBe(true);
    expect(eventsOf(callId).some((e) => e.type === 'transcript.final')).toBe(true);
  });
});
