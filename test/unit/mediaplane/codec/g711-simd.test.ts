import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { alawDecode, mulawDecode } from '../../../../src/mediaplane/codec/g711.js';
import {
  SIMD_CHUNK_BYTES,
  alawDecodeSimd,
  decodeInPlace,
  decodeInput,
  mulawDecodeSimd,
  simdAvailable,
  simdInput,
  type G711Law,
} from '../../../../src/mediaplane/codec/g711-simd.js';
import { G711_WASM_BASE64 } from '../../../../src/mediaplane/codec/g711-wasm.generated.js';
import { Prng } from '../../../../src/util/prng.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'theo-g711-simd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LAWS: [G711Law, typeof mulawDecode, typeof mulawDecodeSimd][] = [
  ['mulaw', mulawDecode, mulawDecodeSimd],
  ['alaw', alawDecode, alawDecodeSimd],
];

function reference(decode: typeof mulawDecode, src: Uint8Array): Int16Array {
  const out = new Int16Array(src.length);
  decode(src, out);
  return out;
}

/** Index of the first sample where a and b differ (-1 if none): toEqual on 200k-sample arrays is slow. */
function firstDiff(a: Int16Array, b: Int16Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

// Lengths around the 16-byte vector step, a packet, and across the 64 KiB chunk boundary.
const LENGTHS = [0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 80, 159, 160, 161, 240, 320, 1000, 4095, 4096, 4097,
  SIMD_CHUNK_BYTES - 1, SIMD_CHUNK_BYTES, SIMD_CHUNK_BYTES + 1, 2 * SIMD_CHUNK_BYTES + 13, 200_003];

describe('G.711 WebAssembly SIMD decode', () => {
  it('runs in SIMD on this host (Node 20 on a little-endian machine)', () => {
    expect(simdAvailable).toBe(true);
    // the module is plain wasm: its magic number and version 1
    expect([...Buffer.from(G711_WASM_BASE64, 'base64').subarray(0, 8)]).toEqual([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  });

  for (const [law, scalar, simd] of LAWS) {
    it(`${law}: all 256 codes, in every position of a vector step and of the scalar tail, equal the table decode`, () => {
      const codes = new Uint8Array(256);
      for (let c = 0; c < 256; c++) codes[c] = c;
      // Rotations put every code in every lane of the 16-byte step; lengths 256 + k leave a tail of k.
      for (let shift = 0; shift < 17; shift++) {
        const src = new Uint8Array(256 + shift);
        for (let i = 0; i < src.length; i++) src[i] = (i + shift * 7) & 0xff;
        const out = new Int16Array(src.length);
        expect(simd(src, out)).toBe(src.length);
        expect(out).toEqual(reference(scalar, src));
        expect(decodeInPlace(law, src)).toEqual(reference(scalar, src));
      }
      for (let c = 0; c < 256; c++) {
        const one = new Int16Array(1);
        simd(codes.subarray(c, c + 1), one);
        expect(one[0]).toBe(reference(scalar, codes.subarray(c, c + 1))[0]);
      }
    });

    it(`${law}: random buffers of many lengths, source and destination offsets equal the table decode`, () => {
      const prng = new Prng(law === 'mulaw' ? 711 : 712);
      for (const n of LENGTHS) {
        for (const srcOff of [0, 1, 3, 12]) {
          const backing = prng.fill(new Uint8Array(n + srcOff + 5));
          const src = backing.subarray(srcOff, srcOff + n);
          const want = reference(scalar, src);
          for (const dstOff of [0, 1, 5]) {
            const fillValue = 0x5a5a;
            const dst = new Int16Array(n + dstOff + 3).fill(fillValue);
            expect(simd(src, dst, dstOff)).toBe(n);
            expect(firstDiff(dst.subarray(dstOff, dstOff + n), want)).toBe(-1);
            // nothing written outside [dstOff, dstOff + n)
            expect([...dst.subarray(0, dstOff), ...dst.subarray(dstOff + n)].every((v) => v === fillValue)).toBe(true);
          }
          // destination at a byte offset inside a larger buffer (unaligned for 4-byte words)
          const big = new ArrayBuffer(2 * n + 16);
          const dstView = new Int16Array(big, 2, n);
          simd(src, dstView);
          expect(firstDiff(dstView, want)).toBe(-1);
          if (n <= SIMD_CHUNK_BYTES) expect(firstDiff(decodeInPlace(law, src), want)).toBe(-1);
        }
      }
    });

    it(`${law}: decodeInput decodes codes written straight into wasm memory`, () => {
      const src = new Prng(3).fill(new Uint8Array(1234));
      simdInput().set(src);
      const view = decodeInput(law, src.length);
      expect(view.length).toBe(src.length);
      expect(view).toEqual(reference(scalar, src));
    });
  }

  it('the in-place view is reused until the next call, which overwrites it', () => {
    const a = decodeInPlace('mulaw', Uint8Array.of(0x00, 0x80));
    expect([...a]).toEqual([-32124, 32124]);
    decodeInPlace('mulaw', Uint8Array.of(0xff, 0xff));
    expect([...a]).toEqual([0, 0]);
  });

  it('rejects a destination too small and in-place input larger than a chunk', () => {
    expect(() => mulawDecodeSimd(new Uint8Array(10), new Int16Array(9))).toThrow(RangeError);
    expect(() => alawDecodeSimd(new Uint8Array(10), new Int16Array(10), 1)).toThrow(RangeError);
    expect(() => mulawDecodeSimd(new Uint8Array(10), new Int16Array(10), -1)).toThrow(RangeError);
    expect(() => decodeInPlace('mulaw', new Uint8Array(SIMD_CHUNK_BYTES + 1))).toThrow(RangeError);
    expect(() => decodeInput('alaw', SIMD_CHUNK_BYTES + 1)).toThrow(RangeError);
    expect(() => decodeInput('alaw', -1)).toThrow(RangeError);
  });

  it('without WebAssembly (node --jitless) the codecs fall back to the table decode, with the same output', () => {
    // The compiled build (dist/, made by the test setup) in a child Node that has no WebAssembly at all.
    const script = `
      const simd = await import(${JSON.stringify(join(root, 'dist/mediaplane/codec/g711-simd.js'))});
      const { PCMU, PCMA } = await import(${JSON.stringify(join(root, 'dist/mediaplane/codec/codec.js'))});
      const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const mu = new Int16Array(256), a = new Int16Array(300);
      PCMU.decode(codes, mu);
      PCMA.decode(codes, a, 44);
      console.log(JSON.stringify({ wasm: typeof WebAssembly, simd: simd.simdAvailable, mu: [...mu], a: [...a.subarray(44)] }));`;
    const out = execFileSync(process.execPath, ['--jitless', '--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const child = JSON.parse(out) as { wasm: string; simd: boolean; mu: number[]; a: number[] };
    expect(child.wasm).toBe('undefined');
    expect(child.simd).toBe(false);
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(child.mu).toEqual([...reference(mulawDecode, codes)]);
    expect(child.a).toEqual([...reference(alawDecode, codes)]);
  });

  it('the committed g711-wasm.generated.ts is what scripts/build-wasm.mjs makes from g711.wat', () => {
    const out = join(dir, 'g711-wasm.generated.ts');
    execFileSync(process.execPath, [join(root, 'scripts/build-wasm.mjs'), out], { stdio: 'pipe' });
    const committed = readFileSync(join(root, 'src/mediaplane/codec/g711-wasm.generated.ts'), 'utf8');
    expect(readFileSync(out, 'utf8')).toBe(committed);
  });
});
