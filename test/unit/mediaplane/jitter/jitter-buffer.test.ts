import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterBufferOptions, type JitterSink } from '../../../../src/mediaplane/jitter/jitter-buffer.js';
import { Prng } from '../../../../src/util/prng.js';
import { ASTERISK_TRACES, type TracePacket } from '../../../helpers/traces.js';

type Ev = { t: 'frame'; ts: number; n: number; id: number; at: number } | { t: 'loss'; ts: number; n: number; packets: number } | { t: 'gap'; ts: number; n: number } | { t: 'reset'; reason: string };

class Recorder implements JitterSink {
  events: Ev[] = [];
  now = 0;
  onFrame(payload: Uint8Array, ts: number, n: number): void {
    this.events.push({ t: 'frame', ts, n, id: payload[0]! | (payload[1]! << 8), at: this.now });
  }
  onLoss(ts: number, n: number, packets: number): void {
    this.events.push({ t: 'loss', ts, n, packets });
  }
  onGap(ts: number, n: number): void {
    this.events.push({ t: 'gap', ts, n });
  }
  onReset(reason: string): void {
    this.events.push({ t: 'reset', reason });
  }
  frames(): Extract<Ev, { t: 'frame' }>[] {
    return this.events.filter((e): e is Extract<Ev, { t: 'frame' }> => e.t === 'frame');
  }
  total(kind: 'frame' | 'loss' | 'gap'): number {
    return this.events.reduce((s, e) => (e.t === kind ? s + e.n : s), 0);
  }
}

function tag(id: number): Uint8Array {
  return Uint8Array.of(id & 0xff, (id >> 8) & 0xff);
}

const fixed = (depthMs = 60, extra: Partial<JitterBufferOptions> = {}): JitterBuffer => new JitterBuffer({ clockRate: 8000, mode: 'fixed', depthMs, minDepthMs: 0, ...extra });

function feed(jb: JitterBuffer, rec: Recorder, seq: number, ts: number, at: number, opts: { marker?: boolean; samples?: number; ssrc?: number; id?: number } = {}): string {
  rec.now = at;
  return jb.push(opts.ssrc ?? 1, seq & 0xffff, ts >>> 0, opts.marker ?? false, tag(opts.id ?? seq), opts.samples ?? 160, at, rec);
}

function pollTo(jb: JitterBuffer, rec: Recorder, until: number, step = 1): void {
  for (let t = rec.now; t <= until; t += step) {
    rec.now = t;
    jb.poll(t, rec);
  }
}

describe('JitterBuffer', () => {
  it('passes packets through in order, each exactly at its deadline', () => {
    const jb = fixed(60);
    const rec = new Recorder();
    for (let i = 0; i < 5; i++) {
      expect(feed(jb, rec, 100 + i, i * 160, i * 20)).toBe('accepted');
      pollTo(jb, rec, i * 20 + 19);
    }
    pollTo(jb, rec, 200);
    expect(rec.frames().map((f) => [f.id, f.at])).toEqual([
      [100, 60],
      [101, 80],
      [102, 100],
      [103, 120],
      [104, 140],
    ]);
    expect(jb.size).toBe(0);
  });

  it('puts reordered packets back in order without loss', () => {
    const jb = fixed(60);
    const rec = new Recorder();
    for (const [i, at] of [[0, 0], [2, 40], [1, 45], [4, 80], [3, 81], [5, 100]] as const) feed(jb, rec, i, i * 160, at);
    pollTo(jb, rec, 300);
    expect(rec.frames().map((f) => f.id)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rec.events.filter((e) => e.t !== 'frame')).toEqual([]);
  });

  it('drops duplicates (held and already played) and late packets, and counts them', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    feed(jb, rec, 0, 0, 0);
    expect(feed(jb, rec, 0, 0, 1)).toBe('duplicate'); // still held
    feed(jb, rec, 1, 160, 20);
    feed(jb, rec, 3, 480, 60);
    pollTo(jb, rec, 150); // 0, 1 played; 2 declared lost when 3 was due; 3 played
    expect(feed(jb, rec, 1, 160, 151)).toBe('duplicate'); // played already
    expect(feed(jb, rec, 2, 320, 152)).toBe('late'); // its slot was concealed
    expect(jb.stats).toMatchObject({ accepted: 3, duplicate: 2, late: 1, lostPackets: 1, concealedSamples: 160 });
    expect(rec.events.map((e) => e.t)).toEqual(['frame', 'frame', 'loss', 'frame']);
  });

  it('declares a loss once, with the samples of the missing timestamps, only when a later packet is due', () => {
    const jb = fixed(60);
    const rec = new Recorder();
    feed(jb, rec, 10, 1600, 0);
    feed(jb, rec, 13, 1600 + 3 * 160, 60);
    pollTo(jb, rec, 119);
    expect(rec.events.map((e) => e.t)).toEqual(['frame']); // 13 not due before 120
    pollTo(jb, rec, 120);
    expect(rec.events.slice(1)).toEqual([
      { t: 'loss', ts: 1760, n: 320, packets: 2 },
      { t: 'frame', ts: 2080, n: 160, id: 13, at: 120 },
    ]);
  });

  it("takes any packet size, and plays Asterisk's overlapping short-packet timestamps contiguously", () => {
    const jb = fixed(20);
    const rec = new Recorder();
    // As Asterisk sends a prompt's end: 160 @ 11200, then 12 samples stamped 11212, then 160 @ 11372.
    feed(jb, rec, 1, 11200, 0);
    feed(jb, rec, 2, 11212, 20, { samples: 12 });
    feed(jb, rec, 3, 11372, 22);
    feed(jb, rec, 4, 11532, 42, { samples: 1460 }); // ffmpeg-sized packet
    feed(jb, rec, 5, 12992, 224);
    pollTo(jb, rec, 400);
    expect(rec.events.every((e) => e.t === 'frame')).toBe(true);
    expect(rec.total('frame')).toBe(160 + 12 + 160 + 1460 + 160);
  });

  it('turns a pause backed by the wall clock into a gap of exactly the timestamp jump', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    feed(jb, rec, 2, 160, 20, { samples: 12 });
    feed(jb, rec, 3, 172 + 8000, 1020, { marker: true }); // 1 s of nothing
    feed(jb, rec, 4, 172 + 8160, 1040);
    pollTo(jb, rec, 1200);
    expect(rec.events.map((e) => e.t)).toEqual(['frame', 'frame', 'gap', 'frame', 'frame']);
    expect(rec.events[2]).toEqual({ t: 'gap', ts: 172, n: 8000 });
    // the new talkspurt is re-anchored: played depth after its own arrival
    expect(rec.frames()[2]!.at).toBe(1060);
  });

  it('treats a timestamp jump the wall clock does not back as a discontinuity: reset, fill only the real time', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    feed(jb, rec, 2, 160, 20);
    feed(jb, rec, 3, 900_000, 40); // an SBC switched sources: +112 s of timestamps in 20 ms
    feed(jb, rec, 4, 900_160, 60);
    pollTo(jb, rec, 200);
    expect(rec.events.map((e) => e.t)).toEqual(['frame', 'frame', 'reset', 'frame', 'frame']);
    expect(rec.events[2]).toEqual({ t: 'reset', reason: 'timestamp_jump' });
    expect(jb.stats.gapSamples).toBe(0);
  });

  it('wraps sequence numbers and timestamps', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    let ts = 0xffffff00;
    for (let i = 0; i < 6; i++) {
      if (i !== 2) feed(jb, rec, 65534 + i, ts, i * 20);
      ts += 160;
    }
    pollTo(jb, rec, 300);
    expect(rec.events.map((e) => e.t)).toEqual(['frame', 'frame', 'loss', 'frame', 'frame', 'frame']);
    expect(rec.frames().map((f) => f.ts)).toEqual([0xffffff00, 0xffffffa0, 0xe0, 0x180, 0x220]);
    expect(rec.events[2]).toMatchObject({ t: 'loss', ts: 0x40, n: 160, packets: 1 });
  });

  it('resets on an SSRC change after playing out what the old source left', () => {
    const jb = fixed(100);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    feed(jb, rec, 2, 160, 20);
    feed(jb, rec, 5000, 777, 30, { ssrc: 2 });
    pollTo(jb, rec, 300);
    expect(rec.events.map((e) => (e.t === 'frame' ? e.id : e.t))).toEqual([1, 2, 'reset', 5000]);
    expect(rec.events[2]).toEqual({ t: 'reset', reason: 'ssrc_change' });
  });

  it('a single wild sequence number is dropped; two in a row are a restart (RFC 3550 probation)', () => {
    const jb = fixed(20);
    const rec = new Recorder();
    feed(jb, rec, 100, 0, 0);
    expect(feed(jb, rec, 40000, 160, 20)).toBe('late');
    feed(jb, rec, 101, 160, 20);
    pollTo(jb, rec, 100);
    expect(rec.frames().map((f) => f.id)).toEqual([100, 101]);
    expect(feed(jb, rec, 9000, 320, 120)).toBe('late');
    expect(feed(jb, rec, 9001, 480, 140)).toBe('accepted');
    pollTo(jb, rec, 300);
    expect(rec.events.map((e) => (e.t === 'frame' ? e.id : e.t))).toEqual([100, 101, 'reset', 9000, 9001]);
    expect(jb.stats.lostPackets).toBe(0);
  });

  it('a packet beyond the capacity makes room by playing out the head early, memory never grows', () => {
    const jb = fixed(10_000, { capacity: 16, maxDepthMs: 20_000 });
    const rec = new Recorder();
    for (let i = 0; i < 20; i++) feed(jb, rec, i, i * 160, i);
    expect(jb.size).toBe(16);
    expect(rec.frames().map((f) => f.id)).toEqual([0, 1, 2, 3]);
    expect(jb.stats.overflow).toBe(4);
    jb.flush(rec);
    expect(rec.frames()).toHaveLength(20);
  });

  it('a skipped slot (DTMF) is neither played nor lost', () => {
    const jb = fixed(20);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    jb.skip(1, 2, 20, rec);
    jb.skip(1, 3, 40, rec);
    feed(jb, rec, 4, 480, 60);
    pollTo(jb, rec, 200);
    expect(rec.events.map((e) => e.t)).toEqual(['frame', 'gap', 'frame']);
    expect(jb.stats.lostPackets).toBe(0);
  });

  it('adaptive depth grows under jitter and shrinks back when the network calms', () => {
    const jb = new JitterBuffer({ clockRate: 8000, mode: 'adaptive', depthMs: 40, minDepthMs: 20, maxDepthMs: 200 });
    const rec = new Recorder();
    const prng = new Prng(1);
    let i = 0;
    for (; i < 250; i++) {
      feed(jb, rec, i, i * 160, i * 20 + prng.next() * 100);
      jb.poll(rec.now, rec);
    }
    const grown = jb.depthMs;
    expect(grown).toBeGreaterThan(80);
    expect(grown).toBeLessThanOrEqual(200);
    for (; i < 750; i++) {
      feed(jb, rec, i, i * 160, i * 20 + 200);
      jb.poll(rec.now, rec);
    }
    expect(jb.depthMs).toBeLessThan(35);
    expect(jb.depthMs).toBeGreaterThanOrEqual(20);
  });

  it('fixed depth stays put', () => {
    const jb = fixed(60);
    const rec = new Recorder();
    const prng = new Prng(2);
    for (let i = 0; i < 200; i++) feed(jb, rec, i, i * 160, i * 20 + prng.next() * 100);
    expect(jb.depthMs).toBe(60);
  });

  it('keeps the timeline: frames + losses + gaps cover the whole timestamp span under random impairment', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const jb = new JitterBuffer({ clockRate: 8000, mode: seed % 2 ? 'adaptive' : 'fixed', depthMs: 60, minDepthMs: 20, maxDepthMs: 200 });
      const rec = new Recorder();
      const prng = new Prng(seed);
      const arrivals: Array<[number, number]> = [];
      const n = 2000;
      for (let i = 0; i < n; i++) {
        if (prng.chance(0.05) && i > 0 && i < n - 1) continue;
        let at = i * 20 + prng.next() * 40;
        if (prng.chance(0.02)) at += 40;
        arrivals.push([at, i]);
        if (prng.chance(0.01)) arrivals.push([at + prng.next() * 40, i]);
      }
      arrivals.sort((a, b) => a[0] - b[0]);
      const start = 0xfffff000; // wraps mid-run
      for (const [at, i] of arrivals) {
        feed(jb, rec, 60000 + i, start + i * 160, at);
        jb.poll(at, rec);
      }
      jb.flush(rec);
      const covered = rec.total('frame') + rec.total('loss') + rec.total('gap');
      expect(covered).toBe(n * 160);
      expect(rec.events.some((e) => e.t === 'reset')).toBe(false);
      let expected = start;
      for (const e of rec.events) {
        if (e.t === 'reset') continue;
        expect(e.ts).toBe(expected >>> 0);
        expected += e.n;
      }
      expect(jb.stats.accepted + jb.stats.duplicate + jb.stats.late).toBe(arrivals.length);
    }
  });
});

describe('JitterBuffer on real Asterisk traces', () => {
  function load(name: string): TracePacket[] {
    return readFileSync(ASTERISK_TRACES + name, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TracePacket);
  }

  it.each([
    ['rtp-packets.jsonl', 8000, 1],
    ['rtp-packets-slin16.jsonl', 16000, 2],
  ] as const)('%s: zero loss, zero gap, every payload in order', (file, rate, bytesPerSample) => {
    const trace = load(file);
    const jb = new JitterBuffer({ clockRate: rate, mode: 'adaptive' });
    const rec = new Recorder();
    for (const [i, p] of trace.entries()) {
      rec.now = p.t_rel_ms;
      jb.push(p.ssrc, p.sequence, p.timestamp, p.marker === 1, tag(i), p.payload_len / bytesPerSample, p.t_rel_ms, rec);
      jb.poll(p.t_rel_ms, rec);
    }
    jb.flush(rec);
    expect(rec.events.every((e) => e.t === 'frame')).toBe(true);
    expect(rec.frames().map((f) => f.id)).toEqual(trace.map((_, i) => i & 0xffff));
    expect(rec.total('frame')).toBe(trace.reduce((s, p) => s + p.payload_len / bytesPerSample, 0));
  });

  it('rtp-packets-gap.jsonl: the 1 s pause becomes exactly 8012 samples of gap', () => {
    const trace = load('rtp-packets-gap.jsonl');
    const jb = new JitterBuffer({ clockRate: 8000, mode: 'adaptive' });
    const rec = new Recorder();
    for (const [i, p] of trace.entries()) {
      rec.now = p.t_rel_ms;
      jb.push(p.ssrc, p.sequence, p.timestamp, p.marker === 1, tag(i), p.payload_len, p.t_rel_ms, rec);
      for (let t = p.t_rel_ms - 19; t <= p.t_rel_ms; t += 10) jb.poll(t, rec); // a 10 ms clock
    }
    jb.flush(rec);
    expect(rec.frames()).toHaveLength(trace.length);
    expect(rec.events.filter((e) => e.t !== 'frame')).toEqual([{ t: 'gap', ts: 11224, n: 8012 }]);
    expect(jb.stats.lostPackets).toBe(0);
  });
});
