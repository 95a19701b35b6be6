// Admission of new sources on a multi-source endpoint, driven through onDatagram with a hand-ticked clock:
// probation on consistent RTP (no stream until then, no audio lost after), what breaks a run, the bounded
// table of unproven sources, per-address limits, the owner's refusals and their retry, and the counters.
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../src/config/index.js';
import { MediaClock } from '../../../../src/mediaplane/clock.js';
import { MAX_HELD_BYTES, MAX_SOURCES, RETRY_MS, SOURCE_IDLE_MS, type AdmitHook, type SourceAdmission } from '../../../../src/mediaplane/rtp/admission.js';
import type { RtpEndpoint } from '../../../../src/mediaplane/rtp/endpoint.js';
import { RtpListener } from '../../../../src/mediaplane/rtp/listener.js';
import { serializeRtp } from '../../../../src/mediaplane/rtp/packet.js';
import type { AudioFrame } from '../../../../src/mediaplane/rtp/stream.js';
import { silentLogger } from '../../../../src/observability/logger.js';

const A = '10.0.0.1';
const B = '10.0.0.2';
let listener: RtpListener | undefined;

afterEach(() => {
  listener?.close();
  listener = undefined;
});

async function setup(o: { packets?: number; pending?: number; perAddress?: number; admit?: AdmitHook; ports?: number } = {}): Promise<{ listener: RtpListener; admission: SourceAdmission; eps: RtpEndpoint[] }> {
  const config = loadConfig({ env: {}, overrides: { rtp: { portMin: 41400, portMax: 41499, jitter: { mode: 'fixed', depthMs: 40, minDepthMs: 0 }, idleTimeoutMs: 100_000 } } });
  listener = new RtpListener({ config: config.rtp, logger: silentLogger(), clock: new MediaClock(1_000_000) });
  const admission = listener.createAdmission({ probationPackets: o.packets ?? 4, maxPendingPerAddress: o.pending ?? 8, maxStreamsPerAddress: o.perAddress ?? 100, admit: o.admit });
  const eps: RtpEndpoint[] = [];
  for (let i = 0; i < (o.ports ?? 1); i++) eps.push(await listener.open({ sourcePolicy: 'multi', admission }));
  return { listener, admission, eps };
}

function pcmu(seq: number, ts: number, o: { ssrc?: number; len?: number; pt?: number; byte?: number } = {}): Buffer {
  return serializeRtp({ payloadType: o.pt ?? 0, sequenceNumber: seq & 0xffff, timestamp: ts >>> 0, ssrc: o.ssrc ?? 0xabc }, Buffer.alloc(o.len ?? 160, o.byte ?? 0xff));
}

/** `n` packets of 20 ms from one source, at real-time pace from `t0`. */
function talk(ep: RtpEndpoint, address: string, port: number, n: number, t0 = 0, first = 0): void {
  for (let i = first; i < first + n; i++) ep.onDatagram(pcmu(100 + i, 160 * i), address, port, t0 + 20 * i);
}

describe('source admission', () => {
  it('a source gets a stream on its probationPackets-th consistent packet, and the packets that proved it are played', async () => {
    const { listener, eps } = await setup({ packets: 4 });
    const ep = eps[0]!;
    const frames: AudioFrame[] = [];
    ep.on('stream', (s) => s.on('audio', (f) => frames.push({ ...f, pcm: f.pcm.slice() })));
    talk(ep, A, 5000, 3);
    expect(ep.streams()).toHaveLength(0);
    expect(listener.pendingSources()).toBe(1);
    talk(ep, A, 5000, 1, 0, 3);
    expect(ep.streams().map((s) => s.source)).toEqual([{ address: A, port: 5000 }]);
    expect(listener.pendingSources()).toBe(0);
    talk(ep, A, 5000, 2, 0, 4);
    listener.onTick(1000);
    // All six packets, the three held during probation included, on one contiguous timeline.
    expect(frames.map((f) => [f.timestamp, f.kind])).toEqual([0, 160, 320, 480, 640, 800].map((t) => [t, 'audio']));
    const c = listener.counters;
    expect(c.outcome.probation).toBe(3);
    expect(c.outcome.accepted).toBe(3);
    expect(c.outcomesTotal()).toBe(c.datagrams);
  });

  it('inconsistent runs never prove a source: SSRC, payload type, sequence, timestamps against arrival, payload sizes', async () => {
    const { listener, eps } = await setup({ packets: 3 });
    const ep = eps[0]!;
    const runs: Array<(i: number) => [Buffer, number]> = [
      (i) => [pcmu(100 + i, 160 * i, { ssrc: i }), 20 * i], // a new SSRC on each packet
      (i) => [pcmu(100 + i, 160 * (i % 2)), 20 * i], // timestamps not advancing
      (i) => [pcmu(100 + 7 * i, 160 * i), 20 * i], // sequence numbers jumping
      (i) => [pcmu(100 - i, 160 * i), 20 * i], // ... or going back
      (i) => [pcmu(100 + i, 8000 * i), 20 * i], // one second of media per 20 ms of arrival
      (i) => [pcmu(100 + i, 160 * i), 1000 * i], // 20 ms of media per second of arrival
      (i) => [pcmu(100 + i, 160 * i, { len: 4000 }), 20 * i], // half a second in one packet
      (i) => [pcmu(100 + i, 160 * i, { len: 0 }), 20 * i], // no payload
    ];
    for (const [r, run] of runs.entries()) {
      for (let i = 0; i < 12; i++) {
        const [pkt, at] = run(i);
        ep.onDatagram(pkt, A, 6000 + r, at);
      }
    }
    expect(ep.streams()).toHaveLength(0);
    const c = listener.counters;
    expect(c.refused.inconsistent).toBeGreaterThanOrEqual(runs.length * 5);
    expect(c.outcome.probation + c.outcome.refused).toBe(c.datagrams);
    // A burst of 20 ms packets arriving at once is still a real sender (within the clock tolerance).
    for (let i = 0; i < 3; i++) ep.onDatagram(pcmu(100 + i, 160 * i), A, 7000, 5);
    expect(ep.streams()).toHaveLength(1);
  });

  it('bounds unproven sources per address and in all; quiet ones are forgotten and counted unproven', async () => {
    const { listener, admission, eps } = await setup({ packets: 5, pending: 8 });
    const ep = eps[0]!;
    for (let p = 0; p < 50; p++) for (let i = 0; i < 3; i++) ep.onDatagram(pcmu(100 + i, 160 * i), A, 10_000 + p, 20 * i);
    expect(listener.pendingSources()).toBe(8);
    expect(listener.counters.refused.pending_limit).toBe(42 * 3);
    // Another address is not held back by the first one's flood.
    talk(ep, B, 5000, 5);
    expect(ep.streams()).toHaveLength(1);
    listener.onTick(40 + SOURCE_IDLE_MS);
    expect(listener.pendingSources()).toBe(0);
    expect(listener.counters.refused.unproven).toBe(8);
    expect(admission.tracked).toBe(0);
    // Thousands of addresses: the table stays at MAX_SOURCES, the least recently heard dropped first.
    for (let a = 0; a < MAX_SOURCES + 500; a++) ep.onDatagram(pcmu(1, 0), `10.1.${a >> 8}.${a & 255}`, 4000, 10_000);
    expect(admission.tracked).toBe(MAX_SOURCES);
    expect(listener.counters.refused.unproven).toBe(8 + 500);
  });

  it('limits streams per address across the endpoints that share the admission, and frees the place when one ends', async () => {
    const { listener, eps } = await setup({ packets: 2, perAddress: 2, ports: 2 });
    const [ep1, ep2] = [eps[0]!, eps[1]!];
    talk(ep1, A, 5000, 2);
    talk(ep2, A, 5002, 2);
    talk(ep1, A, 5004, 2);
    talk(ep1, B, 5000, 2);
    expect(ep1.streams().map((s) => s.source)).toEqual([
      { address: A, port: 5000 },
      { address: B, port: 5000 },
    ]);
    expect(ep2.streams()).toHaveLength(1);
    expect(listener.counters.refused.address_limit).toBe(1);
    // Refused: its packets are dropped, without a new refusal each, until the retry time.
    talk(ep1, A, 5004, 3, 40, 2);
    expect(listener.counters.refused.address_limit).toBe(1);
    expect(listener.counters.outcome.refused).toBe(1 + 3);
    ep1.streams()[0]!.close('closed');
    talk(ep1, A, 5004, 2, RETRY_MS + 100, 10);
    expect(ep1.streams().map((s) => s.source)).toEqual([
      { address: B, port: 5000 },
      { address: A, port: 5004 },
    ]);
  });

  it('maxStreamsPerAddress 0 sets no cap: one address (a switch forking all its calls) gets every stream', async () => {
    const { listener, eps } = await setup({ packets: 2, perAddress: 0 });
    const ep = eps[0]!;
    for (let i = 0; i < 150; i++) talk(ep, A, 6000 + 2 * i, 2);
    expect(ep.streams()).toHaveLength(150);
    expect(listener.counters.refused.address_limit ?? 0).toBe(0);
  });

  it("the owner's refusal is counted by its reason; a refused source tries again after RETRY_MS; refuse() closes an admitted stream", async () => {
    let answer: ReturnType<AdmitHook> = 'fork_share';
    const asked: Array<[string, number]> = [];
    const { listener, eps } = await setup({
      packets: 3,
      admit: (source, rate) => {
        asked.push([`${source.address}:${source.port}`, rate]);
        return answer;
      },
    });
    const ep = eps[0]!;
    talk(ep, A, 5000, 10);
    expect(ep.streams()).toHaveLength(0);
    expect(asked).toEqual([[`${A}:5000`, 8000]]);
    expect(listener.counters.refused.fork_share).toBe(1);
    answer = undefined;
    talk(ep, A, 5000, 3, RETRY_MS, 10);
    expect(ep.streams()).toHaveLength(1);
    ep.refuse({ address: A, port: 5000 }, 'session_failed');
    expect(ep.streams()).toHaveLength(0);
    expect(listener.counters.refused.session_failed).toBe(1);
    talk(ep, A, 5000, 3, RETRY_MS + 100, 13);
    expect(ep.streams()).toHaveLength(0);
    const c = listener.counters;
    expect(c.outcomesTotal()).toBe(c.datagrams);
  });

  it('holds at most MAX_HELD_BYTES of datagrams for all unproven sources; past it a run still proves its source', async () => {
    const { listener: rtp, admission, eps } = await setup({ packets: 5 });
    const ep = eps[0]!;
    // 250 ms packets of L16 at 44.1 kHz (payload type 11): 22,050 bytes each, 4 held per source.
    const big = (seq: number, ts: number): Buffer => pcmu(seq, ts, { pt: 11, len: 22_050 });
    for (let a = 0; a < 60; a++) for (let i = 0; i < 4; i++) ep.onDatagram(big(100 + i, 11_025 * i), `10.2.0.${a}`, 4000, 250 * i);
    expect(admission.held).toBeLessThanOrEqual(MAX_HELD_BYTES);
    expect(admission.held).toBeGreaterThan(MAX_HELD_BYTES - 4 * 22_062);
    const frames: AudioFrame[] = [];
    ep.on('stream', (s) => s.on('audio', (f) => frames.push({ ...f, pcm: f.pcm.slice() })));
    ep.onDatagram(big(104, 11_025 * 4), '10.2.0.59', 4000, 1000);
    expect(ep.streams()).toHaveLength(1);
    rtp.onTick(5000);
    // The last source held nothing (the budget was spent): only its proving packet plays.
    expect(frames.filter((f) => f.kind === 'audio').reduce((n, f) => n + f.pcm.length, 0)).toBe(11_025);
    rtp.onTick(5000 + SOURCE_IDLE_MS);
    expect(admission.held).toBe(0);
  });

  it('5,000 sources of 3 packets cost a bounded table and no stream', async () => {
    const { listener, admission, eps } = await setup({ packets: 5, pending: 32 });
    const ep = eps[0]!;
    for (let i = 0; i < 3; i++) for (let p = 0; p < 5000; p++) ep.onDatagram(pcmu(100 + i, 160 * i, { ssrc: p }), A, 20_000 + p, 20 * i);
    expect(ep.streams()).toHaveLength(0);
    expect(admission.tracked).toBe(32);
    expect(listener.counters.refused.pending_limit).toBe((5000 - 32) * 3);
  });
});
