import { describe, expect, it } from 'vitest';
import { PCMA, PCMU, codecByName, l16 } from '../../../../src/mediaplane/codec/codec.js';
import { l16Decode, l16Encode } from '../../../../src/mediaplane/codec/l16.js';
import { PayloadTypeMap } from '../../../../src/mediaplane/codec/payload-types.js';

describe('L16', () => {
  it('is big-endian on the wire (RFC 3551 §4.5.11)', () => {
    const bytes = new Uint8Array(6);
    l16Encode(Int16Array.from([1, -2, 0x1234]), bytes);
    expect([...bytes]).toEqual([0x00, 0x01, 0xff, 0xfe, 0x12, 0x34]);
    const back = new Int16Array(3);
    expect(l16Decode(Uint8Array.from([...bytes, 0x99]), back)).toBe(3); // odd trailing byte ignored
    expect([...back]).toEqual([1, -2, 0x1234]);
  });
});

describe('codecs', () => {
  it('resolves names and sizes', () => {
    expect(codecByName('ULAW')).toBe(PCMU);
    expect(codecByName('alaw')).toBe(PCMA);
    expect(codecByName('slin16')).toBe(l16(16000));
    expect(codecByName('l16', 44100)!.clockRate).toBe(44100);
    expect(codecByName('opus')).toBeUndefined();
    expect(PCMU.samplesIn(160)).toBe(160);
    expect(l16(16000).samplesIn(640)).toBe(320);
    expect(l16(16000).bytesFor(320)).toBe(640);
  });
});

describe('PayloadTypeMap', () => {
  it('has the static and Asterisk defaults', () => {
    const m = PayloadTypeMap.defaults();
    expect(m.get(0)).toMatchObject({ kind: 'audio', codec: PCMU });
    expect(m.get(8)).toMatchObject({ kind: 'audio', codec: PCMA });
    expect(m.get(118)).toMatchObject({ kind: 'audio', codec: l16(16000) });
    expect(m.get(101)).toEqual({ kind: 'telephone-event', payloadType: 101, clockRate: 8000 });
    expect(m.get(96)).toBeUndefined();
  });

  it('parses overrides and removals', () => {
    const m = PayloadTypeMap.parse(' 96=L16/16000, 100=telephone-event/16000 ,118=none,97=pcmu');
    expect(m.get(96)).toMatchObject({ codec: l16(16000) });
    expect(m.get(100)).toEqual({ kind: 'telephone-event', payloadType: 100, clockRate: 16000 });
    expect(m.get(118)).toBeUndefined();
    expect(m.get(97)).toMatchObject({ codec: PCMU });
  });

  it.each([
    ['96', /not NUMBER=ENCODING/],
    ['200=PCMU', /out of range/],
    ['96=opus/48000', /unknown encoding "opus"/],
    ['0=PCMU/16000', /runs at 8000 Hz, not 16000/],
  ])('rejects %s', (spec, msg) => {
    expect(() => PayloadTypeMap.parse(spec)).toThrow(msg);
  });
});
