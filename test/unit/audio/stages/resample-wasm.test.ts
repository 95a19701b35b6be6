// The committed resample-wasm.generated.ts must be the compiled resample.wat. With UPDATE_WASM=1 this test
// rewrites it from the .wat instead of failing.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import { RESAMPLE_WASM_BASE64 } from '../../../../src/audio/stages/resample-wasm.generated.js';
import { resamplerUsesSimd } from '../../../../src/audio/stages/resample.js';

const WAT = new URL('../../../../src/audio/stages/resample.wat', import.meta.url);
const GENERATED = new URL('../../../../src/audio/stages/resample-wasm.generated.ts', import.meta.url);

function generatedSource(base64: string): string {
  const lines = base64.match(/.{1,100}/g) ?? [];
  return [
    '// GENERATED FILE, do not edit. Compiled from resample.wat with wabt (SIMD128 enabled).',
    '// Regenerate after editing the .wat: UPDATE_WASM=1 npx vitest run test/unit/audio/stages/resample-wasm.test.ts',
    '',
    '/** The resampler inner loop (WebAssembly binary), base64. */',
    'export const RESAMPLE_WASM_BASE64 =',
    ...lines.map((l, i) => `  '${l}'${i === lines.length - 1 ? ';' : ' +'}`),
    '',
  ].join('\n');
}

describe('resampler WebAssembly kernel', () => {
  it('resample-wasm.generated.ts is the compiled resample.wat', async () => {
    const wabt = await wabtInit();
    const mod = wabt.parseWat('resample.wat', readFileSync(WAT, 'utf8'), { simd: true });
    try {
      mod.validate();
      const base64 = Buffer.from(mod.toBinary({ log: false, write_debug_names: false }).buffer).toString('base64');
      const source = generatedSource(base64);
      if (process.env.UPDATE_WASM === '1') writeFileSync(GENERATED, source);
      expect(RESAMPLE_WASM_BASE64).toBe(base64);
      expect(readFileSync(GENERATED, 'utf8')).toBe(source);
    } finally {
      mod.destroy();
    }
  });

  it('loads on this runtime (Node 20 has WebAssembly SIMD)', () => {
    expect(resamplerUsesSimd()).toBe(true);
  });
});
