import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RtpParseError } from '../../../../src/errors/index.js';
import {
  RTP_MALFORMED_REASONS,
  RtpPacket,
  isRtcp,
  isRtp,
  parseRtp,
  readRtp,
  rtpHeaderSize,
  rtpPacketSize,
  serializeRtp,
  writeRtp,
  type RtpReadFailure,
  type RtpWriteFields,
} from '../../../../src/mediaplane/rtp/packet.js';

function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** mulberry32: small seeded PRNG so property runs are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A parse failure, asserted present. */
function failureOf(bytes: Uint8Array): RtpReadFailure {
  const failure = readRtp(bytes, new RtpPacket());
  expect(failure).toBeDefined();
  return failure!;
}

// V=2 P=1 X=1 CC=2 | M=1 PT=101 | seq 65535 | ts 2^32-1 | SSRC DEADBEEF | 2 CSRCs |
// extension profile BEDE, 1 word | payload 0a0b0c | 3 bytes of padding, count last.
const FULL = hex(`
  b2 e5 ff ff
  ff ff ff ff
  de ad be ef
  01 02 03 04
  ca fe ba be
  be de 00 01
  11 22 33 00
  0a 0b 0c
  00 00 03
`);

describe('readRtp: byte fixtures', () => {
  it('reads every field of a minimal PCMU packet', () => {
    // V=2, no P/X/CC, M=0, PT=0, seq 0x1234, ts 0x00bc614e, SSRC 0x11223344, 4-byte payload.
    const buf = hex('80 00 12 34  00 bc 61 4e  11 22 33 44  ff 7f 00 80');
    const p = new RtpPacket();
    expect(readRtp(buf, p)).toBeUndefined();
    expect(p.marker).toBe(false);
    expect(p.payloadType).toBe(0);
    expect(p.sequenceNumber).toBe(0x1234);
    expect(p.timestamp).toBe(12345678);
    expect(p.ssrc).toBe(0x11223344);
    expect(p.csrcCount).toBe(0);
    expect(p.paddingLength).toBe(0);
    expect(p.hasExtension).toBe(false);
    expect(p.extensionProfile).toBe(0);
    expect(p.extension.length).toBe(0);
    expect(toHex(p.payload)).toBe('ff7f0080');
    expect(p.headerSize).toBe(12);
    expect(p.buffer).toBe(buf);
  });

  it('reads every field of a packet with CSRCs, extension, marker, padding and max values', () => {
    const p = new RtpPacket();
    expect(readRtp(FULL, p)).toBeUndefined();
    expect(p.marker).toBe(true);
    expect(p.payloadType).toBe(101);
    expect(p.sequenceNumber).toBe(65535);
    expect(p.timestamp).toBe(0xffffffff);
    expect(p.ssrc).toBe(0xdeadbeef);
    expect(p.csrcCount).toBe(2);
    expect(p.csrc(0)).toBe(0x01020304);
    expect(p.csrc(1)).toBe(0xcafebabe);
    expect(p.hasExtension).toBe(true);
    expect(p.extensionProfile).toBe(0xbede);
    expect(toHex(p.extension)).toBe('11223300');
    expect(toHex(p.payload)).toBe('0a0b0c');
    expect(p.paddingLength).toBe(3);
    expect(p.headerSize).toBe(28);
  });

  it('csrc(i) refuses indexes outside the list', () => {
    const p = parseRtp(FULL);
    expect(() => p.csrc(2)).toThrow(new RangeError('CSRC index 2 out of range: packet has 2 CSRCs'));
    expect(() => p.csrc(-1)).toThrow(RangeError);
  });

  it('payload and extension are views into the datagram, not copies', () => {
    const buf = FULL.slice();
    const p = parseRtp(buf);
    expect(p.payload.buffer).toBe(buf.buffer);
    expect(p.payload.byteOffset).toBe(28);
    expect(p.extension.buffer).toBe(buf.buffer);
    expect(p.extension.byteOffset).toBe(24);
    buf[28] = 0x99;
    expect(p.payload[0]).toBe(0x99);
  });

  it('accepts a zero-length payload, with and without padding', () => {
    const p = new RtpPacket();
    expect(readRtp(hex('80 08 00 01 00 00 00 a0 00 00 00 01'), p)).toBeUndefined();
    expect(p.payload.length).toBe(0);
    expect(p.payloadType).toBe(8);
    expect(readRtp(hex('a0 08 00 01 00 00 00 a0 00 00 00 01 00 00 00 04'), p)).toBeUndefined();
    expect(p.payload.length).toBe(0);
    expect(p.paddingLength).toBe(4);
  });

  it('reuses the out object: no field of an earlier packet survives', () => {
    const p = parseRtp(FULL);
    expect(readRtp(hex('80 00 00 07 00 00 00 08 00 00 00 09 aa'), p)).toBeUndefined();
    expect(p.marker).toBe(false);
    expect(p.payloadType).toBe(0);
    expect(p.sequenceNumber).toBe(7);
    expect(p.timestamp).toBe(8);
    expect(p.ssrc).toBe(9);
    expect(p.csrcCount).toBe(0);
    expect(p.hasExtension).toBe(false);
    expect(p.extensionProfile).toBe(0);
    expect(p.extension.length).toBe(0);
    expect(p.paddingLength).toBe(0);
    expect(toHex(p.payload)).toBe('aa');
    expect(p.headerSize).toBe(12);
  });

  it('reads an empty extension (length 0 words)', () => {
    const p = parseRtp(hex('90 00 00 01 00 00 00 02 00 00 00 03 10 00 00 00 55'));
    expect(p.hasExtension).toBe(true);
    expect(p.extensionProfile).toBe(0x1000);
    expect(p.extension.length).toBe(0);
    expect(toHex(p.payload)).toBe('55');
  });
});

describe('readRtp: malformed datagrams', () => {
  it('every reason is listed exactly once', () => {
    expect([...RTP_MALFORMED_REASONS].sort()).toEqual(
      ['bad_version', 'csrc_overrun', 'extension_overrun', 'padding_invalid', 'padding_overrun', 'truncated'],
    );
  });

  it('truncated: shorter than the fixed header', () => {
    expect(failureOf(hex('80 00 00 01 00 00 00'))).toEqual({ reason: 'truncated', message: 'RTP header needs 12 bytes, got 7' });
    expect(failureOf(new Uint8Array(0))).toEqual({ reason: 'truncated', message: 'RTP header needs 12 bytes, got 0' });
  });

  it('bad_version: V is not 2', () => {
    expect(failureOf(hex('40 00 00 01 00 00 00 02 00 00 00 03'))).toEqual({ reason: 'bad_version', message: 'RTP version must be 2, got 1' });
    expect(failureOf(hex('00 00 00 01 00 00 00 02 00 00 00 03 00')).message).toBe('RTP version must be 2, got 0');
    expect(failureOf(hex('c0 00 00 01 00 00 00 02 00 00 00 03')).message).toBe('RTP version must be 2, got 3');
  });

  it('csrc_overrun: CC says more CSRCs than the datagram holds', () => {
    const buf = hex('83 00 00 01 00 00 00 02 00 00 00 03 00 00 00 0a 00 00 00 0b');
    expect(buf.length).toBe(20);
    expect(failureOf(buf)).toEqual({ reason: 'csrc_overrun', message: 'CSRC list of 3 entries needs 24 bytes, datagram has 20' });
    const oneShort = new Uint8Array(23);
    oneShort[0] = 0x83;
    expect(failureOf(oneShort).message).toBe('CSRC list of 3 entries needs 24 bytes, datagram has 23');
    expect(readRtp(new Uint8Array([0x83, ...new Uint8Array(23)]), new RtpPacket())).toBeUndefined();
  });

  it('extension_overrun: no room for the extension header', () => {
    const buf = hex('90 00 00 01 00 00 00 02 00 00 00 03 be de');
    expect(failureOf(buf)).toEqual({
      reason: 'extension_overrun',
      message: 'RTP header extension header needs 16 bytes, datagram has 14',
    });
  });

  it('extension_overrun: extension length runs past the datagram', () => {
    // One CSRC, then an extension claiming 5 words: 12 + 4 + 4 + 20 = 40 bytes needed.
    const buf = hex('91 00 00 01 00 00 00 02 00 00 00 03 00 00 00 0a be de 00 05 01 02 03 04 05 06 07 08');
    expect(buf.length).toBe(28);
    expect(failureOf(buf)).toEqual({
      reason: 'extension_overrun',
      message: 'RTP header extension of 5 words needs 40 bytes, datagram has 28',
    });
    const exact = new Uint8Array(12 + 4 + 8);
    exact.set(hex('90 00 00 01 00 00 00 02 00 00 00 03 be de 00 02'));
    expect(readRtp(exact, new RtpPacket())).toBeUndefined();
    expect(failureOf(exact.subarray(0, 23)).message).toBe('RTP header extension of 2 words needs 24 bytes, datagram has 23');
  });

  it('padding_invalid: P set with a padding count of 0', () => {
    expect(failureOf(hex('a0 00 00 01 00 00 00 02 00 00 00 03 aa bb 00'))).toEqual({
      reason: 'padding_invalid',
      message: 'RTP padding count is 0 with the P bit set; the count includes itself, so it must be at least 1',
    });
  });

  it('padding_overrun: padding count reaches into the header', () => {
    expect(failureOf(hex('a0 00 00 01 00 00 00 02 00 00 00 03 aa bb c8'))).toEqual({
      reason: 'padding_overrun',
      message: 'RTP padding of 200 bytes after a 12-byte header needs 212 bytes, datagram has 15',
    });
    // Header only, P set: the last header byte (0x03) is read as the count and overruns the header.
    expect(failureOf(hex('a0 00 00 01 00 00 00 02 00 00 00 03')).message).toBe(
      'RTP padding of 3 bytes after a 12-byte header needs 15 bytes, datagram has 12',
    );
    // One byte short of the count, and then exactly filling the space after the header.
    expect(failureOf(hex('a0 00 00 01 00 00 00 02 00 00 00 03 00 03')).message).toBe(
      'RTP padding of 3 bytes after a 12-byte header needs 15 bytes, datagram has 14',
    );
    expect(readRtp(hex('a0 00 00 01 00 00 00 02 00 00 00 03 00 00 03'), new RtpPacket())).toBeUndefined();
  });

  it('leaves the out object untouched on failure', () => {
    const p = parseRtp(FULL);
    expect(readRtp(hex('83 00 00 01 00 00 00 02 00 00 00 03'), p)?.reason).toBe('csrc_overrun');
    expect(p.sequenceNumber).toBe(65535);
    expect(p.ssrc).toBe(0xdeadbeef);
    expect(p.buffer).toBe(FULL);
  });

  it('parseRtp throws a typed RtpParseError with reason and length', () => {
    const bytes = hex('83 00 00 01 00 00 00 02 00 00 00 03 00 00 00 0a 00 00 00 0b');
    let caught: unknown;
    try {
      parseRtp(bytes);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RtpParseError);
    const e = caught as RtpParseError;
    expect(e.reason).toBe('csrc_overrun');
    expect(e.byteLength).toBe(20);
    expect(e.code).toBe('rtp_parse');
    expect(e.message).toBe('CSRC list of 3 entries needs 24 bytes, datagram has 20');
  });
});

describe('isRtp / isRtcp (RFC 5761 §4)', () => {
  const withByte1 = (b1: number, len = 12): Uint8Array => {
    const b = new Uint8Array(len);
    b[0] = 0x80;
    b[1] = b1;
    return b;
  };

  it('isRtp: whole header, version 2, not an RTCP payload type', () => {
    expect(isRtp(FULL)).toBe(true);
    expect(isRtp(withByte1(0))).toBe(true);
    expect(isRtp(withByte1(0x80 | 101))).toBe(true);
    expect(isRtp(withByte1(71))).toBe(true);
    expect(isRtp(withByte1(77))).toBe(true);
    expect(isRtp(withByte1(0, 11))).toBe(false);
    expect(isRtp(hex('40 00 00 01 00 00 00 02 00 00 00 03'))).toBe(false);
    for (let pt = 72; pt <= 76; pt++) {
      expect(isRtp(withByte1(pt))).toBe(false);
      expect(isRtp(withByte1(0x80 | pt))).toBe(false);
    }
  });

  it('isRtcp: real SR and RR headers', () => {
    // SR, no report blocks: 28 bytes; RR with one report block: 32 bytes.
    const sr = hex('80 c8 00 06 6d 02 41 72  ea 3e 1e 5a 00 00 00 00  00 00 00 a0 00 00 00 01  00 00 00 ac');
    const rr = hex('81 c9 00 07 6d 02 41 72  11 22 33 44 00 00 00 00  00 00 f5 7d 00 00 00 05  00 00 00 00 00 00 00 00');
    expect(isRtcp(sr)).toBe(true);
    expect(isRtp(sr)).toBe(false);
    expect(isRtcp(rr)).toBe(true);
    expect(isRtp(rr)).toBe(false);
    expect(isRtcp(withByte1(205, 8))).toBe(true); // RTPFB (RFC 4585)
    expect(isRtcp(withByte1(200, 7))).toBe(false);
    expect(isRtcp(withByte1(0))).toBe(false);
    expect(isRtcp(withByte1(224))).toBe(false);
    expect(isRtcp(hex('40 c8 00 01 00 00 00 01'))).toBe(false);
  });

  it('no datagram is both', () => {
    for (let b1 = 0; b1 < 256; b1++) {
      const b = withByte1(b1);
      expect(isRtp(b) && isRtcp(b)).toBe(false);
    }
  });
});

describe('writeRtp / serializeRtp', () => {
  it('writes the FULL fixture byte for byte', () => {
    const fields: RtpWriteFields = {
      marker: true,
      payloadType: 101,
      sequenceNumber: 65535,
      timestamp: 0xffffffff,
      ssrc: 0xdeadbeef,
      csrcs: [0x01020304, 0xcafebabe],
      extension: { profile: 0xbede, data: hex('11 22 33') },
      paddingLength: 3,
    };
    expect(rtpHeaderSize(fields)).toBe(28);
    expect(rtpPacketSize(fields, 3)).toBe(34);
    expect(toHex(serializeRtp(fields, hex('0a 0b 0c')))).toBe(toHex(FULL));
  });

  it('writes a minimal header with defaults for optional fields', () => {
    const out = serializeRtp({ payloadType: 0, sequenceNumber: 0x1234, timestamp: 12345678, ssrc: 0x11223344 }, hex('ff 7f'));
    expect(toHex(out)).toBe('80001234' + '00bc614e' + '11223344' + 'ff7f');
  });

  it('writes at an offset into a dirty buffer, touching only its own bytes', () => {
    const target = new Uint8Array(64).fill(0xee);
    const fields: RtpWriteFields = {
      payloadType: 0,
      sequenceNumber: 1,
      timestamp: 2,
      ssrc: 3,
      extension: { profile: 1, data: hex('aa') },
      paddingLength: 2,
    };
    const n = writeRtp(fields, hex('01 02 03'), target, 5);
    expect(n).toBe(12 + 8 + 3 + 2);
    expect(target[4]).toBe(0xee);
    expect(target[5 + n]).toBe(0xee);
    expect(toHex(target.subarray(5, 5 + n))).toBe('b0000001' + '00000002' + '00000003' + '00010001' + 'aa000000' + '010203' + '0002');
  });

  it('throws RangeError with byte counts when the packet does not fit', () => {
    const fields: RtpWriteFields = { payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3 };
    expect(() => writeRtp(fields, new Uint8Array(160), new Uint8Array(171))).toThrow(
      new RangeError('RTP packet of 172 bytes does not fit at offset 0 of a 171-byte buffer'),
    );
    expect(() => writeRtp(fields, new Uint8Array(160), new Uint8Array(200), 30)).toThrow(
      new RangeError('RTP packet of 172 bytes does not fit at offset 30 of a 200-byte buffer'),
    );
    expect(writeRtp(fields, new Uint8Array(160), new Uint8Array(172))).toBe(172);
  });

  it('rejects out-of-range fields', () => {
    const base: RtpWriteFields = { payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3 };
    const p = new Uint8Array(0);
    expect(() => serializeRtp({ ...base, payloadType: 128 }, p)).toThrow('RTP payloadType must be an integer in 0..127, got 128');
    expect(() => serializeRtp({ ...base, sequenceNumber: 65536 }, p)).toThrow(RangeError);
    expect(() => serializeRtp({ ...base, timestamp: 2 ** 32 }, p)).toThrow(RangeError);
    expect(() => serializeRtp({ ...base, ssrc: -1 }, p)).toThrow(RangeError);
    expect(() => serializeRtp({ ...base, csrcs: new Array<number>(16).fill(1) }, p)).toThrow(
      'RTP allows at most 15 CSRCs, got 16',
    );
    expect(() => serializeRtp({ ...base, paddingLength: 256 }, p)).toThrow(RangeError);
    expect(() => serializeRtp({ ...base, extension: { profile: 0x10000, data: p } }, p)).toThrow(RangeError);
  });

  it('round-trips 15 CSRCs and max values', () => {
    const csrcs = Array.from({ length: 15 }, (_, i) => (0xffffffff - i) >>> 0);
    const bytes = serializeRtp({ marker: true, payloadType: 127, sequenceNumber: 65535, timestamp: 0xffffffff, ssrc: 0xffffffff, csrcs }, hex('01'));
    const p = parseRtp(bytes);
    expect(p.csrcCount).toBe(15);
    expect(Array.from({ length: 15 }, (_, i) => p.csrc(i))).toEqual(csrcs);
    expect(p.payloadType).toBe(127);
    expect(p.marker).toBe(true);
    expect(p.sequenceNumber).toBe(65535);
    expect(p.timestamp).toBe(0xffffffff);
    expect(p.ssrc).toBe(0xffffffff);
    expect(p.headerSize).toBe(72);
  });

  it('round-trips non-word-aligned extension data as zero-padded words', () => {
    for (let len = 0; len <= 9; len++) {
      const data = Uint8Array.from({ length: len }, (_, i) => i + 1);
      const bytes = serializeRtp({ payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3, extension: { profile: 0x1234, data } }, hex('77'));
      const words = Math.ceil(len / 4);
      expect(bytes.length).toBe(12 + 4 + words * 4 + 1);
      expect(bytes.readUInt16BE(14)).toBe(words);
      const p = parseRtp(bytes);
      expect(p.extensionProfile).toBe(0x1234);
      expect(p.extension.length).toBe(words * 4);
      expect([...p.extension.subarray(0, len)]).toEqual([...data]);
      expect(p.extension.subarray(len).every((b) => b === 0)).toBe(true);
      expect(toHex(p.payload)).toBe('77');
    }
  });

  it('round-trips padding of 1 and 255 bytes', () => {
    for (const paddingLength of [1, 255]) {
      const bytes = serializeRtp({ payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3, paddingLength }, hex('ab cd'));
      expect(bytes.length).toBe(14 + paddingLength);
      expect(bytes[bytes.length - 1]).toBe(paddingLength);
      const p = parseRtp(bytes);
      expect(p.paddingLength).toBe(paddingLength);
      expect(toHex(p.payload)).toBe('abcd');
    }
  });

  it('property: random packets survive serialize -> parse with every field intact', () => {
    const rnd = prng(0x5eed);
    const int = (n: number): number => Math.floor(rnd() * n);
    const scratch = new Uint8Array(2048);
    const p = new RtpPacket();
    for (let i = 0; i < 2000; i++) {
      const fields: RtpWriteFields = {
        marker: rnd() < 0.5,
        payloadType: int(128),
        sequenceNumber: int(65536),
        timestamp: int(2 ** 32),
        ssrc: int(2 ** 32),
        csrcs: Array.from({ length: int(16) }, () => int(2 ** 32)),
      };
      const extLen = int(3) === 0 ? -1 : int(41);
      if (extLen >= 0) fields.extension = { profile: int(65536), data: Uint8Array.from({ length: extLen }, () => int(256)) };
      if (rnd() < 0.3) fields.paddingLength = 1 + int(255);
      const payload = Uint8Array.from({ length: int(300) }, () => int(256));

      const n = writeRtp(fields, payload, scratch, 0);
      expect(n).toBe(rtpPacketSize(fields, payload.length));
      const bytes = scratch.subarray(0, n);
      expect(isRtp(bytes)).toBe(!(fields.marker && fields.payloadType >= 64 && fields.payloadType <= 95) && !(fields.payloadType >= 72 && fields.payloadType <= 76));
      expect(readRtp(bytes, p)).toBeUndefined();
      expect(p.marker).toBe(fields.marker);
      expect(p.payloadType).toBe(fields.payloadType);
      expect(p.sequenceNumber).toBe(fields.sequenceNumber);
      expect(p.timestamp).toBe(fields.timestamp);
      expect(p.ssrc).toBe(fields.ssrc);
      expect(p.csrcCount).toBe(fields.csrcs!.length);
      for (let c = 0; c < p.csrcCount; c++) expect(p.csrc(c)).toBe(fields.csrcs![c]);
      expect(p.hasExtension).toBe(fields.extension !== undefined);
      expect(p.extensionProfile).toBe(fields.extension?.profile ?? 0);
      if (fields.extension) {
        expect(toHex(p.extension.subarray(0, fields.extension.data.length))).toBe(toHex(fields.extension.data));
        expect(p.extension.length).toBe(Math.ceil(fields.extension.data.length / 4) * 4);
      }
      expect(p.paddingLength).toBe(fields.paddingLength ?? 0);
      expect(toHex(p.payload)).toBe(toHex(payload));
      expect(p.headerSize).toBe(rtpHeaderSize(fields));
    }
  });
});

describe('real Asterisk 22 packet', () => {
  // First line of test/fixtures/asterisk-22/rtp-packets.jsonl (ExternalMedia, PCMU).
  const LINE =
    '{"t":1795543893466.116,"t_rel_ms":608.045,"from":"127.0.0.1:18492","size":172,"version":2,"padding":0,"extension":0,"csrc_count":0,"marker":0,"payload_type":0,"sequence":62845,"timestamp":160,"ssrc":1828864370,"ssrc_hex":"6d024172","header_len":12,"payload_len":160,"gap_ms":null}';
  const FIXTURE = new URL('../../../fixtures/asterisk-22/rtp-packets.jsonl', import.meta.url);

  interface TraceLine {
    size: number;
    version: number;
    padding: number;
    extension: number;
    csrc_count: number;
    marker: number;
    payload_type: number;
    sequence: number;
    timestamp: number;
    ssrc: number;
    ssrc_hex: string;
    header_len: number;
    payload_len: number;
  }

  it('the embedded line is the trace file first line', () => {
    const first = readFileSync(FIXTURE, 'utf8').split('\n')[0];
    expect(first).toBe(LINE);
  });

  it('a header built from the trace fields parses back to the same fields', () => {
    const t = JSON.parse(LINE) as TraceLine;
    // Built by hand from the §5.1 layout, independently of writeRtp.
    const buf = new Uint8Array(t.size);
    buf[0] = (t.version << 6) | (t.padding << 5) | (t.extension << 4) | t.csrc_count;
    buf[1] = (t.marker << 7) | t.payload_type;
    buf[2] = t.sequence >> 8;
    buf[3] = t.sequence & 0xff;
    Buffer.from(buf.buffer).writeUInt32BE(t.timestamp, 4);
    Buffer.from(t.ssrc_hex, 'hex').copy(buf, 8);
    buf.fill(0xff, t.header_len);
    expect(toHex(buf.subarray(0, 12))).toBe('8000f57d000000a06d024172');

    expect(isRtp(buf)).toBe(true);
    expect(isRtcp(buf)).toBe(false);
    const p = parseRtp(buf);
    expect(p.marker).toBe(t.marker === 1);
    expect(p.payloadType).toBe(t.payload_type);
    expect(p.sequenceNumber).toBe(t.sequence);
    expect(p.timestamp).toBe(t.timestamp);
    expect(p.ssrc).toBe(t.ssrc);
    expect(p.csrcCount).toBe(t.csrc_count);
    expect(p.hasExtension).toBe(t.extension === 1);
    expect(p.paddingLength).toBe(0);
    expect(p.headerSize).toBe(t.header_len);
    expect(p.payload.length).toBe(t.payload_len);

    const again = serializeRtp(
      { marker: false, payloadType: t.payload_type, sequenceNumber: t.sequence, timestamp: t.timestamp, ssrc: t.ssrc },
      p.payload,
    );
    expect(toHex(again)).toBe(toHex(buf));
  });
});
