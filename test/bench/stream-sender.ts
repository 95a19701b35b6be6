// Sender side of the streams benchmark (a child process): N concurrent 20 ms PCMU streams (172-byte
// datagrams) from one socket, in four phase groups 5 ms apart so the load is spread like real calls.
import dgram from 'node:dgram';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';

const [portsArg, durationArg] = process.argv.slice(2);
const ports = portsArg!.split(',').map(Number);
const durationMs = Number(durationArg);
const GROUPS = 4;
const PTIME = 20;

const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
const payload = Buffer.alloc(160, 0x7f);
const seq = ports.map((_, i) => (i * 7919) & 0xffff);
let sent = 0;
let lateTicks = 0;
const t0 = performance.now();
let tick = 0;

await new Promise<void>((resolve) => {
  const step = (): void => {
    const group = tick % GROUPS;
    const round = Math.floor(tick / GROUPS);
    for (let i = group; i < ports.length; i += GROUPS) {
      const d = serializeRtp({ payloadType: 0, sequenceNumber: seq[i]!, timestamp: (round * 160) >>> 0, ssrc: i + 1 }, payload);
      seq[i] = (seq[i]! + 1) & 0xffff;
      socket.send(d, ports[i], '127.0.0.1');
      sent++;
    }
    tick++;
    const next = t0 + tick * (PTIME / GROUPS);
    const now = performance.now();
    if (now - t0 >= durationMs) return resolve();
    if (next < now - PTIME) lateTicks++;
    setTimeout(step, Math.max(0, next - now));
  };
  step();
});
await new Promise((r) => setTimeout(r, 200));
process.send!({ sent, lateTicks, elapsedMs: performance.now() - t0 });
socket.close();
setTimeout(() => process.exit(0), 50);
