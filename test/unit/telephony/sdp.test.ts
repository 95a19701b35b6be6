// SDP parsing and offer/answer on real-world offers: sipp's recorded offers (initial, hold, unhold), and
// offers as Asterisk (PJSIP), FreeSWITCH and a carrier SBC send them; refusals with 488.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SdpNegotiationError, negotiate, offer } from '../../../src/telephony/sdp/negotiate.js';
import { SdpError, parseSdp } from '../../../src/telephony/sdp/sdp.js';

const [SIPP, SIPP_HOLD, SIPP_UNHOLD] = JSON.parse(readFileSync(new URL('../../fixtures/drachtio/sipp-offers.sdp.json', import.meta.url), 'utf8')) as string[];
const LOCAL = { address: '10.1.1.1', port: 40002, sessionId: '77', version: 1 };
const sdp = (...lines: string[]): string => `${lines.join('\r\n')}\r\n`;

const ASTERISK = sdp(
  'v=0',
  'o=- 1873947104 3 IN IP4 192.168.1.10',
  's=Asterisk',
  'c=IN IP4 192.168.1.10',
  't=0 0',
  'm=audio 13642 RTP/AVP 107 8 0 3 101',
  'a=rtpmap:107 opus/48000/2',
  'a=fmtp:107 useinbandfec=1',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:3 GSM/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=maxptime:20',
  'a=sendrecv',
);

const FREESWITCH = sdp(
  'v=0',
  'o=FreeSWITCH 1701945263 1701945264 IN IP4 10.0.0.5',
  's=FreeSWITCH',
  'c=IN IP4 10.0.0.5',
  't=0 0',
  'm=audio 24530 RTP/AVP 102 9 0 8 101 13',
  'a=rtpmap:102 opus/48000/2',
  'a=fmtp:102 useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000; ptime=20; minptime=10; maxptime=40',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=rtpmap:13 CN/8000',
  'a=ptime:20',
  'a=rtcp:24531 IN IP4 10.0.0.5',
);

// A carrier SBC: G.729 first, static payload types without rtpmap, a media-level address.
const CARRIER = sdp(
  'v=0',
  'o=SBC 12345 67890 IN IP4 203.0.113.5',
  's=SBC call',
  'c=IN IP4 203.0.113.5',
  't=0 0',
  'm=audio 40000 RTP/AVP 18 0 8 101',
  'c=IN IP4 203.0.113.9',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:18 annexb=no',
  'a=fmtp:101 0-15',
  'a=silenceSupp:off - - - -',
  'a=ptime:30',
);

describe('SDP offer/answer', () => {
  it("answers sipp's recorded offer: PCMU, telephone-event, recvonly, our address and port", () => {
    const n = negotiate(SIPP!, LOCAL);
    expect(n).toMatchObject({ payloadType: 0, encoding: 'PCMU', clockRate: 8000, dtmfPayloadType: 101, remote: { address: '127.0.0.1', port: 6000 }, hold: false, direction: 'recvonly', ptime: 20 });
    expect(n.answer).toBe(sdp('v=0', 'o=theo 77 1 IN IP4 10.1.1.1', 's=theo', 'c=IN IP4 10.1.1.1', 't=0 0', 'm=audio 40002 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20', 'a=recvonly'));
    // The answer is valid SDP itself.
    expect(parseSdp(n.answer).media[0]).toMatchObject({ port: 40002, formats: [0, 101], direction: 'recvonly' });
  });

  it("recognises the recorded hold (sendonly) and unhold (sendrecv) re-INVITEs", () => {
    expect(negotiate(SIPP_HOLD!, { ...LOCAL, version: 2 })).toMatchObject({ hold: true, direction: 'recvonly' });
    expect(negotiate(SIPP_UNHOLD!, { ...LOCAL, version: 3 })).toMatchObject({ hold: false, direction: 'recvonly' });
    expect(negotiate(SIPP_HOLD!.replace('a=sendonly', 'a=inactive'), LOCAL)).toMatchObject({ hold: true, direction: 'inactive' });
    expect(negotiate(SIPP!.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'), LOCAL)).toMatchObject({ hold: true, direction: 'inactive' });
  });

  it("takes the offer's preference: Asterisk offers opus first, then PCMA", () => {
    const n = negotiate(ASTERISK, LOCAL);
    expect(n).toMatchObject({ payloadType: 8, encoding: 'PCMA', dtmfPayloadType: 101, remote: { address: '192.168.1.10', port: 13642 } });
    expect(n.answer).toContain('m=audio 40002 RTP/AVP 8 101\r\n');
  });

  it('FreeSWITCH: skips opus and G.722, answers PCMU', () => {
    expect(negotiate(FREESWITCH, LOCAL)).toMatchObject({ payloadType: 0, encoding: 'PCMU', dtmfPayloadType: 101, remote: { address: '10.0.0.5', port: 24530 } });
  });

  it('a carrier SBC: static payload types without rtpmap, the media-level address, its ptime and DTMF range', () => {
    const n = negotiate(CARRIER, LOCAL);
    expect(n).toMatchObject({ payloadType: 0, encoding: 'PCMU', remote: { address: '203.0.113.9', port: 40000 }, ptime: 30, dtmfPayloadType: 101 });
    expect(n.answer).toContain('a=fmtp:101 0-15\r\n');
    expect(n.answer).toContain('a=rtpmap:0 PCMU/8000\r\n');
  });

  it('answers the audio stream of an offer with video too, refusing the video with port 0', () => {
    const offer = sdp('v=0', 'o=- 1 1 IN IP4 10.0.0.8', 's=-', 'c=IN IP4 10.0.0.8', 't=0 0', 'm=video 5002 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'm=audio 5000 RTP/AVP 0', 'a=sendrecv');
    const n = negotiate(offer, LOCAL);
    const media = parseSdp(n.answer).media;
    expect(media.map((m) => [m.type, m.port])).toEqual([
      ['video', 0],
      ['audio', 40002],
    ]);
    expect(n.remote).toEqual({ address: '10.0.0.8', port: 5000 });
  });

  it('refuses with 488: secure RTP only, no codec in common, no audio', () => {
    const srtp = SIPP!.replace('RTP/AVP', 'RTP/SAVP').replace('a=sendrecv', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv');
    const err = (text: string): SdpNegotiationError => {
      try {
        negotiate(text, LOCAL);
      } catch (e) {
        if (e instanceof SdpNegotiationError) return e;
        throw e;
      }
      throw new Error('negotiated');
    };
    expect(err(srtp)).toMatchObject({ status: 488, message: expect.stringMatching(/SRTP/) as unknown });
    expect(err(CARRIER.replace('RTP/AVP 18 0 8 101', 'RTP/AVP 18 101')).message).toMatch(/no codec in common: offered G729, telephone-event/);
    expect(err(sdp('v=0', 'o=- 1 1 IN IP4 10.0.0.8', 's=-', 'c=IN IP4 10.0.0.8', 't=0 0', 'm=video 5002 RTP/AVP 96')).message).toMatch(/no audio/);
  });

  it('names the malformed line', () => {
    expect(() => parseSdp('v=0\r\nm=audio notaport RTP/AVP 0\r\n')).toThrow(SdpError);
    expect(() => parseSdp('v=0\r\nm=audio notaport RTP/AVP 0\r\n')).toThrow(/bad media line 'm=audio notaport RTP\/AVP 0'/);
    expect(() => parseSdp('hello')).toThrow(/must start with v=0/);
    expect(() => parseSdp('v=0\r\nc=IN IP4\r\n')).toThrow(/bad connection line/);
    expect(() => parseSdp('v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:x PCMU\r\n')).toThrow(/bad rtpmap/);
  });

  it('offers every codec it takes for a late-offer INVITE, receive-only, and reads its own offer back', () => {
    const o = offer({ ...LOCAL, codecs: ['PCMA', 'L16'] });
    expect(o.formats.map((f) => `${f.payloadType}=${f.encoding}/${f.clockRate}`)).toEqual(['8=PCMA/8000', '96=L16/16000', '97=L16/8000', '101=telephone-event/8000']);
    const parsed = parseSdp(o.sdp);
    expect(parsed.media[0]).toMatchObject({ type: 'audio', port: 40002, proto: 'RTP/AVP', formats: [8, 96, 97, 101], direction: 'recvonly', ptime: 20 });
    expect(parsed.connection).toBe('10.1.1.1');
    expect(parsed.origin).toMatchObject({ sessionId: '77', version: '1' });
    expect(() => offer({ ...LOCAL, codecs: ['G729'] })).toThrow(/no codec to offer/);
  });
});
