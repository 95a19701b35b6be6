// G.711 decode in WebAssembly SIMD128 (g711.wat, compiled into g711-wasm.generated.ts by
// scripts/build-wasm.mjs). The module is instantiated synchronously once, at load, with its own linear
// memory laid out as one input region of SIMD_CHUNK_BYTES code bytes followed by one output region of as many
// int16 samples; larger inputs are decoded a chunk at a time. Output equals mulawDecode/alawDecode in
// g711.ts for every code. Where the engine rejects the module (no SIMD) or the host is big-endian (wasm
// memory is little-endian, an Int16Array view of it would read swapped), simdAvailable is false and every
// function here falls back to the table decode in g711.ts, so callers need not check.
import { endianness } from 'node:os';
import { alawDecode, mulawDecode } from './g711.js';
import { G711_WASM_BASE64 } from './g711-wasm.generated.js';

export type G711Law = 'mulaw' | 'alaw';

/** Most code bytes one call into the module decodes: the size of its input region. */
export const SIMD_CHUNK_BYTES = 65536;
const IN_PTR = 0;
const OUT_PTR = SIMD_CHUNK_BYTES;

// The WebAssembly global is not in this project's TypeScript libs (ES2023 without DOM, and @types/node 20
// does not declare it), so the little of it used here is typed locally.
interface WasmGlobal {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly?: WasmGlobal }).WebAssembly;

interface G711Exports {
  memory: { buffer: ArrayBuffer };
  // wasm exports are plain functions, not methods
  mulawDecode: (inPtr: number, outPtr: number, n: number) => void;
  alawDecode: (inPtr: number, outPtr: number, n: number) => void;
}

function instantiate(): G711Exports | null {
  if (endianness() !== 'LE' || !WebAssemblyApi) return null;
  const bytes = Buffer.from(G711_WASM_BASE64, 'base64');
  if (!WebAssemblyApi.validate(bytes)) return null;
  const exports = new WebAssemblyApi.Instance(new WebAssemblyApi.Module(bytes), {}).exports as G711Exports;
  if (exports.memory.buffer.byteLength < OUT_PTR + 2 * SIMD_CHUNK_BYTES) return null;
  return exports;
}

const wasm = instantiate();

/** True when decoding runs in WebAssembly SIMD; false when it falls back to the table decode of g711.ts. */
export const simdAvailable = wasm !== null;

// The module never grows its memory, so these views stay valid. Without wasm they are plain scratch arrays.
const inBytes = wasm ? new Uint8Array(wasm.memory.buffer, IN_PTR, SIMD_CHUNK_BYTES) : new Uint8Array(SIMD_CHUNK_BYTES);
const outSamples = wasm ? new Int16Array(wasm.memory.buffer, OUT_PTR, SIMD_CHUNK_BYTES) : new Int16Array(SIMD_CHUNK_BYTES);
const wasmMulaw = wasm ? wasm.mulawDecode : null;
const wasmAlaw = wasm ? wasm.alawDecode : null;
// subarray allocates; a stream decodes packets of one size, so the last output view is kept for reuse.
let lastView = outSamples.subarray(0, 0);

function outputView(n: number): Int16Array {
  if (lastView.length !== n) lastView = outSamples.subarray(0, n);
  return lastView;
}

function checkChunk(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > SIMD_CHUNK_BYTES) {
    throw new RangeError(`G.711 SIMD decode of ${n} bytes: at most ${SIMD_CHUNK_BYTES} fit in wasm memory at once`);
  }
}

/** Decodes the first n bytes of the input region (simdInput()) into the output region; returns a view of it. */
function runChunk(law: G711Law, n: number): Int16Array {
  const out = outputView(n);
  const fn = law === 'mulaw' ? wasmMulaw : wasmAlaw;
  if (fn) fn(IN_PTR, OUT_PTR, n);
  else (law === 'mulaw' ? mulawDecode : alawDecode)(inBytes.subarray(0, n), out, 0);
  return out;
}

function decodeCopying(law: G711Law, src: Uint8Array, dst: Int16Array, dstOffset: number): number {
  const n = src.length;
  if (!Number.isSafeInteger(dstOffset) || dstOffset < 0 || dstOffset + n > dst.length) {
    throw new RangeError(`G.711 decode of ${n} needs ${n} output slots at offset ${dstOffset}, output has ${dst.length}`);
  }
  if (!wasm) return (law === 'mulaw' ? mulawDecode : alawDecode)(src, dst, dstOffset);
  if (n <= SIMD_CHUNK_BYTES) {
    inBytes.set(src);
    dst.set(runChunk(law, n), dstOffset);
    return n;
  }
  for (let at = 0; at < n; at += SIMD_CHUNK_BYTES) {
    const len = Math.min(SIMD_CHUNK_BYTES, n - at);
    inBytes.set(src.subarray(at, at + len));
    dst.set(runChunk(law, len), dstOffset + at);
  }
  return n;
}

/** mulawDecode in WebAssembly SIMD: copies src into wasm memory, decodes, copies the samples into dst. */
export function mulawDecodeSimd(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  return decodeCopying('mulaw', src, dst, dstOffset);
}

/** alawDecode in WebAssembly SIMD: copies src into wasm memory, decodes, copies the samples into dst. */
export function alawDecodeSimd(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  return decodeCopying('alaw', src, dst, dstOffset);
}

/**
 * Copies src (at most SIMD_CHUNK_BYTES) into wasm memory and decodes it there, leaving the samples in wasm
 * memory: the returned view is valid only until the next call into this module, so consume or copy it first.
 */
export function decodeInPlace(law: G711Law, src: Uint8Array): Int16Array {
  checkChunk(src.length);
  inBytes.set(src);
  return runChunk(law, src.length);
}

/**
 * The wasm input region (SIMD_CHUNK_BYTES bytes): a caller that can write the codes here directly (say, by
 * reading a packet into it) saves the copy in; then decodeInput(law, n) decodes its first n bytes.
 */
export function simdInput(): Uint8Array {
  return inBytes;
}

/** Decodes the first n bytes of simdInput(); the view returned is valid until the next call into this module. */
export function decodeInput(law: G711Law, n: number): Int16Array {
  checkChunk(n);
  return runChunk(law, n);
}
