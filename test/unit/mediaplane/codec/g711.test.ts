import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alawDecode, alawEncode, g711Reference, linearToAlaw, linearToMulaw, mulawDecode, mulawEncode, mulawToLinear } from '../../../../src/mediaplane/codec/g711.js';
import { Prng } from '../../../../src/util/prng.js';

const SPEECH = '/usr/share/asterisk/sounds/en/tt-weasels.wav';
const dir = mkdtempSync(join(tmpdir(), 'theo-g711-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function wavData(path: string): Int16Array {
  const buf = readFileSync(path);
  const at = buf.indexOf('data', 12, 'ascii');
  const len = buf.readUInt32LE(at + 4);
  const pcm = Buffer.from(buf.subarray(at + 8, at + 8 + len));
  return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength / 2);
}

describe('G.711 tables', () => {
  it('decode matches the reference algorithm for all 256 codes, and known values', () => {
    for (let c = 0; c < 256; c++) {
      expect(mulawToLinear(c)).toBe(g711Reference.mulawDecodeRef(c));
    }
    // G.711: mu-law 0x00 is the most negative step, 0xFF and 0x7F are the two zeros
    expect(mulawToLinear(0x00)).toBe(-32124);
    expect(mulawToLinear(0x80)).toBe(32124);
    expect(mulawToLinear(0xff)).toBe(0);
    expect(mulawToLinear(0x7f)).toBe(0);
    const a = new Int16Array(2);
    alawDecode(Uint8Array.from([0xd5, 0x2a]), a);
    expect([...a]).toEqual([8, -32256]);
  });

  it('encode(decode(code)) is the identity for every code but mu-law negative zero', () => {
    for (let c = 0; c < 256; c++) {
      const expected = c === 0x7f ? 0xff : c; // -0 and +0 both decode to 0, which encodes as 0xFF
      expect(linearToMulaw(mulawToLinear(c))).toBe(expected);
      const pcm = new Int16Array(1);
      alawDecode(Uint8Array.of(c), pcm);
      expect(linearToAlaw(pcm[0]!)).toBe(c);
    }
  });

  it('encoding all 65536 inputs matches the reference and is monotonic', () => {
    let prevMu = -Infinity;
    for (let s = -32768; s < 32768; s++) {
      expect(linearToMulaw(s)).toBe(g711Reference.mulawEncodeRef(s));
      expect(linearToAlaw(s)).toBe(g711Reference.alawEncodeRef(s));
      const v = mulawToLinear(linearToMulaw(s));
      expect(v).toBeGreaterThanOrEqual(prevMu);
      prevMu = v;
    }
  });

  it('the two-samples-per-lookup fast path equals the byte path at every alignment and length', () => {
    const prng = new Prng(5);
    const backing = prng.fill(new Uint8Array(1200));
    for (const [srcOff, len, dstOff] of [[0, 160, 0], [1, 160, 0], [2, 161, 1], [3, 999, 3], [0, 33, 2], [4, 1000, 0]] as const) {
      const src = backing.subarray(srcOff, srcOff + len);
      const fast = new Int16Array(len + 4);
      const slow = new Int16Array(len + 4);
      mulawDecode(src, fast, dstOff);
      for (let i = 0; i < len; i++) slow[dstOff + i] = mulawToLinear(src[i]!);
      expect(fast).toEqual(slow);
      alawDecode(src, fast, dstOff);
      const ref = new Int16Array(1);
      for (let i = 0; i < len; i++) {
        alawDecode(src.subarray(i, i + 1), ref);
        slow[dstOff + i] = ref[0]!;
      }
      expect(fast).toEqual(slow);
    }
  });

  it('rejects an output that is too small, with byte counts', () => {
    expect(() => mulawDecode(new Uint8Array(10), new Int16Array(5))).toThrow(/10 bytes needs 10 samples at offset 0, output has 5/);
    expect(() => mulawEncode(new Int16Array(10), new Uint8Array(5))).toThrow(/needs 10 bytes/);
  });
});

describe('G.711 against sox (an independent implementation) on real speech', () => {
  const speech = wavData(SPEECH);

  it.each([
    ['ul', mulawEncode, mulawDecode],
    ['al', alawEncode, alawDecode],
  ] as const)('%s: our encoder output is byte-identical to sox, and so is our decoding of sox output', (type, encode, decode) => {
    const soxCoded = join(dir, `speech.${type}`);
    // -D: sox dithers by default when it reduces bit depth; an encoder comparison needs none.
    execFileSync('sox', ['-D', SPEECH, '-t', type, soxCoded]);
    const soxBytes = new Uint8Array(readFileSync(soxCoded));
    expect(soxBytes.length).toBe(speech.length);
    const ours = new Uint8Array(speech.length);
    encode(speech, ours, 0);
    expect(Buffer.from(ours).equals(Buffer.from(soxBytes))).toBe(true);

    const soxPcm = join(dir, `back-${type}.raw`);
    execFileSync('sox', ['-t', type, '-r', '8000', '-c', '1', soxCoded, '-t', 's16', '-e', 'signed', '-b', '16', '-L', soxPcm]);
    const expected = new Int16Array(new Uint8Array(readFileSync(soxPcm)).buffer);
    const decoded = new Int16Array(soxBytes.length);
    decode(soxBytes, decoded, 0);
    expect(decoded).toEqual(expected);
  });
});
