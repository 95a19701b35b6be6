// G.711 mu-law decode throughput next to a plain memory copy of the same input bytes (Buffer.copy and
// Uint8Array.set), side by side in one run, at one 20 ms packet (160 bytes) and at 64 KiB blocks.
// Run: npx tsx test/bench/codec.bench.ts  (writes test/bench/results/codec.json)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { mulawDecode } from '../../src/mediaplane/codec/g711.js';
import { Prng } from '../../src/util/prng.js';
import { fmt, summarize } from './stats.js';

const SIZES = [160, 65536];
/** Each timed round runs one case for about this long, so timer resolution and call overhead wash out. */
const ROUND_NS = 4_000_000;
const WARMUP_ROUNDS = 15;
const ROUNDS = 100;
/** RTP payloads start 12 bytes into the datagram: even, so the decoder's two-codes-per-lookup path applies. */
const RTP_HEADER_BYTES = 12;

interface Case {
  name: string;
  run: () => void;
}

interface Row {
  inputBytes: number;
  operation: string;
  callsPerRound: number;
  nsPerCall: ReturnType<typeof summarize>;
  mbPerS: number;
  msamplesPerS: number;
  xBufferCopy: number;
  xTypedArraySet: number;
}

function timeRound(run: () => void, calls: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) run();
  return Number(process.hrtime.bigint() - t0) / calls;
}

function casesFor(size: number): Case[] {
  // Random codes touch the whole 256 KiB pair table: the worst case for the decoder's cache footprint.
  const datagram = new Prng(size).fill(new Uint8Array(size + RTP_HEADER_BYTES + 1));
  const src = datagram.subarray(RTP_HEADER_BYTES, RTP_HEADER_BYTES + size);
  const srcOdd = datagram.subarray(RTP_HEADER_BYTES + 1, RTP_HEADER_BYTES + 1 + size);
  const srcBuf = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  const copyDst = Buffer.alloc(size);
  const setDst = new Uint8Array(size);
  const pcm = new Int16Array(size);
  return [
    { name: 'Buffer.copy', run: () => void srcBuf.copy(copyDst, 0) },
    { name: 'Uint8Array.set', run: () => setDst.set(src) },
    { name: 'mu-law decode', run: () => void mulawDecode(src, pcm, 0) },
    // An odd byteOffset forces the one-code-per-lookup path: what the pair path buys.
    { name: 'mu-law decode, byte path', run: () => void mulawDecode(srcOdd, pcm, 0) },
  ];
}

function measure(size: number): Row[] {
  const cases = casesFor(size);
  const calls = cases.map((c) => {
    timeRound(c.run, 1000); // let the JIT see it before calibrating
    return Math.max(1, Math.round(ROUND_NS / timeRound(c.run, Math.max(10, Math.round(1e6 / size)))));
  });
  const samples = cases.map((): number[] => []);
  // Cases take turns round by round, so drift in CPU frequency or load hits them alike.
  for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
    for (let k = 0; k < cases.length; k++) {
      const j = (k + r) % cases.length;
      const ns = timeRound(cases[j]!.run, calls[j]!);
      if (r >= WARMUP_ROUNDS) samples[j]!.push(ns);
    }
  }
  const stats = samples.map((s) => summarize(s));
  const copyP50 = stats[0]!.p50;
  const setP50 = stats[1]!.p50;
  return cases.map((c, j) => {
    const s = stats[j]!;
    return {
      inputBytes: size,
      operation: c.name,
      callsPerRound: calls[j]!,
      nsPerCall: s,
      mbPerS: (size / s.p50) * 1000,
      msamplesPerS: (size / s.p50) * 1000, // one sample per input byte
      xBufferCopy: s.p50 / copyP50,
      xTypedArraySet: s.p50 / setP50,
    };
  });
}

const started = Date.now();
const rows = SIZES.flatMap(measure);

console.log('\n## G.711 mu-law decode vs a memory copy of the same input bytes\n');
console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, Node ${process.version}; ${ROUNDS} rounds of ~${ROUND_NS / 1e6} ms per case after ${WARMUP_ROUNDS} warm-up rounds\n`);
console.log('| input bytes | operation | ns/call p50 | ns/call p95 | MB/s of input | Msamples/s | x Buffer.copy | x Uint8Array.set |');
console.log('|---:|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.inputBytes} | ${r.operation} | ${fmt(r.nsPerCall.p50)} | ${fmt(r.nsPerCall.p95)} | ${fmt(r.mbPerS, 0)} | ${fmt(r.msamplesPerS, 0)} | ${fmt(r.xBufferCopy, 2)} | ${fmt(r.xTypedArraySet, 2)} |`,
  );
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);

const outDir = new URL('./results/', import.meta.url);
mkdirSync(outDir, { recursive: true });
writeFileSync(
  new URL('codec.json', outDir),
  `${JSON.stringify({ bench: 'codec', date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cpus: cpus().length, rounds: ROUNDS, rows }, null, 2)}\n`,
);
