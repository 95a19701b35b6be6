// The drachtio-server double against a real drachtio-srf application like the recorded one: OPTIONS answered
// 200 with Allow, INVITEs by request user (echo/hold: answered with createUAS, re-INVITEs through 'modify';
// hangup: the app hangs up; busy: 486; slow: 180 and wait for the CANCEL). Every recorded scenario plays to
// its end at once on one connection without a violation, and the caller's RTP reaches the port of the app's
// SDP answer as recorded; departures, timeouts, reconnects, a wrong secret and the framing are checked too.
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import Srf from 'drachtio-srf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrachtioDouble, type PlayResult } from '../../helpers/drachtio-double.js';

const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS';
const SCALE = 0.1;

interface Received {
  seq: number;
  ts: number;
  ssrc: number;
  pt: number;
  marker: boolean;
  payload: Buffer;
  from: number;
  at: number;
}

interface AppCall {
  user: string;
  offerPort: number;
  port?: number;
  rtp: Received[];
  events: string[];
  byeAt?: number;
  socket?: dgram.Socket;
}

function answerSdp(port: number, direction: string, version: number): string {
  return `v=0\r\no=drachtio-probe 424242 ${version} IN IP4 127.0.0.1\r\ns=drachtio-probe\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=${direction}\r\n`;
}

function parseRtpDatagram(buf: Buffer, from: number): Received {
  return { marker: (buf[1]! & 0x80) !== 0, pt: buf[1]! & 0x7f, seq: buf.readUInt16BE(2), ts: buf.readUInt32BE(4), ssrc: buf.readUInt32BE(8), payload: buf.subarray(12), from, at: performance.now() };
}

/** A UAS like the recorded app. `mode` 'ignore' leaves INVITEs unanswered; a number answers them with that status. */
class TestApp {
  readonly srf = new Srf();
  readonly calls = new Map<string, AppCall>();
  readonly connectErrors: string[] = [];
  readonly errors: string[] = [];
  mode: 'normal' | 'ignore' | number = 'normal';
  hangupAfterMs = 400;

  constructor(port: number, secret: string) {
    this.srf.on('connect', (err) => {
      if (err) this.connectErrors.push(err.message);
    });
    this.srf.on('error', () => undefined);
    this.srf.use('options', (_req, res) => res.send(200, { headers: { Allow: ALLOW } }));
    this.srf.invite((req, res) => void this.onInvite(req, res));
    void this.srf.connect({ host: '127.0.0.1', port, secret, enablePing: true, pingInterval: 5000 } as Srf.SrfConfig);
  }

  close(): void {
    this.srf.disconnect();
    for (const c of this.calls.values()) c.socket?.close();
  }

  private async onInvite(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const call: AppCall = { user: /^sip:([^@]+)@/.exec(req.uri)?.[1] ?? '', offerPort: Number(/^m=audio (\d+)/m.exec(req.body)?.[1]), rtp: [], events: ['invite'] };
    this.calls.set(req.get('Call-ID'), call);
    try {
      if (this.mode === 'ignore') return;
      if (typeof this.mode === 'number') return res.send(this.mode);
      if (call.user === 'busy') return res.send(486);
      if (call.user === 'slow') {
        req.on('cancel', () => call.events.push('cancel'));
        return res.send(180);
      }
      await this.answer(req, res, call);
    } catch (err) {
      this.errors.push(`${call.user}: ${(err as Error).message}`);
    }
  }

  private async answer(req: Srf.SrfRequest, res: Srf.SrfResponse, call: AppCall): Promise<void> {
    const socket = dgram.createSocket('udp4');
    call.socket = socket;
    socket.on('message', (msg, rinfo) => call.rtp.push(parseRtpDatagram(msg, rinfo.port)));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port;
    call.port = port;
    let version = 1;
    const dialog = await this.srf.createUAS(req, res, { localSdp: answerSdp(port, 'sendrecv', version) });
    call.events.push('dialog');
    dialog.on('modify', (reinvite, r) => {
      const direction = /^a=sendonly/m.test(reinvite.body) ? 'recvonly' : 'sendrecv';
      r.send(200, { body: answerSdp(port, direction, ++version), headers: { 'Content-Type': 'application/sdp' } });
      call.events.push(`modify:${direction}`);
    });
    dialog.on('destroy', () => {
      call.byeAt = performance.now();
      call.events.push('bye-received');
    });
    if (call.user !== 'hangup') return;
    await delay(this.hangupAfterMs);
    await new Promise<void>((resolve) => dialog.destroy({ headers: { 'X-Reason': 'probe-uas-hangup' } }, () => resolve()));
    call.events.push('bye-sent');
  }
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await delay(20);
  }
}

describe('DrachtioDouble', () => {
  let double: DrachtioDouble;
  let app: TestApp;

  beforeAll(async () => {
    double = await DrachtioDouble.start();
    app = new TestApp(double.port, 'cymru');
    await double.whenReady();
  });

  afterAll(async () => {
    app.close();
    await double.close();
  });

  const callOf = (r: PlayResult): AppCall => {
    const c = app.calls.get(r.callId);
    if (!c) throw new Error(`the app saw no INVITE for ${r.callId}`);
    return c;
  };

  it('answers the recorded handshake', () => {
    expect(double.connections).toBe(1);
    expect(double.violations).toEqual([]);
  });

  it('plays every recorded scenario at once on one connection, with RTP to the answered port', async () => {
    const audio = Buffer.from(Array.from({ length: 150 * 160 }, (_v, i) => i % 251));
    const [options, withPing, basic, tcp, hold, hangup, busy, cancel] = await Promise.all([
      double.play('options', { timeScale: SCALE }),
      double.play('options_with_ping', { timeScale: SCALE }),
      double.play('basic_call', { timeScale: SCALE, audio }),
      double.play('basic_call_tcp', { timeScale: SCALE }),
      double.play('hold_unhold', { timeScale: SCALE }),
      double.play('uas_hangup', { timeScale: SCALE }),
      double.play('reject_486', { timeScale: SCALE }),
      double.play('cancel', { timeScale: SCALE }),
    ]);
    await delay(100);
    expect(double.violations).toEqual([]);
    expect(app.errors).toEqual([]);
    expect(new Set([options, withPing, basic, tcp, hold, hangup, busy, cancel].map((r) => r.callId)).size).toBe(8);

    for (const r of [options, withPing]) {
      expect(r.statuses).toEqual([200]);
      expect(r.appMessages).toEqual(['SIP/2.0 200 OK']);
    }
    expect(busy.statuses).toEqual([486]);
    expect(callOf(busy).events).toEqual(['invite']);
    expect(cancel.statuses).toEqual([180]);
    expect(callOf(cancel).events).toEqual(['invite', 'cancel']);

    // The caller's audio, extended past the 142 recorded packets, before its BYE; seq/ts/SSRC as recorded.
    const b = callOf(basic);
    expect(basic.statuses).toEqual([200, 200]);
    expect(basic.rtpPort).toBe(b.port);
    expect(basic.answerSdp).toContain(`m=audio ${b.port} `);
    expect(basic.rtpPacketsSent).toBe(150);
    expect(b.rtp).toHaveLength(150);
    expect(b.rtp.every((p, k) => p.seq === k && p.ts === 896 + 160 * k && p.ssrc === 0xca110000 && p.pt === 0 && !p.marker && p.from === b.offerPort)).toBe(true);
    expect(Buffer.concat(b.rtp.map((p) => p.payload)).equals(audio)).toBe(true);
    expect(b.byeAt).toBeGreaterThan(b.rtp.at(-1)!.at);
    expect(b.events).toEqual(['invite', 'dialog', 'bye-received']);

    const t = callOf(tcp);
    expect(tcp.rtpPacketsSent).toBe(142);
    expect(t.rtp).toHaveLength(142);
    expect(t.rtp.every((p) => p.payload.length === 160 && p.payload.every((x) => x === 0xff))).toBe(true);

    // Hold: recvonly answered, a 1.5 s pause in which the timestamp jumps and the sequence does not.
    const h = callOf(hold);
    expect(hold.statuses).toEqual([200, 200, 200, 200]);
    expect(h.events).toEqual(['invite', 'dialog', 'modify:recvonly', 'modify:sendrecv', 'bye-received']);
    expect(h.rtp).toHaveLength(151);
    const [before, after] = [h.rtp[75]!, h.rtp[76]!];
    expect([before.seq, after.seq, before.ts, after.ts]).toEqual([75, 76, 12896, 24960]);
    expect(after.at - before.at).toBeGreaterThan(1400);

    // The app hangs up: its BYE goes out as recorded and the caller's RTP stops.
    const u = callOf(hangup);
    expect(hangup.appMessages).toEqual(['SIP/2.0 200 OK', 'BYE sip:placeholder SIP/2.0']);
    expect(u.events).toEqual(['invite', 'dialog', 'bye-sent']);
    expect(hangup.rtpPacketsSent).toBeGreaterThan(5);
    expect(hangup.rtpPacketsSent).toBeLessThan(150);
    expect(u.rtp).toHaveLength(hangup.rtpPacketsSent);

    await until(() => double.pings >= 1, 6000);
    expect(double.violations).toEqual([]);
  });

  it('rejects a play whose app departs from the recording, or does not answer', async () => {
    app.mode = 480;
    await expect(double.play('reject_486', { timeScale: SCALE })).rejects.toThrow(/reject_486: step 1, the app's 'SIP\/2.0 480 Temporarily Unavailable': status "480", recorded "486"/);
    app.mode = 'ignore';
    await expect(double.play('basic_call', { timeScale: SCALE, timeoutMs: 300 })).rejects.toThrow("basic_call: no 'SIP/2.0 200 OK' from the app within 300 ms");
    app.mode = 'normal';
    expect(double.violations).toHaveLength(2);
    double.violations.length = 0;
  });

  it('waits for the next handshake after dropping the connection', async () => {
    double.dropConnection();
    await expect(double.play('options')).rejects.toThrow(/no app is connected/);
    await double.whenReady();
    expect(double.connections).toBe(2);
    const r = await double.play('options', { timeScale: SCALE });
    expect(r.statuses).toEqual([200]);
    expect(double.violations).toEqual([]);
  });

  it('answers a wrong secret NOK, which drachtio-srf reports as a failed connect', async () => {
    const intruder = new TestApp(double.port, 'not-the-secret');
    try {
      await until(() => intruder.connectErrors.length > 0, 2000);
      expect(intruder.connectErrors).toEqual(['failed to authenticate to server']);
      expect(double.authFailures).toBe(1);
      expect(double.connections).toBe(2);
      expect(double.violations).toEqual([]);
    } finally {
      intruder.close();
    }
  });
});

describe('DrachtioDouble wire framing', () => {
  it('reads frames split across and packed into TCP chunks by their UTF-8 byte length', async () => {
    const double = await DrachtioDouble.start();
    const socket = net.connect(double.port, '127.0.0.1');
    const replies: string[] = [];
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let hash = buf.indexOf('#'); hash > 0; hash = buf.indexOf('#')) {
        const end = hash + 1 + Number(buf.toString('latin1', 0, hash));
        if (buf.length < end) break;
        replies.push(buf.toString('utf8', hash + 1, end));
        buf = buf.subarray(end);
      }
    });
    socket.on('error', () => undefined);
    const frame = (s: string): Buffer => Buffer.from(`${Buffer.byteLength(s)}#${s}`);
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      const auth = frame(`${randomUUID()}|authenticate|cymru|café`);
      socket.write(auth.subarray(0, 2));
      await delay(20);
      socket.write(Buffer.concat([auth.subarray(2), frame(`${randomUUID()}|route|options`), frame(`${randomUUID()}|route|invite`).subarray(0, 30)]));
      await delay(20);
      socket.write(Buffer.concat([frame(`${randomUUID()}|route|invite`).subarray(30), frame(`${randomUUID()}|ping`)]));
      await double.whenReady();
      await until(() => replies.length === 4, 2000);
      expect(replies[0]).toMatch(/^[0-9a-f-]{36}\|response\|[0-9a-f-]{36}\|OK\|tcp\/127\.0\.0\.1:5060,udp\/127\.0\.0\.1:5060\|v0\.9\.10-1-g9c2dd4cb6a\|tcp\/127\.0\.0\.1:5060,udp\/127\.0\.0\.1:5060$/);
      expect(replies.slice(1, 3).map((r) => r.split('|').slice(1, 2).concat(r.split('|').slice(3)))).toEqual([['response', 'OK'], ['response', 'OK']]);
      expect(replies[3]).toMatch(/\|response\|[0-9a-f-]{36}\|OK\|pong$/);
      expect([double.connections, double.pings]).toEqual([1, 1]);
      expect(double.violations).toEqual([]);

      socket.write('12x#garbage');
      await new Promise((resolve) => socket.once('close', resolve));
      expect(double.violations).toEqual(["wire: malformed frame length '12x'; closing the connection"]);
    } finally {
      socket.destroy();
      await double.close();
    }
  });
});
