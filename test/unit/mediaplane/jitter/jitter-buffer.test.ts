import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterBufferOptions, type JitterSink } from '../../../../src/mediaplane/jitter/jitter-buffer.js';
import { Prng } from '../../../../src/util/prng.js';
import { ASTERISK_TRACES, loadTrace, type TracePacket } from '../../../helpers/traces.js';

type Frame = { t: 'frame'; ts: number; n: number; id: number; at: number; marker: boolean; payload: Uint8Array };
type Ev = Frame | { t: 'loss'; ts: number; n: number; packets: number; at: number } | { t: 'gap'; ts: number; n: number; at: number } | { t: 'reset'; reason: string; at: number };

/** Records every sink call with the clock reading it happened at. */
class Recorder implements JitterSink {
  events: Ev[] = [];
  now = 0;
  onFrame(payload: Uint8Array, ts: number, n: number, marker: boolean): void {
    this.events.push({ t: 'frame', ts, n, id: idOf(payload), at: this.now, marker, payload });
  }
  onLoss(ts: number, n: number, packets: number): void {
    this.events.push({ t: 'loss', ts, n, packets, at: this.now });
  }
  onGap(ts: number, n: number): void {
    this.events.push({ t: 'gap', ts, n, at: this.now });
  }
  onReset(reason: string): void {
    this.events.push({ t: 'reset', reason, at: this.now });
  }
  frames(): Frame[] {
    return this.events.filter((e): e is Frame => e.t === 'frame');
  }
  /** Compact view: frame ids, and the other events by kind. */
  shape(): (number | string)[] {
    return this.events.map((e) => (e.t === 'frame' ? e.id : e.t));
  }
  total(kind: 'frame' | 'loss' | 'gap'): number {
    return this.events.reduce((s, e) => (e.t === kind ? s + e.n : s), 0);
  }
}

/** Payloads carry the packet id in their first 4 bytes (little-endian) so the output can be traced back. */
function tag(id: number, bytes = 4): Uint8Array {
  const b = new Uint8Array(Math.max(bytes, 4));
  new DataView(b.buffer).setUint32(0, id, true);
  return b;
}
function idOf(payload: Uint8Array): number {
  return payload.byteLength >= 4 ? new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true) : -1;
}

const fixed = (depthMs = 60, extra: Partial<JitterBufferOptions> = {}): JitterBuffer => new JitterBuffer({ clockRate: 8000, mode: 'fixed', depthMs, ...extra });

function feed(jb: JitterBuffer, rec: Recorder, seq: number, ts: number, at: number, o: { marker?: boolean; samples?: number; ssrc?: number; id?: number } = {}): string {
  advance(jb, rec, at);
  return jb.push(o.ssrc ?? 1, seq & 0xffff, ts >>> 0, o.marker ?? false, tag(o.id ?? seq), o.samples ?? 160, at, rec);
}

/** Moves the clock to `to`, polling exactly at every deadline on the way (an ideal timer). */
function advance(jb: JitterBuffer, rec: Recorder, to: number): void {
  for (let due = jb.nextDueMs(); due <= to && due !== Infinity; due = jb.nextDueMs()) {
    rec.now = Math.max(rec.now, due);
    jb.poll(rec.now, rec);
  }
  rec.now = Math.max(rec.now, to);
  jb.poll(rec.now, rec);
}

/** Output items must tile one line: each starts where the previous ended (mod 2^32). Returns its length. */
function lineLength(events: Ev[]): number {
  let expected = -1;
  let length = 0;
  for (const e of events) {
    if (e.t === 'reset') continue;
    if (expected >= 0) expect(e.ts).toBe(expected);
    expected = (e.ts + e.n) % 2 ** 32;
    length += e.n;
  }
  return length;
}

function loadRows(name: string): TracePacket[] {
  return readFileSync(ASTERISK_TRACES + name, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TracePacket);
}

describe('JitterBuffer: playout', () => {
  it('releases in order exactly at each deadline (anchor + media time + depth), never before', () => {
    const jb = fixed(60);
    const rec = new Recorder();
    expect(jb.nextDueMs()).toBe(Infinity);
    expect(jb.push(1, 100, 1000, false, tag(100), 160, 0, rec)).toBe('accepted');
    expect(jb.nextDueMs()).toBe(60);
    jb.poll(59.999, rec);
    expect(rec.events).toEqual([]);
    for (let i = 1; i < 5; i++) feed(jb, rec, 100 + i, 1000 + i * 160, i * 20);
    advance(jb, rec, 300);
    expect(rec.frames().map((f) => [f.id, f.at, f.ts, f.n])).toEqual([
      [100, 60, 1000, 160],
      [101, 80, 1160, 160],
      [102, 100, 1320, 160],
      [103, 120, 1480, 160],
      [104, 140, 1640, 160],
    ]);
    expect(jb.size).toBe(0);
    expect(jb.nextDueMs()).toBe(Infinity);
    expect(jb.stats).toMatchObject({ accepted: 5, framesOut: 5, lostPackets: 0, gaps: 0 });
  });

  it('anchors on the earliest transit: a late first packet does not delay the rest', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    feed(jb, rec, 0, 0, 15); // 15 ms late
    expect(jb.nextDueMs()).toBe(55);
    feed(jb, rec, 1, 160, 20); // on time: transit 0 becomes the anchor, packet 0 is now due at 40
    expect(jb.nextDueMs()).toBe(40);
    advance(jb, rec, 100);
    expect(rec.frames().map((f) => [f.id, f.at])).toEqual([
      [0, 40],
      [1, 60],
    ]);
  });

  it('puts packets reordered within the depth back in order, without loss', () => {
    const jb = fixed(60);
    const rec = new Recorder();
    for (const [i, at] of [[0, 0], [2, 40], [1, 45], [4, 80], [3, 81], [5, 100]] as const) feed(jb, rec, i, i * 160, at);
    advance(jb, rec, 300);
    expect(rec.shape()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rec.frames().map((f) => f.at)).toEqual([60, 80, 100, 120, 140, 160]);
    expect(jb.stats).toMatchObject({ accepted: 6, lostPackets: 0, late: 0 });
  });

  it('counts duplicates (held and already played) and late packets, and outputs none of them', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    expect(feed(jb, rec, 0, 0, 0)).toBe('accepted');
    expect(feed(jb, rec, 0, 0, 1)).toBe('duplicate'); // still held
    expect(feed(jb, rec, 1, 160, 20)).toBe('accepted');
    expect(feed(jb, rec, 3, 480, 60)).toBe('accepted');
    advance(jb, rec, 150); // 0, 1 played; 2 declared lost when 3 fell due (100); 3 played
    expect(feed(jb, rec, 1, 160, 151)).toBe('duplicate'); // played already
    expect(feed(jb, rec, 2, 320, 152)).toBe('late'); // its slot was concealed
    advance(jb, rec, 400);
    expect(jb.stats).toMatchObject({ accepted: 3, duplicate: 2, late: 1, lostPackets: 1, concealedSamples: 160, framesOut: 3 });
    expect(rec.shape()).toEqual([0, 1, 'loss', 3]);
    expect(rec.events[2]).toMatchObject({ t: 'loss', ts: 320, n: 160, packets: 1, at: 100 });
  });

  it('declares a loss once, with the missing timestamps as samples, only when a later packet is due', () => {
    const jb = fixed(60);
    const rec = new Recorder();
    feed(jb, rec, 10, 1600, 0);
    feed(jb, rec, 13, 1600 + 3 * 160, 60);
    advance(jb, rec, 119.9);
    expect(rec.shape()).toEqual([10]); // 13 is not due before 120: 11 and 12 may still come
    feed(jb, rec, 14, 1600 + 4 * 160, 80);
    advance(jb, rec, 200);
    expect(rec.events.slice(1)).toEqual([
      { t: 'loss', ts: 1760, n: 320, packets: 2, at: 120 },
      expect.objectContaining({ t: 'frame', ts: 2080, n: 160, id: 13, at: 120 }),
      expect.objectContaining({ t: 'frame', ts: 2240, n: 160, id: 14, at: 140 }),
    ]);
    expect(jb.stats).toMatchObject({ lostPackets: 2, concealedSamples: 320 });
  });

  it('flush releases everything held now; only holes between held packets are losses', () => {
    const jb = fixed(1000);
    const rec = new Recorder();
    feed(jb, rec, 0, 0, 0);
    feed(jb, rec, 2, 320, 40);
    // 3 and 4 never come: after the last held packet, nothing is declared.
    jb.flush(rec);
    expect(rec.shape()).toEqual([0, 'loss', 2]);
    expect(rec.events[1]).toMatchObject({ ts: 160, n: 160, packets: 1 });
    expect(jb.size).toBe(0);
    expect(jb.stats.lostPackets).toBe(1);
  });
});

describe('JitterBuffer: packet sizes, gaps and the output line', () => {
  it("takes any packet size: Asterisk's short end-of-prompt packet and ffmpeg's 180 ms packets are neither loss nor gap", () => {
    const jb = fixed(40);
    const rec = new Recorder();
    // As in rtp-packets.jsonl rows 70-72: 160 @ 11200, then 12 samples stamped 11212 (+12), then 160 @ 11372.
    feed(jb, rec, 1, 11200, 0);
    feed(jb, rec, 2, 11212, 20, { samples: 12 });
    feed(jb, rec, 3, 11372, 22);
    // ffmpeg-sized packets, stamped the RFC way (+ own length); one short RFC-stamped packet.
    feed(jb, rec, 4, 11532, 42, { samples: 1440 });
    feed(jb, rec, 5, 12972, 222, { samples: 1440 });
    feed(jb, rec, 6, 14412, 402, { samples: 12 });
    feed(jb, rec, 7, 14424, 404);
    advance(jb, rec, 1000);
    expect(rec.shape()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rec.frames().map((f) => f.ts)).toEqual([11200, 11360, 11372, 11532, 12972, 14412, 14424]);
    expect(rec.total('frame')).toBe(160 + 12 + 160 + 1440 + 1440 + 12 + 160);
    expect(lineLength(rec.events)).toBe(14584 - 11200);
    expect(jb.stats).toMatchObject({ lostPackets: 0, gaps: 0, late: 0 });
  });

  it('fills a pause the wall clock backs with a gap of exactly the timestamp jump, and re-anchors on the marker', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    feed(jb, rec, 2, 160, 20, { samples: 12 });
    feed(jb, rec, 3, 172 + 8000, 1020, { marker: true }); // 1 s of nothing
    feed(jb, rec, 4, 172 + 8160, 1040);
    advance(jb, rec, 1200);
    expect(rec.shape()).toEqual([1, 2, 'gap', 3, 4]);
    expect(rec.events[2]).toMatchObject({ t: 'gap', ts: 172, n: 8000 });
    expect(rec.frames().map((f) => [f.ts, f.at, f.marker])).toEqual([
      [0, 40, false],
      [160, 60, false],
      [8172, 1060, true],
      [8332, 1080, false],
    ]);
    expect(jb.stats).toMatchObject({ gaps: 1, gapSamples: 8000, lostPackets: 0, resets: 0 });
  });

  it('splits a hole over a pause into silence and loss when the talkspurt start is lost', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    // seq 2 (marker, ts 8160) is lost; seq 3 follows it after a 1 s pause.
    feed(jb, rec, 3, 8320, 1040);
    advance(jb, rec, 1200);
    expect(rec.events.slice(1, 3)).toEqual([
      { t: 'gap', ts: 160, n: 8000, at: 1080 },
      { t: 'loss', ts: 8160, n: 160, packets: 1, at: 1080 },
    ]);
    expect(lineLength(rec.events)).toBe(8480);
  });

  it('wraps sequence numbers and timestamps', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    let ts = 0xffffff00;
    for (let i = 0; i < 6; i++) {
      if (i !== 2) feed(jb, rec, 65534 + i, ts, i * 20, { id: i });
      ts += 160;
    }
    advance(jb, rec, 300);
    expect(rec.shape()).toEqual([0, 1, 'loss', 3, 4, 5]);
    expect(rec.frames().map((f) => f.ts)).toEqual([0xffffff00, 0xffffffa0, 0xe0, 0x180, 0x220]);
    expect(rec.events[2]).toMatchObject({ t: 'loss', ts: 0x40, n: 160, packets: 1 });
    expect(lineLength(rec.events)).toBe(6 * 160);
  });

  it('a DTMF (skipped) slot is neither played nor lost; the audio pause around it is a gap', () => {
    const jb = fixed(20);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    jb.skip(1, 2, 20, rec);
    jb.skip(1, 3, 40, rec);
    feed(jb, rec, 4, 480, 60);
    advance(jb, rec, 200);
    expect(rec.shape()).toEqual([1, 'gap', 4]);
    expect(rec.events[1]).toMatchObject({ ts: 160, n: 320 });
    expect(jb.stats.lostPackets).toBe(0);
    expect(jb.size).toBe(0);
  });
});

describe('JitterBuffer: resets', () => {
  it('on an SSRC change plays out what the old source left, resets, and continues the line with the new one', () => {
    const jb = fixed(100);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    feed(jb, rec, 2, 160, 20);
    expect(feed(jb, rec, 5000, 777, 40, { ssrc: 2 })).toBe('accepted');
    feed(jb, rec, 5001, 937, 60, { ssrc: 2 });
    advance(jb, rec, 400);
    expect(rec.shape()).toEqual([1, 2, 'reset', 5000, 5001]);
    expect(rec.events[2]).toMatchObject({ reason: 'ssrc_change', at: 40 });
    // The old packets went out at the reset; the new source starts right where the old one ended.
    expect(rec.frames().map((f) => [f.id, f.ts, f.at])).toEqual([
      [1, 0, 40],
      [2, 160, 40],
      [5000, 320, 140],
      [5001, 480, 160],
    ]);
    expect(jb.stats).toMatchObject({ resets: 1, accepted: 4, gapSamples: 0, lostPackets: 0 });
  });

  it('a new source after a silence: the wall-clock time between them becomes a gap', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    feed(jb, rec, 2, 160, 20);
    feed(jb, rec, 9, 5555, 540, { ssrc: 7 }); // the old line ended at media 40 ms; 500 ms later
    advance(jb, rec, 700);
    expect(rec.shape()).toEqual([1, 2, 'reset', 'gap', 9]);
    expect(rec.events[3]).toMatchObject({ ts: 320, n: 4000 });
    expect(rec.frames()[2]).toMatchObject({ ts: 4320, at: 580 });
  });

  it('a single wild sequence number is dropped as late; two in a row are a restart (RFC 3550 probation)', () => {
    const jb = fixed(20);
    const rec = new Recorder();
    feed(jb, rec, 100, 0, 0);
    expect(feed(jb, rec, 40000, 160, 10)).toBe('late');
    expect(feed(jb, rec, 101, 160, 20)).toBe('accepted');
    expect(feed(jb, rec, 102 - 500, 320, 30)).toBe('late'); // far behind: a stray too
    expect(feed(jb, rec, 102, 320, 40)).toBe('accepted');
    advance(jb, rec, 100);
    expect(rec.shape()).toEqual([100, 101, 102]);
    expect(jb.stats).toMatchObject({ resets: 0, late: 2, lostPackets: 0 });

    expect(feed(jb, rec, 9000, 480, 120)).toBe('late');
    expect(feed(jb, rec, 9001, 640, 140)).toBe('accepted');
    expect(feed(jb, rec, 9002, 800, 160)).toBe('accepted');
    advance(jb, rec, 300);
    // 9000 is dropped (A.1 probation); the line resumes after the wall-clock time since the old
    // line's end (media 60 ms) at 9001's arrival (140 ms): 80 ms.
    expect(rec.shape()).toEqual([100, 101, 102, 'reset', 'gap', 9001, 9002]);
    expect(rec.events[3]).toMatchObject({ reason: 'seq_jump', at: 140 });
    expect(rec.events[4]).toMatchObject({ ts: 480, n: 640 });
    expect(lineLength(rec.events)).toBe(5 * 160 + 640);
    expect(jb.stats).toMatchObject({ resets: 1, late: 3, lostPackets: 0 });
  });

  it('a timestamp jump the wall clock does not back is a reset that fills only the real time', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    for (let i = 0; i < 5; i++) feed(jb, rec, i, i * 160, i * 20);
    // An SBC switched sources: +10 s of timestamps in 20 ms of wall clock, sequence numbers go on.
    feed(jb, rec, 5, 80_000, 100);
    feed(jb, rec, 6, 80_160, 120);
    advance(jb, rec, 300);
    expect(rec.shape()).toEqual([0, 1, 2, 3, 4, 'reset', 5, 6]);
    expect(rec.events[5]).toMatchObject({ reason: 'timestamp_jump', at: 100 });
    expect(rec.frames().map((f) => f.ts)).toEqual([0, 160, 320, 480, 640, 800, 960]);
    expect(jb.stats).toMatchObject({ resets: 1, gapSamples: 0, lostPackets: 0 });
  });

  it('the same jump after a 500 ms pause fills 500 ms; a backward jump resets too', () => {
    const jb = fixed(40);
    const rec = new Recorder();
    for (let i = 0; i < 5; i++) feed(jb, rec, i, 1_000_000 + i * 160, i * 20);
    feed(jb, rec, 5, 1_080_000, 600, { marker: true });
    feed(jb, rec, 6, 1_080_160, 620);
    feed(jb, rec, 7, 3_000, 640); // backwards by over a second
    feed(jb, rec, 8, 3_160, 660);
    advance(jb, rec, 900);
    expect(rec.shape()).toEqual([0, 1, 2, 3, 4, 'reset', 'gap', 5, 6, 'reset', 7, 8]);
    expect(rec.events[6]).toMatchObject({ ts: 1_000_800, n: 4000 });
    expect(rec.events[9]).toMatchObject({ reason: 'timestamp_jump' });
    expect(lineLength(rec.events)).toBe(9 * 160 + 4000);
  });

  it('a pause longer than maxGapMs is a reset whose gap is bounded by maxGapMs', () => {
    const jb = fixed(40, { maxGapMs: 1000 });
    const rec = new Recorder();
    feed(jb, rec, 1, 0, 0);
    feed(jb, rec, 2, 160 + 16_000, 2020, { marker: true }); // 2 s pause, backed by the wall clock
    advance(jb, rec, 2200);
    expect(rec.shape()).toEqual([1, 'reset', 'gap', 2]);
    expect(rec.events[2]).toMatchObject({ ts: 160, n: 8000 });
    expect(rec.frames()[1]).toMatchObject({ ts: 8160, at: 2060 });
  });
});

describe('JitterBuffer: capacity', () => {
  it('a packet beyond the capacity plays the head out early; memory never grows', () => {
    const jb = fixed(10_000, { capacity: 16 });
    const rec = new Recorder();
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(jb.push(1, i, i * 160, false, tag(i), 160, i, rec));
      expect(jb.size).toBeLessThanOrEqual(16);
    }
    expect(outcomes.filter((o) => o === 'overflow')).toHaveLength(4);
    expect(rec.shape()).toEqual([0, 1, 2, 3]);
    expect(jb.stats).toMatchObject({ overflow: 4, accepted: 16 });
    jb.flush(rec);
    expect(rec.shape()).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('a stalled hole at the head is given up to make room; the give-up is reported as loss in order', () => {
    const jb = fixed(10_000, { capacity: 16 });
    const rec = new Recorder();
    feed(jb, rec, 0, 0, 0);
    expect(feed(jb, rec, 30, 30 * 160, 600)).toBe('overflow'); // window now starts at 15
    expect(rec.frames().map((f) => [f.id, f.at])).toEqual([[0, 600]]); // played early to make room
    expect(feed(jb, rec, 5, 5 * 160, 601)).toBe('late');
    advance(jb, rec, 20_000);
    expect(rec.shape()).toEqual([0, 'loss', 30]);
    expect(rec.events[1]).toMatchObject({ ts: 160, n: 29 * 160, packets: 29, at: 10_600 });
    expect(jb.stats).toMatchObject({ accepted: 1, overflow: 1, late: 1, lostPackets: 29 });
  });

  it('rounds the capacity up to a power of two and rejects nonsense options', () => {
    const jb = fixed(10_000, { capacity: 10 });
    const rec = new Recorder();
    for (let i = 0; i < 17; i++) jb.push(1, i, i * 160, false, tag(i), 160, 0, rec);
    expect(jb.size).toBe(16);
    expect(() => new JitterBuffer({ clockRate: 0 })).toThrow(RangeError);
    expect(() => new JitterBuffer({ clockRate: 8000, minDepthMs: 100, maxDepthMs: 50 })).toThrow(RangeError);
    expect(() => new JitterBuffer({ clockRate: 8000, capacity: 1 })).toThrow(RangeError);
  });
});

describe('JitterBuffer: depth', () => {
  /** Pushes packets [from, to) with 20 ms spacing plus jitter from `delay`, in arrival order. */
  function traffic(jb: JitterBuffer, rec: Recorder, from: number, to: number, delay: (i: number) => number): void {
    const arrivals: [number, number][] = [];
    for (let i = from; i < to; i++) arrivals.push([i * 20 + delay(i), i]);
    arrivals.sort((a, b) => a[0] - b[0]);
    for (const [at, i] of arrivals) feed(jb, rec, i, i * 160, Math.max(at, rec.now));
  }

  it('adaptive depth comes down on a calm path, grows promptly under jitter, and shrinks back slowly', () => {
    const jb = new JitterBuffer({ clockRate: 8000, mode: 'adaptive', depthMs: 60, minDepthMs: 20, maxDepthMs: 200 });
    const rec = new Recorder();
    const prng = new Prng(7);
    expect(jb.depthMs).toBe(60);
    traffic(jb, rec, 0, 250, () => 0); // 5 s calm
    expect(jb.depthMs).toBe(20);

    traffic(jb, rec, 250, 300, () => prng.next() * 80); // 1 s of 0-80 ms jitter
    expect(jb.depthMs).toBeGreaterThan(80);
    expect(jb.depthMs).toBeLessThanOrEqual(100);
    const lateEarly = jb.stats.late;
    traffic(jb, rec, 300, 750, () => prng.next() * 80); // 9 s more
    const lateAfterGrowth = jb.stats.late - lateEarly;
    expect(lateAfterGrowth).toBeLessThanOrEqual(2);

    traffic(jb, rec, 750, 1000, () => 0); // 5 s calm: still cautious
    expect(jb.depthMs).toBeGreaterThan(50);
    traffic(jb, rec, 1000, 4000, () => 0); // 60 s calm
    expect(jb.depthMs).toBe(20);
    expect(jb.stats.accepted + jb.stats.late).toBe(4000);
    expect(jb.stats.framesOut + jb.stats.lostPackets).toBe(4000 - jb.size);
  });

  it('fixed depth stays put whatever the jitter', () => {
    const jb = fixed(60);
    const rec = new Recorder();
    const prng = new Prng(2);
    traffic(jb, rec, 0, 200, () => prng.next() * 100);
    expect(jb.depthMs).toBe(60);
    expect(jb.stats.late).toBeGreaterThan(0);
  });
});

describe('JitterBuffer: timeline invariant under random impairment', () => {
  it.each([1, 2, 3, 4, 5, 6])('seed %i: frames + losses + gaps tile the timestamp span exactly', (seed) => {
    const prng = new Prng(seed);
    const mode = seed % 2 ? 'adaptive' : 'fixed';
    const jb = new JitterBuffer({ clockRate: 8000, mode, depthMs: 60, minDepthMs: 20, maxDepthMs: 200, capacity: 64 });
    const rec = new Recorder();
    // The sender: RFC 3550 stamping, variable packet sizes, talkspurts separated by real pauses.
    const seq0 = 65_000 + seed * 50; // wraps mid-run
    const ts0 = 0xffff_0000 + seed * 1000; // wraps mid-run
    const sent: { i: number; ts: number; n: number; t: number; marker: boolean }[] = [];
    let ts = ts0;
    let t = 0;
    let marker = true;
    for (let i = 0; i < 3000; i++) {
      const n = prng.chance(0.1) ? [12, 80, 240, 1440][prng.int(4)]! : 160;
      sent.push({ i, ts, n, t, marker });
      ts += n;
      t += (n * 1000) / 8000;
      marker = false;
      if (prng.chance(0.01)) {
        const pause = 100 + prng.int(2000); // ms of silence: no packets, timestamps follow the wall clock
        ts += pause * 8;
        t += pause;
        marker = true;
      }
    }
    // The network: loss, duplicates, jitter up to 100 ms (which also reorders).
    const arrivals: { at: number; p: (typeof sent)[number] }[] = [];
    for (const p of sent) {
      if (prng.chance(0.04)) continue;
      const at = p.t + prng.next() * (prng.chance(0.1) ? 100 : 20);
      arrivals.push({ at, p });
      if (prng.chance(0.02)) arrivals.push({ at: at + prng.next() * 50, p });
    }
    arrivals.sort((a, b) => a.at - b.at);
    const outcomes = { accepted: 0, duplicate: 0, late: 0, overflow: 0 };
    for (const { at, p } of arrivals) {
      advance(jb, rec, at);
      outcomes[jb.push(0xabc, (seq0 + p.i) & 0xffff, p.ts >>> 0, p.marker, tag(p.i), p.n, at, rec)]++;
    }
    advance(jb, rec, Infinity);
    jb.flush(rec);

    expect(outcomes).toEqual({ accepted: jb.stats.accepted, duplicate: jb.stats.duplicate, late: jb.stats.late, overflow: jb.stats.overflow });
    expect(jb.stats.resets).toBe(0);
    // Fixed 60 ms loses the 100 ms stragglers; adaptive grows to cover them.
    if (mode === 'fixed') expect(jb.stats.late).toBeGreaterThan(0);
    else expect(jb.depthMs).toBeGreaterThan(80);
    expect(jb.stats.lostPackets).toBeGreaterThan(0);
    expect(jb.stats.duplicate).toBeGreaterThan(0);
    expect(jb.stats.gaps).toBeGreaterThan(0);

    const frames = rec.frames();
    // In sequence order, each at its own RTP timestamp, each once.
    for (let k = 1; k < frames.length; k++) expect(frames[k]!.id).toBeGreaterThan(frames[k - 1]!.id);
    for (const f of frames) expect(f.ts).toBe(sent[f.id]!.ts >>> 0);
    const first = sent[frames[0]!.id]!;
    const last = sent[frames[frames.length - 1]!.id]!;
    // Every sample of the span is a frame, a loss or a gap, once.
    const span = last.ts + last.n - first.ts;
    expect(rec.total('frame') + rec.total('loss') + rec.total('gap')).toBe(span);
    expect(lineLength(rec.events)).toBe(span);
    expect(jb.stats.framesOut + jb.stats.lostPackets).toBe(last.i - first.i + 1);
    expect(jb.stats.concealedSamples).toBe(rec.total('loss'));
    expect(jb.stats.gapSamples).toBe(rec.total('gap'));
    expect(jb.size).toBe(0);
  });
});

describe('JitterBuffer on real Asterisk 22 traces', () => {
  it.each([
    ['rtp-packets.jsonl', 'received.ulaw', 8000, 1],
    ['rtp-packets-slin16.jsonl', 'received-slin16.slin16', 16000, 2],
  ] as const)('%s: zero loss, zero gap, the frames are the recorded payload bytes in order', (file, payloadFile, rate, bytesPerSample) => {
    const trace = loadTrace(file, payloadFile);
    const jb = new JitterBuffer({ clockRate: rate });
    const rec = new Recorder();
    let off = 0;
    for (const p of trace.packets) {
      advance(jb, rec, p.t_rel_ms);
      const payload = trace.payload.subarray(off, off + p.payload_len);
      off += p.payload_len;
      expect(jb.push(p.ssrc, p.sequence, p.timestamp, p.marker === 1, payload, p.payload_len / bytesPerSample, p.t_rel_ms, rec)).toBe('accepted');
    }
    advance(jb, rec, Infinity);
    expect(rec.events.every((e) => e.t === 'frame')).toBe(true);
    expect(rec.frames()).toHaveLength(trace.packets.length);
    expect(Buffer.concat(rec.frames().map((f) => f.payload)).equals(trace.payload)).toBe(true);
    expect(lineLength(rec.events)).toBe(trace.payload.byteLength / bytesPerSample);
    expect(rec.frames()[0]!.ts).toBe(trace.packets[0]!.timestamp);
    expect(jb.stats).toMatchObject({ lostPackets: 0, late: 0, gaps: 0, resets: 0, framesOut: trace.packets.length });
  });

  it('rtp-packets-gap.jsonl: the 1 s pause between prompts is one gap, and the next prompt lands on its own timestamp', () => {
    const rows = loadRows('rtp-packets-gap.jsonl');
    const jb = new JitterBuffer({ clockRate: 8000 });
    const rec = new Recorder();
    for (const [i, p] of rows.entries()) {
      advance(jb, rec, p.t_rel_ms);
      jb.push(p.ssrc, p.sequence, p.timestamp, p.marker === 1, tag(i, p.payload_len), p.payload_len, p.t_rel_ms, rec);
    }
    advance(jb, rec, Infinity);
    expect(rec.frames()).toHaveLength(219);
    // Asterisk stamps a packet at the end of its audio: 12 samples "at" 11212 fill 11200..11212 and the
    // marker packet stamped 19236 holds 19076..19236. Played contiguously, the short packet ends the line
    // at 11372, so the silence is 19236 - 11372 = 7864 samples (983 ms: the 1004 ms arrival gap less one
    // 20 ms packet), and the new prompt starts exactly at its RTP timestamp.
    expect(rec.events.filter((e) => e.t !== 'frame')).toEqual([expect.objectContaining({ t: 'gap', ts: 11372, n: 7864 })]);
    const gapAt = rec.events.findIndex((e) => e.t === 'gap');
    expect(rec.events[gapAt + 1]).toMatchObject({ t: 'frame', ts: 19236, id: 71, marker: true });
    expect(rec.total('frame')).toBe(34798);
    expect(lineLength(rec.events)).toBe(34798 + 7864);
    expect(jb.stats).toMatchObject({ lostPackets: 0, late: 0, resets: 0, gaps: 1, gapSamples: 7864 });
  });
});
