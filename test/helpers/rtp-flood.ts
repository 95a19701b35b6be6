// Helpers for tests that attack the RTP fork: many UDP sources (each its own socket, on loopback addresses
// 127.0.0.x) sending short runs of RTP, a /metrics reader, and a realtime WebSocket session probe.
import dgram from 'node:dgram';
import WebSocket from 'ws';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';

export interface FloodOptions {
  to: number;
  /** Loopback source addresses (127.0.0.x), sources spread over them in turn. */
  addresses: readonly string[];
  sources: number;
  /** Packets each source sends, back to back: a consistent run (same SSRC, seq +1, timestamp +160). */
  packets: number;
  /** Payload type of each packet (by index), default PCMU. */
  payloadType?: (i: number) => number;
  /** Payload bytes of each packet (by index), default 160 (20 ms of G.711). */
  payloadBytes?: (i: number) => number;
  /** 'rounds' (default): packet i of every source, then packet i + 1; 'sources': all of one source's, then the next's. */
  order?: 'rounds' | 'sources';
}

/** Binds every source first, then sends (see `order`); closes them all at the end. */
export async function flood(o: FloodOptions): Promise<{ sent: number; ms: number }> {
  const sockets: dgram.Socket[] = [];
  try {
    for (let s = 0; s < o.sources; s++) {
      const sock = dgram.createSocket('udp4');
      sock.on('error', () => undefined); // a send error (ICMP) on loopback is not what the test checks
      sockets.push(sock);
      const address = o.addresses[s % o.addresses.length]!;
      await new Promise<void>((r) => sock.bind(0, address, () => r()));
    }
    const t0 = performance.now();
    let sent = 0;
    const send = (s: number, i: number): Promise<void> =>
      new Promise<void>((resolve) => {
        const payload = new Uint8Array(o.payloadBytes?.(i) ?? 160).fill(0xff);
        const pkt = serializeRtp({ marker: i === 0, payloadType: o.payloadType?.(i) ?? 0, sequenceNumber: (1000 + i) & 0xffff, timestamp: 160 * (i + 1), ssrc: 0x5000 + s }, payload);
        sent++;
        sockets[s]!.send(pkt, o.to, '127.0.0.1', () => resolve());
      });
    if (o.order === 'sources') {
      for (let s = 0; s < sockets.length; s++) for (let i = 0; i < o.packets; i++) await send(s, i);
    } else {
      for (let i = 0; i < o.packets; i++) await Promise.all(sockets.map((_, s) => send(s, i)));
    }
    return { sent, ms: performance.now() - t0 };
  } finally {
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** The value of one sample of /metrics whose labels include `labels`; 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((x) => (x.startsWith(`${name}{`) || x.startsWith(`${name} `)) && want.every((w) => x.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

export async function scrape(base: string): Promise<string> {
  return (await fetch(`${base}/metrics`)).text();
}

/** Scrapes /metrics until `ok` holds for the text (every 50 ms); throws with `what` after `ms`. */
export async function untilMetrics(base: string, what: string, ok: (text: string) => boolean, ms = 20_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = await scrape(base);
    if (ok(text)) return text;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; /metrics: ${text.split('\n').filter((l) => /^(theo_rtp|theo_rtcp|theo_calls)/.test(l)).join('; ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Datagrams the RTP receive path has taken, every outcome together. */
export function datagramsTaken(text: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith('theo_rtp_packets_total{'))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/**
 * Opens a realtime WebSocket session and sends it 100 ms of audio (a Theo session takes its place in the pool
 * with its first audio): 'live' once the session is listed by GET /v1/sessions, else the error code it got
 * (e.g. session_limit) or how the socket closed.
 */
export async function realtimeSession(base: string): Promise<{ result: string; close: () => void }> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/realtime?sample_rate=8000`);
  let failure: string | undefined;
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString('utf8')) as { type: string; code?: string };
    if (m.type === 'error') failure ??= m.code ?? 'error';
  });
  ws.on('close', (code, reason) => (failure ??= `closed ${code} ${reason.toString()}`));
  const created = await new Promise<{ type: string; session_id?: string }>((resolve, reject) => {
    ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString('utf8')) as { type: string; session_id?: string }));
    ws.once('error', reject);
  });
  if (created.type !== 'session.created' || !created.session_id) return { result: created.type, close: () => ws.close() };
  ws.send(Buffer.alloc(1600));
  const end = Date.now() + 10_000;
  for (;;) {
    if (failure) return { result: failure, close: () => ws.close() };
    const listed = ((await (await fetch(`${base}/v1/sessions`)).json()) as { data: Array<{ id: string }> }).data;
    if (listed.some((s) => s.id === created.session_id)) return { result: 'live', close: () => ws.close() };
    if (Date.now() > end) return { result: 'not listed', close: () => ws.close() };
    await new Promise((r) => setTimeout(r, 50));
  }
}
