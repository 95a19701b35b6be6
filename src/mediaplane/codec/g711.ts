// ITU-T G.711 mu-law and A-law (PCMU/PCMA, RFC 3551 §4.5.14). Decoding is one table lookup per byte
// (two bytes per lookup on the aligned fast path); encoding is one lookup in a table over all 16-bit inputs.
// Tables are built once at load from the reference algorithm (the CCITT/Sun g711.c formulation).

/** mu-law bias added before segment search (G.711 §3.2: 0x84 = 33 << 2). */
const MULAW_BIAS = 0x84;
/** Largest 14-bit magnitude mu-law encodes before biasing. */
const MULAW_CLIP = 8159;
/** Upper ends of the eight mu-law segments (biased 14-bit magnitudes). */
const MULAW_SEG_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
/** Upper ends of the eight A-law segments (13-bit magnitudes). */
const ALAW_SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
/** Bits of the value sent inverted on the line: mu-law inverts all, A-law every even bit. */
const MULAW_XOR = 0xff;
const ALAW_XOR = 0x55;

function mulawDecodeRef(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + MULAW_BIAS) << ((u & 0x70) >> 4);
  return u & 0x80 ? MULAW_BIAS - t : t - MULAW_BIAS;
}

function alawDecodeRef(code: number): number {
  const a = code ^ ALAW_XOR;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

function mulawEncodeRef(sample: number): number {
  // 14-bit mu-law as in the CCITT/Sun g711.c. The 16-bit input is rounded (not floored) to 14 bits, as
  // sox does: flooring biases every sample by half a step and turns -1 into negative zero.
  let pcm = (sample + 2) >> 2;
  let mask: number;
  if (pcm < 0) {
    pcm = -pcm;
    mask = 0x7f;
  } else {
    mask = MULAW_XOR;
  }
  if (pcm > MULAW_CLIP) pcm = MULAW_CLIP;
  pcm += MULAW_BIAS >> 2;
  let seg = 0;
  while (seg < 8 && pcm > (MULAW_SEG_END[seg] as number)) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((pcm >> (seg + 1)) & 0x0f)) ^ mask;
}

function alawEncodeRef(sample: number): number {
  // A-law works on 13-bit magnitudes; the 16-bit input is rounded onto them (as sox does).
  let pcm = (sample + 4) >> 3;
  let mask: number;
  if (pcm >= 0) {
    mask = 0xd5; // sign bit set (positive) and the even-bit inversion
  } else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  let seg = 0;
  while (seg < 8 && pcm > (ALAW_SEG_END[seg] as number)) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  let aval = seg << 4;
  aval |= seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f;
  return aval ^ mask;
}

const MULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
const MULAW_ENCODE = new Uint8Array(65536);
const ALAW_ENCODE = new Uint8Array(65536);
for (let i = 0; i < 256; i++) {
  MULAW_DECODE[i] = mulawDecodeRef(i);
  ALAW_DECODE[i] = alawDecodeRef(i);
}
for (let i = 0; i < 65536; i++) {
  const s = i >= 32768 ? i - 65536 : i;
  MULAW_ENCODE[i] = mulawEncodeRef(s);
  ALAW_ENCODE[i] = alawEncodeRef(s);
}

// Pair tables: one 16-bit read of two codes yields both samples packed in 32 bits (host byte order).
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function pairTable(single: Int16Array): Uint32Array {
  const t = new Uint32Array(65536);
  for (let i = 0; i < 65536; i++) {
    // On a little-endian host the first byte in memory is the low byte of the Uint16 read.
    const first = LITTLE_ENDIAN ? i & 0xff : i >> 8;
    const second = LITTLE_ENDIAN ? i >> 8 : i & 0xff;
    const a = (single[first] as number) & 0xffff;
    const b = (single[second] as number) & 0xffff;
    t[i] = LITTLE_ENDIAN ? (a | (b << 16)) >>> 0 : ((a << 16) | b) >>> 0;
  }
  return t;
}
const MULAW_PAIRS = pairTable(MULAW_DECODE);
const ALAW_PAIRS = pairTable(ALAW_DECODE);

/** Below this many bytes the pair path's view setup costs more than it saves. */
const PAIR_MIN_BYTES = 32;

function decodeWith(table: Int16Array, pairs: Uint32Array, src: Uint8Array, dst: Int16Array, dstOffset: number): number {
  const n = src.length;
  if (dstOffset + n > dst.length) throw new RangeError(`G.711 decode of ${n} bytes needs ${n} samples at offset ${dstOffset}, output has ${dst.length}`);
  let i = 0;
  const dstByte = dst.byteOffset + dstOffset * 2;
  if (n >= PAIR_MIN_BYTES && (src.byteOffset & 1) === 0 && (dstByte & 3) === 0) {
    const pairsIn = n >> 1;
    const in16 = new Uint16Array(src.buffer, src.byteOffset, pairsIn);
    const out32 = new Uint32Array(dst.buffer, dstByte, pairsIn);
    for (let k = 0; k < pairsIn; k++) out32[k] = pairs[in16[k] as number] as number;
    i = pairsIn << 1;
  }
  for (; i < n; i++) dst[dstOffset + i] = table[src[i] as number] as number;
  return n;
}

function encodeWith(table: Uint8Array, src: Int16Array, dst: Uint8Array, dstOffset: number): number {
  const n = src.length;
  if (dstOffset + n > dst.length) throw new RangeError(`G.711 encode of ${n} samples needs ${n} bytes at offset ${dstOffset}, output has ${dst.length}`);
  for (let i = 0; i < n; i++) dst[dstOffset + i] = table[(src[i] as number) & 0xffff] as number;
  return n;
}

export function mulawDecode(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  return decodeWith(MULAW_DECODE, MULAW_PAIRS, src, dst, dstOffset);
}

export function alawDecode(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  return decodeWith(ALAW_DECODE, ALAW_PAIRS, src, dst, dstOffset);
}

export function mulawEncode(src: Int16Array, dst: Uint8Array, dstOffset = 0): number {
  return encodeWith(MULAW_ENCODE, src, dst, dstOffset);
}

export function alawEncode(src: Int16Array, dst: Uint8Array, dstOffset = 0): number {
  return encodeWith(ALAW_ENCODE, src, dst, dstOffset);
}

export function mulawToLinear(code: number): number {
  return MULAW_DECODE[code & 0xff] as number;
}

export function alawToLinear(code: number): number {
  return ALAW_DECODE[code & 0xff] as number;
}

export function linearToMulaw(sample: number): number {
  return MULAW_ENCODE[sample & 0xffff] as number;
}

export function linearToAlaw(sample: number): number {
  return ALAW_ENCODE[sample & 0xffff] as number;
}

/** The reference (table-free) algorithms, exported for tests. */
export const g711Reference = { mulawDecodeRef, alawDecodeRef, mulawEncodeRef, alawEncodeRef };
