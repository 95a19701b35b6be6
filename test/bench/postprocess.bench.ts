// Post-processing cost per final transcript: each stage alone (hot words, ITN, entities) and the whole chain,
// on the spoken-form inputs of the ITN corpora (test/fixtures/itn/*.tsv), next to a baseline in the same
// run that only tokenises and re-joins the same text (the least any text stage does).
// Run: npx tsx test/bench/postprocess.bench.ts  (writes test/bench/results/postprocess.json)
// A/B: --against DIR adds the ITN and entity stages of another tree in the same rounds, on the same texts
// (e.g. `mkdir -p /tmp/pp-main && git archive main src/postprocess | tar -x -C /tmp/pp-main`).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { entitiesStage } from '../../src/postprocess/entities.js';
import { createHotWordStage } from '../../src/postprocess/hot-words.js';
import { itnStage } from '../../src/postprocess/itn.js';
import { createPostprocessor } from '../../src/postprocess/pipeline.js';
import type { TextContext } from '../../src/postprocess/stage.js';
import { fmt, summarize } from './stats.js';

const ROUNDS = 30;
const WARMUP_ROUNDS = 5;
const HOT_WORDS = ['Theo', 'Itaú', 'Bradesco', 'Kubernetes', 'Asterisk', 'PIX', 'Nubank', 'FreeSWITCH', 'Oliveira', 'Santander'];

function corpus(file: string): string[] {
  return readFileSync(new URL(`../fixtures/itn/${file}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split('\t')[0] ?? '');
}

interface Case {
  name: string;
  run: (text: string, ctx: TextContext) => string;
}

interface TextStageModule {
  itnStage: { apply: Case['run'] };
  entitiesStage: { apply: Case['run'] };
}

/** The ITN and entity stages of the tree at --against, as extra cases. */
async function againstCases(): Promise<Case[]> {
  const at = process.argv.indexOf('--against');
  const dir = at >= 0 ? process.argv[at + 1] : undefined;
  if (dir === undefined) return [];
  const other = (await import(pathToFileURL(resolve(dir, 'src/postprocess/itn.ts')).href)) as TextStageModule;
  return [
    { name: `itn (${dir})`, run: (t, c) => other.itnStage.apply(t, c) },
    { name: `entities (${dir})`, run: (t, c) => other.entitiesStage.apply(t, c) },
  ];
}

const hot = createHotWordStage();
const chain = createPostprocessor();
const CASES: Case[] = [
  { name: 'baseline: split and join words', run: (t) => t.split(/(\s+)/).join('') },
  { name: 'hot words (10)', run: (t, c) => hot.apply(t, c) },
  { name: 'itn', run: (t, c) => itnStage.apply(t, c) },
  { name: 'entities', run: (t, c) => entitiesStage.apply(t, c) },
  { name: 'whole chain (hot words + itn + entities)', run: (t, c) => chain.apply(t, { itn: true, hotWords: c.hotWords, language: c.language }) },
  ...(await againstCases()),
];

// Wall time and the process's CPU time per round: on a shared host the CPU time leaves out the time the
// process waited for a core, so it stays comparable between runs when the wall clock does not.
function measure(language: string, texts: string[]): Array<Record<string, unknown>> {
  const ctx: TextContext = { language, hotWords: HOT_WORDS };
  const wall = CASES.map((): number[] => []);
  const cpu = CASES.map((): number[] => []);
  let sink = 0;
  for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
    for (let k = 0; k < CASES.length; k++) {
      const j = (k + r) % CASES.length;
      const c = CASES[j]!;
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (const t of texts) sink += c.run(t, ctx).length;
      const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
      const used = process.cpuUsage(c0);
      if (r >= WARMUP_ROUNDS) {
        wall[j]!.push(wallUs / texts.length);
        cpu[j]!.push((used.user + used.system) / texts.length);
      }
    }
  }
  if (sink === 0) throw new Error('nothing processed');
  const base = summarize(wall[0]!).p50;
  return CASES.map((c, j) => {
    const s = summarize(wall[j]!);
    const cs = summarize(cpu[j]!);
    return {
      language,
      stage: c.name,
      finals: texts.length,
      usPerFinal: { p50: s.p50, p95: s.p95 },
      cpuUsPerFinal: { p50: cs.p50, p95: cs.p95 },
      xBaseline: s.p50 / base,
      finalsPerSecond: 1e6 / s.p50,
    };
  });
}

const rows = [...measure('pt-BR', corpus('pt-br.tsv')), ...measure('en', corpus('en.tsv'))];
console.log('| language | stage | finals | µs/final p50 | p95 | CPU µs/final p50 | x baseline | finals/s (p50) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const us = r.usPerFinal as { p50: number; p95: number };
  const cpuUs = r.cpuUsPerFinal as { p50: number };
  console.log(
    `| ${String(r.language)} | ${String(r.stage)} | ${String(r.finals)} | ${fmt(us.p50, 2)} | ${fmt(us.p95, 2)} | ${fmt(cpuUs.p50, 2)} | ${fmt(r.xBaseline as number, 1)} | ${fmt(r.finalsPerSecond as number, 0)} |`,
  );
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/postprocess.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version }, hotWords: HOT_WORDS, rows }, null, 2)}\n`,
);
