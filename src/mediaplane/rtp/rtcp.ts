// RTCP (RFC 3550 §6) as far as a receiver of forked calls needs it: a compound packet is walked and checked
// length by length (§6.4, Appendix A.2's validity checks), and the SSRCs that a BYE (§6.6) says are leaving
// are collected, so a call can end when its sender says so instead of after an idle timeout. Reports (SR, RR,
// SDES, APP, feedback, XR) are only validated: nothing here needs their contents.
import { readU16, readU32 } from './packet.js';

/** RFC 3550 §6.4: V=2. */
const RTCP_VERSION = 2;
/** Common header: V/P/count, packet type, length (§6.4.1). */
const HEADER_SIZE = 4;
/** The length field counts 32-bit words minus one (§6.4.1). */
const WORD = 4;
/** RTCP packet types live in 192-223 (RFC 5761 §4); SR 200, RR 201, SDES 202, BYE 203, APP 204 (RFC 3550 §12.1). */
const TYPE_MIN = 192;
const TYPE_MAX = 223;
export const RTCP_BYE = 203;
/** SSRCs a BYE may list: the count field is 5 bits. */
const MAX_BYE_SSRCS = 31;

export const RTCP_MALFORMED_REASONS = ['truncated', 'bad_version', 'bad_type', 'bad_length', 'padding_invalid'] as const;
export type RtcpMalformedReason = (typeof RTCP_MALFORMED_REASONS)[number];

export interface RtcpReadFailure {
  reason: RtcpMalformedReason;
  message: string;
}

/*
 * RFC 3550 §6.6 BYE (every RTCP packet starts with the same first word):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    SC   |   PT=BYE=203  |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           SSRC/CSRC                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * :                              ...                              :
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |     length    |               reason for leaving            ...  (opt)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** What one compound RTCP datagram said; reused across datagrams (readRtcp overwrites it). */
export class RtcpCompound {
  /** RTCP packets in the compound. */
  packets = 0;
  /** SSRCs that BYE packets listed, in order: the first `byeCount` entries. */
  readonly byes = new Array<number>(MAX_BYE_SSRCS).fill(0);
  byeCount = 0;

  /** True when a BYE listed `ssrc`. */
  says(ssrc: number): boolean {
    for (let i = 0; i < this.byeCount; i++) if (this.byes[i] === ssrc) return true;
    return false;
  }
}

/**
 * Walks the compound packet in `buf` into `out`. Undefined on success, else why it is malformed (with byte
 * counts); `out` holds what was read before the fault. Every packet must be RTCP version 2 with a type in
 * 192-223 and a length that ends inside the datagram; the packets must fill it exactly; only the last may be
 * padded (A.2).
 */
export function readRtcp(buf: Uint8Array, out: RtcpCompound): RtcpReadFailure | undefined {
  out.packets = 0;
  out.byeCount = 0;
  const len = buf.length;
  if (len < HEADER_SIZE + WORD) return fail('truncated', `RTCP needs at least ${HEADER_SIZE + WORD} bytes, got ${len}`);
  let o = 0;
  while (o < len) {
    if (len - o < HEADER_SIZE) return fail('truncated', `RTCP packet header at byte ${o} needs ${HEADER_SIZE} bytes, ${len - o} left`);
    const b0 = buf[o]!;
    const type = buf[o + 1]!;
    if (b0 >> 6 !== RTCP_VERSION) return fail('bad_version', `RTCP version must be ${RTCP_VERSION}, got ${b0 >> 6} at byte ${o}`);
    if (type < TYPE_MIN || type > TYPE_MAX) return fail('bad_type', `RTCP packet type must be ${TYPE_MIN}-${TYPE_MAX}, got ${type} at byte ${o}`);
    const size = (readU16(buf, o + 2) + 1) * WORD;
    if (o + size > len) return fail('bad_length', `RTCP packet at byte ${o} claims ${size} bytes, ${len - o} left`);
    const padded = (b0 & 0x20) !== 0;
    if (padded) {
      const pad = buf[o + size - 1]!;
      if (o + size !== len) return fail('padding_invalid', `RTCP packet at byte ${o} is padded but not the last of the compound`);
      if (pad === 0 || pad > size - HEADER_SIZE) return fail('padding_invalid', `RTCP padding of ${pad} bytes in a ${size}-byte packet`);
    }
    if (type === RTCP_BYE) {
      const count = b0 & 0x1f;
      if (HEADER_SIZE + count * WORD > size) return fail('bad_length', `RTCP BYE lists ${count} SSRCs (${HEADER_SIZE + count * WORD} bytes) in ${size} bytes`);
      // Past MAX_BYE_SSRCS leaving sources in one datagram the rest are not kept (no sender has that many).
      for (let i = 0; i < count && out.byeCount < MAX_BYE_SSRCS; i++) out.byes[out.byeCount++] = readU32(buf, o + HEADER_SIZE + i * WORD);
    }
    out.packets++;
    o += size;
  }
  return undefined;
}

function fail(reason: RtcpMalformedReason, message: string): RtcpReadFailure {
  return { reason, message };
}
