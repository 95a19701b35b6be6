// Full duplex on one port, as Asterisk ExternalMedia needs it: audio sent back to the peer leaves from
// the very socket that receives the peer's RTP, paced at 20 ms, and the peer hears it intact.
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { PCMU } from '../../src/mediaplane/codec/codec.js';
import { RtpListener } from '../../src/mediaplane/rtp/listener.js';
import { parseRtp, serializeRtp } from '../../src/mediaplane/rtp/packet.js';
import { silentLogger } from '../../src/observability/logger.js';
import { readSpeech } from '../helpers/audio.js';

describe('sending back from the receiving socket', () => {
  it('a peer that sends RTP to an endpoint gets the reply from that endpoint port, paced and intact', async () => {
    const config = loadConfig({ env: {}, overrides: { rtp: { portMin: 41950, portMax: 41959 } } });
    const listener = new RtpListener({ config: config.rtp, logger: silentLogger() });
    const ep = await listener.open();
    const peer = dgram.createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    const got: Array<{ from: number; at: number; seq: number; ts: number; marker: boolean; payload: Buffer }> = [];
    peer.on('message', (msg, rinfo) => {
      const p = parseRtp(msg);
      got.push({ from: rinfo.port, at: performance.now(), seq: p.sequenceNumber, ts: p.timestamp, marker: p.marker, payload: Buffer.from(p.payload) });
    });
    try {
      // The peer speaks first (as Asterisk does): that pins it.
      peer.send(serializeRtp({ payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 99 }, Buffer.alloc(160, 0xff)), ep.port, '127.0.0.1');
      while (!ep.peer) await new Promise((r) => setTimeout(r, 5));
      const speech = readSpeech('hello-world').subarray(0, 8000); // 1 s
      const sender = ep.createSender({ codec: PCMU, payloadType: 0 });
      const closed = new Promise<void>((r) => sender.once('close', () => r()));
      sender.write(speech);
      sender.end();
      await closed;
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toHaveLength(50);
      expect(new Set(got.map((g) => g.from))).toEqual(new Set([ep.port]));
      expect(got[0]!.marker).toBe(true);
      for (let i = 1; i < got.length; i++) {
        expect(got[i]!.seq).toBe((got[0]!.seq + i) & 0xffff);
        expect(got[i]!.ts).toBe((got[0]!.ts + i * 160) >>> 0);
      }
      // paced, not burst: packet n is never sent before n x 20 ms (load can only make it later)
      const span = got.at(-1)!.at - got[0]!.at;
      expect(span).toBeGreaterThan(49 * 20 - 5);
      const expected = Buffer.alloc(8000);
      PCMU.encode(speech, expected, 0);
      expect(Buffer.concat(got.map((g) => g.payload)).equals(expected)).toBe(true);
      expect(listener.counters.packetsSent).toBe(50);
    } finally {
      peer.close();
      listener.close();
    }
  });
});
