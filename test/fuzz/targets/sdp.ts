// SDP offers, in-process: the offers sipp made in the recorded drachtio calls (test/fixtures/drachtio) and a
// few of other shapes (WebRTC, IPv6, static payload types only, several m-lines, Theo's own late offer),
// mutated line by line (dropped, repeated, swapped, a token replaced by an interesting value or repeated,
// odd characters, other line endings) or byte by byte, through what an INVITE meets: parseSdp, negotiate
// (with a random set of local codecs) and, for an answer, the payload-type map the call builds from it.
// Each offer must negotiate or fail with SdpError / SdpNegotiationError; an answer must parse again and
// name our port and a payload type the offer listed.
import { readFileSync } from 'node:fs';
import { PayloadTypeMap } from '../../../src/mediaplane/codec/payload-types.js';
import { SdpNegotiationError, negotiate, offer } from '../../../src/telephony/sdp/negotiate.js';
import { SdpError, parseSdp } from '../../../src/telephony/sdp/sdp.js';
import { addFormats } from '../../../src/telephony/sip/call.js';
import { runInProcess, type Verdict } from '../in-process.js';
import { inputPrng, mutate, mutateLines, mutateTokenLine, pick } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

const DRACHTIO = new URL('../../fixtures/drachtio/', import.meta.url);
const LOCAL_PORT = 40_000;

let cached: string[] | undefined;

function seeds(): string[] {
  if (cached) return cached;
  const sipp = JSON.parse(readFileSync(new URL('sipp-offers.sdp.json', DRACHTIO), 'utf8')) as string[];
  const invites: string[] = [];
  for (const name of ['basic_call', 'hold_unhold', 'cancel', 'reject_486']) {
    for (const line of readFileSync(new URL(`traces/${name}.sip.jsonl`, DRACHTIO), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const rec = JSON.parse(line) as { first_line?: string; text?: string };
      const body = rec.text?.split('\r\n\r\n')[1];
      if (rec.first_line?.startsWith('INVITE') && body?.startsWith('v=0')) invites.push(body);
    }
  }
  const own = offer({ address: '127.0.0.1', port: 40002, sessionId: '1', version: 1 }).sdp;
  const other = [
    'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=fingerprint:sha-256 00:11\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:126 telephone-event/8000\r\na=sendrecv\r\n',
    'v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 0\r\na=ptime:30\r\na=recvonly\r\n',
    'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 5006 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 5004 RTP/AVP 96 97 101\r\nc=IN IP4 10.0.0.1\r\na=rtpmap:96 L16/16000\r\na=rtpmap:97 L16/8000\r\na=rtpmap:101 telephone-event/16000\r\na=fmtp:101 0-15\r\na=inactive\r\n',
    'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18 3 9 0\r\n',
    'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/SAVP 0\r\nc=IN IP4 10.0.0.1\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n',
  ];
  cached = [...sipp, ...invites, own, ...other];
  return cached;
}

const CODEC_SETS = [['PCMU', 'PCMA', 'L16'], ['PCMU'], ['PCMA'], ['L16'], ['L16', 'PCMA'], []] as const;

export function sdpInput(seed: number, index: number): { text: string; codecs: string[] } {
  const prng = inputPrng(seed, 'sdp', index);
  const s = seeds();
  const base = pick(prng, s);
  let text: string;
  const r = prng.next();
  if (r < 0.05) text = base;
  else if (r < 0.75) text = mutateLines(prng, base, mutateTokenLine);
  else if (r < 0.9) text = Buffer.from(mutate(prng, Buffer.from(base), { other: Buffer.from(pick(prng, s)) })).toString(prng.chance(0.5) ? 'utf8' : 'latin1');
  else text = `${base}${pick(prng, s).split('\r\n').filter((l) => l.startsWith('m=') || l.startsWith('a=')).join('\r\n')}\r\n`;
  return { text, codecs: [...pick(prng, CODEC_SETS)] };
}

/** One offer through parse, negotiate and the payload-type map: the outcome, or the problem. */
export function negotiateOne(text: string, codecs: string[]): Verdict {
  try {
    const n = negotiate(text, { address: '127.0.0.1', port: LOCAL_PORT, codecs, sessionId: '7', version: 1 });
    const answer = parseSdp(n.answer);
    const m = answer.media.find((x) => x.port === LOCAL_PORT);
    const offered = parseSdp(text).media.flatMap((x) => x.formats);
    if (!m || !m.formats.includes(n.payloadType) || !offered.includes(n.payloadType)) return { outcome: 'answer inconsistent', problem: `answer does not carry the chosen payload type ${n.payloadType} on port ${LOCAL_PORT}:\n${n.answer}` };
    addFormats(PayloadTypeMap.defaults(), [{ payloadType: n.payloadType, encoding: n.encoding, clockRate: n.clockRate }, ...(n.dtmfPayloadType !== undefined ? [{ payloadType: n.dtmfPayloadType, encoding: 'telephone-event', clockRate: n.clockRate }] : [])]);
    return { outcome: `answered ${n.encoding}/${n.clockRate}${n.dtmfPayloadType !== undefined ? ' + telephone-event' : ''}${n.hold ? ' (hold)' : ''}` };
  } catch (err) {
    if (err instanceof SdpNegotiationError) return { outcome: `refused ${err.status}: ${err.message.replace(/[:'].*$/, '')}` };
    if (err instanceof SdpError) return { outcome: `SdpError: ${err.message.replace(/^SDP: /, '').replace(/ '.*$/s, '')}` };
    return { outcome: `unexpected ${err instanceof Error ? err.name : typeof err}`, problem: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined };
  }
}

export const sdpTarget: FuzzTarget = {
  name: 'sdp',
  needsServer: false,
  run: (ctx) =>
    runInProcess(ctx, {
      target: 'sdp',
      input: sdpInput,
      kind: (x) => `offer, local codecs ${x.codecs.join('+') || 'none'}`,
      bytes: (x) => Buffer.from(x.text),
      check: (x) => negotiateOne(x.text, x.codecs),
      contract: 'every offer answered consistently, or refused with SdpError / SdpNegotiationError (488 for a SIP caller)',
    }),
  one(ctx, index) {
    const input = sdpInput(ctx.seed, index);
    const r = negotiateOne(input.text, input.codecs);
    ctx.log(`sdp offer ${index} (codecs ${input.codecs.join(',')}): ${r.outcome}${r.problem ? `: ${r.problem}` : ''}`);
    return Promise.resolve(Buffer.from(input.text));
  },
};
