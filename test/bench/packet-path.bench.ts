// Per-packet cost of the receive path (parse + payload type + jitter buffer + G.711 decode + playout),
// measured through RtpEndpoint.onDatagram with the shared clock ticking every 20 packets, next to
// two baselines in the same run: parse alone, and a plain copy of the datagram bytes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../src/config/index.js';
import { MediaClock } from '../../src/mediaplane/clock.js';
import { RtpListener } from '../../src/mediaplane/rtp/listener.js';
import { RtpPacket, readRtp, serializeRtp } from '../../src/mediaplane/rtp/packet.js';
import { silentLogger } from '../../src/observability/logger.js';
import { fmt, summarize } from './stats.js';

const PACKETS = 200_000;
const BATCH = 1000;
const ROUNDS = 5;

function buildPackets(n: number): Buffer[] {
  const payload = Buffer.alloc(160);
  for (let i = 0; i < 160; i++) payload[i] = (i * 7) & 0xff;
  return Array.from({ length: n }, (_, i) => serializeRtp({ payloadType: 0, sequenceNumber: i & 0xffff, timestamp: (i * 160) >>> 0, ssrc: 0x5eed }, payload));
}

async function main(): Promise<void> {
  const packets = buildPackets(PACKETS);
  const config = loadConfig({ env: {}, overrides: { rtp: { portMin: 42000, portMax: 42009 } } });
  const clock = new MediaClock(1_000_000);
  const listener = new RtpListener({ config: config.rtp, logger: silentLogger(), clock });

  const results: Record<string, ReturnType<typeof summarize>> = {};
  const pkt = new RtpPacket();
  const scratch = Buffer.alloc(2048);
  let sink = 0;

  const cases: Record<string, (round: number) => Promise<number[]>> = {
    'copy datagram (baseline)': () => Promise.resolve(timeBatches((i) => { sink += packets[i]!.copy(scratch, 0); })),
    'parse only (baseline)': () => Promise.resolve(timeBatches((i) => { sink += readRtp(packets[i]!, pkt) ? 1 : pkt.payload.length; })),
    'full receive path': async () => {
      const ep = await listener.open();
      let frames = 0;
      ep.on('stream', (s) => s.on('audio', (f) => { frames += f.pcm.length; }));
      // media time advances 20 ms per packet; arrival follows it, so the jitter buffer plays out steadily
      const times = timeBatches((i) => {
        const now = i * 20;
        ep.onDatagram(packets[i]!, '127.0.0.1', 5000, now);
        if (i % 20 === 19) listener.onTick(now);
      });
      ep.close();
      sink += frames;
      return times;
    },
  };

  for (const [name, fn] of Object.entries(cases)) {
    const all: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t = await fn(r);
      if (r > 0) all.push(...t); // round 0 warms up the JIT
    }
    results[name] = summarize(all);
  }
  listener.close();

  const base = results['copy datagram (baseline)']!;
  const parse = results['parse only (baseline)']!;
  console.log(`\n## Per-packet cost (ns per packet, batches of ${BATCH}, ${PACKETS} packets x ${ROUNDS - 1} rounds)\n`);
  console.log('| path | p50 | p95 | p99 | x copy (p50) | x parse (p50) |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, s] of Object.entries(results)) {
    console.log(`| ${name} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.p99)} | ${fmt(s.p50 / base.p50, 2)} | ${fmt(s.p50 / parse.p50, 2)} |`);
  }
  mkdirSync('test/bench/results', { recursive: true });
  writeFileSync('test/bench/results/packet-path.json', JSON.stringify({ batch: BATCH, packets: PACKETS, results, sink: sink > 0 }, null, 2));

  function timeBatches(step: (i: number) => void): number[] {
    const out: number[] = [];
    for (let b = 0; b < PACKETS; b += BATCH) {
      const t0 = performance.now();
      for (let i = b; i < b + BATCH; i++) step(i);
      out.push(((performance.now() - t0) * 1e6) / BATCH);
    }
    return out;
  }
}

await main();
