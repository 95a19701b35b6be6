// RtpCallSession: a call's RTP frames into a session with the telephony defaults and the call on it; silence
// fed in real time while no packets come, without counting the gap twice when the stream later fills it.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AudioFrame, RtpStream } from '../../../src/mediaplane/rtp/stream.js';
import type { CreateSessionOptions, SessionManager } from '../../../src/session/manager.js';
import type { Session } from '../../../src/session/session.js';
import { CallHub } from '../../../src/telephony/call-hub.js';
import { RtpCallSession } from '../../../src/telephony/rtp-call.js';

class FakeSession extends EventEmitter {
  pushed = 0;
  closed = false;
  finished = false;
  readonly createdAt = Date.now();
  constructor(
    readonly id: string,
    readonly call: unknown,
  ) {
    super();
  }
  digits: Array<[string, number]> = [];
  dtmf(digit: string, ms: number): void {
    this.digits.push([digit, ms]);
  }
  push(f: Int16Array): boolean {
    this.pushed += f.length;
    return true;
  }
  finish(): Promise<void> {
    this.finished = true;
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** The stream's side that RtpCallSession uses: its events, and the media clock's tick (every 10 ms here). */
class FakeStream extends EventEmitter {
  tick: ((nowMs: number) => void) | undefined;
  onTick(handler: ((nowMs: number) => void) | undefined): void {
    this.tick = handler;
  }
  /** Advances the fake time by `ms`, ticking every 10 ms as the listener's clock does. */
  advance(ms: number): void {
    for (let t = 0; t < ms; t += 10) {
      vi.advanceTimersByTime(10);
      this.tick?.(performance.now());
    }
  }
}

function setup(index?: number): { stream: FakeStream; created: CreateSessionOptions[]; sessions: FakeSession[]; call: RtpCallSession } {
  const stream = new FakeStream();
  const created: CreateSessionOptions[] = [];
  const sessions: FakeSession[] = [];
  const manager = {
    create(o: CreateSessionOptions) {
      created.push(o);
      const s = new FakeSession(o.id ?? 'x', o.call);
      sessions.push(s);
      return s as unknown as Session;
    },
  } as unknown as SessionManager;
  const call = new RtpCallSession(stream as unknown as RtpStream, { callId: 'c/1', direction: 'inbound', source: 'test' }, { sessions: manager, hub: new CallHub(), logger: pino({ level: 'silent' }), model: 'm', ...(index !== undefined ? { index } : {}) });
  return { stream, created, sessions, call };
}

const frame = (n: number, kind: AudioFrame['kind'] = 'audio', sampleRate = 8000): AudioFrame => ({ pcm: new Int16Array(n), sampleRate, position: 0, timestamp: 0, kind });

describe('RtpCallSession', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('opens a telephony session with the call on the first audio, at the codec rate', () => {
    const { stream, created } = setup();
    stream.emit('audio', frame(160, 'audio', 16000));
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ id: 'call_c_1', model: 'm', inputRate: 16000, quality: 'telephony', denoise: 'auto', realtime: true, call: { callId: 'c/1', source: 'test' } });
  });

  it('feeds silence in real time while no packets come, and only the rest of the gap when the stream fills it', () => {
    const { stream, sessions } = setup();
    for (let i = 0; i < 50; i++) stream.emit('audio', frame(160)); // 1 s of audio
    const s = sessions[0]!;
    expect(s.pushed).toBe(8000);
    stream.advance(200);
    expect(s.pushed).toBe(8000); // within the jitter hold: nothing yet
    stream.advance(800); // 1 s of quiet in all
    const fed = s.pushed - 8000;
    expect(fed).toBeGreaterThanOrEqual(7000);
    expect(fed).toBeLessThanOrEqual(8000);
    // Packets resume: the stream fills the whole 1 s gap with silence, then audio.
    stream.emit('audio', frame(8000, 'silence'));
    stream.emit('audio', frame(160));
    expect(s.pushed).toBe(8000 + 8000 + 160);
  });

  it('finalises and closes the session when the stream closes, and stops feeding', async () => {
    const { stream, sessions } = setup();
    stream.emit('audio', frame(160));
    stream.emit('close', 'idle');
    await vi.advanceTimersByTimeAsync(1000);
    stream.advance(1000); // a tick that still came would feed nothing
    const s = sessions[0]!;
    expect(s.finished).toBe(true);
    expect(s.closed).toBe(true);
    expect(s.pushed).toBe(160);
  });

  it("a codec change to another rate stays the call's one session, resampled to its rate; a later stream gets the next index", () => {
    const first = setup();
    first.stream.emit('audio', frame(160));
    for (let i = 0; i < 50; i++) first.stream.emit('audio', frame(320, 'audio', 16000)); // 1 s at 16 kHz
    expect(first.created.map((o) => o.id)).toEqual(['call_c_1']);
    // 1 s at 16 kHz is 1 s at the session's 8 kHz, less what the resampler's filter still holds.
    const pushed = first.sessions[0]!.pushed - 160;
    expect(pushed).toBeGreaterThan(8000 - 100);
    expect(pushed).toBeLessThanOrEqual(8000);
    const later = setup(first.call.nextIndex);
    later.stream.emit('audio', frame(160));
    expect(later.created.map((o) => o.id)).toEqual(['call_c_1_1']);
  });

  it('opens its session at once when it is given the rate, and reports a failure to open to onOpenFailed', () => {
    const stream = new FakeStream();
    const created: CreateSessionOptions[] = [];
    const ok = { create: (o: CreateSessionOptions) => (created.push(o), new FakeSession(o.id ?? 'x', o.call) as unknown as Session) } as unknown as SessionManager;
    const opts = { hub: new CallHub(), logger: pino({ level: 'silent' }), model: 'm', rate: 16000 };
    const call = new RtpCallSession(stream as unknown as RtpStream, { callId: 'c', direction: 'inbound', source: 'test' }, { ...opts, sessions: ok });
    expect(created.map((o) => o.inputRate)).toEqual([16000]);
    expect(call.live).toBe(true);
    const failures: unknown[] = [];
    const full = { create: () => { throw new Error('too many sessions'); } } as unknown as SessionManager;
    const refused = new RtpCallSession(new FakeStream() as unknown as RtpStream, { callId: 'd', direction: 'inbound', source: 'test' }, { ...opts, sessions: full, onOpenFailed: (e) => failures.push(e) });
    expect(refused.live).toBe(false);
    expect(failures.map((e) => (e as Error).message)).toEqual(['too many sessions']);
  });

  it('a digit that ends before the first audio frame (held in the jitter buffer) opens the session rather than vanish', () => {
    const { stream, sessions } = setup();
    stream.emit('dtmf', { digit: '1', event: 1, timestamp: 0, volume: 10, endLost: false, type: 'end', duration: 400 });
    expect(sessions.map((s) => s.digits)).toEqual([[['1', 50]]]);
    stream.emit('audio', frame(160));
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.pushed).toBe(160);
  });

  it("passes a digit's end to the session (duration at the codec's clock), not its begin", () => {
    const { stream, sessions } = setup();
    stream.emit('audio', frame(160));
    const ev = { digit: '5', event: 5, timestamp: 160, volume: 10, endLost: false };
    stream.emit('dtmf', { ...ev, type: 'begin', duration: 160 });
    stream.emit('dtmf', { ...ev, type: 'end', duration: 800 });
    expect(sessions[0]!.digits).toEqual([['5', 100]]);
  });
});
