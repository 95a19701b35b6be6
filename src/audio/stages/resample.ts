// Streaming polyphase resampler: any integer rate to any integer rate, block by block, with the same
// output as one call on the whole signal.
//
// The ratio to/from reduces to L/M. Output sample j sits at input position j*M/L = base + frac/L; it is
// the dot product of the input around `base` with the filter for phase `frac` (a Kaiser-windowed sinc,
// one filter per phase, normalised to unit DC gain). `base` and `frac` advance by integer steps, so the
// position never drifts however long the stream. Past input is kept as history between blocks: the
// filter is centred on the output position (linear phase, no delay), so the stage holds back about half a
// filter of input until flush pads the tail with zeros.
//
// Filter: passband to PASS_EDGE and stopband from STOP_EDGE of the lower Nyquist rate, stopband about
// STOPBAND_DB down; the length follows from Kaiser's formula and is the same for every phase.
// Coefficient tables are built once per (reduced) rate pair and cached.
//
// The dot products run in WebAssembly SIMD (resample.wat: float32, four lanes, two accumulators; about
// 10x the plain JS loop). Each resampler owns a small wasm instance whose memory holds its coefficients,
// history and output; without WebAssembly SIMD the same float32 sums run in JS, with the same results.
import { Buffer } from 'node:buffer';
import { endianness } from 'node:os';
import { RESAMPLE_WASM_BASE64 } from './resample-wasm.generated.js';
import type { AudioStage } from './stage.js';

/** End of the passband (ripple about 0.001 dB) as a fraction of the lower Nyquist rate. */
export const PASS_EDGE = 0.88;
/** Start of the stopband as a fraction of the lower Nyquist rate. */
export const STOP_EDGE = 1.05;
/** Designed stopband attenuation (dB). */
export const STOPBAND_DB = 85;
/** Above this many distinct phases (rates with a small common divisor) positions snap to this grid. */
const MAX_PHASES = 4096;
/** Input is appended to the history in pieces of at most this many samples (bounds memory on whole files). */
const CHUNK = 16384;

export interface ResamplerStage extends AudioStage {
  readonly name: 'resample';
  /** Taps per phase (filter length in input samples). */
  readonly taps: number;
  /** Whether the inner loop runs in WebAssembly SIMD (else in JS, same samples). */
  readonly simd: boolean;
}

interface Bank {
  L: number;
  M: number;
  phases: number;
  half: number;
  taps: number;
  coeffs: Float32Array;
}

const banks = new Map<string, Bank>();

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for beta < 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 60; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-14) break;
  }
  return sum;
}

/** The polyphase filter bank for fromRate -> toRate, built on first use and cached. */
function bankFor(fromRate: number, toRate: number): Bank {
  const g = gcd(fromRate, toRate);
  const L = toRate / g;
  const M = fromRate / g;
  const key = `${L}/${M}`;
  const cached = banks.get(key);
  if (cached) return cached;

  const phases = Math.min(L, MAX_PHASES);
  // Frequencies relative to the input Nyquist rate (1 = fromRate/2).
  const r = Math.min(1, toRate / fromRate);
  const fc = (r * (PASS_EDGE + STOP_EDGE)) / 2; // cutoff of the sinc: middle of the transition band
  const dw = Math.PI * r * (STOP_EDGE - PASS_EDGE); // transition width, rad per input sample
  const beta = 0.1102 * (STOPBAND_DB - 8.7);
  const order = Math.ceil((STOPBAND_DB - 7.95) / (2.285 * dw));
  // Taps per phase: a multiple of 8 for the two-vector inner loop.
  const taps = Math.max(8, Math.ceil((order + 1) / 8) * 8);
  const half = taps / 2;
  const coeffs = new Float64Array(phases * taps);
  const i0Beta = besselI0(beta);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      // Tap k weighs input sample base-half+1+k for an output at base+frac: distance d.
      const d = frac + half - 1 - k;
      const w = d / half;
      if (w <= -1 || w >= 1) continue;
      const x = Math.PI * fc * d;
      const sinc = x === 0 ? 1 : Math.sin(x) / x;
      const v = fc * sinc * (besselI0(beta * Math.sqrt(1 - w * w)) / i0Beta);
      coeffs[p * taps + k] = v;
      sum += v;
    }
    for (let k = 0; k < taps; k++) coeffs[p * taps + k] = (coeffs[p * taps + k] as number) / sum;
  }
  const bank = { L, M, phases, half, taps, coeffs: Float32Array.from(coeffs) };
  banks.set(key, bank);
  return bank;
}

/** Output length for n input samples: round(n * toRate / fromRate), as the batch resampler gives. */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  return Math.round((n * toRate) / fromRate);
}

// The WebAssembly global is not in this project's TypeScript libs (ES2023 without DOM), so the little of it
// used here is typed locally.
interface WasmGlobal {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
interface KernelExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  run: (
    coef: number, buf: number, out: number, limit: number, last: number, step: number, stepFrac: number,
    L: number, phases: number, taps: number, base: number, frac: number,
  ) => number;
}

let wasmModule: object | null | undefined;

/** The compiled kernel module, or null where WebAssembly SIMD is unavailable (or the host is big-endian). */
function kernelModule(): object | null {
  if (wasmModule !== undefined) return wasmModule;
  wasmModule = null;
  const api = (globalThis as unknown as { WebAssembly?: WasmGlobal }).WebAssembly;
  if (api && endianness() === 'LE') {
    const bytes = Buffer.from(RESAMPLE_WASM_BASE64, 'base64');
    if (api.validate(bytes)) wasmModule = new api.Module(bytes);
  }
  return wasmModule;
}

let forceJs = false;

/** True when resamplers created from now on run their inner loop in WebAssembly SIMD. */
export function resamplerUsesSimd(): boolean {
  return !forceJs && kernelModule() !== null;
}

/** Tests and benchmarks: make resamplers created from now on use the JS loop (true) or SIMD when available. */
export function setResamplerJsFallback(on: boolean): void {
  forceJs = on;
}

/** Both loops compute in float32 with the same order of additions, so they give the same samples. */
function jsRun(
  mem: Float32Array, coef: number, buf: number, out: number, limit: number, last: number, step: number,
  stepFrac: number, L: number, phases: number, taps: number, state: { base: number; frac: number },
): number {
  const f = Math.fround;
  let { base, frac } = state;
  let j = 0;
  while (base <= last && j < limit) {
    const p = phases === L ? frac : Math.floor((frac * phases) / L);
    const h = coef + p * taps;
    const x = buf + base;
    let l0 = 0, l1 = 0, l2 = 0, l3 = 0, m0 = 0, m1 = 0, m2 = 0, m3 = 0;
    for (let k = 0; k < taps; k += 8) {
      l0 = f(l0 + f((mem[x + k] as number) * (mem[h + k] as number)));
      l1 = f(l1 + f((mem[x + k + 1] as number) * (mem[h + k + 1] as number)));
      l2 = f(l2 + f((mem[x + k + 2] as number) * (mem[h + k + 2] as number)));
      l3 = f(l3 + f((mem[x + k + 3] as number) * (mem[h + k + 3] as number)));
      m0 = f(m0 + f((mem[x + k + 4] as number) * (mem[h + k + 4] as number)));
      m1 = f(m1 + f((mem[x + k + 5] as number) * (mem[h + k + 5] as number)));
      m2 = f(m2 + f((mem[x + k + 6] as number) * (mem[h + k + 6] as number)));
      m3 = f(m3 + f((mem[x + k + 7] as number) * (mem[h + k + 7] as number)));
    }
    mem[out + j++] = f(f(l0 + m0) + f(l1 + m1)) + f(f(l2 + m2) + f(l3 + m3));
    base += step;
    frac += stepFrac;
    if (frac >= L) {
      frac -= L;
      base++;
    }
  }
  state.base = base;
  state.frac = frac;
  return j;
}

class Resampler implements ResamplerStage {
  readonly name = 'resample' as const;
  readonly taps: number;
  readonly simd: boolean;
  private readonly bank: Bank;
  private readonly step: number; // floor(M / L): whole input samples per output
  private readonly stepFrac: number; // M mod L
  /** Input samples appended to the history per kernel run (bounds the history and output regions). */
  private readonly chunk: number;
  /** One float32 memory: [state (4 floats) | coefficients | history | output]; offsets in floats. */
  private readonly mem: Float32Array;
  private readonly kernel: KernelExports | null;
  /** The kernel's base and frac after a run (the first two words of its memory). */
  private readonly ints: Int32Array;
  private readonly coefAt = 4;
  private readonly bufAt: number;
  private readonly outAt: number;
  private readonly outCap: number;
  private readonly state = { base: 0, frac: 0 };
  /** History: [half-1 zeros | input ...] from mem[bufAt]; history index = input index + half - 1. */
  private len = 0;
  private inCount = 0;
  private outCount = 0;
  private out = new Float32Array(0);

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
  ) {
    const bank = (this.bank = bankFor(inputRate, outputRate));
    const { L, M, taps, coeffs } = bank;
    this.taps = taps;
    this.step = Math.floor(M / L);
    this.stepFrac = M % L;
    this.chunk = Math.max(64, Math.min(CHUNK, Math.floor((CHUNK * M) / L)));
    // History never holds more than 2*taps left over plus one chunk; the output region takes what that yields.
    const bufCap = 2 * taps + this.chunk;
    this.bufAt = this.coefAt + align4(coeffs.length);
    this.outCap = Math.ceil((bufCap * L) / M) + 8;
    this.outAt = this.bufAt + align4(bufCap);
    const floats = this.outAt + this.outCap;
    const mod = forceJs ? null : kernelModule();
    if (mod) {
      const api = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;
      const kernel = new api.Instance(mod, {}).exports as KernelExports;
      const have = kernel.memory.buffer.byteLength;
      if (floats * 4 > have) kernel.memory.grow(Math.ceil((floats * 4 - have) / 65536));
      this.kernel = kernel;
      this.mem = new Float32Array(kernel.memory.buffer, 0, floats);
    } else {
      this.kernel = null;
      this.mem = new Float32Array(floats);
    }
    this.simd = this.kernel !== null;
    this.ints = new Int32Array(this.mem.buffer, 0, 2);
    this.mem.set(coeffs, this.coefAt);
    this.reset();
  }

  reset(): void {
    this.mem.fill(0, this.bufAt, this.bufAt + this.bank.half - 1);
    this.len = this.bank.half - 1;
    this.state.base = 0;
    this.state.frac = 0;
    this.inCount = 0;
    this.outCount = 0;
  }

  process(block: Float32Array): Float32Array {
    const n = block.length;
    if (n === 0) return this.out.subarray(0, 0);
    this.inCount += n;
    if (this.bank.L === this.bank.M) return this.passThrough(block);
    // Upper bound on what this call can produce.
    const maxOut = Math.ceil(((this.len - this.state.base + n) * this.bank.L) / this.bank.M) + 2;
    const out = this.outBuffer(maxOut);
    let produced = 0;
    for (let off = 0; off < n; off += this.chunk) {
      this.append(block, off, Math.min(n, off + this.chunk));
      produced = this.runInto(out, produced, maxOut);
      this.compact();
    }
    this.outCount += produced;
    return out.subarray(0, produced);
  }

  flush(): Float32Array {
    const need = resampledLength(this.inCount, this.inputRate, this.outputRate) - this.outCount;
    let result = new Float32Array(0);
    if (need > 0 && this.bank.L !== this.bank.M) {
      // The last output needed is centred at or before the last input sample: `taps` zeros cover its filter.
      this.mem.fill(0, this.bufAt + this.len, this.bufAt + this.len + this.taps);
      this.len += this.taps;
      result = new Float32Array(need);
      const produced = this.runInto(result, 0, need);
      if (produced < need) result = result.subarray(0, produced);
    }
    this.reset();
    return result;
  }

  /** Runs the kernel on the history and copies its outputs to out[start..], at most limit - start of them. */
  private runInto(out: Float32Array, start: number, limit: number): number {
    const { L, phases, taps } = this.bank;
    const last = this.len - taps; // highest base with a full filter
    const want = Math.min(limit - start, this.outCap);
    let got: number;
    if (this.kernel) {
      const s = this.state;
      got = this.kernel.run(
        this.coefAt * 4, this.bufAt * 4, this.outAt * 4, want, last, this.step, this.stepFrac, L, phases, taps, s.base, s.frac,
      );
      s.base = this.ints[0] as number;
      s.frac = this.ints[1] as number;
    } else {
      got = jsRun(this.mem, this.coefAt, this.bufAt, this.outAt, want, last, this.step, this.stepFrac, L, phases, taps, this.state);
    }
    out.set(this.mem.subarray(this.outAt, this.outAt + got), start);
    return start + got;
  }

  private append(block: Float32Array, from: number, to: number): void {
    const mem = this.mem;
    let w = this.bufAt + this.len;
    for (let i = from; i < to; i++) {
      const x = block[i] as number;
      mem[w++] = x - x === 0 ? x : 0; // NaN and +-Infinity become 0
    }
    this.len += to - from;
  }

  /** Drops history no future output needs. */
  private compact(): void {
    const drop = Math.min(this.state.base, this.len);
    if (drop === 0) return;
    this.mem.copyWithin(this.bufAt, this.bufAt + drop, this.bufAt + this.len);
    this.len -= drop;
    this.state.base -= drop;
  }

  private outBuffer(size: number): Float32Array {
    if (this.out.length < size) this.out = new Float32Array(Math.max(size, this.out.length * 2));
    return this.out;
  }

  private passThrough(block: Float32Array): Float32Array {
    const out = this.outBuffer(block.length);
    for (let i = 0; i < block.length; i++) {
      const x = block[i] as number;
      out[i] = x - x === 0 ? x : 0;
    }
    this.outCount += block.length;
    return out.subarray(0, block.length);
  }
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/**
 * A streaming resampler stage from `fromRate` to `toRate` (positive integers). After n input samples and a
 * flush it has returned exactly round(n * toRate / fromRate) samples, whatever the block sizes, and the
 * same samples as one process() of the whole input followed by flush(). Outputs alias an internal buffer.
 */
export function createResampler(fromRate: number, toRate: number): ResamplerStage {
  if (!Number.isInteger(fromRate) || fromRate <= 0) throw new RangeError(`fromRate must be a positive integer sample rate, got ${fromRate}`);
  if (!Number.isInteger(toRate) || toRate <= 0) throw new RangeError(`toRate must be a positive integer sample rate, got ${toRate}`);
  return new Resampler(fromRate, toRate);
}

/** Filter facts for a rate pair (docs, tests, benchmarks). */
export function resamplerInfo(fromRate: number, toRate: number): { L: number; M: number; phases: number; taps: number } {
  const { L, M, phases, taps } = bankFor(fromRate, toRate);
  return { L, M, phases, taps };
}
