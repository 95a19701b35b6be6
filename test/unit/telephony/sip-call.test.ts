// The SIP call's pure parts: where a request's SDP is (plain or multipart bodies, as carriers send with ISUP),
// and what an RTP endpoint decodes after an offer/answer.
import type Srf from 'drachtio-srf';
import { describe, expect, it } from 'vitest';
import { PayloadTypeMap } from '../../../src/mediaplane/codec/payload-types.js';
import { addFormats, sdpOf } from '../../../src/telephony/sip/call.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.0.8\r\ns=-\r\nc=IN IP4 10.0.0.8\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n';
const req = (body: string, payload: Array<{ type: string | null; content?: string }>): Srf.SrfRequest => ({ body, payload }) as unknown as Srf.SrfRequest;

describe('SIP call', () => {
  it('finds the SDP of a plain body or of the application/sdp part of a multipart body', () => {
    expect(sdpOf(req(SDP, [{ type: 'application/sdp', content: SDP }]))).toBe(SDP);
    const multipart = req('--b\r\n...', [
      { type: 'application/SDP', content: SDP },
      { type: 'application/ISUP;version=itu-t92+', content: '\x01\x00' },
    ]);
    expect(sdpOf(multipart)).toBe(SDP);
    expect(sdpOf(req('', []))).toBe('');
    expect(sdpOf(req('<xml/>', [{ type: 'application/pidf+xml', content: '<xml/>' }]))).toBeUndefined();
  });

  it('teaches the endpoint the negotiated payload types, dynamic numbers and telephone-event included', () => {
    const map = PayloadTypeMap.fromEntries([]);
    addFormats(map, [
      { payloadType: 96, encoding: 'L16', clockRate: 16000 },
      { payloadType: 100, encoding: 'telephone-event', clockRate: 16000 },
      { payloadType: 8, encoding: 'PCMA', clockRate: 8000 },
      { payloadType: 18, encoding: 'G729', clockRate: 8000 },
    ]);
    expect(map.toString()).toBe('8=PCMA/8000,96=L16/16000,100=telephone-event/16000');
  });
});
