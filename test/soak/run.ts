// `npm run soak -- --minutes N`: the end-to-end soak (test/soak/soak.ts) against a real `theo serve`
// (bin/theo.js over dist, rebuilt first when the sources are newer). Prints the summary and a `SOAK_RESULT {json}` line;
// exits 1 when a final is missing, an error came, the server crashed or did not stop gracefully, or its RSS
// grew more than --max-growth-mb after the warm-up.
//
//   --minutes N          real-time minutes of audio (default 30)
//   --warmup M           minutes not counted in the growth (default 3, at most a third of the run)
//   --max-growth-mb X    the RSS growth goal (default 5)
//   --json FILE          the result with every memory sample
import { writeFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import buildIfStale from '../helpers/global-setup.js';
import { formatSoak, runSoak } from './soak.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(): Promise<number> {
  const minutes = Number(arg('minutes') ?? 30);
  if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
  const warmupMinutes = Number(arg('warmup') ?? Math.min(3, minutes / 3));
  const maxGrowth = Number(arg('max-growth-mb') ?? 5);
  buildIfStale(); // theo serve runs from dist, as in the test suite
  const r = await runSoak({ minutes, warmupMinutes, ports: { fork: 43604, rtp: [43740, 43779] }, log: (l) => void process.stderr.write(`${l}\n`) });
  process.stdout.write(`${formatSoak(r)}\n`);
  process.stdout.write(`SOAK_RESULT ${JSON.stringify(r)}\n`);
  const json = arg('json');
  if (json) writeFileSync(json, JSON.stringify(r, null, 2));
  const streamsOk = [r.ws, r.rtp].every((s) => s.missingFinals.length === 0 && s.errors.length === 0 && s.closed !== undefined && s.segments > 0);
  const ok = streamsOk && !r.serverCrashed && r.exit.code === 0 && r.errorLogs.length === 0 && r.growth.rss.mb < maxGrowth;
  process.stdout.write(`  ${ok ? 'PASSED' : 'FAILED'} (RSS growth goal < ${maxGrowth} MB)\n`);
  return ok ? 0 : 1;
}

runCli(main);
