// `theo rtp send` with 5% loss, 40 ms jitter, 2% reordering and 1% duplicates into the listener:
// the loss and jitter it measures match what was injected, and the audio stays aligned with the source.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/audio/wav.js';
import { loadConfig } from '../../src/config/index.js';
import { PCMU } from '../../src/mediaplane/codec/codec.js';
import { RtpListener } from '../../src/mediaplane/rtp/listener.js';
import type { AudioFrameKind } from '../../src/mediaplane/rtp/stream.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createRegistry } from '../../src/observability/metrics.js';
import { readSpeech } from '../helpers/audio.js';
import { runTheo } from '../helpers/theo.js';

const dir = mkdtempSync(join(tmpdir(), 'theo-impair-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROMPTS = ['tt-weasels', 'hello-world', 'tt-monkeys', 'tt-somethingwrong', 'vm-goodbye', 'tt-monkeysintro', 'demo-thanks'];

describe('impaired RTP from theo rtp send', () => {
  it('measures the injected loss and jitter and keeps the audio aligned', async () => {
    // ~32 s of real speech: enough packets (~1600) for the rates to mean something.
    const parts = PROMPTS.map(readSpeech);
    const total = parts.reduce((n, p) => n + p.length, 0);
    const source = new Int16Array(total);
    let off = 0;
    for (const p of parts) {
      source.set(p, off);
      off += p.length;
    }
    const file = join(dir, 'speech.wav');
    writeFileSync(file, encodeWav({ sampleRate: 8000, channels: 1, samples: source }));

    const config = loadConfig({ env: {}, overrides: { rtp: { portMin: 41900, portMax: 41909 } } });
    const registry = createRegistry({ defaultMetrics: false });
    const listener = new RtpListener({ config: config.rtp, logger: silentLogger(), registry });
    const ep = await listener.open();
    const frames: Array<{ position: number; timestamp: number; kind: AudioFrameKind; pcm: Int16Array }> = [];
    let jitterAtEnd = 0;
    ep.on('stream', (s) => {
      s.on('audio', (f) => frames.push({ position: f.position, timestamp: f.timestamp, kind: f.kind, pcm: f.pcm.slice() }));
      s.on('close', () => (jitterAtEnd = s.receiverStats()?.jitterSeconds ?? 0));
    });
    try {
      const send = runTheo(['rtp', 'send', file, '--to', `127.0.0.1:${ep.port}`, '--codec', 'pcmu', '--loss', '0.05', '--jitter', '40', '--reorder', '0.02', '--duplicate', '0.01', '--seed', '11']);
      const result = await send.done;
      expect(result.code, result.stderr).toBe(0);
      const sent = JSON.parse(result.stdout.trim()) as { offered: number; dropped: number; duplicated: number; reordered: number; sent: number; first_timestamp: number; packets: number };
      await new Promise((r) => setTimeout(r, 500));
      const stream = ep.streams()[0]!;
      const rs = stream.receiverStats()!;
      ep.close();
      const c = listener.counters;

      // What was injected (the seed fixes it) against what the listener measured.
      expect(sent.packets).toBe(Math.ceil(total / 160));
      expect(sent.dropped / sent.offered).toBeGreaterThan(0.03);
      expect(sent.dropped / sent.offered).toBeLessThan(0.07);
      // RFC 3550: expected - received, with duplicates counted as received.
      expect(rs.expected - (rs.received - c.outcome.duplicate - c.outcome.late)).toBeGreaterThanOrEqual(sent.dropped - 2);
      // The jitter buffer concealed every dropped packet, plus any that came too late to play.
      expect(c.lostPackets).toBeGreaterThanOrEqual(sent.dropped - 2); // a dropped first/last packet is not "between" packets
      expect(c.lostPackets).toBeLessThanOrEqual(sent.dropped + c.outcome.late);
      // A copy of a packet that itself came too late is late too, not a duplicate.
      expect(c.outcome.duplicate).toBeLessThanOrEqual(sent.duplicated);
      expect(c.outcome.duplicate).toBeGreaterThanOrEqual(sent.duplicated - c.outcome.late);
      // RFC 3550 jitter of the injected delays: U[0, 40] ms gives E|D| = 40/3 ms, and 2% held back a
      // further 40 ms add about 2 x 0.02 x 40 ms: ~14.4 ms. The metric samples every stream once a second.
      const injectedMs = 0.96 * (40 / 3) + 2 * 0.02 * 0.98 * 40;
      const metrics = await registry.metrics();
      const sum = Number(/^theo_rtp_jitter_seconds_sum (\S+)$/m.exec(metrics)![1]);
      const count = Number(/^theo_rtp_jitter_seconds_count (\S+)$/m.exec(metrics)![1]);
      expect(count).toBeGreaterThan(20);
      const measuredMs = (sum / count) * 1000;
      console.log(`jitter: injected ~${injectedMs.toFixed(1)} ms, measured ${measuredMs.toFixed(1)} ms; dropped ${sent.dropped}, lost ${c.lostPackets}, late ${c.outcome.late}, duplicates ${c.outcome.duplicate}/${sent.duplicated}`);
      expect(measuredMs).toBeGreaterThan(injectedMs * 0.7);
      expect(measuredMs).toBeLessThan(injectedMs * 1.5);
      expect(jitterAtEnd).toBeGreaterThan(0);
      expect(metrics).toMatch(new RegExp(`^theo_rtp_packet_loss_total ${c.lostPackets}$`, 'm'));
      expect(metrics).toMatch(new RegExp(`^theo_rtp_duplicate_packets_total ${c.outcome.duplicate}$`, 'm'));

      // Alignment: every received frame sits exactly where its audio is in the source.
      const ref = new Int16Array(total);
      const enc = new Uint8Array(total);
      PCMU.encode(source, enc, 0);
      PCMU.decode(enc, ref, 0);
      const offset = ((frames[0]!.timestamp - sent.first_timestamp) >>> 0) - frames[0]!.position;
      let checked = 0;
      // The first 10 ms after a loss are cross-faded from the concealment (pitch PLC); from there on, exact.
      const splice = 80;
      for (const [i, f] of frames.entries()) {
        if (f.kind !== 'audio') continue;
        const from = frames[i - 1]?.kind === 'concealed' ? splice : 0;
        expect(f.pcm.subarray(from)).toEqual(ref.subarray(f.position + offset + from, f.position + offset + f.pcm.length));
        checked += f.pcm.length - from;
      }
      expect(checked).toBeGreaterThan(total * 0.9);
      const last = frames.at(-1)!;
      expect(last.position + offset + last.pcm.length).toBeLessThanOrEqual(total);
      expect(frames.filter((f) => f.kind === 'silence')).toHaveLength(0);
    } finally {
      listener.close();
    }
  });
});
