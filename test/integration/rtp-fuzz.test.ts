// 100,000+ random and mutated datagrams over loopback into one port while a real stream flows into
// another: the process stays up, every datagram is accounted for exactly once, the other stream loses nothing.
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { RtpListener } from '../../src/mediaplane/rtp/listener.js';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Prng } from '../../src/util/prng.js';

const TOTAL = 100_000;
const BATCH = 400;

function mutate(prng: Prng, seqBase: number): Buffer {
  const kind = prng.int(8);
  if (kind === 0) return Buffer.from(prng.fill(new Uint8Array(prng.int(300)))); // pure noise, 0..299 bytes
  const valid = serializeRtp(
    { marker: prng.chance(0.1), payloadType: [0, 8, 118, 101, 13, 96][prng.int(6)]!, sequenceNumber: (seqBase + prng.int(50)) & 0xffff, timestamp: prng.int(0x100000000), ssrc: prng.chance(0.9) ? 42 : prng.int(0x100000000) },
    prng.fill(new Uint8Array(prng.int(400))),
  );
  switch (kind) {
    case 1: // flip bytes in the header
      for (let i = 0; i < 3; i++) valid[prng.int(Math.min(16, valid.length))] = prng.int(256);
      return valid;
    case 2: // truncate
      return valid.subarray(0, prng.int(valid.length));
    case 3: // claim CSRCs, padding or an extension that are not there
      valid[0] = 0x80 | (prng.int(2) << 5) | (prng.int(2) << 4) | prng.int(16);
      return valid;
    case 4: // huge padding count
      valid[0] = valid[0]! | 0x20;
      valid[valid.length - 1] = prng.int(256);
      return valid;
    case 5: // extension length overrun
      if (valid.length >= 16) {
        valid[0] = valid[0]! | 0x10;
        valid.writeUInt16BE(prng.int(0x10000), 14);
      }
      return valid;
    default:
      return valid; // structurally valid but wild seq/ts/ssrc/payload type
  }
}

describe('fuzzing the RTP receive path', () => {
  it(`survives ${TOTAL} hostile datagrams with counters that add up, without disturbing another stream`, async () => {
    const config = loadConfig({ env: {}, overrides: { rtp: { portMin: 41400, portMax: 41499 } } });
    const listener = new RtpListener({ config: config.rtp, logger: silentLogger() });
    const target = await listener.open();
    const victim = await listener.open();
    const victimFrames: number[] = [];
    victim.on('stream', (s) => s.on('audio', (f) => victimFrames.push(f.pcm.length)));
    const attacker = dgram.createSocket('udp4');
    const honest = dgram.createSocket('udp4');
    await Promise.all([new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r())), new Promise<void>((r) => honest.bind(0, '127.0.0.1', () => r()))]);
    const prng = new Prng(2024);
    let sent = 0;
    let honestSent = 0;
    const honestPacket = (): void => {
      const payload = Buffer.alloc(160, 0x55);
      honest.send(serializeRtp({ payloadType: 0, sequenceNumber: honestSent, timestamp: honestSent * 160, ssrc: 7 }, payload), victim.port, '127.0.0.1');
      honestSent++;
    };
    try {
      // The call is up before the attack starts: its first packet pins the victim port to the honest peer.
      honestPacket();
      while (listener.counters.datagrams < 1) await new Promise((r) => setImmediate(r));
      while (sent < TOTAL) {
        const before = listener.counters.datagrams;
        for (let i = 0; i < BATCH; i++) {
          attacker.send(mutate(prng, sent), target.port, '127.0.0.1');
          // the attacker also aims at the honest stream's port: pinned, so all foreign
          if (i % 50 === 0) attacker.send(mutate(prng, sent), victim.port, '127.0.0.1');
        }
        sent += BATCH + BATCH / 50;
        honestPacket();
        // wait until the listener has seen this batch (no kernel drops, so counts are exact)
        const deadline = Date.now() + 5000;
        while (listener.counters.datagrams < before + BATCH + BATCH / 50 + 1 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 400));
      const c = listener.counters;
      expect(c.datagrams).toBe(sent + honestSent);
      expect(c.outcomesTotal()).toBe(c.datagrams);
      const malformedSum = Object.values(c.malformed).reduce((a, b) => a + b, 0);
      expect(malformedSum).toBe(c.outcome.malformed);
      expect(c.outcome.malformed).toBeGreaterThan(TOTAL * 0.3);
      expect(c.outcome.unknown_payload_type).toBeGreaterThan(0);
      expect(c.outcome.foreign_source).toBeGreaterThan(0);
      // the honest stream got every packet, in order, nothing concealed
      expect(victimFrames.length).toBe(honestSent);
      expect(victim.streams()[0]!.receiverStats()!.lost).toBe(0);
      expect(victim.peer?.port).toBe((honest.address()).port);
    } finally {
      attacker.close();
      honest.close();
      listener.close();
    }
  });
});
