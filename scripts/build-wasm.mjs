#!/usr/bin/env node
// Compiles src/mediaplane/codec/g711.wat (WebAssembly text, SIMD128) with the wabt devDependency and writes
// the module bytes as a base64 constant to src/mediaplane/codec/g711-wasm.generated.ts, which is committed so
// the runtime needs no wabt. Usage: node scripts/build-wasm.mjs [output path]
// (the optional path lets the tests regenerate into a temp file and compare with the committed one).
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const watPath = join(root, 'src/mediaplane/codec/g711.wat');
const outPath = resolve(process.argv[2] ?? join(root, 'src/mediaplane/codec/g711-wasm.generated.ts'));

const wabt = await wabtInit();
const watName = relative(root, watPath);
const mod = wabt.parseWat(watName, readFileSync(watPath, 'utf8'), { simd: true });
try {
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  const base64 = Buffer.from(buffer).toString('base64');
  const lines = base64.match(/.{1,100}/g) ?? [];
  const text = [
    '// GENERATED FILE, do not edit. Compiled from g711.wat by scripts/build-wasm.mjs (wabt, SIMD128 enabled).',
    '// Regenerate after editing the .wat: node scripts/build-wasm.mjs',
    '',
    '/** The G.711 SIMD decode module (WebAssembly binary), base64. */',
    'export const G711_WASM_BASE64 =',
    ...lines.map((l, i) => `  '${l}'${i === lines.length - 1 ? ';' : ' +'}`),
    '',
  ].join('\n');
  writeFileSync(outPath, text);
  console.log(`wrote ${relative(process.cwd(), outPath) || outPath}: ${buffer.length} bytes of wasm`);
} finally {
  mod.destroy();
}
