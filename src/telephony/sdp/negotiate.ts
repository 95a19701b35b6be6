// SDP offer/answer (RFC 3264) for a receive-only transcription endpoint: the first audio stream of the offer
// is answered with the first offered codec we decode (PCMU or PCMA at 8 kHz, L16 at 8/16 kHz, in the offer's
// order of preference), telephone-event when offered, the offer's ptime, our address and port, and a
// direction that mirrors the offer's (sendrecv/sendonly → recvonly, recvonly/inactive → inactive: we never
// send). Other media lines are refused with port 0. A call put on hold (sendonly, inactive, or the old
// c=0.0.0.0) is reported as such. No audio stream, secure RTP only, or no codec in common is an
// SdpNegotiationError carrying the SIP status to answer with (488 Not Acceptable Here). An INVITE without
// SDP (late offer) is answered with offer(): every codec we take, receive-only; the caller answers in its ACK.
import { codecOf, parseSdp, type Direction, type MediaDescription } from './sdp.js';

export interface LocalMedia {
  address: string;
  port: number;
  /** Encodings we take, in our order of preference among equals (default PCMU, PCMA, L16). */
  codecs?: readonly string[];
  /** SDP origin: a stable session id and a version that grows with each new answer. */
  sessionId?: string;
  version?: number;
}

export interface Negotiated {
  answer: string;
  /** The chosen payload type and codec. */
  payloadType: number;
  encoding: string;
  clockRate: number;
  /** telephone-event payload type when both sides use it. */
  dtmfPayloadType: number | undefined;
  /** Where the other side sends from / wants RTP (its connection address and port). */
  remote: { address: string; port: number };
  /** The other side put the call on hold: sendonly (music on hold), recvonly, inactive, or the old c=0.0.0.0. */
  hold: boolean;
  /** The direction of our answer. */
  direction: Direction;
  ptime: number;
}

export class SdpNegotiationError extends Error {
  constructor(
    message: string,
    readonly status: number = 488,
  ) {
    super(message);
    this.name = 'SdpNegotiationError';
  }
}

const DEFAULT_CODECS = ['PCMU', 'PCMA', 'L16'];

export function negotiate(offerText: string, local: LocalMedia): Negotiated {
  const offer = parseSdp(offerText);
  const index = offer.media.findIndex((m) => m.type === 'audio' && m.port !== 0);
  const audio = offer.media[index];
  if (!audio) throw new SdpNegotiationError('the offer has no audio stream');
  if (!/^RTP\/(AVP|AVPF)$/.test(audio.proto)) throw new SdpNegotiationError(`transport '${audio.proto}' is not supported (plain RTP/AVP only: no SRTP or DTLS)`);
  const ours = (local.codecs ?? DEFAULT_CODECS).map((c) => c.toUpperCase());
  const chosen = audio.formats.find((pt) => {
    const c = codecOf(audio, pt);
    return c !== undefined && c.channels === 1 && ours.includes(c.encoding.toUpperCase()) && (c.encoding.toUpperCase() === 'L16' ? c.clockRate === 8000 || c.clockRate === 16000 : c.clockRate === 8000);
  });
  if (chosen === undefined) {
    const offered = audio.formats.map((pt) => codecOf(audio, pt)?.encoding ?? String(pt)).join(', ');
    throw new SdpNegotiationError(`no codec in common: offered ${offered || 'none'}, taken ${ours.join(', ')}`);
  }
  const codec = codecOf(audio, chosen)!;
  const dtmf = audio.formats.find((pt) => {
    const c = audio.rtpmap.get(pt);
    return c?.encoding.toLowerCase() === 'telephone-event' && c.clockRate === codec.clockRate;
  });
  const remoteAddress = audio.connection ?? offer.connection ?? '';
  const offered = audio.direction ?? offer.direction ?? 'sendrecv';
  const nullAddress = remoteAddress === '0.0.0.0' || remoteAddress === '::';
  const direction: Direction = nullAddress || offered === 'recvonly' || offered === 'inactive' ? 'inactive' : 'recvonly';
  const ptime = audio.ptime ?? 20;
  const pts = [chosen, ...(dtmf !== undefined ? [dtmf] : [])];
  const lines = sessionLines(local);
  offer.media.forEach((m, i) => {
    if (i === index) {
      lines.push(`m=audio ${local.port} ${audio.proto} ${pts.join(' ')}`);
      lines.push(`a=rtpmap:${chosen} ${codec.encoding}/${codec.clockRate}`);
      if (dtmf !== undefined) {
        lines.push(`a=rtpmap:${dtmf} telephone-event/${codec.clockRate}`);
        lines.push(`a=fmtp:${dtmf} ${audio.fmtp.get(dtmf) ?? '0-16'}`);
      }
      lines.push(`a=ptime:${ptime}`, `a=${direction}`);
    } else {
      lines.push(refused(m));
    }
  });
  return {
    answer: `${lines.join('\r\n')}\r\n`,
    payloadType: chosen,
    encoding: codec.encoding.toUpperCase(),
    clockRate: codec.clockRate,
    dtmfPayloadType: dtmf,
    remote: { address: remoteAddress, port: audio.port },
    hold: nullAddress || offered === 'inactive' || offered === 'sendonly' || offered === 'recvonly',
    direction,
    ptime,
  };
}

/** One payload type we receive: its number, encoding and clock rate. */
export interface OfferedFormat {
  payloadType: number;
  encoding: string;
  clockRate: number;
}

export interface Offer {
  sdp: string;
  /** Every payload type the offer lists (audio codecs, then telephone-event). */
  formats: OfferedFormat[];
}

/** Static payload types (RFC 3551) and the dynamic numbers used for L16 and telephone-event in our offers. */
const OFFER_FORMATS: Record<string, OfferedFormat[]> = {
  PCMU: [{ payloadType: 0, encoding: 'PCMU', clockRate: 8000 }],
  PCMA: [{ payloadType: 8, encoding: 'PCMA', clockRate: 8000 }],
  L16: [
    { payloadType: 96, encoding: 'L16', clockRate: 16000 },
    { payloadType: 97, encoding: 'L16', clockRate: 8000 },
  ],
};
const OFFER_DTMF: OfferedFormat = { payloadType: 101, encoding: 'telephone-event', clockRate: 8000 };

/** An offer for a late-offer INVITE: every codec we take (in our order), telephone-event, 20 ms, recvonly. */
export function offer(local: LocalMedia): Offer {
  const audio = (local.codecs ?? DEFAULT_CODECS).flatMap((c) => OFFER_FORMATS[c.toUpperCase()] ?? []);
  if (audio.length === 0) throw new SdpNegotiationError('no codec to offer');
  const formats = [...audio, OFFER_DTMF];
  const lines = [
    ...sessionLines(local),
    `m=audio ${local.port} RTP/AVP ${formats.map((f) => f.payloadType).join(' ')}`,
    ...formats.map((f) => `a=rtpmap:${f.payloadType} ${f.encoding}/${f.clockRate}`),
    `a=fmtp:${OFFER_DTMF.payloadType} 0-16`,
    'a=ptime:20',
    'a=recvonly',
  ];
  return { sdp: `${lines.join('\r\n')}\r\n`, formats };
}

/** v=, o= (our session id and version), s=, c= (our address), t=. */
function sessionLines(local: LocalMedia): string[] {
  const ip = ipVersion(local.address);
  return ['v=0', `o=theo ${local.sessionId ?? String(Date.now())} ${local.version ?? 1} IN ${ip} ${local.address}`, 's=theo', `c=IN ${ip} ${local.address}`, 't=0 0'];
}

function refused(m: MediaDescription): string {
  return `m=${m.type} 0 ${m.proto} ${m.formats.length > 0 ? m.formats.join(' ') : '*'}`;
}

function ipVersion(address: string): 'IP4' | 'IP6' {
  return address.includes(':') ? 'IP6' : 'IP4';
}
