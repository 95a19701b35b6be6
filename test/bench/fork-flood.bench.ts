// Spoofed RTP against the fork's call admission: `theo serve --rtp-fork PORT` with the default configuration
// (sessions.max 1000, the fork's default share and per-address limits) and the real PocketSphinx worker.
//
// 1. Spoof bursts: 3 packets from each of 5,000 source ports of 127.0.0.1 in about a second and a half, `bursts`
//    times (2 s apart). Reported: the server's RSS before, after each burst and at the end (from /proc), fork
//    calls and live sessions after each burst, and whether a realtime WebSocket session still starts.
// 2. Proven spoofs: `sources` sources over `addresses` loopback addresses (127.0.0.x), 8 consistent packets
//    each: the calls the admission lets in (per-address limit, fork share), RSS, and the realtime check again.
//
// Usage: npx tsx test/bench/fork-flood.bench.ts [--bursts 4] [--addresses 4] [--sources 400] [--root DIR] [--json FILE]
// (--root: the checkout whose bin/theo.js and dist/ to run, to measure another version the same way.)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { flood, metricValue, realtimeSession, scrape } from '../helpers/rtp-flood.js';
import { ROOT, THEO_NODE_FLAGS } from '../helpers/theo.js';
import { usageOf } from './proc.js';

const { values: args } = parseArgs({
  options: {
    bursts: { type: 'string', default: '4' },
    addresses: { type: 'string', default: '4' },
    sources: { type: 'string', default: '400' },
    root: { type: 'string', default: ROOT },
    json: { type: 'string' },
  },
});
const FORK_PORT = 43400;
const root = args.root;

interface Sample {
  step: string;
  rssMb: number;
  forkCalls: number;
  sessions: number;
  realtime: string;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'theo-flood-bench-'));
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(cfg, 'log: { level: error }\n');
  const child = spawn(process.execPath, [...THEO_NODE_FLAGS, join(root, 'bin/theo.js'), 'serve', '--port', '0', '--preload', '--config', cfg, '--rtp-fork', String(FORK_PORT), '--rtp-ports', '43410-43449'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`theo serve exited (${code}) before listening`)));
  });
  const pid = child.pid!;
  const samples: Sample[] = [];
  const sample = async (step: string): Promise<void> => {
    const m = await scrape(base);
    const sessions = ((await (await fetch(`${base}/v1/sessions`)).json()) as { data: unknown[] }).data.length;
    const ws = await realtimeSession(base);
    ws.close();
    const s = { step, rssMb: Math.round(usageOf(pid).rssMb), forkCalls: metricValue(m, 'theo_calls_active', { source: 'rtp-fork' }), sessions, realtime: ws.result };
    samples.push(s);
    console.log(JSON.stringify(s));
  };
  try {
    await new Promise((r) => setTimeout(r, 2000));
    await sample('idle');
    for (let b = 1; b <= Number(args.bursts); b++) {
      const { ms } = await flood({ to: FORK_PORT, addresses: ['127.0.0.1'], sources: 5000, packets: 3 });
      console.log(`burst ${b}: 15,000 datagrams from 5,000 ports in ${Math.round(ms)} ms`);
      await new Promise((r) => setTimeout(r, 2000));
      await sample(`after burst ${b}`);
    }
    const addresses = Array.from({ length: Number(args.addresses) }, (_, i) => `127.0.0.${i + 1}`);
    const { ms } = await flood({ to: FORK_PORT, addresses, sources: Number(args.sources), packets: 8, order: 'sources' });
    console.log(`proven spoofs: ${args.sources} sources over ${addresses.length} addresses, 8 packets each, in ${Math.round(ms)} ms`);
    await new Promise((r) => setTimeout(r, 3000));
    await sample('after proven spoofs');
    const m = await scrape(base);
    const refusals = m.split('\n').filter((l) => l.startsWith('theo_rtp_sources_refused_total{') && !l.endsWith(' 0'));
    console.log(refusals.join('\n'));
    if (args.json) writeFileSync(args.json, JSON.stringify({ root, samples, refusals }, null, 2));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
