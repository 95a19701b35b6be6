import { describe, expect, it } from 'vitest';
import { PCMA, PCMU, codecByName, l16 } from '../../../../src/mediaplane/codec/codec.js';
import { isTheoErrorCode } from '../../../../src/errors/index.js';

describe('codecs', () => {
  it('describe G.711 and L16 for SDP and sizing', () => {
    expect(PCMU).toMatchObject({ name: 'PCMU', encodingName: 'PCMU', clockRate: 8000, bytesPerSample: 1 });
    expect(PCMA).toMatchObject({ name: 'PCMA', encodingName: 'PCMA', clockRate: 8000, bytesPerSample: 1 });
    expect(l16(16000)).toMatchObject({ name: 'L16', encodingName: 'L16', clockRate: 16000, bytesPerSample: 2 });
    expect(PCMU.samplesIn(160)).toBe(160);
    expect(PCMA.bytesFor(160)).toBe(160);
    expect(l16(16000).samplesIn(640)).toBe(320);
    expect(l16(16000).samplesIn(641)).toBe(320);
    expect(l16(16000).bytesFor(320)).toBe(640);
    expect(Object.isFrozen(PCMU)).toBe(true);
  });

  it('shares one L16 instance per rate and rejects nonsense rates', () => {
    expect(l16(16000)).toBe(l16(16000));
    expect(l16(8000)).not.toBe(l16(16000));
    for (const bad of [0, -8000, 8000.5, NaN]) {
      let caught: unknown;
      try {
        l16(bad);
      } catch (err) {
        caught = err;
      }
      expect(isTheoErrorCode(caught, 'invalid_argument')).toBe(true);
    }
  });

  it('resolves user-facing names case-insensitively', () => {
    for (const n of ['pcmu', 'PCMU', 'ulaw', 'mulaw', 'MuLaw', 'g711u']) expect(codecByName(n)).toBe(PCMU);
    for (const n of ['pcma', 'ALAW', 'g711a']) expect(codecByName(n)).toBe(PCMA);
    expect(codecByName('l16')).toBe(l16(8000));
    expect(codecByName('L16', 44100)).toBe(l16(44100));
    expect(codecByName('slin')).toBe(l16(8000));
    expect(codecByName('SLIN16')).toBe(l16(16000));
    expect(codecByName('slin16', 16000)).toBe(l16(16000));
    expect(codecByName('opus')).toBeUndefined();
    expect(codecByName('')).toBeUndefined();
  });

  it('finds nothing when a fixed-rate name is asked for at another rate', () => {
    expect(codecByName('pcmu', 8000)).toBe(PCMU);
    expect(codecByName('pcmu', 16000)).toBeUndefined();
    expect(codecByName('slin16', 8000)).toBeUndefined();
  });

  it('decode and encode go through the right tables', () => {
    const pcm = new Int16Array(2);
    expect(PCMU.decode(Uint8Array.from([0xff, 0x80]), pcm)).toBe(2);
    expect([...pcm]).toEqual([0, 32124]);
    expect(PCMA.decode(Uint8Array.from([0xd5, 0xaa]), pcm)).toBe(2);
    expect([...pcm]).toEqual([8, 32256]);
    const wire = new Uint8Array(4);
    expect(l16(16000).encode(Int16Array.from([0x0102, -1]), wire)).toBe(4);
    expect([...wire]).toEqual([1, 2, 0xff, 0xff]);
  });
});
