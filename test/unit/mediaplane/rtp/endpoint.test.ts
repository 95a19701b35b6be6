// Receive-path logic of RtpEndpoint/RtpStream driven through onDatagram (no network needed).
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../src/config/index.js';
import { MediaClock } from '../../../../src/mediaplane/clock.js';
import { RtpListener } from '../../../../src/mediaplane/rtp/listener.js';
import { serializeRtp } from '../../../../src/mediaplane/rtp/packet.js';
import { writeTelephoneEvent } from '../../../../src/mediaplane/rtp/dtmf.js';
import { PCMA, PCMU } from '../../../../src/mediaplane/codec/codec.js';
import { SWITCH_PACKETS, type AudioFrame } from '../../../../src/mediaplane/rtp/stream.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { createRegistry } from '../../../../src/observability/metrics.js';

const A = '10.0.0.1';
const B = '10.0.0.2';
let listener: RtpListener | undefined;

function setup(jitter: Record<string, unknown> = { mode: 'fixed', depthMs: 40, minDepthMs: 0 }, extra: Record<string, unknown> = {}) {
  const config = loadConfig({ env: {}, overrides: { rtp: { portMin: 41300, portMax: 41399, jitter, idleTimeoutMs: 1000, ...extra } } });
  const clock = new MediaClock(1_000_000); // never fires by itself: tests tick by hand
  const registry = createRegistry({ defaultMetrics: false });
  listener = new RtpListener({ config: config.rtp, logger: silentLogger(), clock, registry });
  return { listener, clock, registry };
}

afterEach(() => {
  listener?.close();
  listener = undefined;
});

function pcmu(seq: number, ts: number, opts: { marker?: boolean; ssrc?: number; byte?: number; len?: number; pt?: number } = {}): Buffer {
  const payload = Buffer.alloc(opts.len ?? 160, opts.byte ?? 0xff);
  return serializeRtp({ marker: opts.marker ?? false, payloadType: opts.pt ?? 0, sequenceNumber: seq, timestamp: ts, ssrc: opts.ssrc ?? 0x1234 }, payload);
}

function collect(frames: AudioFrame[]) {
  return (f: AudioFrame): void => {
    frames.push({ ...f, pcm: f.pcm.slice() });
  };
}

describe('RtpEndpoint receive path', () => {
  it('pins the first valid source and drops others as foreign; garbage does not pin', async () => {
    const { listener } = setup();
    const ep = await listener.open();
    const frames: AudioFrame[] = [];
    ep.on('stream', (s) => s.on('audio', collect(frames)));
    ep.onDatagram(Buffer.from([1, 2, 3]), B, 5000, 0); // garbage from B first
    expect(ep.peer).toBeUndefined();
    ep.onDatagram(pcmu(1, 0), A, 4000, 0);
    expect(ep.peer).toEqual({ address: A, port: 4000 });
    ep.onDatagram(pcmu(2, 160), B, 4000, 1); // injection attempt from another host
    ep.onDatagram(pcmu(2, 160), A, 4002, 1); // same host, other port
    ep.onDatagram(pcmu(2, 160), A, 4000, 20);
    listener.onTick(100);
    const c = listener.counters;
    expect(c.datagrams).toBe(5);
    expect(c.outcome.foreign_source).toBe(2);
    expect(c.outcome.malformed).toBe(1);
    expect(c.malformed.truncated).toBe(1);
    expect(c.outcome.accepted).toBe(2);
    expect(c.outcomesTotal()).toBe(c.datagrams);
    expect(frames.map((f) => [f.timestamp, f.position, f.pcm.length, f.kind])).toEqual([
      [0, 0, 160, 'audio'],
      [160, 160, 160, 'audio'],
    ]);
  });

  it('with an expected peer, even the first packet from elsewhere is foreign', async () => {
    const { listener } = setup();
    const ep = await listener.open({ expectedPeer: { address: A } });
    ep.onDatagram(pcmu(1, 0), B, 4000, 0);
    expect(listener.counters.outcome.foreign_source).toBe(1);
    expect(ep.streams()).toHaveLength(0);
    ep.onDatagram(pcmu(1, 0), A, 4444, 0); // port learned from the first packet (symmetric RTP)
    ep.onDatagram(pcmu(2, 160), A, 4446, 0);
    expect(ep.peer).toEqual({ address: A, port: 4444 });
    expect(listener.counters.outcome.foreign_source).toBe(2);
  });

  it('counts unknown payload types, RTCP and every malformed reason without opening a stream', async () => {
    const { listener } = setup();
    const ep = await listener.open();
    ep.onDatagram(pcmu(1, 0, { pt: 99 }), A, 4000, 0);
    const rtcp = Buffer.from([0x80, 200, 0, 6, 0, 0, 0, 1, ...new Array<number>(20).fill(0)]);
    ep.onDatagram(rtcp, A, 4000, 0);
    const v1 = pcmu(1, 0);
    v1[0] = 0x40;
    ep.onDatagram(v1, A, 4000, 0);
    const csrc = pcmu(1, 0, { len: 4 });
    csrc[0] = 0x8f; // 15 CSRCs claimed, 4 bytes present
    ep.onDatagram(csrc, A, 4000, 0);
    const pad = pcmu(1, 0, { len: 4 });
    pad[0] = 0xa0;
    pad[pad.length - 1] = 200; // padding longer than the packet
    ep.onDatagram(pad, A, 4000, 0);
    const c = listener.counters;
    expect(c.outcome.unknown_payload_type).toBe(1);
    expect(c.outcome.rtcp).toBe(1);
    expect(c.malformed.bad_version).toBe(1);
    expect(c.malformed.csrc_overrun).toBe(1);
    expect(c.malformed.padding_overrun).toBe(1);
    expect(c.outcomesTotal()).toBe(c.datagrams);
    expect(ep.streams()).toHaveLength(0);
    expect(ep.peer).toBeUndefined();
  });

  it('multi-source mode opens one stream per allowed source', async () => {
    const { listener } = setup();
    const ep = await listener.open({ sourcePolicy: 'multi', allow: [A] });
    ep.onDatagram(pcmu(1, 0), A, 4000, 0);
    ep.onDatagram(pcmu(1, 0, { ssrc: 9 }), A, 4002, 0);
    ep.onDatagram(pcmu(1, 0), B, 4000, 0);
    expect(ep.streams().map((s) => s.source)).toEqual([
      { address: A, port: 4000 },
      { address: A, port: 4002 },
    ]);
    expect(listener.counters.outcome.foreign_source).toBe(1);
  });

  it('conceals a lost packet with a fade, counts it, and keeps the timeline', async () => {
    const { listener } = setup();
    const ep = await listener.open();
    const frames: AudioFrame[] = [];
    ep.on('stream', (s) => s.on('audio', collect(frames)));
    for (const i of [0, 1, 3, 4]) ep.onDatagram(pcmu(10 + i, i * 160, { byte: 0x80 }), A, 4000, i * 20);
    listener.onTick(200);
    expect(frames.map((f) => [f.position, f.kind])).toEqual([
      [0, 'audio'],
      [160, 'audio'],
      [320, 'concealed'],
      [480, 'audio'],
      [640, 'audio'],
    ]);
    const concealed = frames[2]!.pcm;
    expect(Math.abs(concealed[0]!)).toBeGreaterThan(0); // repeats the last audio...
    expect(Math.abs(concealed[159]!)).toBeLessThan(Math.abs(concealed[0]!)); // ...fading out
    expect(listener.counters.lostPackets).toBe(1);
    expect(listener.counters.concealedSamples).toBe(160);
  });

  it('reports DTMF once per digit and does not call its sequence slots loss', async () => {
    const { listener } = setup();
    const ep = await listener.open();
    const digits: string[] = [];
    const frames: AudioFrame[] = [];
    ep.on('stream', (s) => {
      s.on('dtmf', (d) => digits.push(`${d.type}:${d.digit}`));
      s.on('audio', collect(frames));
    });
    let seq = 500;
    ep.onDatagram(pcmu(seq++, 0), A, 4000, 0);
    const ev = (end: boolean, duration: number, marker: boolean): Buffer => {
      const payload = new Uint8Array(4);
      writeTelephoneEvent({ event: 5, end, volume: 10, duration }, payload, 0);
      return serializeRtp({ marker, payloadType: 101, sequenceNumber: seq++, timestamp: 160, ssrc: 0x1234 }, payload);
    };
    ep.onDatagram(ev(false, 160, true), A, 4000, 20);
    ep.onDatagram(ev(false, 320, false), A, 4000, 40);
    for (let i = 0; i < 3; i++) ep.onDatagram(ev(true, 480, false), A, 4000, 60);
    ep.onDatagram(pcmu(seq++, 640), A, 4000, 80);
    listener.onTick(300);
    expect(digits).toEqual(['begin:5', 'end:5']);
    expect(listener.counters.dtmfEvents).toBe(1);
    expect(listener.counters.lostPackets).toBe(0);
    // the audio resumes after the digit: the pause is silence in the timeline, not concealment
    expect(frames.map((f) => f.kind)).toEqual(['audio', 'silence', 'audio']);
    expect(frames.at(-1)!.position).toBe(640);
  });

  it('a throwing listener is reported and the stream carries on', async () => {
    const { listener } = setup();
    const ep = await listener.open();
    let calls = 0;
    const errors: unknown[] = [];
    ep.on('stream', (s) => {
      s.on('listenerError', (e) => errors.push(e));
      s.on('audio', () => {
        calls++;
        throw new Error('consumer bug');
      });
    });
    for (let i = 0; i < 3; i++) ep.onDatagram(pcmu(i, i * 160), A, 4000, i * 20);
    listener.onTick(200);
    expect(calls).toBe(3);
    expect(errors).toHaveLength(3);
    expect(listener.counters.outcome.accepted).toBe(3);
  });

  it("runs a stream's tick handler on each clock tick, after playout; a throwing one is reported; none once closed", async () => {
    const { listener } = setup();
    const ep = await listener.open();
    const seen: string[] = [];
    const errors: unknown[] = [];
    ep.on('stream', (s) => {
      s.on('listenerError', (e) => errors.push(e));
      s.on('audio', () => seen.push('audio'));
      s.on('close', (r) => seen.push(`close ${r}`));
      s.onTick((now) => {
        seen.push(`tick ${now}`);
        if (now === 300) throw new Error('consumer bug');
      });
    });
    ep.onDatagram(pcmu(1, 0), A, 4000, 0);
    listener.onTick(100); // past the 40 ms hold: the frame plays out, then the tick
    listener.onTick(300);
    listener.onTick(400);
    listener.onTick(1001); // idle: closed, no tick
    listener.onTick(1100);
    expect(seen).toEqual(['audio', 'tick 100', 'tick 300', 'tick 400', 'close idle']);
    expect(errors).toHaveLength(1);
  });

  it('closes idle streams on the shared clock, and a later packet opens a new one', async () => {
    const { listener } = setup();
    const ep = await listener.open();
    const closes: string[] = [];
    ep.on('stream', (s) => s.on('close', (r) => closes.push(r)));
    ep.onDatagram(pcmu(1, 0), A, 4000, 0);
    listener.onTick(500);
    expect(ep.streams()).toHaveLength(1);
    listener.onTick(1001);
    expect(closes).toEqual(['idle']);
    expect(ep.streams()).toHaveLength(0);
    expect(listener.counters.streamsTimedOut).toBe(1);
    ep.onDatagram(pcmu(2, 160), A, 4000, 1100);
    expect(ep.streams()).toHaveLength(1);
    expect(listener.counters.streamsOpened).toBe(2);
  });

  it('close() flushes held audio, cascades, frees the port, and is safe twice', async () => {
    const { listener } = setup({ mode: 'fixed', depthMs: 1000, minDepthMs: 0, maxDepthMs: 2000 });
    const ep = await listener.open();
    const frames: AudioFrame[] = [];
    const events: string[] = [];
    ep.on('stream', (s) => {
      s.on('audio', collect(frames));
      s.on('close', (r) => events.push(`stream:${r}`));
    });
    ep.on('close', () => events.push('endpoint'));
    ep.onDatagram(pcmu(1, 0), A, 4000, 0);
    ep.onDatagram(pcmu(2, 160), A, 4000, 20);
    expect(listener.stats().portsAllocated).toBe(1);
    ep.close();
    ep.close();
    expect(frames).toHaveLength(2);
    expect(events).toEqual(['stream:endpoint_closed', 'endpoint']);
    expect(listener.stats().portsAllocated).toBe(0);
    ep.onDatagram(pcmu(3, 320), A, 4000, 40);
    expect(listener.counters.outcome.closed).toBe(1);
  });

  it('exposes the counters as Prometheus metrics', async () => {
    const { listener, registry } = setup();
    const ep = await listener.open();
    ep.onDatagram(pcmu(1, 0), A, 4000, 0);
    ep.onDatagram(pcmu(1, 0), B, 4000, 0);
    ep.onDatagram(Buffer.alloc(5), A, 4000, 0);
    const text = await registry.metrics();
    expect(text).toMatch(/^theo_rtp_packets_total\{outcome="accepted"\} 1$/m);
    expect(text).toMatch(/^theo_rtp_packets_total\{outcome="foreign_source"\} 1$/m);
    expect(text).toMatch(/^theo_rtp_malformed_packets_total\{reason="truncated"\} 1$/m);
    expect(text).toMatch(/^theo_rtp_foreign_source_packets_total 1$/m);
    expect(text).toMatch(/^theo_rtp_active_streams 1$/m);
    expect(text).toMatch(/^theo_rtp_packet_loss_total 0$/m);
    expect(text).toMatch(/# TYPE theo_rtp_jitter_seconds histogram/);
  });

  describe('payload formats within one stream', () => {
    const decoded = (codec: typeof PCMU, bytes: Uint8Array): number[] => {
      const out = new Int16Array(bytes.length);
      codec.decode(bytes, out, 0);
      return [...out];
    };
    /** An endpoint of a fresh listener, with its streams counted and their frames and resets collected. */
    async function watched(): Promise<{ rtp: RtpListener; ep: Awaited<ReturnType<RtpListener['open']>>; frames: AudioFrame[]; resets: string[]; streams: () => number }> {
      const rtp = setup().listener;
      const ep = await rtp.open();
      const frames: AudioFrame[] = [];
      const resets: string[] = [];
      let streams = 0;
      ep.on('stream', (s) => {
        streams++;
        s.on('audio', collect(frames));
        s.on('reset', (r) => resets.push(r));
      });
      return { rtp, ep, frames, resets, streams: () => streams };
    }

    it('PCMU and PCMA alternating (one clock): one timeline, each packet decoded with its own codec, no reset', async () => {
      const { rtp, ep, frames, resets } = await watched();
      for (let i = 0; i < 6; i++) ep.onDatagram(pcmu(10 + i, 160 * i, { pt: i % 2 === 0 ? 0 : 8, byte: 0x2a, len: 4 }), A, 4000, 20 * i);
      rtp.onTick(500);
      expect(resets).toEqual([]);
      expect(frames.map((f) => [f.timestamp, f.kind])).toEqual([0, 160, 320, 480, 640, 800].flatMap((t) => [[t, 'audio'], ...(t < 800 ? [[t + 4, 'silence']] : [])]));
      const audio = frames.filter((f) => f.kind === 'audio').map((f) => [...f.pcm]);
      const bytes = new Uint8Array(4).fill(0x2a);
      expect(audio).toEqual([0, 1, 2, 3, 4, 5].map((i) => decoded(i % 2 === 0 ? PCMU : PCMA, bytes)));
      expect(decoded(PCMU, bytes)).not.toEqual(decoded(PCMA, bytes));
    });

    it('PCMU and L16/16000 alternating on every packet: one stream on its first clock, the other packets dropped and counted as flapping', async () => {
      const { rtp, ep, frames, resets, streams } = await watched();
      for (let i = 0; i < 40; i++) {
        const wide = i % 2 === 1;
        ep.onDatagram(pcmu(10 + i, 160 * i, { pt: wide ? 118 : 0, len: wide ? 640 : 160 }), A, 4000, 20 * i);
        rtp.onTick(20 * i);
      }
      rtp.onTick(2000);
      expect(streams()).toBe(1);
      expect(resets).toEqual([]);
      expect(new Set(frames.map((f) => f.sampleRate))).toEqual(new Set([8000]));
      const c = rtp.counters;
      expect(c.outcome.payload_flap).toBe(20);
      expect(c.formatSwitches).toBe(0);
      expect(c.outcomesTotal()).toBe(c.datagrams);
    });

    it(`switches to a format of another clock after ${SWITCH_PACKETS} packets of it in a row (a codec change): one reset, one stream`, async () => {
      const { rtp, ep, frames, resets, streams } = await watched();
      let t = 0;
      for (let i = 0; i < 10; i++, t += 20) ep.onDatagram(pcmu(10 + i, 160 * i), A, 4000, t);
      for (let i = 0; i < 10; i++, t += 20) ep.onDatagram(pcmu(20 + i, 50_000 + 320 * i, { pt: 118, len: 640 }), A, 4000, t);
      rtp.onTick(t + 500);
      expect(streams()).toBe(1);
      expect(resets).toEqual(['codec_change']);
      const c = rtp.counters;
      expect(c.formatSwitches).toBe(1);
      expect(c.outcome.payload_flap).toBe(SWITCH_PACKETS - 1);
      const wide = frames.filter((f) => f.sampleRate === 16000 && f.kind === 'audio');
      expect(wide.reduce((n, f) => n + f.pcm.length, 0)).toBe(320 * (10 - SWITCH_PACKETS + 1));
    });
  });

  describe('RTCP', () => {
    const bye = (ssrc: number): Buffer => {
      const b = Buffer.from('81cb000100000000', 'hex');
      b.writeUInt32BE(ssrc, 4);
      return b;
    };

    it("a BYE ends a multi-source stream of its sender (same address, its RTP port or the next, its SSRC) and only that", async () => {
      const { listener } = setup();
      const ep = await listener.open({ sourcePolicy: 'multi', allow: [A, B] });
      const closed: string[] = [];
      ep.on('stream', (s) => s.on('close', (r) => closed.push(`${s.source.port}:${r}`)));
      for (const port of [4000, 4002, 4004]) ep.onDatagram(pcmu(1, 0, { ssrc: port }), A, port, 0);
      ep.onRtcpDatagram(bye(4000), B, 4000); // another address
      ep.onRtcpDatagram(bye(4000), A, 4002); // another source's port
      ep.onRtcpDatagram(bye(4002), A, 4003); // its RTP port + 1: its own
      ep.onRtcpDatagram(bye(4004), A, 4004); // multiplexed
      expect(closed).toEqual(['4002:bye', '4004:bye']);
      expect(ep.streams().map((s) => s.source.port)).toEqual([4000]);
      const c = listener.counters;
      expect(c.rtcp).toMatchObject({ bye: 2, bye_unknown: 2 });
    });

    it('on a pinned port a BYE is counted and the stream goes on (its signalling ends the call); foreign RTCP is dropped', async () => {
      const { listener } = setup();
      const ep = await listener.open();
      ep.onDatagram(pcmu(1, 0), A, 4000, 0);
      ep.onRtcpDatagram(bye(0x1234), A, 4001);
      ep.onRtcpDatagram(bye(0x1234), B, 4001);
      ep.onDatagram(bye(0x1234), A, 4000, 1); // multiplexed: an RTP outcome, then read as RTCP
      expect(ep.streams()).toHaveLength(1);
      const c = listener.counters;
      expect(c.rtcp).toMatchObject({ bye_ignored: 2, foreign_source: 1 });
      expect(c.outcome.rtcp).toBe(1);
    });
  });
});
