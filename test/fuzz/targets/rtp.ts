// RTP: datagrams built from the recorded Asterisk streams (µ-law and slin16), RFC 4733 telephone-events,
// RTCP and noise, carried on 8 continuing sources (sequence and timestamp advance per source) and mutated
// (header bits and fields, CSRC / extension / padding lengths, truncation, splices). They go
//   1. in-process through the whole receive path of a real RtpListener (parser, source policy, jitter buffer,
//      DTMF detector, concealment, codec) on a fake clock, fast: every datagram must land in exactly one
//      outcome and nothing may throw;
//   2. over real UDP to the RTP fork port of `theo serve` (each source a call session), in windows that wait
//      until the runtime's theo_rtp_packets_total has counted them: the counters must account for every datagram.
import dgram from 'node:dgram';
import { loadConfig } from '../../../src/config/index.js';
import { MediaClock } from '../../../src/mediaplane/clock.js';
import { RTP_OUTCOMES } from '../../../src/mediaplane/rtp/counters.js';
import { writeTelephoneEvent } from '../../../src/mediaplane/rtp/dtmf.js';
import { RtpListener } from '../../../src/mediaplane/rtp/listener.js';
import { serializeRtp } from '../../../src/mediaplane/rtp/packet.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { total } from '../../helpers/prom.js';
import { loadTrace } from '../../helpers/traces.js';
import { Deadline, bump, counterDelta, emptyReport, finishReport, memoryLine, saveReproducer, type Finding, type TargetReport } from '../harness.js';
import { inputPrng, mutate, pick } from '../mutate.js';
import type { FuzzContext, FuzzTarget } from '../target.js';

/** Sources (UDP sockets, or fake addresses in-process) the datagrams are spread over. */
const SOURCES = 8;
/** Datagrams sent before waiting for the runtime to count them. */
const WINDOW = 2000;
const PT_DTMF = 101;

interface Template {
  bytes: Buffer;
  /** Samples per packet (the timestamp step). */
  step: number;
}

interface Seeds {
  ulaw: Template[];
  slin16: Template[];
  dtmf: Buffer[];
  rtcp: Buffer[];
  extended: Buffer[];
}

let cached: Seeds | undefined;

function seeds(): Seeds {
  if (cached) return cached;
  const ulaw = loadTrace('rtp-packets.jsonl', 'received.ulaw').datagrams.map((b) => ({ bytes: b, step: b.length - 12 }));
  const gap = loadTrace('rtp-packets-gap.jsonl', 'received.ulaw').datagrams.map((b) => ({ bytes: b, step: b.length - 12 }));
  const slin16 = loadTrace('rtp-packets-slin16.jsonl', 'received-slin16.slin16').datagrams.map((b) => ({ bytes: b, step: (b.length - 12) / 2 }));
  const dtmf: Buffer[] = [];
  const ev = new Uint8Array(4);
  for (const [event, end, duration] of [[1, false, 160], [1, false, 800], [1, true, 1280], [11, true, 640], [16, true, 65535], [0, false, 0]] as const) {
    writeTelephoneEvent({ event, end, volume: 10, duration }, ev);
    dtmf.push(serializeRtp({ payloadType: PT_DTMF, sequenceNumber: 1, timestamp: 8000, ssrc: 7, marker: duration === 160 }, ev));
  }
  // RTCP (RFC 3550 §6.4): an SR with one report block, an empty RR, SDES with a CNAME, BYE.
  const sr = Buffer.alloc(52);
  sr.writeUInt8(0x81, 0);
  sr.writeUInt8(200, 1);
  sr.writeUInt16BE(12, 2);
  sr.writeUInt32BE(0x1234, 4);
  const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0x12, 0x34]);
  const sdes = Buffer.from([0x81, 202, 0, 3, 0, 0, 0x12, 0x34, 1, 4, 0x74, 0x68, 0x65, 0x6f, 0, 0]);
  const bye = Buffer.from([0x81, 203, 0, 1, 0, 0, 0x12, 0x34]);
  const extended = [
    serializeRtp({ payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 9, csrcs: [1, 2, 3] }, Buffer.alloc(160, 0xff)),
    serializeRtp({ payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 9, extension: { profile: 0xbede, data: Buffer.from([0x10, 0xaa, 0, 0]) } }, Buffer.alloc(160, 0xff)),
    serializeRtp({ payloadType: 8, sequenceNumber: 1, timestamp: 160, ssrc: 9, paddingLength: 4 }, Buffer.alloc(160, 0xd5)),
  ];
  cached = { ulaw: [...ulaw, ...gap], slin16, dtmf, rtcp: [sr, rr, sdes, bye], extended };
  return cached;
}

export interface RtpInput {
  kind: 'valid' | 'mutated' | 'dtmf' | 'rtcp' | 'extended' | 'noise';
  bytes: Uint8Array;
  source: number;
}

/** Datagram `index` of the run: a function of (seed, index) only. */
export function rtpInput(seed: number, index: number): RtpInput {
  const s = seeds();
  const prng = inputPrng(seed, 'rtp', index);
  const source = index % SOURCES;
  const n = Math.floor(index / SOURCES);
  const r = prng.next();
  if (r < 0.05) return { kind: 'noise', source, bytes: prng.fill(new Uint8Array(prng.int(prng.chance(0.9) ? 200 : 1500))) };
  if (r < 0.1) return { kind: 'rtcp', source, bytes: prng.chance(0.3) ? pick(prng, s.rtcp) : mutate(prng, pick(prng, s.rtcp), { region: 16, fields: [{ offset: 2, size: 2 }] }) };
  if (r < 0.16) {
    const d = Uint8Array.from(pick(prng, s.dtmf));
    stamp(d, seed, source, n, 160);
    return { kind: 'dtmf', source, bytes: prng.chance(0.5) ? d : mutate(prng, d, { region: 16, maxStack: 2 }) };
  }
  if (r < 0.2) return { kind: 'extended', source, bytes: mutate(prng, pick(prng, s.extended), { region: 24, fields: [{ offset: 14, size: 2 }, { offset: 24, size: 2 }] }) };
  // Sources 0-5 carry µ-law, 6-7 slin16 (PT 118), as Asterisk ExternalMedia sends them.
  const t = pick(prng, source < 6 ? s.ulaw : s.slin16);
  const d = Uint8Array.from(t.bytes);
  stamp(d, seed, source, n, t.step);
  if (r < 0.55) return { kind: 'valid', source, bytes: d };
  const other = pick(prng, prng.chance(0.5) ? s.ulaw : s.slin16).bytes;
  return { kind: 'mutated', source, bytes: mutate(prng, d, { region: 16, fields: [{ offset: 2, size: 2 }, { offset: 4, size: 4 }, { offset: 8, size: 4 }, { offset: 14, size: 2 }], other, maxLength: 2000 }) };
}

/** A source's continuing sequence number, timestamp and SSRC, written over a template's header. */
function stamp(d: Uint8Array, seed: number, source: number, n: number, step: number): void {
  const base = inputPrng(seed, 'rtp-source', source);
  const seq = (base.int(0x10000) + n) & 0xffff;
  const ts = (base.int(0x100000000) + n * step) >>> 0;
  const ssrc = base.int(0x100000000) >>> 0;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  v.setUint16(2, seq);
  v.setUint32(4, ts);
  v.setUint32(8, ssrc);
}

// ---- in-process -------------------------------------------------------------------------------------

/** The listener's receive path on a fake clock: 20 ms of media time per datagram per source. */
export async function runRtpInProcess(ctx: FuzzContext, report: TargetReport): Promise<void> {
  const config = loadConfig({ env: {}, overrides: { rtp: { portMin: ctx.ports.inProcessRtp[0], portMax: ctx.ports.inProcessRtp[1] } } });
  const clock = new MediaClock(config.rtp.tickMs);
  const listener = new RtpListener({ config: config.rtp, logger: silentLogger(), clock });
  const multi = await listener.open({ sourcePolicy: 'multi' });
  const pinned = await listener.open({ sourcePolicy: 'pin' });
  clock.stop(); // ticks are driven below, on the fake clock
  const frames = { audio: 0, concealed: 0, silence: 0, samples: 0, dtmf: 0, oddFrames: 0 };
  const watch = (ep: typeof multi): void => {
    ep.on('stream', (s) => {
      s.on('audio', (f) => {
        frames[f.kind]++;
        frames.samples += f.pcm.length;
        if (f.pcm.length === 0 || f.pcm.length > 65536 || ![8000, 16000, 44100].includes(f.sampleRate)) frames.oddFrames++;
      });
      s.on('dtmf', () => frames.dtmf++);
    });
  };
  watch(multi);
  watch(pinned);
  let now = 1_000_000;
  let nextTick = now;
  const deadline = new Deadline(ctx.budget);
  let i = 0;
  try {
    for (; deadline.more(i); i++) {
      const input = rtpInput(ctx.seed, i);
      bump(report.inputs, `in-process ${input.kind}`);
      now += 20 / SOURCES;
      try {
        // One datagram in 16 goes to a pinned endpoint from a rotating source: all but its first source are foreign.
        if (i % 16 === 15) pinned.onDatagram(input.bytes, `10.0.1.${i % 3}`, 6000, now);
        else multi.onDatagram(input.bytes, `10.0.0.${input.source}`, 5000 + input.source, now);
        while (nextTick <= now) {
          listener.onTick(nextTick);
          nextTick += config.rtp.tickMs;
        }
      } catch (err) {
        report.findings.push(inProcessFinding(ctx, i, input.bytes, err));
      }
      if (i % 65536 === 0) await new Promise((r) => setImmediate(r));
    }
    // Every stream goes idle and closes: what they held is released.
    listener.onTick(now + config.rtp.idleTimeoutMs + 1);
    const c = listener.counters;
    for (const o of RTP_OUTCOMES) if (c.outcome[o] > 0) report.outcomes[`in-process ${o}`] = c.outcome[o];
    for (const [r, v] of Object.entries(c.malformed)) if (v > 0) report.outcomes[`in-process malformed: ${r}`] = v;
    report.outcomes['in-process audio frames'] = frames.audio;
    report.outcomes['in-process concealed frames'] = frames.concealed;
    report.outcomes['in-process silence frames'] = frames.silence;
    report.outcomes['in-process dtmf digits'] = frames.dtmf;
    report.outcomes['in-process stream resets'] = c.resets;
    report.count += i;
    report.accounting.push({ what: 'in-process datagrams → one outcome each (RtpCounters)', sent: i, counted: c.outcomesTotal(), ok: c.outcomesTotal() === i && c.datagrams === i });
    if (frames.oddFrames > 0) report.findings.push({ kind: 'error', target: 'rtp', what: `${frames.oddFrames} audio frames with an empty or oversized PCM view or an unexpected rate` });
    const open = listener.activeStreams();
    if (open > 0) report.findings.push({ kind: 'leak', target: 'rtp', what: `${open} in-process RTP streams still open after the idle timeout` });
  } finally {
    listener.close();
  }
}

function inProcessFinding(ctx: FuzzContext, index: number, bytes: Uint8Array, err: unknown): Finding {
  return {
    kind: 'error',
    target: 'rtp',
    what: `the receive path threw on datagram ${index}: ${err instanceof Error ? err.message : String(err)}`,
    indices: [index, index + 1],
    reproducer: saveReproducer(ctx.outDir, 'rtp', ctx.seed, index, bytes),
    detail: err instanceof Error ? err.stack : undefined,
  };
}

// ---- over UDP to theo serve ------------------------------------------------------------------------------

const RTP_COUNTERS = ['theo_rtp_packets_total', 'theo_rtp_malformed_packets_total', 'rtp_stream_resets_total', 'rtp_dtmf_events_total', 'rtp_streams_total', 'rtp_streams_timed_out_total', 'rtp_packet_loss_total', 'session_dropped_samples_total', 'theo_worker_restarts_total'];

export async function runRtpUdp(ctx: FuzzContext, report: TargetReport): Promise<void> {
  const server = ctx.server!;
  const sockets = await Promise.all(Array.from({ length: SOURCES }, () => bindSocket()));
  const send = (input: RtpInput): void => {
    sockets[input.source]!.send(input.bytes, ctx.ports.fork, '127.0.0.1');
  };
  try {
    server.markLogs();
    const before = await server.metrics();
    const memBefore = await server.memory('rtp');
    const deadline = new Deadline(ctx.budget);
    let sent = 0;
    let counted = total(before, 'theo_rtp_packets_total');
    let checkedAt = 0;
    let windows = 0;
    while (deadline.more(sent)) {
      const from = sent;
      const n = Math.min(WINDOW, ctx.budget.count - sent);
      for (let k = 0; k < n; k++) {
        const input = rtpInput(ctx.seed, sent + k);
        bump(report.inputs, `udp ${input.kind}`);
        send(input);
      }
      sent += n;
      report.count += n;
      const want = total(before, 'theo_rtp_packets_total') + sent;
      // Wait for the runtime to count the window: exact accounting, and no kernel drops from outrunning it.
      const until = performance.now() + 3000;
      while (counted < want && performance.now() < until && server.theo.alive()) {
        await new Promise((r) => setTimeout(r, 5));
        counted = total(await server.metrics().catch(() => before), 'theo_rtp_packets_total');
      }
      windows++;
      if (!server.theo.alive() || counted < want || windows % 50 === 0) {
        const f = await server.check('rtp', [checkedAt, sent]);
        if (f) {
          report.findings.push(await reproduce(ctx, f, from, sent, sockets));
          // The restarted process counts from zero: this target stops here, the crash is its result.
          return;
        }
        checkedAt = sent;
        const mem = await server.memory('rtp');
        if (mem.finding) report.findings.push(mem.finding);
      }
    }
    const after = await server.metrics();
    const c = counterDelta(before, after, RTP_COUNTERS);
    Object.assign(report.counters, c);
    const countedAll = total(after, 'theo_rtp_packets_total') - total(before, 'theo_rtp_packets_total');
    report.accounting.push({ what: 'UDP datagrams to the fork port → theo_rtp_packets_total (all outcomes)', sent, counted: countedAll, ok: countedAll === sent });
    const malformed = total(after, 'theo_rtp_packets_total', (l) => l.outcome === 'malformed') - total(before, 'theo_rtp_packets_total', (l) => l.outcome === 'malformed');
    const byReason = total(after, 'theo_rtp_malformed_packets_total') - total(before, 'theo_rtp_malformed_packets_total');
    report.accounting.push({ what: 'malformed datagrams → theo_rtp_malformed_packets_total by reason', sent: malformed, counted: byReason, ok: malformed === byReason });
    // The calls end on the idle timeout: streams and sessions are released.
    const released = await waitReleased(ctx);
    if (!released.ok) report.findings.push({ kind: 'leak', target: 'rtp', what: `after the RTP calls went idle: ${released.detail}` });
    const mem = await server.memory('rtp');
    report.memory = memoryLine(memBefore, mem, server);
    const hc = await server.check('rtp', [checkedAt, sent]);
    if (hc) report.findings.push(hc);
    finishReport(report, server, performance.now());
  } finally {
    for (const s of sockets) s.close();
  }
}

/**
 * The calls end on the idle timeout: their streams and sessions must be gone soon after. When they are not,
 * the wait goes on (up to ctx.drainSeconds) to tell a slow drain from a leak.
 */
async function waitReleased(ctx: FuzzContext): Promise<{ ok: boolean; detail: string }> {
  const server = ctx.server!;
  const t0 = performance.now();
  const state = async (): Promise<{ idle: boolean; detail: string }> => {
    const m = await server.metrics();
    const streams = m.get('theo_rtp_active_streams') ?? 0;
    const sessions = m.get('theo_sessions_active') ?? 0;
    const calls = m.get('theo_calls_active') ?? 0;
    return { idle: streams === 0 && sessions === 0 && calls === 0, detail: `rtp_active_streams ${streams}, active_sessions ${sessions}, theo_calls_active ${calls}` };
  };
  const waitUntil = async (ms: number): Promise<{ idle: boolean; detail: string }> => {
    let s = await state();
    while (!s.idle && performance.now() - t0 < ms) {
      await new Promise((r) => setTimeout(r, 500));
      s = await state();
    }
    return s;
  };
  const limit = ctx.idleMs + 20_000;
  const first = await waitUntil(limit);
  if (first.idle) return { ok: true, detail: first.detail };
  const detail = `${limit / 1000} s after the last datagram: ${first.detail}; sessions by state: ${JSON.stringify(await server.sessionStates())}`;
  if (ctx.drainSeconds <= 0) return { ok: false, detail };
  const later = await waitUntil(limit + ctx.drainSeconds * 1000);
  const when = ((performance.now() - t0) / 1000).toFixed(0);
  return { ok: false, detail: `${detail}; ${later.idle ? `all released ${when} s after the last datagram` : `still ${later.detail} after ${when} s`}` };
}

/** After a crash: replays the window's datagrams one at a time against the restarted server. */
async function reproduce(ctx: FuzzContext, f: Finding, from: number, to: number, sockets: dgram.Socket[]): Promise<Finding> {
  const server = ctx.server!;
  for (let i = from; i < to; i++) {
    const input = rtpInput(ctx.seed, i);
    sockets[input.source]!.send(input.bytes, ctx.ports.fork, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
    if (!server.theo.alive()) {
      await server.check('rtp', [i, i + 1]);
      return { ...f, reproducer: saveReproducer(ctx.outDir, 'rtp', ctx.seed, i, input.bytes), what: `${f.what}; datagram ${i} alone (after ${i - from} of its window) reproduces it` };
    }
  }
  return { ...f, what: `${f.what}; not reproduced by replaying datagrams ${from}..${to - 1} one by one` };
}

function bindSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('error', () => undefined); // ICMP unreachable after a server restart: the run goes on
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

export async function sendOneRtp(ctx: FuzzContext, index: number): Promise<Uint8Array> {
  const input = rtpInput(ctx.seed, index);
  const s = await bindSocket();
  await new Promise<void>((r) => s.send(input.bytes, ctx.ports.fork, '127.0.0.1', () => r()));
  s.close();
  return input.bytes;
}

export const rtpTarget: FuzzTarget = {
  name: 'rtp',
  needsServer: true,
  async run(ctx) {
    const report = emptyReport('rtp', ctx.seed);
    const t0 = performance.now();
    await runRtpInProcess(ctx, report);
    if (ctx.server) await runRtpUdp(ctx, report);
    report.seconds = (performance.now() - t0) / 1000;
    return report;
  },
  one: sendOneRtp,
};
