// Replays real Asterisk ExternalMedia RTP (recorded header fields, payloads and timing) over loopback
// into the listener: what comes out must be exactly the audio Asterisk sent.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { l16Decode } from '../../src/mediaplane/codec/l16.js';
import { mulawDecode } from '../../src/mediaplane/codec/g711.js';
import { RtpListener } from '../../src/mediaplane/rtp/listener.js';
import type { AudioFrameKind } from '../../src/mediaplane/rtp/stream.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadTrace, replay, type Trace } from '../helpers/traces.js';

interface Captured {
  pcm: Int16Array;
  kinds: Map<AudioFrameKind, number>;
  sampleRate: number;
  firstTimestamp: number;
}

async function capture(listener: RtpListener, trace: Trace): Promise<Captured> {
  const ep = await listener.open();
  const chunks: Int16Array[] = [];
  const kinds = new Map<AudioFrameKind, number>();
  let sampleRate = 0;
  let firstTimestamp = -1;
  ep.on('stream', (s) =>
    s.on('audio', (f) => {
      chunks.push(f.pcm.slice());
      kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + f.pcm.length);
      sampleRate = f.sampleRate;
      if (firstTimestamp < 0) firstTimestamp = f.timestamp;
    }),
  );
  await replay(trace, ep.port);
  await new Promise((r) => setTimeout(r, 400)); // > jitter depth: everything played out
  ep.close();
  const pcm = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    pcm.set(c, off);
    off += c.length;
  }
  return { pcm, kinds, sampleRate, firstTimestamp };
}

function decodeUlaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  mulawDecode(bytes, out);
  return out;
}

describe('replay of real Asterisk ExternalMedia RTP', () => {
  it('ulaw, slin16 and a trace with a 1 s pause come out identical to what Asterisk sent', async () => {
    const config = loadConfig({ env: {}, overrides: { rtp: { portMin: 41100, portMax: 41199 } } });
    const listener = new RtpListener({ config: config.rtp, logger: silentLogger() });
    const ulaw = loadTrace('rtp-packets.jsonl', 'received.ulaw');
    const slin = loadTrace('rtp-packets-slin16.jsonl', 'received-slin16.slin16');
    const gap = loadTrace('rtp-packets-gap.jsonl', 'received.ulaw');
    try {
      const [a, b, c] = await Promise.all([capture(listener, ulaw), capture(listener, slin), capture(listener, gap)]);

      // ulaw: every payload byte, decoded, in order; no concealment, no silence.
      expect(a.sampleRate).toBe(8000);
      expect(a.firstTimestamp).toBe(ulaw.packets[0]!.timestamp);
      expect(a.kinds.get('concealed') ?? 0).toBe(0);
      expect(a.kinds.get('silence') ?? 0).toBe(0);
      expect(a.pcm).toEqual(decodeUlaw(ulaw.payload));

      // slin16: big-endian 16-bit at 16 kHz, PT 118.
      const expectedSlin = new Int16Array(slin.payload.length / 2);
      l16Decode(slin.payload, expectedSlin);
      expect(b.sampleRate).toBe(16000);
      expect(b.kinds.get('concealed') ?? 0).toBe(0);
      expect(b.pcm).toEqual(expectedSlin);

      // The pause: Asterisk sent nothing for ~1 s, then a marker packet. The prompt's short last packet
      // (12 bytes) is stamped at previous + 12, so it overlaps its predecessor's span; it plays right
      // after it, and the pause is whatever remains up to the marker packet's timestamp: 7864 samples.
      const split = gap.packets.findIndex((p) => p.marker === 1);
      expect(split).toBe(71);
      const before = gap.packets.slice(0, split).reduce((n, p) => n + p.payload_len, 0);
      const short = gap.packets[split - 1]!;
      const prev = gap.packets[split - 2]!;
      expect(short.payload_len).toBe(12);
      expect(short.timestamp).toBe(prev.timestamp + 12);
      const playedEnd = prev.timestamp + prev.payload_len + short.payload_len;
      const silence = gap.packets[split]!.timestamp - playedEnd;
      expect(silence).toBe(7864);
      const decoded = decodeUlaw(gap.payload);
      const expectedGap = new Int16Array(decoded.length + silence);
      expectedGap.set(decoded.subarray(0, before), 0);
      expectedGap.set(decoded.subarray(before), before + silence);
      expect(c.kinds.get('silence')).toBe(7864);
      expect(c.kinds.get('concealed') ?? 0).toBe(0);
      expect(c.pcm).toEqual(expectedGap);

      const counters = listener.counters;
      expect(counters.lostPackets).toBe(0);
      expect(counters.outcome.accepted).toBe(ulaw.datagrams.length + slin.datagrams.length + gap.datagrams.length);
      expect(counters.outcomesTotal()).toBe(counters.datagrams);
    } finally {
      listener.close();
    }
  });
});
