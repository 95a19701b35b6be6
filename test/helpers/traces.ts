// Loads the recorded real-Asterisk RTP traces (test/fixtures/asterisk-22) and replays them.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';

export const ASTERISK_TRACES = fileURLToPath(new URL('../fixtures/asterisk-22/', import.meta.url));

export interface TracePacket {
  t_rel_ms: number;
  marker: number;
  payload_type: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload_len: number;
}

export interface Trace {
  packets: TracePacket[];
  /** The datagrams as Asterisk sent them: recorded header fields + the recorded payload bytes. */
  datagrams: Buffer[];
  payload: Buffer;
}

export function loadTrace(jsonl: string, payloadFile: string): Trace {
  const packets = readFileSync(ASTERISK_TRACES + jsonl, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TracePacket);
  const payload = readFileSync(ASTERISK_TRACES + payloadFile);
  let off = 0;
  const datagrams = packets.map((p) => {
    const d = serializeRtp(
      { marker: p.marker === 1, payloadType: p.payload_type, sequenceNumber: p.sequence, timestamp: p.timestamp, ssrc: p.ssrc },
      payload.subarray(off, off + p.payload_len),
    );
    off += p.payload_len;
    return d;
  });
  if (off !== payload.byteLength) throw new Error(`${jsonl}: payload lengths sum to ${off}, file has ${payload.byteLength}`);
  return { packets, datagrams, payload };
}

/** Sends the datagrams to host:port with the recorded inter-packet timing; resolves after the last. */
export async function replay(trace: Trace, port: number, host = '127.0.0.1'): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const t0 = performance.now();
  const base = trace.packets[0]!.t_rel_ms;
  for (let i = 0; i < trace.datagrams.length; i++) {
    const due = trace.packets[i]!.t_rel_ms - base;
    const wait = due - (performance.now() - t0);
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    await new Promise<void>((r, j) => socket.send(trace.datagrams[i]!, port, host, (e) => (e ? j(e) : r())));
  }
  await new Promise<void>((r) => socket.close(() => r()));
}
