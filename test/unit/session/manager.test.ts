// The session manager over fakes: create / get / list / close / shutdown, the session limit, and the one
// shared tick timer (started with the first session, cleared when the last one closes or on shutdown).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { TheoError, isTheoError } from '../../../src/errors/index.js';
import { createPostprocessor } from '../../../src/postprocess/pipeline.js';
import { SessionManager, type SessionManagerOptions } from '../../../src/session/manager.js';
import { FakeClock, FakeVadFactory, FakeWorkerLink, HMM_CAPS, settle } from './fakes.js';

function setup(o: { sessions?: Record<string, unknown>; tickMs?: number } = {}) {
  const config = configSchema.parse({ sessions: o.sessions ?? {} });
  const clock = new FakeClock();
  const vads = new FakeVadFactory();
  const links = new Map<string, FakeWorkerLink>();
  const opts: SessionManagerOptions = {
    sessions: config.sessions,
    vad: config.vad,
    preprocess: config.preprocess,
    itn: false,
    link: (model) => {
      if (model !== 'm') throw new TheoError('model_not_found', `no model '${model}'`);
      const link = new FakeWorkerLink();
      links.set(model, link);
      return { link, capabilities: HMM_CAPS };
    },
    vadFactory: vads.create,
    postprocessor: createPostprocessor(),
    now: clock.now,
    ...(o.tickMs === undefined ? {} : { tickMs: o.tickMs }),
  };
  return { manager: new SessionManager(opts), clock, vads };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return isTheoError(err) ? err.code : `not a TheoError: ${String(err)}`;
  }
  return expect.fail('did not throw');
}

describe('session manager', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('creates, finds and lists sessions; refuses a duplicate id and an unknown model', async () => {
    const { manager } = setup({ tickMs: 0 });
    const a = manager.create({ id: 'a', model: 'm', inputRate: 16000 });
    const b = manager.create({ model: 'm', inputRate: 8000 });
    expect(a.id).toBe('a');
    expect(b.id).toMatch(/^sess_[0-9a-f-]{36}$/);
    expect(b.inputRate).toBe(8000);
    expect(manager.size).toBe(2);
    expect(manager.get('a')).toBe(a);
    expect(manager.get(b.id)).toBe(b);
    expect(manager.get('nope')).toBeUndefined();
    expect(manager.list()).toEqual([a, b]);
    expect(codeOf(() => manager.create({ id: 'a', model: 'm', inputRate: 16000 }))).toBe('invalid_argument');
    expect(codeOf(() => manager.create({ model: 'other', inputRate: 16000 }))).toBe('model_not_found');
    expect(manager.size).toBe(2);
    await manager.shutdown();
  });

  it('refuses sessions past max with session_limit, and takes one again once a session closed', async () => {
    const { manager } = setup({ sessions: { max: 2 }, tickMs: 0 });
    manager.create({ id: 'a', model: 'm', inputRate: 16000 });
    manager.create({ id: 'b', model: 'm', inputRate: 16000 });
    let err: unknown;
    try {
      manager.create({ id: 'c', model: 'm', inputRate: 16000 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TheoError);
    expect(err).toMatchObject({ code: 'session_limit' });
    expect(manager.get('c')).toBeUndefined();
    expect(manager.size).toBe(2);

    expect(await manager.close('a', 'bye')).toBe(true);
    expect(manager.create({ id: 'c', model: 'm', inputRate: 16000 }).id).toBe('c');
    expect(manager.list().map((s) => s.id)).toEqual(['b', 'c']);
    await manager.shutdown();
  });

  it('keeps the API its part of the pool: calls hold at most shares.calls of max, RTP fork calls shares.fork', async () => {
    const { manager } = setup({ sessions: { max: 10, shares: { calls: 0.6, fork: 0.3 } }, tickMs: 0 });
    const call = (source: string) => ({ callId: 'c', direction: 'inbound' as const, source });
    const open = (id: string, source?: string) => manager.create({ id, model: 'm', inputRate: 8000, ...(source ? { call: call(source) } : {}) });
    for (let i = 0; i < 3; i++) open(`fork${i}`, 'rtp-fork');
    expect(manager.refusal('rtp-fork')).toBe('fork_share');
    expect(codeOf(() => open('fork3', 'rtp-fork'))).toBe('session_limit');
    // Other calls still come in, up to the calls' share (6 of 10), fork calls included.
    expect(manager.refusal('sip')).toBeUndefined();
    for (let i = 0; i < 3; i++) open(`sip${i}`, 'sip');
    expect(manager.refusal('sip')).toBe('calls_share');
    expect(manager.refusal('ari')).toBe('calls_share');
    expect(codeOf(() => open('ari0', 'ari'))).toBe('session_limit');
    // The API takes the rest of the pool, and no more.
    expect(manager.refusal()).toBeUndefined();
    for (let i = 0; i < 4; i++) open(`api${i}`);
    expect(manager.refusal()).toBe('session_limit');
    expect(manager.full).toBe(true);
    expect(codeOf(() => open('api4'))).toBe('session_limit');
    expect(manager.size).toBe(10);
    // A fork call that ends gives its place back (to the fork, or to other calls).
    await manager.close('fork0');
    expect(manager.refusal('rtp-fork')).toBeUndefined();
    expect(open('fork4', 'rtp-fork').id).toBe('fork4');
    await manager.shutdown();
  });

  it('close() closes one session and drops it from the map; an unknown id gives false', async () => {
    const { manager } = setup({ tickMs: 0 });
    const a = manager.create({ id: 'a', model: 'm', inputRate: 16000 });
    const b = manager.create({ id: 'b', model: 'm', inputRate: 16000 });
    const closed: string[] = [];
    a.on('event', (ev) => {
      if (ev.type === 'session.closed') closed.push(ev.reason);
    });
    expect(await manager.close('a', 'bye')).toBe(true);
    expect(a.closed).toBe(true);
    expect(closed).toEqual(['bye']);
    expect(manager.get('a')).toBeUndefined();
    expect(manager.list()).toEqual([b]);
    expect(await manager.close('a')).toBe(false);
    expect(await manager.close('nope')).toBe(false);

    // A session that closes by itself (not through the manager) leaves the map as well.
    await b.close();
    expect(manager.size).toBe(0);
    expect(manager.get('b')).toBeUndefined();
  });

  it('drives every session from one shared timer, cleared when the last session closes', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { manager, clock } = setup({ sessions: { timeouts: { initMs: 1000 } }, tickMs: 100 });
    expect(vi.getTimerCount()).toBe(0);
    const a = manager.create({ id: 'a', model: 'm', inputRate: 16000 });
    expect(vi.getTimerCount()).toBe(1);
    clock.advance(500);
    const b = manager.create({ id: 'b', model: 'm', inputRate: 16000 });
    expect(vi.getTimerCount()).toBe(1);

    // The timer ticks each session on the shared clock: 'a' reaches its INIT timeout first.
    clock.advance(500);
    vi.advanceTimersByTime(100);
    expect(a.state).toBe('CLOSING');
    expect(b.state).toBe('INIT');
    await settle();
    expect(a.closed).toBe(true);
    expect(manager.list()).toEqual([b]);
    expect(vi.getTimerCount()).toBe(1);

    clock.advance(500);
    vi.advanceTimersByTime(100);
    await settle();
    expect(b.closed).toBe(true);
    expect(manager.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);

    // A new session starts the timer again.
    manager.create({ id: 'c', model: 'm', inputRate: 16000 });
    expect(vi.getTimerCount()).toBe(1);
    await manager.close('c');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tickMs 0: no timer; tick() is called by hand', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { manager, clock } = setup({ sessions: { timeouts: { initMs: 1000 } }, tickMs: 0 });
    const a = manager.create({ id: 'a', model: 'm', inputRate: 16000 });
    expect(vi.getTimerCount()).toBe(0);
    clock.advance(1000);
    vi.advanceTimersByTime(1000);
    expect(a.state).toBe('INIT');
    manager.tick();
    expect(a.state).toBe('CLOSING');
    await settle();
    expect(manager.size).toBe(0);
  });

  it('shutdown() closes every session, clears the timer and refuses new sessions; safe twice', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { manager } = setup({ tickMs: 100 });
    const sessions = [manager.create({ model: 'm', inputRate: 16000 }), manager.create({ model: 'm', inputRate: 16000 })];
    expect(vi.getTimerCount()).toBe(1);
    await manager.shutdown('maintenance');
    expect(sessions.every((s) => s.closed && s.state === 'CLOSED')).toBe(true);
    expect(manager.size).toBe(0);
    expect(manager.list()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    expect(codeOf(() => manager.create({ model: 'm', inputRate: 16000 }))).toBe('closed');
    await expect(manager.shutdown()).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });
});
