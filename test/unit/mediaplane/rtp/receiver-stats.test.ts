import { describe, expect, it } from 'vitest';
import { ReceiverStats } from '../../../../src/mediaplane/rtp/receiver-stats.js';
import { Prng } from '../../../../src/util/prng.js';

describe('ReceiverStats (RFC 3550 A.1, A.3, A.8)', () => {
  it('counts expected and lost across the sequence wrap', () => {
    const st = new ReceiverStats(8000);
    let seq = 65530;
    let ts = 4294967000;
    for (let i = 0; i < 20; i++) {
      if (i !== 7 && i !== 12) st.update(seq, ts >>> 0, i * 20);
      seq = (seq + 1) & 0xffff;
      ts += 160;
    }
    const s = st.snapshot();
    expect(s.expected).toBe(20);
    expect(s.received).toBe(18);
    expect(s.lost).toBe(2);
    expect(s.fractionLost).toBeCloseTo(0.1, 10);
    // Perfectly paced packets: no jitter, even across the timestamp wrap.
    expect(s.jitterSamples).toBe(0);
  });

  it('counts a duplicate as received (lost may go negative, as the RFC says)', () => {
    const st = new ReceiverStats(8000);
    st.update(10, 0, 0);
    st.update(11, 160, 20);
    st.update(11, 160, 21);
    expect(st.expected).toBe(2);
    expect(st.received).toBe(3);
    expect(st.lost).toBe(-1);
    expect(st.snapshot().fractionLost).toBe(0);
  });

  it('estimates jitter of uniform random delay as about a third of its range', () => {
    const st = new ReceiverStats(8000);
    const prng = new Prng(3);
    const jitterMs = 30;
    // Average the running estimate over a long run: E|X - Y| for X, Y ~ U[0, J] is J/3.
    let sum = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      st.update(i & 0xffff, (i * 160) >>> 0, i * 20 + prng.next() * jitterMs);
      if (i > 100) sum += st.jitterSeconds;
    }
    const mean = (sum / (n - 101)) * 1000;
    expect(mean).toBeGreaterThan((jitterMs / 3) * 0.9);
    expect(mean).toBeLessThan((jitterMs / 3) * 1.1);
  });

  it('rebases on a sequence restart instead of counting it as loss', () => {
    const st = new ReceiverStats(8000);
    for (let i = 0; i < 10; i++) st.update(100 + i, i * 160, i * 20);
    for (let i = 0; i < 10; i++) st.update(20000 + i, 99999 + i * 160, 200 + i * 20);
    expect(st.expected).toBe(10);
    expect(st.received).toBe(10);
    expect(st.lost).toBe(0);
  });
});
