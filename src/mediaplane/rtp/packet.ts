// RTP packets on the wire (RFC 3550 §5.1): a cheap RTP/RTCP classifier for rtcp-mux, a parser that
// fills a caller-owned reusable view without copying, and a serializer into a caller's buffer.
import { RtpParseError } from '../../errors/index.js';

/** RFC 3550 §5.1: V=2. */
export const RTP_VERSION = 2;
/** Fixed header, before the CSRC list (RFC 3550 §5.1). */
export const RTP_FIXED_HEADER_SIZE = 12;
/** The 4-bit CC field caps the CSRC list (RFC 3550 §5.1). */
export const RTP_MAX_CSRCS = 15;
const CSRC_SIZE = 4;
/** "defined by profile" + length, before the extension data (RFC 3550 §5.3.1). */
const EXTENSION_HEADER_SIZE = 4;
/** The extension length field counts 32-bit words (RFC 3550 §5.3.1). */
const EXTENSION_WORD = 4;
const MAX_EXTENSION_BYTES = 0xffff * EXTENSION_WORD;
/** The padding count is one octet and includes itself (RFC 3550 §5.1). */
const MAX_PADDING = 0xff;
/** RTCP common header + sender SSRC: the smallest RTCP packet, an empty RR (RFC 3550 §6.4.2). */
const RTCP_MIN_SIZE = 8;
/**
 * RFC 5761 §4: with rtcp-mux the second octet tells RTP from RTCP. RTCP packet types 192-223 are the
 * ones that collide with RTP payload types 64-95 when the marker bit is set; SR..APP (200-204) are
 * payload types 72-76.
 */
const RTCP_TYPE_MIN = 192;
const RTCP_TYPE_MAX = 223;
const RTCP_PT_MIN = 72;
const RTCP_PT_MAX = 76;

const EMPTY: Uint8Array = new Uint8Array(0);

export const RTP_MALFORMED_REASONS = [
  'truncated',
  'bad_version',
  'csrc_overrun',
  'extension_overrun',
  'padding_overrun',
  'padding_invalid',
] as const;
export type RtpMalformedReason = (typeof RTP_MALFORMED_REASONS)[number];

export interface RtpReadFailure {
  reason: RtpMalformedReason;
  message: string;
}

/**
 * Looks like RTP: a whole fixed header, version 2, and a payload type that is not one of the RTCP
 * types. Marker-set payload types 64-95 are excluded too, as RTCP: RFC 5761 §4 forbids them
 * for RTP under rtcp-mux, so no datagram is both isRtp and isRtcp.
 */
export function isRtp(buf: Uint8Array): boolean {
  if (buf.length < RTP_FIXED_HEADER_SIZE) return false;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  if (b0 >> 6 !== RTP_VERSION) return false;
  if (b1 >= RTCP_TYPE_MIN && b1 <= RTCP_TYPE_MAX) return false;
  const pt = b1 & 0x7f;
  return pt < RTCP_PT_MIN || pt > RTCP_PT_MAX;
}

/** Looks like RTCP multiplexed on the RTP port (RFC 5761 §4): version 2, packet type 192-223. */
export function isRtcp(buf: Uint8Array): boolean {
  if (buf.length < RTCP_MIN_SIZE) return false;
  const b1 = buf[1]!;
  return buf[0]! >> 6 === RTP_VERSION && b1 >= RTCP_TYPE_MIN && b1 <= RTCP_TYPE_MAX;
}

/**
 * One parsed packet. Reused across datagrams: readRtp overwrites every field, and `payload`,
 * `extension` and `buffer` are views into the datagram, valid only while the datagram is.
 */
export class RtpPacket {
  marker = false;
  payloadType = 0;
  sequenceNumber = 0;
  timestamp = 0;
  ssrc = 0;
  csrcCount = 0;
  /** Padding bytes at the end, the count byte included; 0 when the P bit is clear. */
  paddingLength = 0;
  hasExtension = false;
  /** "defined by profile" field of the header extension; 0 when there is none. */
  extensionProfile = 0;
  /** Header extension data (without its 4-byte header); empty when there is none. */
  extension: Uint8Array = EMPTY;
  payload: Uint8Array = EMPTY;
  /** The whole datagram. */
  buffer: Uint8Array = EMPTY;
  /** Header size: fixed header, CSRC list and extension. */
  headerSize = 0;

  /** The i-th contributing source. */
  csrc(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.csrcCount) {
      throw new RangeError(`CSRC index ${i} out of range: packet has ${this.csrcCount} CSRCs`);
    }
    return readU32(this.buffer, RTP_FIXED_HEADER_SIZE + i * CSRC_SIZE);
  }
}

// Big-endian reads for the packet parsers; callers check lengths first, so the indexes are in range.
export function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/*
 * RFC 3550 §5.1 fixed header, then the CSRC list and the optional §5.3.1 extension:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           synchronization source (SSRC) identifier            |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |            contributing source (CSRC) identifiers             |
 * |                             ....  (CC entries)                |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      defined by profile       |           length              |  if X
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  header extension (length words)              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                            payload                            |
 * |                               +-------------------------------+
 * |                               |  padding ... | padding count  |  if P
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/**
 * Parses `buf` into `out`. Returns undefined on success, else why the datagram is malformed, with
 * the byte counts; `out` is left untouched on failure. Allocates nothing on success beyond the
 * payload and extension views.
 */
export function readRtp(buf: Uint8Array, out: RtpPacket): RtpReadFailure | undefined {
  const len = buf.length;
  if (len < RTP_FIXED_HEADER_SIZE) {
    return fail('truncated', `RTP header needs ${RTP_FIXED_HEADER_SIZE} bytes, got ${len}`);
  }
  const b0 = buf[0]!;
  const version = b0 >> 6;
  if (version !== RTP_VERSION) {
    return fail('bad_version', `RTP version must be ${RTP_VERSION}, got ${version}`);
  }
  const cc = b0 & 0x0f;
  let header = RTP_FIXED_HEADER_SIZE + cc * CSRC_SIZE;
  if (len < header) {
    return fail('csrc_overrun', `CSRC list of ${cc} entries needs ${header} bytes, datagram has ${len}`);
  }

  const hasExtension = (b0 & 0x10) !== 0;
  let extensionProfile = 0;
  let extension: Uint8Array = EMPTY;
  if (hasExtension) {
    const extStart = header;
    if (len < extStart + EXTENSION_HEADER_SIZE) {
      return fail(
        'extension_overrun',
        `RTP header extension header needs ${extStart + EXTENSION_HEADER_SIZE} bytes, datagram has ${len}`,
      );
    }
    extensionProfile = readU16(buf, extStart);
    const words = readU16(buf, extStart + 2);
    header = extStart + EXTENSION_HEADER_SIZE + words * EXTENSION_WORD;
    if (len < header) {
      return fail('extension_overrun', `RTP header extension of ${words} words needs ${header} bytes, datagram has ${len}`);
    }
    extension = buf.subarray(extStart + EXTENSION_HEADER_SIZE, header);
  }

  let paddingLength = 0;
  if ((b0 & 0x20) !== 0) {
    paddingLength = buf[len - 1]!;
    if (paddingLength === 0) {
      return fail('padding_invalid', 'RTP padding count is 0 with the P bit set; the count includes itself, so it must be at least 1');
    }
    if (header + paddingLength > len) {
      return fail(
        'padding_overrun',
        `RTP padding of ${paddingLength} bytes after a ${header}-byte header needs ${header + paddingLength} bytes, datagram has ${len}`,
      );
    }
  }

  const b1 = buf[1]!;
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.sequenceNumber = readU16(buf, 2);
  out.timestamp = readU32(buf, 4);
  out.ssrc = readU32(buf, 8);
  out.csrcCount = cc;
  out.paddingLength = paddingLength;
  out.hasExtension = hasExtension;
  out.extensionProfile = extensionProfile;
  out.extension = extension;
  out.payload = buf.subarray(header, len - paddingLength);
  out.buffer = buf;
  out.headerSize = header;
  return undefined;
}

/** Throwing convenience for tests and tools; the receive path uses readRtp. */
export function parseRtp(buf: Uint8Array): RtpPacket {
  const pkt = new RtpPacket();
  const failure = readRtp(buf, pkt);
  if (failure) throw new RtpParseError(failure.reason, failure.message, buf.length);
  return pkt;
}

function fail(reason: RtpMalformedReason, message: string): RtpReadFailure {
  return { reason, message };
}

export interface RtpHeaderExtension {
  /** "defined by profile" (e.g. 0xBEDE for RFC 8285 one-byte headers). */
  profile: number;
  /** Extension data; zero-padded on the wire to a whole number of 32-bit words. */
  data: Uint8Array;
}

export interface RtpWriteFields {
  marker?: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** At most 15. */
  csrcs?: readonly number[];
  extension?: RtpHeaderExtension;
  /** Padding bytes to append, count byte included (1-255); 0 or absent for none. */
  paddingLength?: number;
}

/** Bytes of header writeRtp emits for `fields`: fixed header, CSRCs, word-padded extension. */
export function rtpHeaderSize(fields: RtpWriteFields): number {
  let size = RTP_FIXED_HEADER_SIZE + (fields.csrcs?.length ?? 0) * CSRC_SIZE;
  if (fields.extension) size += EXTENSION_HEADER_SIZE + wordAligned(fields.extension.data.length);
  return size;
}

/** Bytes of the whole packet: header, payload and padding. */
export function rtpPacketSize(fields: RtpWriteFields, payloadLength: number): number {
  return rtpHeaderSize(fields) + payloadLength + (fields.paddingLength ?? 0);
}

/**
 * Writes one packet into `target` at `offset` and returns the bytes written. Every byte of the
 * packet is written (extension and padding fill included), so `target` may hold old data.
 */
export function writeRtp(fields: RtpWriteFields, payload: Uint8Array, target: Uint8Array, offset = 0): number {
  checkFields(fields);
  const csrcs = fields.csrcs;
  const cc = csrcs?.length ?? 0;
  const ext = fields.extension;
  const padding = fields.paddingLength ?? 0;
  const size = rtpPacketSize(fields, payload.length);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length) {
    throw new RangeError(
      `RTP packet of ${size} bytes does not fit at offset ${offset} of a ${target.length}-byte buffer`,
    );
  }

  let o = offset;
  target[o++] = (RTP_VERSION << 6) | (padding > 0 ? 0x20 : 0) | (ext ? 0x10 : 0) | cc;
  target[o++] = (fields.marker ? 0x80 : 0) | fields.payloadType;
  o = writeU16(target, o, fields.sequenceNumber);
  o = writeU32(target, o, fields.timestamp);
  o = writeU32(target, o, fields.ssrc);
  for (let i = 0; i < cc; i++) o = writeU32(target, o, csrcs![i]!);
  if (ext) {
    const padded = wordAligned(ext.data.length);
    o = writeU16(target, o, ext.profile);
    o = writeU16(target, o, padded / EXTENSION_WORD);
    target.set(ext.data, o);
    target.fill(0, o + ext.data.length, o + padded);
    o += padded;
  }
  target.set(payload, o);
  o += payload.length;
  if (padding > 0) {
    target.fill(0, o, o + padding - 1);
    o += padding;
    target[o - 1] = padding;
  }
  return o - offset;
}

/** Allocates a Buffer of exactly the packet's size and writes the packet into it. */
export function serializeRtp(fields: RtpWriteFields, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(rtpPacketSize(fields, payload.length));
  writeRtp(fields, payload, out, 0);
  return out;
}

function checkFields(f: RtpWriteFields): void {
  checkUint('payloadType', f.payloadType, 0x7f);
  checkUint('sequenceNumber', f.sequenceNumber, 0xffff);
  checkUint('timestamp', f.timestamp, 0xffffffff);
  checkUint('ssrc', f.ssrc, 0xffffffff);
  if (f.csrcs) {
    if (f.csrcs.length > RTP_MAX_CSRCS) {
      throw new RangeError(`RTP allows at most ${RTP_MAX_CSRCS} CSRCs, got ${f.csrcs.length}`);
    }
    for (const c of f.csrcs) checkUint('csrc', c, 0xffffffff);
  }
  if (f.extension) {
    checkUint('extension.profile', f.extension.profile, 0xffff);
    if (f.extension.data.length > MAX_EXTENSION_BYTES) {
      throw new RangeError(
        `RTP header extension data of ${f.extension.data.length} bytes exceeds the ${MAX_EXTENSION_BYTES}-byte maximum`,
      );
    }
  }
  if (f.paddingLength !== undefined) checkUint('paddingLength', f.paddingLength, MAX_PADDING);
}

function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`RTP ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

function wordAligned(n: number): number {
  return (n + EXTENSION_WORD - 1) & ~(EXTENSION_WORD - 1);
}

function writeU16(b: Uint8Array, o: number, v: number): number {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
  return o + 2;
}

function writeU32(b: Uint8Array, o: number, v: number): number {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
  return o + 4;
}
