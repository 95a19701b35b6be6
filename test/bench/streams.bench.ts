// How many concurrent 20 ms G.711 streams one core receives with zero unexplained loss: Theo's full
// receive path next to a bare dgram handler fed the same datagrams, in one run. Receiver and sender are
// separate processes (one core each).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fmt } from './stats.js';

const counts = (process.argv[2] ?? '500,1000,2000,3000').split(',').map(Number);
const DURATION_MS = 8000;
const WARMUP_MS = 1500;
const WINDOW_MS = 5000;

interface Child {
  proc: ChildProcess;
  next<T>(): Promise<T>;
}

function child(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const queue: unknown[] = [];
  const waiters: Array<(m: unknown) => void> = [];
  proc.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return {
    proc,
    next<T>() {
      return new Promise<T>((resolve) => {
        if (queue.length > 0) resolve(queue.shift() as T);
        else waiters.push((m) => resolve(m as T));
      });
    },
  };
}

interface Row {
  streams: number;
  mode: string;
  offeredPps: number;
  cpuPercent: number;
  loopDelayP99Ms: number;
  sent: number;
  received: number;
  unexplainedLoss: number;
  jitterBufferLost: number;
  late: number;
  senderLateTicks: number;
}

async function runOne(mode: 'bare' | 'theo', n: number, basePort: number): Promise<Row> {
  const rx = child('test/bench/stream-receiver.ts', [mode, String(n), String(basePort)]);
  const ready = await rx.next<{ ports: number[] }>();
  const tx = child('test/bench/stream-sender.ts', [ready.ports.join(','), String(DURATION_MS)]);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  rx.proc.send({ cmd: 'start' });
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  rx.proc.send({ cmd: 'stop' });
  const win = await rx.next<{ cpuPercent: number; windowPackets: number; windowMs: number; loopDelayP99Ms: number }>();
  const sent = await tx.next<{ sent: number; lateTicks: number; elapsedMs: number }>();
  await new Promise((r) => setTimeout(r, 300));
  rx.proc.send({ cmd: 'totals' });
  const tot = await rx.next<{ received: number; lost: number; late: number }>();
  return {
    streams: n,
    mode,
    offeredPps: (win.windowPackets / win.windowMs) * 1000,
    cpuPercent: win.cpuPercent,
    loopDelayP99Ms: win.loopDelayP99Ms,
    sent: sent.sent,
    received: tot.received,
    unexplainedLoss: sent.sent - tot.received,
    jitterBufferLost: tot.lost,
    late: tot.late,
    senderLateTicks: sent.lateTicks,
  };
}

const rows: Row[] = [];
for (const n of counts) {
  for (const mode of ['bare', 'theo'] as const) {
    const row = await runOne(mode, n, 43000);
    rows.push(row);
    console.error(`${mode} ${n}: cpu ${fmt(row.cpuPercent)}% loss ${row.unexplainedLoss}`);
  }
}

console.log(`\n## Concurrent 20 ms PCMU streams on one receiving core (${WINDOW_MS / 1000} s window)\n`);
console.log('| streams | packets/s | bare dgram CPU % | Theo CPU % | Theo / bare | Theo unexplained loss | Theo jitter-buffer loss | Theo late | loop delay p99 ms (bare / Theo) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const n of counts) {
  const b = rows.find((r) => r.streams === n && r.mode === 'bare')!;
  const t = rows.find((r) => r.streams === n && r.mode === 'theo')!;
  console.log(`| ${n} | ${fmt(t.offeredPps, 0)} | ${fmt(b.cpuPercent)} | ${fmt(t.cpuPercent)} | ${fmt(t.cpuPercent / b.cpuPercent, 2)} | ${t.unexplainedLoss} of ${t.sent} | ${t.jitterBufferLost} | ${t.late} | ${fmt(b.loopDelayP99Ms)} / ${fmt(t.loopDelayP99Ms)} |`);
}
mkdirSync('test/bench/results', { recursive: true });
writeFileSync('test/bench/results/streams.json', JSON.stringify(rows, null, 2));
