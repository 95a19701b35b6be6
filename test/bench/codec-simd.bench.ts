// G.711 mu-law decode in WebAssembly SIMD (g711-simd.ts) next to the table decode of g711.ts and a plain
// memory copy of the same input bytes, at one 20 ms packet (160 bytes) and at 64 KiB, in one run.
//   SIMD decode (copies in/out): mulawDecodeSimd, what a drop-in replacement for mulawDecode costs
//   SIMD decode (output in wasm): decodeInPlace, input copied in, samples left in wasm memory
//   SIMD decode (in and out in wasm): decodeInput, the codes already in wasm memory (the kernel alone)
// Run: npx tsx test/bench/codec-simd.bench.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { mulawDecode } from '../../src/mediaplane/codec/g711.js';
import { decodeInPlace, decodeInput, mulawDecodeSimd, simdAvailable, simdInput } from '../../src/mediaplane/codec/g711-simd.js';
import { Prng } from '../../src/util/prng.js';
import { fmt, summarize } from './stats.js';

const SIZES = [160, 65536];
const ROUNDS = 40;
const TARGET_BYTES_PER_ROUND = 8 << 20;

interface Result {
  size: number;
  name: string;
  nsPerCall: ReturnType<typeof summarize>;
  mbPerS: number;
}

if (!simdAvailable) console.warn('WebAssembly SIMD unavailable: the SIMD rows measure the table fallback');

let sink = 0;
const results: Result[] = [];
for (const size of SIZES) {
  // Payloads sit at offset 12 of a datagram, as they do on the receive path.
  const datagram = new Prng(1).fill(new Uint8Array(size + 12));
  const src = datagram.subarray(12);
  const pcm = new Int16Array(size);
  const copyDst = Buffer.alloc(size);
  const setDst = new Uint8Array(size);
  const srcBuf = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  simdInput().set(src);
  const calls = Math.max(1, Math.round(TARGET_BYTES_PER_ROUND / size));
  const cases: Record<string, () => void> = {
    'Buffer.copy (memcpy)': () => { srcBuf.copy(copyDst, 0); },
    'Uint8Array.set (memcpy)': () => { setDst.set(src); },
    'mu-law decode (JS tables)': () => { mulawDecode(src, pcm, 0); },
    'SIMD decode (copies in/out)': () => { mulawDecodeSimd(src, pcm, 0); },
    'SIMD decode (output in wasm)': () => { sink += decodeInPlace('mulaw', src).length; },
    'SIMD decode (in and out in wasm)': () => { sink += decodeInput('mulaw', size).length; },
  };
  for (const [name, fn] of Object.entries(cases)) {
    const samples: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) fn();
      const ns = ((performance.now() - t0) * 1e6) / calls;
      if (r >= 5) samples.push(ns); // the first rounds warm up the JIT
    }
    const s = summarize(samples);
    results.push({ size, name, nsPerCall: s, mbPerS: (size / s.p50) * 1000 });
  }
}

// The three decodes must agree, or the timings compare different work.
for (const size of SIZES) {
  const src = new Prng(2).fill(new Uint8Array(size));
  const a = new Int16Array(size);
  const b = new Int16Array(size);
  mulawDecode(src, a);
  mulawDecodeSimd(src, b);
  const c = decodeInPlace('mulaw', src);
  for (let i = 0; i < size; i++) if (a[i] !== b[i] || a[i] !== c[i]) throw new Error(`SIMD decode differs at ${i} of ${size}`);
}

console.log(`\n## G.711 mu-law decode, JS tables vs WebAssembly SIMD (${simdAvailable ? 'SIMD' : 'fallback'}), vs memory copy of the input bytes\n`);
console.log('| input bytes | operation | ns/call p50 | p95 | MB/s of input (p50) | x Buffer.copy | x Uint8Array.set |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  const copy = results.find((x) => x.size === r.size && x.name.startsWith('Buffer.copy'))!;
  const set = results.find((x) => x.size === r.size && x.name.startsWith('Uint8Array.set'))!;
  console.log(`| ${r.size} | ${r.name} | ${fmt(r.nsPerCall.p50)} | ${fmt(r.nsPerCall.p95)} | ${fmt(r.mbPerS, 0)} | ${fmt(r.nsPerCall.p50 / copy.nsPerCall.p50, 2)} | ${fmt(r.nsPerCall.p50 / set.nsPerCall.p50, 2)} |`);
}
if (sink < 0) console.log(sink); // keeps the in-wasm cases observable
mkdirSync('test/bench/results', { recursive: true });
writeFileSync('test/bench/results/codec-simd.json', JSON.stringify({ simdAvailable, results }, null, 2));
