// The RTCP reader on byte fixtures: ffmpeg's real sender report and its SR+BYE compound (captured from
// `ffmpeg -f rtp -rtpflags send_bye`), BYEs with several SSRCs and a reason, and every malformed reason.
import { describe, expect, it } from 'vitest';
import { RtcpCompound, readRtcp } from '../../../../src/mediaplane/rtp/rtcp.js';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s/g, ''), 'hex');
/** ffmpeg 5.1's first RTCP packet of a stream: one SR, no report blocks (28 bytes). */
const FFMPEG_SR = hex('80c80006 a6c56907 eec1a87b9be76c8b 0acc4c0a 00000000 00000000');
/** ffmpeg's last one with send_bye: SR then BYE for its SSRC (36 bytes). */
const FFMPEG_SR_BYE = hex('80c80006 a6c56907 eec1a87e8f5c28f5 0acca842 00000017 00005c38 81cb0001 a6c56907');

function read(buf: Buffer): { packets: number; byes: number[]; failure?: string } {
  const out = new RtcpCompound();
  const f = readRtcp(buf, out);
  return { packets: out.packets, byes: out.byes.slice(0, out.byeCount), ...(f ? { failure: `${f.reason}: ${f.message}` } : {}) };
}

describe('readRtcp', () => {
  it("reads ffmpeg's sender report and its SR+BYE compound", () => {
    expect(read(FFMPEG_SR)).toEqual({ packets: 1, byes: [] });
    expect(read(FFMPEG_SR_BYE)).toEqual({ packets: 2, byes: [0xa6c56907] });
    const out = new RtcpCompound();
    readRtcp(FFMPEG_SR_BYE, out);
    expect(out.says(0xa6c56907)).toBe(true);
    expect(out.says(0x12345678)).toBe(false);
  });

  it('reads a BYE of two SSRCs with a reason, padded as the last packet', () => {
    // RR (no blocks), then BYE SC=2 with reason "bye" (1+3 bytes) and 4 bytes of padding.
    const buf = hex('80c90001 00000001  a2cb0004 00000011 00000022 03627965 00000004');
    expect(read(buf)).toEqual({ packets: 2, byes: [0x11, 0x22] });
  });

  it.each([
    ['truncated', hex('80c8')],
    ['bad_version', hex('40c80001 00000001')],
    ['bad_type', hex('80000001 00000001')],
    ['bad_length', hex('80c80009 00000001')],
    ['bad_length', hex('83cb0001 00000001')], // BYE of 3 SSRCs in 8 bytes
    ['truncated', hex('80c90001 00000001 80')], // a trailing partial header
    ['padding_invalid', hex('a0c90001 00000004 81cb0001 00000001')], // padded but not the last
    ['padding_invalid', hex('a0c90001 00000000')], // padding count 0
  ])('%s: %s', (reason, buf) => {
    expect(read(buf).failure).toMatch(new RegExp(`^${reason}: `));
  });
});
