// `npm run fuzz -- [options]`: seeded, time-bounded fuzzing of Theo's input handling on loopback, against a
// real `theo serve` (bin/theo.js over dist, rebuilt first when the sources are newer) and in-process parsers. Prints a
// summary per target and overall; exits 1 on any crash, hang, leak, error or uncounted input.
//
//   --seed N                 run seed (default 1); every input is a function of (seed, target, index)
//   --target a,b             rtp, ws, multipart, audio, sdp, ari (default: all)
//   --count N | t=N,u=M      inputs per target (default: the full run's, see DEFAULTS)
//   --seconds S | t=S,u=S    time limit per target
//   --replay I               send input I of --target alone to a fresh server and report what happened
//   --out DIR                reproducers (default: a theo-fuzz-<seed> folder in the temp dir)
//   --json FILE              the reports as JSON as well
import { writeFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import buildIfStale from '../helpers/global-setup.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGETS, type Budget, type TargetName } from './harness.js';
import { FuzzSession } from './session.js';
import { formatRun, verdict } from './summary.js';

/** The full run: ≥ 1,000,000 RTP datagrams and ≥ 1,000,000 WebSocket frames and messages; well under 30 minutes on 2 cores. */
export const DEFAULTS: Record<TargetName, Budget> = {
  rtp: { count: 1_000_000, seconds: 420 },
  ws: { count: 1_000_000, seconds: 420 },
  multipart: { count: 20_000, seconds: 120 },
  audio: { count: 20_000, seconds: 120 },
  sdp: { count: 300_000, seconds: 60 },
  ari: { count: 20_000, seconds: 60 },
};

/** Default ports of `npm run fuzz` (the CI slice uses others). */
// A fork port also binds the next one (RTCP): fork ports of the fuzz and soak runs and slices are 2 apart.
const PORTS = { fork: 43602, rtp: [43660, 43699] as [number, number], inProcessRtp: [43720, 43739] as [number, number] };

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else out.set(a.slice(2), argv[++i] ?? '');
  }
  return out;
}

function perTarget(value: string | undefined, targets: readonly TargetName[], name: string): Partial<Record<TargetName, number>> {
  if (value === undefined) return {};
  const out: Partial<Record<TargetName, number>> = {};
  for (const part of value.split(',')) {
    const [k, v] = part.includes('=') ? part.split('=') : [undefined, part];
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: '${part}' is not a positive number`);
    if (k === undefined) for (const t of targets) out[t] = n;
    else if ((TARGETS as readonly string[]).includes(k)) out[k as TargetName] = n;
    else throw new Error(`--${name}: unknown target '${k}'`);
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const seed = Number(args.get('seed') ?? 1);
  if (!Number.isInteger(seed)) throw new Error('--seed must be an integer');
  const targets = (args.get('target')?.split(',') ?? [...TARGETS]) as TargetName[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target '${t}' (${TARGETS.join(', ')})`);
  const counts = perTarget(args.get('count'), targets, 'count');
  const seconds = perTarget(args.get('seconds'), targets, 'seconds');
  const budgets = { ...DEFAULTS };
  for (const t of targets) budgets[t] = { count: counts[t] ?? DEFAULTS[t].count, seconds: seconds[t] ?? DEFAULTS[t].seconds };
  const outDir = args.get('out') ?? join(tmpdir(), `theo-fuzz-${seed}`);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  buildIfStale(); // theo serve runs from dist, as in the test suite
  const session = new FuzzSession({ seed, targets, budgets, ports: PORTS, outDir, log, drainSeconds: 120 });

  const replay = args.get('replay');
  if (replay !== undefined) {
    if (targets.length !== 1) throw new Error('--replay needs exactly one --target');
    await session.start();
    try {
      const r = await session.replay(targets[0]!, Number(replay));
      const file = join(outDir, `${targets[0]}-seed${seed}-${replay}.replayed.bin`);
      writeFileSync(file, r.bytes);
      process.stdout.write(`input ${replay} of ${targets[0]} (seed ${seed}): ${r.bytes.length} bytes, written to ${file}\n`);
      process.stdout.write(`theo serve ${r.alive ? 'alive' : 'DEAD'}, /health ${r.health ? 'ok' : 'FAILED'}\n${r.alive ? '' : r.stderr}\n`);
      return r.alive && r.health ? 0 : 1;
    } finally {
      await session.close();
    }
  }

  await session.start();
  let run;
  try {
    run = await session.run();
  } finally {
    await session.close();
  }
  process.stdout.write(`${formatRun(run)}\n`);
  const json = args.get('json');
  if (json) writeFileSync(json, JSON.stringify(run, null, 2));
  return verdict(run).passed ? 0 : 1;
}

runCli(main);
