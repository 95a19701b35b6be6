// L16: 16-bit linear PCM in network byte order (RFC 3551 §4.5.11). Asterisk's `slin16` ExternalMedia
// format sends it at 16 kHz (payload type 118).

export function l16Decode(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  const n = src.length >> 1; // an odd trailing byte is not a sample
  if (dstOffset + n > dst.length) throw new RangeError(`L16 decode of ${src.length} bytes needs ${n} samples at offset ${dstOffset}, output has ${dst.length}`);
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    const v = ((src[j] as number) << 8) | (src[j + 1] as number);
    dst[dstOffset + i] = v; // Int16Array storage wraps 0x8000..0xffff to negative
  }
  return n;
}

export function l16Encode(src: Int16Array, dst: Uint8Array, dstOffset = 0): number {
  const n = src.length;
  if (dstOffset + 2 * n > dst.length) throw new RangeError(`L16 encode of ${n} samples needs ${2 * n} bytes at offset ${dstOffset}, output has ${dst.length}`);
  for (let i = 0, j = dstOffset; i < n; i++, j += 2) {
    const v = src[i] as number;
    dst[j] = (v >> 8) & 0xff;
    dst[j + 1] = v & 0xff;
  }
  return 2 * n;
}
