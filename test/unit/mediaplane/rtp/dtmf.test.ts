import { describe, expect, it } from 'vitest';
import {
  DTMF_DIGITS,
  DtmfDetector,
  TelephoneEvent,
  digitEvent,
  eventDigit,
  readTelephoneEvent,
  writeTelephoneEvent,
  type DtmfEvent,
  type TelephoneEventFields,
} from '../../../../src/mediaplane/rtp/dtmf.js';

function ev(fields: TelephoneEventFields): Uint8Array {
  const b = new Uint8Array(4);
  writeTelephoneEvent(fields, b);
  return b;
}

/** A detector plus everything it reported. */
function harness(): { det: DtmfDetector; out: DtmfEvent[]; push: (ts: number, marker: boolean, f: TelephoneEventFields) => void } {
  const det = new DtmfDetector();
  const out: DtmfEvent[] = [];
  return {
    det,
    out,
    push: (ts, marker, f) => {
      expect(det.push(ts, marker, ev(f), (e) => out.push(e))).toBeUndefined();
    },
  };
}

/**
 * The packet train of one key press as Asterisk and most gateways send it at 8 kHz: a marker packet,
 * one continuation every 20 ms with the duration growing by 160, then the end packet three times.
 */
function press(
  push: (ts: number, marker: boolean, f: TelephoneEventFields) => void,
  ts: number,
  event: number,
  packets: number,
  volume = 10,
): number {
  for (let i = 1; i <= packets; i++) push(ts, i === 1, { event, end: false, volume, duration: i * 160 });
  const total = (packets + 1) * 160;
  for (let i = 0; i < 3; i++) push(ts, false, { event, end: true, volume, duration: total });
  return total;
}

describe('telephone-event payload (RFC 4733 §2.3)', () => {
  it('reads every field of a hand-written end packet', () => {
    // event 5, E=1 R=0 volume 10, duration 800
    const t = new TelephoneEvent();
    expect(readTelephoneEvent(Uint8Array.from([0x05, 0x8a, 0x03, 0x20]), t)).toBeUndefined();
    expect(t.event).toBe(5);
    expect(t.end).toBe(true);
    expect(t.reserved).toBe(false);
    expect(t.volume).toBe(10);
    expect(t.duration).toBe(800);
  });

  it('reads R, max volume and max duration', () => {
    // event 11 (#), E=0 R=1 volume 63, duration 65535
    const t = new TelephoneEvent();
    expect(readTelephoneEvent(Uint8Array.from([0x0b, 0x7f, 0xff, 0xff]), t)).toBeUndefined();
    expect(t.event).toBe(11);
    expect(t.end).toBe(false);
    expect(t.reserved).toBe(true);
    expect(t.volume).toBe(63);
    expect(t.duration).toBe(65535);
  });

  it('reads the first block of a longer payload', () => {
    const t = new TelephoneEvent();
    expect(readTelephoneEvent(Uint8Array.from([0x10, 0x00, 0x00, 0xa0, 0x01, 0x80, 0x00, 0x50]), t)).toBeUndefined();
    expect(t.event).toBe(16);
    expect(t.duration).toBe(160);
  });

  it('rejects fewer than 4 bytes and leaves out untouched', () => {
    const t = new TelephoneEvent();
    t.event = 9;
    expect(readTelephoneEvent(Uint8Array.from([0x05, 0x8a, 0x03]), t)).toEqual({
      reason: 'truncated',
      message: 'telephone-event payload needs 4 bytes, got 3',
    });
    expect(t.event).toBe(9);
    expect(readTelephoneEvent(new Uint8Array(0), t)?.message).toBe('telephone-event payload needs 4 bytes, got 0');
  });

  it('writes the exact bytes, at an offset', () => {
    const b = new Uint8Array(6).fill(0xee);
    expect(writeTelephoneEvent({ event: 11, end: true, volume: 63, duration: 0x1234 }, b, 1)).toBe(4);
    expect([...b]).toEqual([0xee, 0x0b, 0xbf, 0x12, 0x34, 0xee]);
  });

  it('round-trips every field combination boundary', () => {
    const t = new TelephoneEvent();
    for (const event of [0, 9, 16, 255]) {
      for (const end of [false, true]) {
        for (const volume of [0, 1, 62, 63]) {
          for (const duration of [0, 1, 160, 65535]) {
            expect(readTelephoneEvent(ev({ event, end, volume, duration }), t)).toBeUndefined();
            expect({ event: t.event, end: t.end, volume: t.volume, duration: t.duration }).toEqual({ event, end, volume, duration });
            expect(t.reserved).toBe(false);
          }
        }
      }
    }
  });

  it('writer rejects out-of-range values and short targets', () => {
    const b = new Uint8Array(4);
    expect(() => writeTelephoneEvent({ event: 256, end: false, volume: 0, duration: 0 }, b)).toThrow(RangeError);
    expect(() => writeTelephoneEvent({ event: 1, end: false, volume: 64, duration: 0 }, b)).toThrow(
      'telephone-event volume must be an integer in 0..63, got 64',
    );
    expect(() => writeTelephoneEvent({ event: 1, end: false, volume: 0, duration: 65536 }, b)).toThrow(RangeError);
    expect(() => writeTelephoneEvent({ event: 1, end: false, volume: 0, duration: 0 }, b, 1)).toThrow(
      'telephone-event of 4 bytes does not fit at offset 1 of a 4-byte buffer',
    );
  });
});

describe('event codes (RFC 4733 §3.2)', () => {
  it('maps 0-16 to digit names and back', () => {
    const expected = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D', 'flash'];
    expect([...DTMF_DIGITS]).toEqual(expected);
    expected.forEach((name, code) => {
      expect(eventDigit(code)).toBe(name);
      expect(digitEvent(name as (typeof DTMF_DIGITS)[number])).toBe(code);
    });
    expect(eventDigit(10)).toBe('*');
    expect(eventDigit(11)).toBe('#');
    expect(eventDigit(16)).toBe('flash');
  });

  it('has no name for non-DTMF codes', () => {
    expect(eventDigit(17)).toBeUndefined();
    expect(eventDigit(32)).toBeUndefined(); // ANS fax tone
    expect(eventDigit(-1)).toBeUndefined();
    expect(eventDigit(255)).toBeUndefined();
  });
});

describe('DtmfDetector', () => {
  it('a real packet train (begin, growing duration, three end packets) gives one begin and one end', () => {
    const { out, push } = harness();
    const total = press(push, 48_000, 5, 6);
    expect(out).toEqual([
      { type: 'begin', digit: '5', event: 5, timestamp: 48_000, duration: 160, volume: 10, endLost: false },
      { type: 'end', digit: '5', event: 5, timestamp: 48_000, duration: total, volume: 10, endLost: false },
    ]);
    expect(total).toBe(1120);
  });

  it('a sequence of digits gives one begin and one end each, in order', () => {
    const { out, push } = harness();
    let ts = 1000;
    for (const code of [1, 2, 3, 11]) {
      press(push, ts, code, 4);
      ts += 2400;
    }
    expect(out.map((e) => `${e.type}:${e.digit}`)).toEqual([
      'begin:1', 'end:1', 'begin:2', 'end:2', 'begin:3', 'end:3', 'begin:#', 'end:#',
    ]);
    expect(out.every((e) => !e.endLost)).toBe(true);
  });

  it('the same digit twice is two events (new timestamp, marker)', () => {
    const { out, push } = harness();
    press(push, 1000, 7, 3);
    press(push, 3000, 7, 3);
    expect(out.map((e) => `${e.type}:${e.digit}:${e.timestamp}`)).toEqual(['begin:7:1000', 'end:7:1000', 'begin:7:3000', 'end:7:3000']);
  });

  it('an event whose end packets are all lost ends when the next event starts, flagged endLost', () => {
    const { out, push } = harness();
    for (let i = 1; i <= 5; i++) push(1000, i === 1, { event: 1, end: false, volume: 12, duration: i * 160 });
    expect(out).toHaveLength(1);
    push(4000, true, { event: 2, end: false, volume: 8, duration: 160 });
    expect(out.slice(1)).toEqual([
      { type: 'end', digit: '1', event: 1, timestamp: 1000, duration: 800, volume: 12, endLost: true },
      { type: 'begin', digit: '2', event: 2, timestamp: 4000, duration: 160, volume: 8, endLost: false },
    ]);
  });

  it('late packets of an ended or older event are ignored', () => {
    const { out, push } = harness();
    press(push, 1000, 1, 3);
    push(1000, false, { event: 1, end: false, volume: 10, duration: 320 }); // late continuation
    push(3000, true, { event: 2, end: false, volume: 10, duration: 160 });
    push(1000, false, { event: 1, end: true, volume: 10, duration: 640 }); // late end of the old one
    push(3000, false, { event: 2, end: true, volume: 10, duration: 480 });
    expect(out.map((e) => `${e.type}:${e.digit}`)).toEqual(['begin:1', 'end:1', 'begin:2', 'end:2']);
  });

  it('a digit whose packets arrive after the next one began (reordered within the jitter window) is reported, flagged reordered', () => {
    const { out, push } = harness();
    push(2000, true, { event: 2, end: false, volume: 10, duration: 160 }); // the later digit's first packet overtook
    push(1000, true, { event: 1, end: false, volume: 12, duration: 160 });
    push(1000, false, { event: 1, end: false, volume: 12, duration: 480 });
    for (let i = 0; i < 3; i++) push(1000, false, { event: 1, end: true, volume: 12, duration: 640 });
    push(2000, false, { event: 2, end: false, volume: 10, duration: 320 });
    for (let i = 0; i < 3; i++) push(2000, false, { event: 2, end: true, volume: 10, duration: 480 });
    expect(out).toEqual([
      { type: 'begin', digit: '2', event: 2, timestamp: 2000, duration: 160, volume: 10, endLost: false },
      { type: 'begin', digit: '1', event: 1, timestamp: 1000, duration: 160, volume: 12, endLost: false, reordered: true },
      { type: 'end', digit: '1', event: 1, timestamp: 1000, duration: 640, volume: 12, endLost: false, reordered: true },
      { type: 'end', digit: '2', event: 2, timestamp: 2000, duration: 480, volume: 10, endLost: false },
    ]);
  });

  it('a digit older than the jitter window is dropped: counted once (push says late), never reported', () => {
    const det = new DtmfDetector({ reorderWindowMs: 200 });
    const out: DtmfEvent[] = [];
    const push = (ts: number, f: TelephoneEventFields): ReturnType<DtmfDetector['push']> => det.push(ts, false, ev(f), (e) => out.push(e), 8000);
    push(20_000, { event: 2, end: true, volume: 10, duration: 480 });
    // Digit 1 ended 1,000 ms before digit 2 began (8,000 ticks at 8 kHz): far past a 200 ms window.
    expect(push(10_000, { event: 1, end: false, volume: 10, duration: 2000 })).toBe('late');
    expect(push(10_000, { event: 1, end: true, volume: 10, duration: 2000 })).toBeUndefined();
    // Ended 150 ms (1,200 ticks) before: within it.
    expect(push(17_000, { event: 3, end: true, volume: 10, duration: 1800 })).toBeUndefined();
    expect(out.map((e) => `${e.type}:${e.digit}${e.reordered ? ':reordered' : ''}`)).toEqual(['begin:2', 'end:2', 'begin:3:reordered', 'end:3:reordered']);
  });

  it('reordered continuation packets never shrink the duration', () => {
    const { out, push } = harness();
    push(1000, true, { event: 4, end: false, volume: 10, duration: 160 });
    push(1000, false, { event: 4, end: false, volume: 10, duration: 480 });
    push(1000, false, { event: 4, end: false, volume: 10, duration: 320 });
    push(4000, true, { event: 5, end: false, volume: 10, duration: 160 });
    expect(out[1]).toMatchObject({ type: 'end', digit: '4', duration: 480, endLost: true });
  });

  it('an event first seen on an end packet gives begin and end together', () => {
    const { out, push } = harness();
    push(1000, false, { event: 0, end: true, volume: 10, duration: 800 });
    push(1000, false, { event: 0, end: true, volume: 10, duration: 800 });
    expect(out).toEqual([
      { type: 'begin', digit: '0', event: 0, timestamp: 1000, duration: 800, volume: 10, endLost: false },
      { type: 'end', digit: '0', event: 0, timestamp: 1000, duration: 800, volume: 10, endLost: false },
    ]);
  });

  it('follows events across the timestamp wrap', () => {
    const { out, push } = harness();
    press(push, 0xffffff00, 8, 3);
    press(push, 0x00000200, 9, 3);
    push(0xffffff00, false, { event: 8, end: true, volume: 10, duration: 640 }); // older: ignored
    expect(out.map((e) => `${e.type}:${e.digit}:${e.timestamp}`)).toEqual([
      `begin:8:${0xffffff00}`, `end:8:${0xffffff00}`, 'begin:9:512', 'end:9:512',
    ]);
  });

  it('a press longer than 0xFFFF goes on in a new segment (RFC 4733 long-duration events) and stays one digit', () => {
    const { out, push } = harness();
    push(0, true, { event: 3, end: false, volume: 10, duration: 160 });
    push(0, false, { event: 3, end: false, volume: 10, duration: 0xffff });
    push(0xffff, false, { event: 3, end: false, volume: 10, duration: 160 });
    push(0xffff, false, { event: 3, end: true, volume: 10, duration: 1000 });
    push(0xffff, false, { event: 3, end: true, volume: 10, duration: 1000 });
    expect(out).toEqual([
      { type: 'begin', digit: '3', event: 3, timestamp: 0, duration: 160, volume: 10, endLost: false },
      { type: 'end', digit: '3', event: 3, timestamp: 0, duration: 0xffff + 1000, volume: 10, endLost: false },
    ]);
  });

  it('reports nothing for non-DTMF events but still tracks them', () => {
    const { out, push } = harness();
    push(1000, true, { event: 32, end: false, volume: 10, duration: 160 });
    push(1000, false, { event: 32, end: true, volume: 10, duration: 320 });
    press(push, 2000, 6, 2);
    expect(out.map((e) => `${e.type}:${e.digit}`)).toEqual(['begin:6', 'end:6']);
  });

  it('rejects a truncated payload without reporting', () => {
    const det = new DtmfDetector();
    const out: DtmfEvent[] = [];
    expect(det.push(1000, true, Uint8Array.from([1, 2]), (e) => out.push(e))).toEqual({
      reason: 'truncated',
      message: 'telephone-event payload needs 4 bytes, got 2',
    });
    expect(out).toHaveLength(0);
  });

  it('flush ends an open event once; reset forgets it', () => {
    const { det, out, push } = harness();
    push(1000, true, { event: 9, end: false, volume: 10, duration: 320 });
    det.flush((e) => out.push(e));
    det.flush((e) => out.push(e));
    expect(out.map((e) => `${e.type}:${e.digit}:${e.endLost}`)).toEqual(['begin:9:false', 'end:9:true']);
    push(1000, false, { event: 9, end: true, volume: 10, duration: 640 }); // its end arrives late
    expect(out).toHaveLength(2);
    det.reset();
    push(1000, true, { event: 9, end: false, volume: 10, duration: 160 }); // after reset: a fresh event
    expect(out).toHaveLength(3);
  });

  it('a throwing listener does not corrupt state: the end is still reported exactly once', () => {
    const det = new DtmfDetector();
    const out: DtmfEvent[] = [];
    const throwing = (e: DtmfEvent): void => {
      out.push(e);
      throw new Error('listener bug');
    };
    expect(() => det.push(1000, true, ev({ event: 1, end: false, volume: 10, duration: 160 }), throwing)).toThrow('listener bug');
    expect(() => det.push(1000, false, ev({ event: 1, end: true, volume: 10, duration: 480 }), throwing)).toThrow('listener bug');
    det.push(1000, false, ev({ event: 1, end: true, volume: 10, duration: 480 }), throwing);
    expect(out.map((e) => e.type)).toEqual(['begin', 'end']);
  });
});
