// Call admission on a plain RTP fork against a real `theo serve`: spoofed sources must cost nothing until they
// prove to be RTP calls, the fork holds only its share of the session pool and a bounded number of calls per
// source address, a realtime WebSocket session still starts while the fork is flooded, and a stream whose
// payload type flaps is one call. Every refusal is counted by reason in /metrics.
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';
import { SOUNDS } from '../helpers/audio.js';
import { serveCalls, type CallEv, type ServedCalls } from '../helpers/calls.js';
import { waitFor } from '../helpers/pace.js';
import { datagramsTaken, flood, metricValue, realtimeSession, scrape, untilMetrics } from '../helpers/rtp-flood.js';
import { runTheo } from '../helpers/theo.js';

const FORK_PORT = 43300;
const dir = mkdtempSync(join(tmpdir(), 'theo-admission-'));

let served: ServedCalls | undefined;
let base = '';
let firehose: CallEv[] = [];

beforeAll(async () => {
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(
    cfg,
    [
      'rtp:',
      '  idleTimeoutMs: 2000',
      'sessions:',
      '  max: 100', // the fork's share (default half) is 50 calls, calls together (default 0.8) 80
      'telephony:',
      '  fork:',
      '    maxCallsPerAddress: 20',
      '',
    ].join('\n'),
  );
  served = await serveCalls(['--preload', '--config', cfg, '--rtp-fork', String(FORK_PORT), '--rtp-ports', '43310-43349']);
  ({ base, firehose } = served);
}, 180_000);

afterAll(async () => {
  const stopped = await served?.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(stopped?.code ?? 0).toBe(0);
  // Tens of thousands of refusals, logged at a bounded rate: at most a line per reason per 10 s.
  const refusalLines = (stopped?.stderr ?? '').split('\n').filter((l) => l.includes('RTP source refused'));
  expect(refusalLines.length).toBeGreaterThan(0);
  expect(refusalLines.length).toBeLessThanOrEqual(20);
});

async function forkCalls(): Promise<number> {
  return metricValue(await scrape(base), 'theo_calls_active', { source: 'rtp-fork' });
}

async function liveSessions(): Promise<number> {
  return ((await (await fetch(`${base}/v1/sessions`)).json()) as { data: unknown[] }).data.length;
}

describe('RTP fork admission', () => {
  it('5,000 spoofed sources of 3 packets each open no call, cost bounded memory, and a realtime session still starts', async () => {
    const before = metricValue(await scrape(base), 'process_resident_memory_bytes');
    const { sent } = await flood({ to: FORK_PORT, addresses: ['127.0.0.1'], sources: 5000, packets: 3 });
    expect(sent).toBe(15_000);
    // Every datagram is taken (loopback loses none: the socket buffer holds the burst) and none became a call.
    const m = await untilMetrics(base, 'every datagram taken', (t) => datagramsTaken(t) >= sent);
    expect(metricValue(m, 'theo_rtp_packets_total', { outcome: 'probation' }) + metricValue(m, 'theo_rtp_packets_total', { outcome: 'refused' })).toBe(sent);
    expect(await forkCalls()).toBe(0);
    expect(await liveSessions()).toBe(0);
    expect(metricValue(m, 'theo_rtp_active_streams')).toBe(0);
    expect(metricValue(m, 'theo_rtp_sources_refused_total', { reason: 'pending_limit' })).toBeGreaterThan(0);
    const after = metricValue(await scrape(base), 'process_resident_memory_bytes');
    expect((after - before) / 2 ** 20).toBeLessThan(40);

    const ws = await realtimeSession(base);
    expect(ws.result).toBe('live');
    ws.close();
  });

  it('proven spoofs from several addresses: at most maxCallsPerAddress each and the fork share in all; realtime still gets a session', async () => {
    // 120 sources, one after the other: half from 127.0.0.1, a quarter each from .2 and .3; 8 consistent
    // packets each. Admitted in that order: .1 reaches its 20 after 40 sources (.2 and .3 have 10 each), then
    // .2 and .3 fill the fork's 50; the other 40 of .1 are refused for the address, the last 30 for the share.
    // The first flood's unproven sources are forgotten once quiet for 2 s (until then 127.0.0.1 has no room).
    const m0 = await untilMetrics(base, 'no unproven source', (t) => metricValue(t, 'theo_rtp_sources_pending') === 0);
    const { sent } = await flood({ to: FORK_PORT, addresses: ['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.3'], sources: 120, packets: 8, order: 'sources' });
    const m = await untilMetrics(base, 'every datagram taken', (t) => datagramsTaken(t) - datagramsTaken(m0) >= sent);
    expect(metricValue(m, 'theo_calls_active', { source: 'rtp-fork' })).toBe(50);
    const refused = (reason: string): number => metricValue(m, 'theo_rtp_sources_refused_total', { reason }) - metricValue(m0, 'theo_rtp_sources_refused_total', { reason });
    expect(refused('address_limit')).toBe(40);
    expect(refused('fork_share')).toBe(30);
    const fromAddress = (a: string): number => firehose.filter((e) => e.type === 'session.created' && e.call?.channel_id?.startsWith(`${a}:`)).length;
    expect(fromAddress('127.0.0.1')).toBe(20);
    expect(fromAddress('127.0.0.2') + fromAddress('127.0.0.3')).toBe(30);

    const ws = await realtimeSession(base);
    expect(ws.result).toBe('live');
    ws.close();

    // The spoofed calls end when their packets stop (rtp.idleTimeoutMs); the pool is free again.
    await waitFor('the spoofed calls ended', () => firehose.filter((e) => e.type === 'session.closed').length >= 50, () => String(firehose.length), 20_000);
    expect(await forkCalls()).toBe(0);
  });

  it('a real call is transcribed after the floods', async () => {
    const sent = await runTheo(['rtp', 'send', '--to', `127.0.0.1:${FORK_PORT}`, `${SOUNDS}/queue-thankyou.wav`]).done;
    expect(sent.code).toBe(0);
    const from = (JSON.parse(sent.stdout.trim().split('\n').pop()!) as { local_port: number }).local_port;
    const of = (): CallEv[] => firehose.filter((e) => e.call?.channel_id === `127.0.0.1:${from}>${FORK_PORT}`);
    await waitFor('the final', () => of().some((e) => e.type === 'transcript.final'), () => of().map((e) => e.type).join(', '));
    expect(of().filter((e) => e.type === 'transcript.final').map((e) => e.text).join(' ')).toMatch(/thank you/);
  });

  it('a stream whose payload type flaps PCMU <-> L16 on every packet is one call, and the flaps are counted', async () => {
    const m0 = await scrape(base);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const from = sock.address().port;
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) {
      const l16 = i % 2 === 1;
      // Each packet is 20 ms in its own format: 160 µ-law bytes at 8 kHz, or 320 samples of L16 at 16 kHz.
      const pkt = serializeRtp({ payloadType: l16 ? 118 : 0, sequenceNumber: 500 + i, timestamp: 160 * i, ssrc: 0xf1a9 }, new Uint8Array(l16 ? 640 : 160).fill(l16 ? 0 : 0xff));
      sock.send(pkt, FORK_PORT, '127.0.0.1');
      const wait = t0 + (i + 1) * 20 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    sock.close();
    const of = (): CallEv[] => firehose.filter((e) => e.call?.channel_id === `127.0.0.1:${from}>${FORK_PORT}`);
    await waitFor('the call ended', () => of().some((e) => e.type === 'session.closed'), () => of().map((e) => e.type).join(', '));
    expect(of().filter((e) => e.type === 'session.created')).toHaveLength(1);
    const m = await scrape(base);
    // The L16 packets were dropped as flapping (the call stays on PCMU's 8 kHz clock); none switched the stream.
    const flaps = metricValue(m, 'theo_rtp_packets_total', { outcome: 'payload_flap' }) - metricValue(m0, 'theo_rtp_packets_total', { outcome: 'payload_flap' });
    // (Those that came while the source proved itself count as probation: 4 of them unless a run restarted.)
    expect(flaps).toBeGreaterThanOrEqual(40);
    expect(flaps).toBeLessThanOrEqual(50);
    expect(metricValue(m, 'theo_rtp_format_switches_total')).toBe(metricValue(m0, 'theo_rtp_format_switches_total'));
  });
});
