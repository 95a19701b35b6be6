import { describe, expect, it } from 'vitest';
import { PCMA, PCMU, l16 } from '../../../../src/mediaplane/codec/codec.js';
import { PayloadTypeMap, type PayloadFormat } from '../../../../src/mediaplane/codec/payload-types.js';
import { TheoError } from '../../../../src/errors/index.js';

describe('PayloadTypeMap', () => {
  it('has the RFC 3551 static types and the Asterisk dynamic defaults', () => {
    const m = PayloadTypeMap.defaults();
    expect(m.get(0)).toEqual({ kind: 'audio', payloadType: 0, codec: PCMU });
    expect(m.get(8)).toEqual({ kind: 'audio', payloadType: 8, codec: PCMA });
    expect(m.get(11)).toEqual({ kind: 'audio', payloadType: 11, codec: l16(44100) });
    expect(m.get(118)).toEqual({ kind: 'audio', payloadType: 118, codec: l16(16000) });
    expect(m.get(101)).toEqual({ kind: 'telephone-event', payloadType: 101, clockRate: 8000 });
    expect(m.entries().map((f) => f.payloadType)).toEqual([0, 8, 11, 101, 118]);
    expect(m.toString()).toBe('0=PCMU/8000,8=PCMA/8000,11=L16/44100,101=telephone-event/8000,118=L16/16000');
  });

  it('answers undefined for unknown and out-of-range numbers', () => {
    const m = PayloadTypeMap.defaults();
    for (const pt of [1, 96, 127, 128, 255, -1, 0.5]) expect(m.get(pt)).toBeUndefined();
  });

  it('sets, overrides and deletes, binding the number itself', () => {
    const m = PayloadTypeMap.defaults();
    expect(m.set(96, { kind: 'audio', codec: l16(16000) })).toBe(m);
    expect(m.get(96)).toEqual({ kind: 'audio', payloadType: 96, codec: l16(16000) });
    // A whole PayloadFormat is accepted too; the map's number wins over the object's.
    const pcma8: PayloadFormat = { kind: 'audio', payloadType: 8, codec: PCMA };
    m.set(0, pcma8);
    expect(m.get(0)).toEqual({ kind: 'audio', payloadType: 0, codec: PCMA });
    expect(Object.isFrozen(m.get(0))).toBe(true);
    expect(m.delete(118)).toBe(true);
    expect(m.delete(118)).toBe(false);
    expect(m.get(118)).toBeUndefined();
    expect(() => m.set(128, { kind: 'audio', codec: PCMU })).toThrow(/payload type 128 is out of range 0..127/);
    expect(() => m.delete(-1)).toThrow(TheoError);
  });

  it('builds from entries alone, without defaults, and clones independently', () => {
    const m = PayloadTypeMap.fromEntries([
      [97, { kind: 'audio', codec: PCMU }],
      [100, { kind: 'telephone-event', clockRate: 16000 }],
      [97, { kind: 'audio', codec: PCMA }],
    ]);
    expect(m.toString()).toBe('97=PCMA/8000,100=telephone-event/16000');
    const c = m.clone();
    c.delete(97);
    expect(m.get(97)?.kind).toBe('audio');
  });

  it('parses config/CLI overrides on top of the defaults', () => {
    const m = PayloadTypeMap.parse(' 96=L16/16000, 100 = telephone-event/16000 ,118=none,97=pcmu,0=PCMA/8000,98=slin16, 99=telephone-event');
    expect(m.get(96)).toEqual({ kind: 'audio', payloadType: 96, codec: l16(16000) });
    expect(m.get(100)).toEqual({ kind: 'telephone-event', payloadType: 100, clockRate: 16000 });
    expect(m.get(99)).toEqual({ kind: 'telephone-event', payloadType: 99, clockRate: 8000 });
    expect(m.get(118)).toBeUndefined();
    expect(m.get(97)).toMatchObject({ codec: PCMU });
    expect(m.get(0)).toMatchObject({ codec: PCMA });
    expect(m.get(98)).toMatchObject({ codec: l16(16000) });
    expect(m.get(8)).toMatchObject({ codec: PCMA }); // untouched default
    expect(PayloadTypeMap.parse('').toString()).toBe(PayloadTypeMap.defaults().toString());
  });

  it('round-trips through toString onto an empty base', () => {
    const m = PayloadTypeMap.parse('96=L16/48000');
    expect(PayloadTypeMap.parse(m.toString(), new PayloadTypeMap()).toString()).toBe(m.toString());
  });

  it.each([
    ['96', 'payload type entry "96" is not NUMBER=ENCODING[/RATE] (e.g. 96=L16/16000)'],
    ['96=', 'is not NUMBER=ENCODING[/RATE]'],
    ['x=PCMU', 'is not NUMBER=ENCODING[/RATE]'],
    ['96=L16/16k', 'is not NUMBER=ENCODING[/RATE]'],
    ['200=PCMU', 'payload type 200 is out of range 0..127'],
    ['96=opus/48000', 'payload type 96: unknown encoding "opus"'],
    ['0=PCMU/16000', 'payload type 0: PCMU runs at 8000 Hz, not 16000'],
    ['98=slin16/8000', 'payload type 98: slin16 runs at 16000 Hz, not 8000'],
    ['96=L16', 'payload type 96: L16 needs a clock rate (e.g. 96=L16/16000)'],
    ['96=L16/0', 'payload type 96: clock rate must be positive'],
    ['96=PCMU,96=PCMA', 'payload type 96 is given twice'],
    ['97=none/8000', 'payload type 97: "none" takes no rate'],
  ])('rejects %j', (spec, message) => {
    let caught: unknown;
    try {
      PayloadTypeMap.parse(spec);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TheoError);
    expect((caught as TheoError).code).toBe('invalid_argument');
    expect((caught as TheoError).message).toContain(message);
  });
});
