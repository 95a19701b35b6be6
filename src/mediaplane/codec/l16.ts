// L16: 16-bit signed linear PCM in network byte order, i.e. big-endian (RFC 3551 §4.5.11). Asterisk's
// `slin16` ExternalMedia format carries it at 16 kHz (payload type 118).

/** Decodes big-endian sample pairs of src into dst from dstOffset; an odd trailing byte is not a sample. Returns samples written. */
export function l16Decode(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  const n = src.length >> 1;
  if (!Number.isSafeInteger(dstOffset) || dstOffset < 0 || dstOffset + n > dst.length) {
    throw new RangeError(`L16 decode of ${src.length} bytes needs ${n} samples at offset ${dstOffset}, output has ${dst.length}`);
  }
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    // Int16Array storage wraps 0x8000..0xffff to the negative half.
    dst[dstOffset + i] = ((src[j] as number) << 8) | (src[j + 1] as number);
  }
  return n;
}

/** Encodes src into dst from dstOffset as big-endian byte pairs. Returns bytes written (2 per sample). */
export function l16Encode(src: Int16Array, dst: Uint8Array, dstOffset = 0): number {
  const n = src.length;
  if (!Number.isSafeInteger(dstOffset) || dstOffset < 0 || dstOffset + 2 * n > dst.length) {
    throw new RangeError(`L16 encode of ${n} samples needs ${2 * n} bytes at offset ${dstOffset}, output has ${dst.length}`);
  }
  for (let i = 0, j = dstOffset; i < n; i++, j += 2) {
    const v = src[i] as number;
    dst[j] = v >> 8; // Uint8Array storage keeps the low 8 bits
    dst[j + 1] = v;
  }
  return 2 * n;
}
