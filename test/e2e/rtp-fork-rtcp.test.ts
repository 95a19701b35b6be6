// A forked call ends when its sender says so (RTCP BYE, RFC 3550 §6.6), not 60 s after its last packet
// (rtp.idleTimeoutMs, left at its default here): ffmpeg's RTP muxer with `-rtpflags send_bye` (RTCP on the
// fork port + 1, from its RTP port + 1), and a sender that multiplexes RTCP on the RTP port (RFC 5761).
// Malformed RTCP, and a BYE for an SSRC the fork does not know, are counted and change nothing.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';
import { SOUNDS } from '../helpers/audio.js';
import { serveCalls, type CallEv, type ServedCalls } from '../helpers/calls.js';
import { waitFor } from '../helpers/pace.js';
import { metricValue, scrape } from '../helpers/rtp-flood.js';

const FORK_PORT = 43320;
let served: ServedCalls | undefined;
let base = '';
let firehose: CallEv[] = [];

beforeAll(async () => {
  served = await serveCalls(['--preload', '--rtp-fork', String(FORK_PORT), '--rtp-ports', '43350-43369']);
  ({ base, firehose } = served);
}, 180_000);

afterAll(async () => {
  expect((await served?.stop())?.code ?? 0).toBe(0);
});

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s/g, ''), 'hex');
/** An empty receiver report from `ssrc`, then a BYE for it (what a sender ending its stream sends). */
function rrBye(ssrc: number): Buffer {
  const b = hex('80c90001 00000000 81cb0001 00000000');
  b.writeUInt32BE(ssrc, 4);
  b.writeUInt32BE(ssrc, 12);
  return b;
}

async function bound(): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return sock;
}

/** `n` packets of 20 ms of µ-law silence from `sock`, in real time. */
async function talk(sock: dgram.Socket, ssrc: number, n: number, to = FORK_PORT): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    sock.send(serializeRtp({ payloadType: 0, sequenceNumber: 100 + i, timestamp: 160 * i, ssrc }, new Uint8Array(160).fill(0xff)), to, '127.0.0.1');
    const wait = t0 + (i + 1) * 20 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

const from = (port: number): CallEv[] => firehose.filter((e) => e.call?.channel_id === `127.0.0.1:${port}>${FORK_PORT}`);

describe('RTCP BYE ends a forked call', () => {
  it("ffmpeg's RTP with send_bye: the call ends on its BYE (RTCP on port + 1), after its speech was finalised", async () => {
    const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', `${SOUNDS}/tt-weasels.wav`, '-acodec', 'pcm_mulaw', '-ar', '8000', '-ac', '1', '-f', 'rtp', '-rtpflags', 'send_bye', `rtp://127.0.0.1:${FORK_PORT}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const code = await new Promise<number | null>((resolve, reject) => {
      ffmpeg.once('error', (err) => reject(new Error(`ffmpeg could not start (Debian package ffmpeg): ${err.message}`)));
      ffmpeg.once('close', resolve);
    });
    expect(code).toBe(0);
    const closed = (): CallEv | undefined => firehose.find((e) => e.type === 'session.closed' && e.call?.source === 'rtp-fork');
    await waitFor('the call closed', () => closed() !== undefined, () => firehose.map((e) => e.type).join(', '), 20_000);
    expect(closed()).toMatchObject({ reason: 'rtcp_bye' });
    const id = closed()!.session_id;
    const finals = firehose.filter((e) => e.session_id === id && e.type === 'transcript.final');
    expect(finals.length).toBeGreaterThanOrEqual(1);
    expect(finals.map((f) => f.text).join(' ')).toMatch(/\w/);
    const m = await scrape(base);
    expect(metricValue(m, 'theo_rtcp_packets_total', { outcome: 'bye' })).toBe(1);
    expect(metricValue(m, 'theo_rtcp_packets_total', { outcome: 'report' })).toBeGreaterThanOrEqual(1);
  });

  it('a sender that multiplexes RTCP on the RTP port (RFC 5761): its BYE ends its call; a BYE for another SSRC does not', async () => {
    const a = await bound();
    const b = await bound();
    await Promise.all([talk(a, 0xaaa1, 25), talk(b, 0xbbb1, 25)]);
    await waitFor('two calls', () => from(a.address().port).length > 0 && from(b.address().port).length > 0, () => firehose.map((e) => e.type).join(', '));
    b.send(rrBye(0x12345), FORK_PORT, '127.0.0.1'); // not b's SSRC
    a.send(rrBye(0xaaa1), FORK_PORT, '127.0.0.1');
    await waitFor("a's call closed", () => from(a.address().port).some((e) => e.type === 'session.closed'), () => from(a.address().port).map((e) => e.type).join(', '), 20_000);
    expect(from(a.address().port).find((e) => e.type === 'session.closed')).toMatchObject({ reason: 'rtcp_bye' });
    const m = await scrape(base);
    expect(metricValue(m, 'theo_rtcp_packets_total', { outcome: 'bye_unknown' })).toBe(1);
    expect(from(b.address().port).some((e) => e.type === 'session.closed')).toBe(false);
    expect(metricValue(m, 'theo_calls_active', { source: 'rtp-fork' })).toBe(1);
    b.send(rrBye(0xbbb1), FORK_PORT + 1, '127.0.0.1'); // from its RTP port, to the RTCP port: still its call
    await waitFor("b's call closed", () => from(b.address().port).some((e) => e.type === 'session.closed'), () => from(b.address().port).map((e) => e.type).join(', '), 20_000);
    a.close();
    b.close();
  });

  it('counts malformed RTCP on both ports by reason, and goes on', async () => {
    const m0 = await scrape(base);
    const s = await bound();
    const bad = [hex('80cb0009 00000001'), hex('83cb0001 00000001'), hex('80c8'), hex('40c80001 00000001'), hex('a0c90001 00000000')];
    for (const buf of bad) {
      s.send(buf, FORK_PORT + 1, '127.0.0.1');
      s.send(buf, FORK_PORT, '127.0.0.1');
    }
    const m = await (async () => {
      for (let i = 0; i < 100; i++) {
        const t = await scrape(base);
        if (metricValue(t, 'theo_rtcp_packets_total', { outcome: 'malformed' }) - metricValue(m0, 'theo_rtcp_packets_total', { outcome: 'malformed' }) >= 8) return t;
        await new Promise((r) => setTimeout(r, 50));
      }
      return scrape(base);
    })();
    s.close();
    // On the RTP port, what is not RTCP-shaped (the 2-byte one, version 1) is malformed RTP, not RTCP.
    const delta = (reason: string): number => metricValue(m, 'theo_rtcp_malformed_packets_total', { reason }) - metricValue(m0, 'theo_rtcp_malformed_packets_total', { reason });
    expect(delta('bad_length')).toBe(4);
    expect(delta('padding_invalid')).toBe(2);
    expect(delta('truncated')).toBe(1);
    expect(delta('bad_version')).toBe(1);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});
