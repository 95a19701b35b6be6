// Packet loss concealment: the pitch-synchronous substitute continues a voiced signal, fades to silence by
// 60 ms, splices back into real audio without a jump, and never replays audio from before a pause.
import { describe, expect, it } from 'vitest';
import { Concealer } from '../../../../src/mediaplane/rtp/concealment.js';

const RATE = 8000;
/** A 125 Hz voiced-like signal (period 64 samples at 8 kHz) with a harmonic, from sample `from` on. */
function voice(n: number, from = 0): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = (from + i) / RATE;
    out[i] = Math.round(8000 * Math.sin(2 * Math.PI * 125 * t) + 3000 * Math.sin(2 * Math.PI * 375 * t + 0.5));
  }
  return out;
}
const rms = (x: Int16Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / Math.max(1, x.length));
const diff = (a: Int16Array, b: Int16Array): Int16Array => a.map((v, i) => v - b[i]!);

describe('Concealer', () => {
  it("'pitch' continues a periodic signal through the first 10 ms of a loss almost exactly", () => {
    const c = new Concealer('pitch', RATE);
    c.good(voice(400));
    const out = new Int16Array(80);
    c.lost(out);
    const truth = voice(80, 400);
    expect(rms(diff(out, truth)) / rms(truth)).toBeLessThan(0.05);
  });

  it("'pitch' holds full level for 10 ms, then fades to silence at 60 ms", () => {
    const c = new Concealer('pitch', RATE);
    c.good(voice(400));
    const out = new Int16Array(640);
    c.lost(out);
    const truth = voice(640, 400);
    expect(rms(out.subarray(0, 80)) / rms(truth.subarray(0, 80))).toBeGreaterThan(0.95);
    expect(rms(out.subarray(240, 320))).toBeLessThan(rms(out.subarray(80, 160)));
    expect([...out.subarray(480)].every((v) => v === 0)).toBe(true);
  });

  it("'pitch' cross-fades the first real audio after a loss from the substitute, and leaves the rest as it came", () => {
    const c = new Concealer('pitch', RATE);
    c.good(voice(400));
    c.lost(new Int16Array(160)); // 20 ms lost: an 8 ms splice
    const back = new Int16Array(160).fill(1000);
    c.good(back);
    expect(back[0]).not.toBe(1000);
    expect([...back.subarray(64)].every((v) => v === 1000)).toBe(true);
    // the splice moves steadily from the substitute toward the real audio
    expect(Math.abs(back[63]! - 1000)).toBeLessThan(Math.abs(back[0]! - 1000) + 1);
  });

  it('after a reset (a pause, a new stream) conceals with silence rather than replaying old speech', () => {
    for (const mode of ['pitch', 'fade'] as const) {
      const c = new Concealer(mode, RATE);
      c.good(voice(400));
      c.reset();
      const out = new Int16Array(160).fill(7);
      c.lost(out);
      expect([...out].every((v) => v === 0)).toBe(true);
    }
  });

  it("'silence' conceals with zeros; 'fade' repeats the last 20 ms fading out over 60 ms", () => {
    const s = new Concealer('silence', RATE);
    s.good(voice(400));
    const z = new Int16Array(80).fill(5);
    s.lost(z);
    expect([...z].every((v) => v === 0)).toBe(true);
    const f = new Concealer('fade', RATE);
    const last = voice(400);
    f.good(last);
    const out = new Int16Array(520);
    f.lost(out);
    expect(out[0]).toBe(last[240]);
    expect(Math.abs(out[470]!)).toBeLessThan(Math.abs(last[240 + (470 % 160)]!) * 0.03 + 1);
    expect([...out.subarray(480)].every((v) => v === 0)).toBe(true);
  });

  it('works at 16 kHz (L16) with the same timing in milliseconds', () => {
    const c = new Concealer('pitch', 16000);
    const sig = new Int16Array(800).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 150 * i) / 16000)));
    c.good(sig);
    const out = new Int16Array(1280);
    c.lost(out);
    expect(rms(out.subarray(0, 160))).toBeGreaterThan(5000);
    expect([...out.subarray(960)].every((v) => v === 0)).toBe(true);
  });
});
