// What a rescan of the models folder costs `theo serve` (a request naming a model the last scan did not
// have rescans, at most once per models.rescanIntervalMs): a first scan (every theo.yaml parsed) and a
// rescan (only changed manifests parsed, every model's files checked) of the install's folder and of
// generated folders of 10 and 50 PocketSphinx manifests, next to a baseline in the same run that only lists
// the same folder. A scan runs on the event loop, so its time is time the media plane waits.
// Run: npx tsx test/bench/registry-scan.bench.ts  (writes test/bench/results/registry-scan.json)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '../../src/registry/registry.js';
import { fmt, summarize } from './stats.js';

const ROUNDS = 200;
const WARMUP = 20;
const INSTALL = new URL('../../models', import.meta.url).pathname;
const MANIFEST = readFileSync(join(INSTALL, 'pocketsphinx-en-us', 'theo.yaml'), 'utf8');
/** The default models.rescanIntervalMs. */
const INTERVAL_MS = 2000;

function generated(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), `theo-scan-bench-${n}-`));
  for (let i = 0; i < n; i++) {
    const name = `ps-${String(i).padStart(3, '0')}`;
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'theo.yaml'), MANIFEST.replace(/^name: .*$/m, `name: ${name}`));
  }
  return dir;
}

function time(fn: () => unknown): number[] {
  const out: number[] = [];
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r >= WARMUP) out.push(ms);
  }
  return out;
}

const folders: Array<[string, string, boolean]> = [
  ['install models/ (1 model)', INSTALL, false],
  ['10 models', generated(10), true],
  ['50 models', generated(50), true],
];
const rows = folders.map(([label, dir, temporary]) => {
  const models = ModelRegistry.scan(dir).names().length;
  const base = summarize(time(() => readdirSync(dir, { withFileTypes: true })));
  const first = summarize(time(() => ModelRegistry.scan(dir)));
  const previous = ModelRegistry.scan(dir);
  const rescan = summarize(time(() => ModelRegistry.scan(dir, { previous })));
  if (temporary) rmSync(dir, { recursive: true, force: true });
  // A flood of garbage names rescans at most once per interval: this is the share of the event loop it takes.
  const ms = (x: ReturnType<typeof summarize>): { p50: number; p95: number; max: number } => ({ p50: x.p50, p95: x.p95, max: x.max });
  return { folder: label, models, baselineReaddirMs: base.p50, firstScanMs: ms(first), rescanMs: ms(rescan), loopShareAtDefaultInterval: rescan.p95 / INTERVAL_MS };
});

console.log('| folder | models | readdir baseline ms (p50) | first scan ms p50 / p95 | rescan ms p50 / p95 / max | event loop share under a garbage-name flood (rescan p95 / 2 s) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.folder} | ${r.models} | ${fmt(r.baselineReaddirMs, 3)} | ${fmt(r.firstScanMs.p50, 2)} / ${fmt(r.firstScanMs.p95, 2)} | ${fmt(r.rescanMs.p50, 3)} / ${fmt(r.rescanMs.p95, 3)} / ${fmt(r.rescanMs.max, 2)} | ${fmt(r.loopShareAtDefaultInterval * 100, 3)}% |`);
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/registry-scan.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version }, rounds: ROUNDS, intervalMs: INTERVAL_MS, rows }, null, 2)}\n`,
);
