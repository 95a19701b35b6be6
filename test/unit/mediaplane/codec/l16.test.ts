import { describe, expect, it } from 'vitest';
import { l16Decode, l16Encode } from '../../../../src/mediaplane/codec/l16.js';
import { Prng } from '../../../../src/util/prng.js';

describe('L16 (RFC 3551 §4.5.11)', () => {
  it('is big-endian on the wire: byte fixture both ways', () => {
    const samples = Int16Array.from([0, 1, -1, 0x1234, -32768, 32767, -2]);
    const wire = [0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0x12, 0x34, 0x80, 0x00, 0x7f, 0xff, 0xff, 0xfe];
    const bytes = new Uint8Array(wire.length);
    expect(l16Encode(samples, bytes)).toBe(14);
    expect([...bytes]).toEqual(wire);
    const back = new Int16Array(samples.length);
    expect(l16Decode(Uint8Array.from(wire), back)).toBe(7);
    expect(back).toEqual(samples);
  });

  it('ignores an odd trailing byte and writes at offsets without touching neighbours', () => {
    const out = new Int16Array(5).fill(99);
    expect(l16Decode(Uint8Array.from([0x01, 0x02, 0x80, 0x01, 0x77]), out, 2)).toBe(2);
    expect([...out]).toEqual([99, 99, 0x0102, -32767, 99]);
    const bytes = new Uint8Array(7).fill(0xee);
    expect(l16Encode(Int16Array.from([0x0a0b, -0x0a0b]), bytes, 2)).toBe(4);
    expect([...bytes]).toEqual([0xee, 0xee, 0x0a, 0x0b, 0xf5, 0xf5, 0xee]);
  });

  it('round-trips every 16-bit value and random payloads at odd byte offsets', () => {
    const all = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
    const wire = new Uint8Array(2 * all.length);
    l16Encode(all, wire);
    const back = new Int16Array(all.length);
    l16Decode(wire, back);
    expect(back).toEqual(all);
    // Payloads sit at odd offsets in a datagram as often as at even ones.
    const datagram = new Prng(3).fill(new Uint8Array(1001));
    const payload = datagram.subarray(13);
    const pcm = new Int16Array(payload.length >> 1);
    l16Decode(payload, pcm);
    const again = new Uint8Array(payload.length & ~1);
    l16Encode(pcm, again);
    expect(again).toEqual(payload.subarray(0, again.length));
  });

  it('rejects an output that is too small, with counts', () => {
    expect(() => l16Decode(new Uint8Array(10), new Int16Array(4))).toThrow('L16 decode of 10 bytes needs 5 samples at offset 0, output has 4');
    expect(() => l16Encode(new Int16Array(3), new Uint8Array(6), 1)).toThrow('L16 encode of 3 samples needs 6 bytes at offset 1, output has 6');
    expect(() => l16Decode(new Uint8Array(2), new Int16Array(4), -1)).toThrow(RangeError);
  });
});
