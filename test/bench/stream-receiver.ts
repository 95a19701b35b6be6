// Receiver side of the streams benchmark (a child process): N ports, either Theo's full receive path
// (RtpListener: parse, pinning, jitter buffer, decode, playout on the shared clock) or a bare dgram
// handler that only counts. Reports CPU time and counts over the window the parent marks.
import dgram from 'node:dgram';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../../src/config/index.js';
import { RtpListener } from '../../src/mediaplane/rtp/listener.js';
import { silentLogger } from '../../src/observability/logger.js';

const [mode, nArg, baseArg] = process.argv.slice(2);
const n = Number(nArg);
const basePort = Number(baseArg);
const RECV_BUFFER = 1 << 20;

let bareCount = 0;
let frames = 0;
const sockets: dgram.Socket[] = [];
let listener: RtpListener | undefined;

async function setup(): Promise<number[]> {
  const ports: number[] = [];
  if (mode === 'theo') {
    const config = loadConfig({ env: {}, overrides: { rtp: { portMin: basePort, portMax: basePort + 2 * n + 100, recvBufferBytes: RECV_BUFFER, idleTimeoutMs: 60_000 } } });
    listener = new RtpListener({ config: config.rtp, logger: silentLogger() });
    for (let i = 0; i < n; i++) {
      const ep = await listener.open();
      ep.on('stream', (s) => s.on('audio', (f) => { frames += f.pcm.length; }));
      ports.push(ep.port);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const port = basePort + 2 * i;
      const s = dgram.createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER });
      await new Promise<void>((r) => s.bind(port, '127.0.0.1', () => r()));
      s.on('message', () => { bareCount++; });
      sockets.push(s);
      ports.push(port);
    }
  }
  return ports;
}

const delay = monitorEventLoopDelay({ resolution: 5 });
let cpu0 = process.cpuUsage();
let t0 = performance.now();
let count0 = 0;

function received(): number {
  return listener ? listener.counters.datagrams : bareCount;
}

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'start') {
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    count0 = received();
    delay.enable();
  } else if (msg.cmd === 'stop') {
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    delay.disable();
    process.send!({
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100,
      windowPackets: received() - count0,
      windowMs: wall,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
    });
  } else if (msg.cmd === 'totals') {
    const c = listener?.counters;
    process.send!({
      received: received(),
      accepted: c?.outcome.accepted ?? bareCount,
      lost: c?.lostPackets ?? 0,
      late: c?.outcome.late ?? 0,
      foreign: c?.outcome.foreign_source ?? 0,
      frames,
    });
    listener?.close();
    for (const s of sockets) s.close();
    setTimeout(() => process.exit(0), 50);
  }
});

const ports = await setup();
process.send!({ ready: true, ports });
