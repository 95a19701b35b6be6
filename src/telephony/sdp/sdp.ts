// SDP (RFC 4566) as much of it as a telephony media endpoint needs: session and media lines, connection
// addresses (session- or media-level), rtpmap / fmtp / ptime / direction attributes, and serialisation of an
// answer. Unknown lines are kept in `other` and otherwise ignored; a malformed line is an SdpError naming it.
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface RtpMap {
  encoding: string;
  clockRate: number;
  channels: number;
}

export interface MediaDescription {
  type: string;
  port: number;
  proto: string;
  /** Payload type numbers as offered, in preference order (for RTP profiles). */
  formats: number[];
  rtpmap: Map<number, RtpMap>;
  fmtp: Map<number, string>;
  connection: string | undefined;
  direction: Direction | undefined;
  ptime: number | undefined;
  crypto: boolean;
  other: string[];
}

export interface SessionDescription {
  origin: { username: string; sessionId: string; version: string; address: string };
  sessionName: string;
  connection: string | undefined;
  direction: Direction | undefined;
  media: MediaDescription[];
}

export class SdpError extends Error {
  constructor(message: string) {
    super(`SDP: ${message}`);
    this.name = 'SdpError';
  }
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** Payload types whose codec RFC 3551 fixes, for offers that leave out their rtpmap. */
export const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, RtpMap> = new Map([
  [0, { encoding: 'PCMU', clockRate: 8000, channels: 1 }],
  [3, { encoding: 'GSM', clockRate: 8000, channels: 1 }],
  [8, { encoding: 'PCMA', clockRate: 8000, channels: 1 }],
  [9, { encoding: 'G722', clockRate: 8000, channels: 1 }],
  [13, { encoding: 'CN', clockRate: 8000, channels: 1 }],
  [18, { encoding: 'G729', clockRate: 8000, channels: 1 }],
]);

function connectionAddress(value: string, line: string): string {
  const m = /^IN\s+IP[46]\s+(\S+)$/.exec(value.trim());
  if (!m?.[1]) throw new SdpError(`bad connection line '${line}'`);
  return m[1].split('/')[0]!;
}

export function parseSdp(text: string): SessionDescription {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l !== '');
  if (lines[0] !== 'v=0') throw new SdpError('must start with v=0');
  const session: SessionDescription = { origin: { username: '-', sessionId: '0', version: '0', address: '' }, sessionName: '-', connection: undefined, direction: undefined, media: [] };
  let m: MediaDescription | undefined;
  for (const line of lines.slice(1)) {
    const eq = line.indexOf('=');
    if (eq !== 1) throw new SdpError(`malformed line '${line}'`);
    const key = line[0]!;
    const value = line.slice(2);
    if (key === 'm') {
      const parts = value.split(/\s+/);
      const port = Number(parts[1]?.split('/')[0]);
      if (parts.length < 3 || !Number.isInteger(port) || port < 0 || port > 65535) throw new SdpError(`bad media line '${line}'`);
      const rtp = /RTP\//.test(parts[2]!);
      const formats = rtp ? parts.slice(3).map(Number) : [];
      if (rtp && formats.some((f) => !Number.isInteger(f) || f < 0 || f > 127)) throw new SdpError(`bad payload types in '${line}'`);
      m = { type: parts[0]!, port, proto: parts[2]!, formats, rtpmap: new Map(), fmtp: new Map(), connection: undefined, direction: undefined, ptime: undefined, crypto: false, other: [] };
      session.media.push(m);
    } else if (key === 'o') {
      const p = value.split(/\s+/);
      if (p.length < 6) throw new SdpError(`bad origin line '${line}'`);
      session.origin = { username: p[0]!, sessionId: p[1]!, version: p[2]!, address: p[5]! };
    } else if (key === 's') {
      session.sessionName = value;
    } else if (key === 'c') {
      const addr = connectionAddress(value, line);
      if (m) m.connection = addr;
      else session.connection = addr;
    } else if (key === 'a') {
      const colon = value.indexOf(':');
      const name = colon < 0 ? value : value.slice(0, colon);
      const arg = colon < 0 ? '' : value.slice(colon + 1);
      if (DIRECTIONS.has(name)) {
        if (m) m.direction = name as Direction;
        else session.direction = name as Direction;
      } else if (!m) {
        continue;
      } else if (name === 'rtpmap') {
        const r = /^(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?$/.exec(arg.trim());
        if (!r) throw new SdpError(`bad rtpmap '${line}'`);
        m.rtpmap.set(Number(r[1]), { encoding: r[2]!, clockRate: Number(r[3]), channels: r[4] ? Number(r[4]) : 1 });
      } else if (name === 'fmtp') {
        const r = /^(\d+)\s+(.*)$/.exec(arg.trim());
        if (r) m.fmtp.set(Number(r[1]), r[2]!);
      } else if (name === 'ptime') {
        const p = Number(arg);
        if (Number.isFinite(p) && p > 0) m.ptime = p;
      } else if (name === 'crypto') {
        m.crypto = true;
      } else {
        m.other.push(value);
      }
    }
  }
  return session;
}

/** The codec of a payload type in `m`: its rtpmap, else the static assignment. */
export function codecOf(m: MediaDescription, pt: number): RtpMap | undefined {
  return m.rtpmap.get(pt) ?? STATIC_PAYLOAD_TYPES.get(pt);
}
