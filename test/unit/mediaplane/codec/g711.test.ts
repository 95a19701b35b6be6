import { describe, expect, it } from 'vitest';
import {
  alawDecode,
  alawEncode,
  alawToLinear,
  linearToAlaw,
  linearToMulaw,
  mulawDecode,
  mulawEncode,
  mulawToLinear,
} from '../../../../src/mediaplane/codec/g711.js';
import { Prng } from '../../../../src/util/prng.js';

// An independent transcription of sox's libsox/g711.c (itself the Sun/CCITT g711.c), written in its own
// shape (table search, switch) so that a slip in the module's table builder shows up here.
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
const search = (val: number, table: number[]): number => {
  const i = table.findIndex((end) => val <= end);
  return i < 0 ? table.length : i;
};
const ref = {
  ulaw2linear16: (u: number): number => {
    u = ~u & 0xff;
    let t = ((u & 0x0f) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    return u & 0x80 ? 0x84 - t : t - 0x84;
  },
  alaw2linear16: (a: number): number => {
    a ^= 0x55;
    let t = (a & 0x0f) << 4;
    const seg = (a & 0x70) >> 4;
    switch (seg) {
      case 0: t += 8; break;
      case 1: t += 0x108; break;
      default: t += 0x108; t <<= seg - 1;
    }
    return a & 0x80 ? t : -t;
  },
  linear14ToUlaw: (pcm: number): number => {
    let mask = 0xff;
    if (pcm < 0) { pcm = -pcm; mask = 0x7f; }
    if (pcm > 8159) pcm = 8159;
    pcm += 0x84 >> 2;
    const seg = search(pcm, SEG_UEND);
    return seg >= 8 ? 0x7f ^ mask : ((seg << 4) | ((pcm >> (seg + 1)) & 0x0f)) ^ mask;
  },
  linear13ToAlaw: (pcm: number): number => {
    let mask = 0xd5;
    if (pcm < 0) { mask = 0x55; pcm = -pcm - 1; }
    const seg = search(pcm, SEG_AEND);
    if (seg >= 8) return 0x7f ^ mask;
    return ((seg << 4) | ((seg < 2 ? pcm >> 1 : pcm >> seg) & 0x0f)) ^ mask;
  },
  /** sox's SOX_SAMPLE_TO_SIGNED(bits): round a 16-bit sample to nearest at `bits`, clipping the top. */
  toSigned: (s: number, bits: number): number => {
    const shift = 16 - bits;
    const max = (1 << (bits - 1)) - 1;
    return Math.min(max, Math.floor((s + (1 << (shift - 1))) / (1 << shift)));
  },
  /** What sox writes for a 16-bit sample, with dither off. */
  soxUlaw: (s: number): number => ref.linear14ToUlaw(ref.toSigned(s, 14)),
  soxAlaw: (s: number): number => ref.linear13ToAlaw(ref.toSigned(s, 13)),
  /** The original Sun g711.c front end: truncate to 14/13 bits (arithmetic shift). */
  sunUlaw: (s: number): number => ref.linear14ToUlaw(s >> 2),
  sunAlaw: (s: number): number => ref.linear13ToAlaw(s >> 3),
};

/** Quantization level of a code: its rank among the distinct decoded values (both mu-law zeros are one level). */
function levelOf(decode: (code: number) => number): (code: number) => number {
  const levels = [...new Set(Array.from({ length: 256 }, (_, c) => decode(c)))].sort((a, b) => a - b);
  return (code) => levels.indexOf(decode(code));
}

const laws = [
  { law: 'mu-law', toLinear: mulawToLinear, toCode: linearToMulaw, decode: mulawDecode, encode: mulawEncode, refDecode: ref.ulaw2linear16, refEncode: ref.soxUlaw, sunEncode: ref.sunUlaw },
  { law: 'A-law', toLinear: alawToLinear, toCode: linearToAlaw, decode: alawDecode, encode: alawEncode, refDecode: ref.alaw2linear16, refEncode: ref.soxAlaw, sunEncode: ref.sunAlaw },
] as const;

describe('G.711 tables', () => {
  it.each(laws)('$law: every code decodes as the reference does', ({ toLinear, refDecode, decode }) => {
    const codes = Uint8Array.from({ length: 256 }, (_, c) => c);
    const pcm = new Int16Array(256);
    expect(decode(codes, pcm)).toBe(256);
    for (let c = 0; c < 256; c++) {
      expect(toLinear(c)).toBe(refDecode(c));
      expect(pcm[c]).toBe(refDecode(c));
    }
  });

  it('decodes the landmark codes of G.711 Tables 1 and 2', () => {
    // mu-law: 0x00/0x80 are the extremes, 0xFF and 0x7F the two zeros (all bits inverted on the line).
    expect([0x00, 0x80, 0xff, 0x7f, 0xfe, 0x7e].map(mulawToLinear)).toEqual([-32124, 32124, 0, 0, 8, -8]);
    // A-law: even bits inverted, so 0xD5/0x55 are the smallest steps and 0xAA/0x2A the extremes.
    expect([0xd5, 0x55, 0xaa, 0x2a].map(alawToLinear)).toEqual([8, -8, 32256, -32256]);
    expect([0, 32767, -32768, 8, -8].map(linearToMulaw)).toEqual([0xff, 0x80, 0x00, 0xfe, 0x7e]);
    expect([0, 32767, -32768, 8, -8].map(linearToAlaw)).toEqual([0xd5, 0xaa, 0x2a, 0xd5, 0x55]);
  });

  it('encode(decode(code)) is the identity for all 256 codes, but for mu-law negative zero', () => {
    // 0x7F is mu-law's "-0": it decodes to 0 like 0xFF, and 0 encodes as 0xFF. A-law has no duplicate.
    const muMisses: number[] = [];
    const aMisses: number[] = [];
    for (let c = 0; c < 256; c++) {
      if (linearToMulaw(mulawToLinear(c)) !== c) muMisses.push(c);
      if (linearToAlaw(alawToLinear(c)) !== c) aMisses.push(c);
    }
    expect(muMisses).toEqual([0x7f]);
    expect(linearToMulaw(mulawToLinear(0x7f))).toBe(0xff);
    expect(aMisses).toEqual([]);
  });

  it.each(laws)('$law: encoding each of the 65536 inputs matches the reference, single and bulk', ({ toCode, encode, refEncode }) => {
    const all = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
    const bulk = new Uint8Array(65536);
    expect(encode(all, bulk)).toBe(65536);
    const bad: number[] = [];
    for (let i = 0; i < 65536; i++) {
      const s = i - 32768;
      const want = refEncode(s);
      if (toCode(s) !== want || bulk[i] !== want) bad.push(s);
    }
    expect(bad).toEqual([]);
  });

  it.each([
    { law: 'mu-law', top: 32124, halfStep: 2 },
    { law: 'A-law', top: 32256, halfStep: 4 },
  ])('$law: encoding is monotonic and lands within half a step of the input', ({ law, top, halfStep }) => {
    const { toCode, toLinear } = laws.find((x) => x.law === law)!;
    let prev = -Infinity;
    let worst = 0;
    for (let s = -32768; s < 32768; s++) {
      const v = toLinear(toCode(s));
      expect(v >= prev).toBe(true);
      prev = v;
      if (Math.abs(s) <= top) worst = Math.max(worst, Math.abs(v - s));
    }
    // The top segment's steps are 1024 wide; rounding to 14/13 bits first can add half of one of those steps.
    expect(worst).toBeLessThanOrEqual(512 + halfStep);
  });

  it.each([
    // Inputs (of 65536) where the original g711.c truncating front end picks another code than our
    // round-to-nearest one (see g711.ts); always the adjacent level.
    { law: 'mu-law', differ: 508 },
    { law: 'A-law', differ: 1020 },
  ])('$law: the truncating g711.c front end differs on $differ inputs, each by one level', ({ law, differ }) => {
    const l = laws.find((x) => x.law === law)!;
    const level = levelOf(l.toLinear);
    let count = 0;
    let maxDistance = 0;
    for (let s = -32768; s < 32768; s++) {
      const ours = l.toCode(s);
      const sun = l.sunEncode(s);
      if (ours !== sun && level(ours) !== level(sun)) {
        count++;
        maxDistance = Math.max(maxDistance, Math.abs(level(ours) - level(sun)));
      }
    }
    expect(maxDistance).toBe(1);
    expect(count).toBe(differ);
  });
});

describe('G.711 bulk paths', () => {
  it.each(laws)('$law: the two-codes-per-lookup path equals the byte path at every alignment and length', ({ decode, toLinear }) => {
    const prng = new Prng(7);
    const backing = prng.fill(new Uint8Array(5000));
    const SENTINEL = 0x5a5a;
    const lengths = [0, 1, 2, 3, 15, 16, 63, 64, 65, 66, 159, 160, 161, 320, 1001, 4097];
    for (const len of lengths) {
      for (let srcOff = 0; srcOff < 4; srcOff++) {
        // dst subarrays at byte offsets 0, 2, 4, 6: half of them misaligned for 32-bit writes.
        for (let dstView = 0; dstView < 4; dstView++) {
          for (const dstOffset of [0, 1, 2, 3]) {
            const src = backing.subarray(srcOff, srcOff + len);
            const whole = new Int16Array(len + 12).fill(SENTINEL);
            const dst = whole.subarray(dstView);
            expect(decode(src, dst, dstOffset)).toBe(len);
            const want = new Int16Array(len + 12).fill(SENTINEL);
            for (let i = 0; i < len; i++) want[dstView + dstOffset + i] = toLinear(src[i]!);
            expect(whole).toEqual(want);
          }
        }
      }
    }
  });

  it.each(laws)('$law: decodes from a pooled Buffer and encodes at an offset', ({ decode, encode, toCode, toLinear }) => {
    const payload = Buffer.from('0123456789abcdef'.repeat(10)); // small Buffers share a pool: byteOffset varies
    const pcm = new Int16Array(payload.length);
    decode(payload, pcm);
    expect([...pcm]).toEqual([...payload].map(toLinear));
    const out = new Uint8Array(pcm.length + 3).fill(0xee);
    expect(encode(pcm, out, 3)).toBe(pcm.length);
    expect([...out.subarray(0, 3)]).toEqual([0xee, 0xee, 0xee]);
    expect([...out.subarray(3)]).toEqual([...pcm].map(toCode));
  });

  it('rejects an output that is too small or an offset outside it, with counts', () => {
    expect(() => mulawDecode(new Uint8Array(10), new Int16Array(5))).toThrow('G.711 decode of 10 bytes needs 10 samples at offset 0, output has 5');
    expect(() => alawDecode(new Uint8Array(100), new Int16Array(100), 1)).toThrow(RangeError);
    expect(() => mulawDecode(new Uint8Array(2), new Int16Array(100), -1)).toThrow(/offset -1/);
    expect(() => mulawEncode(new Int16Array(10), new Uint8Array(12), 3)).toThrow('G.711 encode of 10 samples needs 10 bytes at offset 3, output has 12');
    expect(() => alawEncode(new Int16Array(1), new Uint8Array(1), 0.5)).toThrow(RangeError);
  });
});
