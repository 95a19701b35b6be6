import { describe, expect, it } from 'vitest';
import { MediaClock } from '../../../../src/mediaplane/clock.js';
import { PCMU, l16 } from '../../../../src/mediaplane/codec/codec.js';
import { mulawDecode } from '../../../../src/mediaplane/codec/g711.js';
import { parseRtp } from '../../../../src/mediaplane/rtp/packet.js';
import { RtpPacketizer } from '../../../../src/mediaplane/rtp/packetizer.js';
import { RtpSendStream } from '../../../../src/mediaplane/rtp/send-stream.js';

function ramp(n: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => ((i * 37) % 2000) - 1000);
}

describe('RtpPacketizer', () => {
  it('numbers packets across the wrap and marks the talkspurt start', () => {
    const p = new RtpPacketizer({ codec: PCMU, payloadType: 0, ssrc: 0xdeadbeef, sequenceNumber: 65535, timestamp: 0xffffff80 });
    const a = parseRtp(p.packetize(ramp(160)));
    const b = parseRtp(p.packetize(ramp(160)));
    expect([a.sequenceNumber, b.sequenceNumber]).toEqual([65535, 0]);
    expect([a.timestamp, b.timestamp]).toEqual([0xffffff80, 0x20]);
    expect([a.marker, b.marker]).toEqual([true, false]);
    expect(a.ssrc).toBe(0xdeadbeef);
    expect(a.payload.byteLength).toBe(160);
    p.pause(800);
    const c = parseRtp(p.packetize(ramp(80)));
    expect(c.marker).toBe(true);
    expect(c.timestamp).toBe(0x20 + 160 + 800);
    expect(c.payload.byteLength).toBe(80);
  });

  it('L16 at 16 kHz: 320 samples per 20 ms, 640 big-endian bytes', () => {
    const p = new RtpPacketizer({ codec: l16(16000), payloadType: 118, ssrc: 1, sequenceNumber: 1, timestamp: 0 });
    expect(p.frameSamples).toBe(320);
    const pkt = parseRtp(p.packetize(Int16Array.from({ length: 320 }, (_, i) => i)));
    expect(pkt.payload.byteLength).toBe(640);
    expect([pkt.payload[0], pkt.payload[1], pkt.payload[2], pkt.payload[3]]).toEqual([0, 0, 0, 1]);
  });
});

describe('RtpSendStream', () => {
  it('paces 20 ms packets from the talkspurt start without drift, and carries the PCM exactly', () => {
    const clock = new MediaClock(1000);
    const out: Array<{ pkt: ReturnType<typeof parseRtp>; due: number }> = [];
    const s = new RtpSendStream({ codec: PCMU, payloadType: 0, ssrc: 5, sequenceNumber: 100, timestamp: 1000, clock, transmit: (d, due) => out.push({ pkt: parseRtp(d), due }) });
    const pcm = ramp(160 * 10 + 40);
    s.write(pcm);
    // Irregular ticks: every packet still gets its exact due time.
    for (const t of [0, 7, 19, 20, 55, 61, 99, 140, 141, 250]) clock.tick(t);
    expect(out.map((o) => o.due)).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
    expect(out.map((o) => o.pkt.sequenceNumber)).toEqual([...Array(11).keys()].map((i) => 100 + i));
    expect(out.at(-1)!.pkt.payload.byteLength).toBe(40);
    const decoded = new Int16Array(pcm.length);
    let off = 0;
    for (const o of out) off += mulawDecode(o.pkt.payload, decoded, off);
    // mu-law is lossy: compare to the encoder/decoder round trip of the same PCM
    const ref = new Uint8Array(pcm.length);
    PCMU.encode(pcm, ref, 0);
    const refPcm = new Int16Array(pcm.length);
    mulawDecode(ref, refPcm, 0);
    expect(decoded).toEqual(refPcm);
    expect(clock.size).toBe(0); // idle sender leaves the clock
    clock.stop();
  });

  it('starts a new talkspurt after a pause with the marker bit and a timestamp that covers the pause', () => {
    const clock = new MediaClock(1000);
    const out: ReturnType<typeof parseRtp>[] = [];
    const s = new RtpSendStream({ codec: PCMU, payloadType: 0, ssrc: 5, sequenceNumber: 0, timestamp: 0, clock, transmit: (d) => out.push(parseRtp(d)) });
    s.write(ramp(320));
    clock.tick(0);
    clock.tick(20);
    clock.tick(40); // drained: talkspurt ended at 40 ms
    s.write(ramp(160));
    clock.tick(540);
    expect(out.map((p) => [p.sequenceNumber, p.timestamp, p.marker])).toEqual([
      [0, 0, true],
      [1, 160, false],
      [2, 320 + 500 * 8, true],
    ]);
    s.close();
    s.close();
    clock.stop();
  });

  it('clear() drops queued audio (barge-in) and end() closes after the queue', () => {
    const clock = new MediaClock(1000);
    let sent = 0;
    const s = new RtpSendStream({ codec: PCMU, payloadType: 0, clock, transmit: () => sent++ });
    s.write(ramp(1600));
    clock.tick(0);
    s.clear();
    clock.tick(100);
    expect(sent).toBe(1);
    let closed = 0;
    s.on('close', () => closed++);
    s.write(ramp(320));
    s.end();
    clock.tick(200);
    clock.tick(220);
    clock.tick(240);
    expect(sent).toBe(3);
    expect(closed).toBe(1);
    expect(s.closed).toBe(true);
    clock.stop();
  });
});
