import { describe, expect, it } from 'vitest';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import {
  DEFAULT_TIMEOUTS,
  InvalidTransitionError,
  SESSION_STATES,
  type SessionState,
  SessionStateMachine,
  type Transition,
  type TransitionReason,
  isInvalidTransitionError,
  isValidTransition,
} from '../../../src/session/state-machine.js';

const REASONS: readonly TransitionReason[] = [
  'speech_start',
  'speech_end',
  'hold_requested',
  'resume',
  'close_requested',
  'error',
  'drained',
  'init_timeout',
  'silence_timeout',
  'hold_timeout',
  'closing_timeout',
];

/** The table written out independently of the module: [from, to] -> reasons. */
const EXPECTED: Record<string, readonly TransitionReason[]> = {
  'INIT>ACTIVE': ['speech_start'],
  'INIT>CLOSING': ['close_requested', 'error', 'init_timeout'],
  'ACTIVE>SILENCE': ['speech_end'],
  'ACTIVE>HOLD': ['hold_requested'],
  'ACTIVE>CLOSING': ['close_requested', 'error'],
  'SILENCE>ACTIVE': ['speech_start'],
  'SILENCE>HOLD': ['silence_timeout', 'hold_requested'],
  'SILENCE>CLOSING': ['close_requested', 'error'],
  'HOLD>ACTIVE': ['speech_start', 'resume'],
  'HOLD>SILENCE': ['resume'],
  'HOLD>CLOSING': ['close_requested', 'error', 'hold_timeout'],
  'CLOSING>CLOSED': ['drained', 'closing_timeout', 'error'],
};

/** A path of valid moves from INIT into each state. */
const PATHS: Record<SessionState, readonly [SessionState, TransitionReason][]> = {
  INIT: [],
  ACTIVE: [['ACTIVE', 'speech_start']],
  SILENCE: [
    ['ACTIVE', 'speech_start'],
    ['SILENCE', 'speech_end'],
  ],
  HOLD: [
    ['ACTIVE', 'speech_start'],
    ['HOLD', 'hold_requested'],
  ],
  CLOSING: [['CLOSING', 'close_requested']],
  CLOSED: [
    ['CLOSING', 'close_requested'],
    ['CLOSED', 'drained'],
  ],
};

/** A machine in `state`, entered at `at` ms (created at 0). */
function machineIn(state: SessionState, at = 1000): SessionStateMachine {
  const sm = new SessionStateMachine({ nowMs: 0 });
  const path = PATHS[state];
  path.forEach(([to, reason], i) => sm.transition(to, reason, i === path.length - 1 ? at : i + 1));
  expect(sm.state).toBe(state);
  return sm;
}

function recorder(sm: SessionStateMachine): Transition[] {
  const seen: Transition[] = [];
  sm.onTransition((t) => seen.push(t));
  return seen;
}

describe('session state machine: every pair of states', () => {
  it('the six states are listed once each', () => {
    expect([...SESSION_STATES].sort()).toEqual(['ACTIVE', 'CLOSED', 'CLOSING', 'HOLD', 'INIT', 'SILENCE']);
  });

  for (const from of SESSION_STATES) {
    for (const to of SESSION_STATES) {
      const valid = EXPECTED[`${from}>${to}`] ?? [];
      const label = valid.length > 0 ? `valid for ${valid.join(', ')} only` : 'always rejected';
      it(`${from} -> ${to}: ${label}`, () => {
        expect(isValidTransition(from, to)).toBe(valid.length > 0);
        for (const reason of REASONS) {
          const ok = valid.includes(reason);
          expect(isValidTransition(from, to, reason)).toBe(ok);
          const sm = machineIn(from, 1000);
          const seen = recorder(sm);
          expect(sm.can(to, reason)).toBe(ok);
          if (ok) {
            const t = sm.transition(to, reason, 5000);
            expect(t).toEqual({ from, to, reason, at: 5000 });
            expect(Object.isFrozen(t)).toBe(true);
            expect(sm.state).toBe(to);
            expect(sm.enteredAt).toBe(5000);
            expect(sm.reason).toBe(reason);
            expect(seen).toEqual([t]);
          } else {
            const before = { state: sm.state, enteredAt: sm.enteredAt, reason: sm.reason, deadline: sm.deadline() };
            let caught: unknown;
            try {
              sm.transition(to, reason, 5000);
            } catch (err) {
              caught = err;
            }
            expect(isInvalidTransitionError(caught)).toBe(true);
            expect(isTheoErrorCode(caught, 'invalid_argument')).toBe(true);
            const e = caught as InvalidTransitionError;
            expect([e.from, e.to, e.reason]).toEqual([from, to, reason]);
            expect(e.message).toContain(`${from} -> ${to}`);
            expect({ state: sm.state, enteredAt: sm.enteredAt, reason: sm.reason, deadline: sm.deadline() }).toEqual(before);
            expect(seen).toEqual([]);
          }
        }
      });
    }
  }

  it('error messages say why a move is rejected', () => {
    expect(() => machineIn('CLOSED').transition('ACTIVE', 'speech_start', 1)).toThrow(/CLOSED is terminal/);
    expect(() => machineIn('INIT').transition('SILENCE', 'speech_end', 1)).toThrow(/INIT never moves to SILENCE/);
    expect(() => machineIn('ACTIVE').transition('HOLD', 'silence_timeout', 1)).toThrow(/ACTIVE -> HOLD takes only hold_requested/);
  });

  it('a new machine is INIT, entered when created, for reason "created"', () => {
    const sm = new SessionStateMachine({ nowMs: 1234 });
    expect([sm.state, sm.enteredAt, sm.reason, sm.closed, sm.closing]).toEqual(['INIT', 1234, 'created', false, false]);
  });

  it('a full call: INIT, speech, pauses, hold, resume, close, drain', () => {
    const sm = new SessionStateMachine({ nowMs: 0 });
    const seen = recorder(sm);
    sm.transition('ACTIVE', 'speech_start', 100);
    sm.transition('SILENCE', 'speech_end', 900);
    sm.transition('ACTIVE', 'speech_start', 1500);
    sm.transition('HOLD', 'hold_requested', 2000);
    sm.transition('SILENCE', 'resume', 9000);
    sm.transition('ACTIVE', 'speech_start', 9500);
    sm.transition('SILENCE', 'speech_end', 10_000);
    expect(sm.close('close_requested', 11_000)).toBeDefined();
    expect(sm.closing).toBe(true);
    sm.transition('CLOSED', 'drained', 11_200);
    expect(sm.closed).toBe(true);
    expect(seen.map((t) => `${t.from}>${t.to}@${t.at}`)).toEqual([
      'INIT>ACTIVE@100',
      'ACTIVE>SILENCE@900',
      'SILENCE>ACTIVE@1500',
      'ACTIVE>HOLD@2000',
      'HOLD>SILENCE@9000',
      'SILENCE>ACTIVE@9500',
      'ACTIVE>SILENCE@10000',
      'SILENCE>CLOSING@11000',
      'CLOSING>CLOSED@11200',
    ]);
  });

  it('rejects a time that is not finite', () => {
    expect(() => new SessionStateMachine({ nowMs: Number.NaN })).toThrow(/nowMs/);
    const sm = new SessionStateMachine({ nowMs: 0 });
    expect(() => sm.transition('ACTIVE', 'speech_start', Number.POSITIVE_INFINITY)).toThrow(/finite/);
    expect(() => sm.tick(Number.NaN)).toThrow(/finite/);
    expect(sm.state).toBe('INIT');
  });
});

describe('session state machine: close', () => {
  for (const from of ['INIT', 'ACTIVE', 'SILENCE', 'HOLD'] as const) {
    for (const reason of ['close_requested', 'error'] as const) {
      it(`close(${reason}) from ${from} goes to CLOSING`, () => {
        const sm = machineIn(from);
        expect(sm.close(reason, 7000)).toEqual({ from, to: 'CLOSING', reason, at: 7000 });
        expect([sm.state, sm.reason, sm.enteredAt]).toEqual(['CLOSING', reason, 7000]);
      });
    }
  }

  it('is safe to call twice: CLOSING and CLOSED stay as they are, the first reason stands', () => {
    const sm = machineIn('ACTIVE');
    const seen = recorder(sm);
    sm.close('error', 2000);
    expect(sm.close('close_requested', 2500)).toBeUndefined();
    expect([sm.state, sm.reason, sm.enteredAt]).toEqual(['CLOSING', 'error', 2000]);
    sm.transition('CLOSED', 'drained', 2600);
    expect(sm.close('error', 3000)).toBeUndefined();
    expect([sm.state, sm.reason, sm.enteredAt]).toEqual(['CLOSED', 'drained', 2600]);
    expect(seen).toHaveLength(2);
  });

  it('carries the caller\'s free-text detail on the transition, only when given', () => {
    const sm = machineIn('ACTIVE');
    const seen = recorder(sm);
    const cut = sm.transition('SILENCE', 'speech_end', 2000, 'segment cut');
    expect(cut).toEqual({ from: 'ACTIVE', to: 'SILENCE', reason: 'speech_end', at: 2000, detail: 'segment cut' });
    expect(sm.transition('ACTIVE', 'speech_start', 2000)).not.toHaveProperty('detail');
    expect(sm.close('close_requested', 3000, 'client hung up')?.detail).toBe('client hung up');
    expect(seen.map((t) => t.detail)).toEqual(['segment cut', undefined, 'client hung up']);
  });

  it('an error while CLOSING goes straight to CLOSED', () => {
    const sm = machineIn('CLOSING');
    sm.transition('CLOSED', 'error', 1500);
    expect(sm.closed).toBe(true);
  });

  it('CLOSED is terminal: no move, no close, no timeout', () => {
    const sm = machineIn('CLOSED', 1000);
    const seen = recorder(sm);
    for (const to of SESSION_STATES) for (const reason of REASONS) expect(() => sm.transition(to, reason, 2000)).toThrow(InvalidTransitionError);
    expect(sm.close('error', 2000)).toBeUndefined();
    expect(sm.deadline()).toBeUndefined();
    expect(sm.tick(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expect([sm.state, sm.enteredAt, sm.reason]).toEqual(['CLOSED', 1000, 'drained']);
    expect(seen).toEqual([]);
  });
});

describe('session state machine: timeouts', () => {
  it('defaults: INIT 30 s, SILENCE 30 s, HOLD 5 min, CLOSING 2 s', () => {
    expect(DEFAULT_TIMEOUTS).toEqual({ initMs: 30_000, silenceMs: 30_000, holdMs: 300_000, closingMs: 2_000 });
    expect(new SessionStateMachine({ nowMs: 0 }).timeouts).toEqual(DEFAULT_TIMEOUTS);
  });

  const cases: [SessionState, number, SessionState, TransitionReason][] = [
    ['INIT', 30_000, 'CLOSING', 'init_timeout'],
    ['SILENCE', 30_000, 'HOLD', 'silence_timeout'],
    ['HOLD', 300_000, 'CLOSING', 'hold_timeout'],
    ['CLOSING', 2_000, 'CLOSED', 'closing_timeout'],
  ];
  for (const [state, ms, to, reason] of cases) {
    it(`${state} times out after ${ms} ms into ${to} (${reason}), not a millisecond before`, () => {
      const entered = state === 'INIT' ? 0 : 1000;
      const sm = machineIn(state, entered);
      const seen = recorder(sm);
      expect(sm.deadline()).toBe(entered + ms);
      expect(sm.tick(entered)).toBeUndefined();
      expect(sm.tick(entered + ms - 1)).toBeUndefined();
      expect(sm.state).toBe(state);
      const t = sm.tick(entered + ms);
      expect(t).toEqual({ from: state, to, reason, at: entered + ms });
      expect([sm.state, sm.reason, sm.enteredAt]).toEqual([to, reason, entered + ms]);
      expect(seen).toEqual([t]);
    });
  }

  it('a session that never speaks runs INIT -> CLOSING -> CLOSED on a fake clock', () => {
    const sm = new SessionStateMachine({ nowMs: 0 });
    const seen = recorder(sm);
    for (let now = 0; now <= 60_000; now += 100) sm.tick(now);
    expect(seen.map((t) => [t.to, t.reason, t.at])).toEqual([
      ['CLOSING', 'init_timeout', 30_000],
      ['CLOSED', 'closing_timeout', 32_000],
    ]);
  });

  it('a silent call goes SILENCE -> HOLD -> CLOSING -> CLOSED, one move per due tick', () => {
    const sm = machineIn('SILENCE', 0);
    const seen = recorder(sm);
    for (let now = 0; now <= 400_000; now += 250) sm.tick(now);
    expect(seen.map((t) => [t.to, t.reason, t.at])).toEqual([
      ['HOLD', 'silence_timeout', 30_000],
      ['CLOSING', 'hold_timeout', 330_000],
      ['CLOSED', 'closing_timeout', 332_000],
    ]);
  });

  it('ACTIVE never times out, however long the speech lasts', () => {
    const sm = machineIn('ACTIVE', 0);
    expect(sm.deadline()).toBeUndefined();
    for (let now = 0; now <= 24 * 3600_000; now += 60_000) expect(sm.tick(now)).toBeUndefined();
    expect(sm.state).toBe('ACTIVE');
  });

  it('speech in SILENCE restarts the silence timeout (activity keeps a session alive)', () => {
    const sm = machineIn('SILENCE', 0);
    let now = 0;
    for (let turn = 0; turn < 20; turn++) {
      now += 29_000; // just under the timeout each time
      expect(sm.tick(now)).toBeUndefined();
      sm.transition('ACTIVE', 'speech_start', now);
      now += 500;
      sm.transition('SILENCE', 'speech_end', now);
      expect(sm.deadline()).toBe(now + 30_000);
    }
    expect(sm.state).toBe('SILENCE');
  });

  it('speech during HOLD wakes it into ACTIVE before the hold timeout', () => {
    const sm = machineIn('HOLD', 0);
    expect(sm.tick(299_999)).toBeUndefined();
    sm.transition('ACTIVE', 'speech_start', 299_999);
    expect(sm.deadline()).toBeUndefined();
  });

  it('a late tick makes one move stamped with its own time: the next deadline counts from there', () => {
    const sm = machineIn('SILENCE', 0);
    const t = sm.tick(1_000_000);
    expect(t).toEqual({ from: 'SILENCE', to: 'HOLD', reason: 'silence_timeout', at: 1_000_000 });
    expect(sm.deadline()).toBe(1_300_000);
    expect(sm.tick(1_000_000)).toBeUndefined();
  });

  it('takes custom timeouts; Infinity disables one', () => {
    const sm = new SessionStateMachine({ nowMs: 0, timeouts: { initMs: Infinity, silenceMs: 5000, closingMs: 0 } });
    expect(sm.timeouts).toEqual({ initMs: Infinity, silenceMs: 5000, holdMs: 300_000, closingMs: 0 });
    expect(sm.deadline()).toBeUndefined();
    expect(sm.tick(1e12)).toBeUndefined();
    sm.transition('ACTIVE', 'speech_start', 10);
    sm.transition('SILENCE', 'speech_end', 20);
    expect(sm.deadline()).toBe(5020);
    sm.close('close_requested', 30);
    expect(sm.deadline()).toBe(30);
    expect(sm.tick(30)?.to).toBe('CLOSED');
  });

  it('an undefined timeout keeps its default', () => {
    expect(new SessionStateMachine({ nowMs: 0, timeouts: { holdMs: undefined as unknown as number } }).timeouts.holdMs).toBe(300_000);
  });

  it('rejects a negative or NaN timeout', () => {
    expect(() => new SessionStateMachine({ nowMs: 0, timeouts: { holdMs: -1 } })).toThrow(/timeouts.holdMs/);
    expect(() => new SessionStateMachine({ nowMs: 0, timeouts: { silenceMs: Number.NaN } })).toThrow(/timeouts.silenceMs/);
  });

  it('one shared clock drives a thousand sessions by their deadlines', () => {
    const sessions = Array.from({ length: 1000 }, (_, i) => new SessionStateMachine({ nowMs: i * 37 }));
    // Half of them speak once and fall silent; the rest never speak.
    sessions.forEach((sm, i) => {
      if (i % 2 === 0) {
        sm.transition('ACTIVE', 'speech_start', i * 37 + 10);
        sm.transition('SILENCE', 'speech_end', i * 37 + 20);
      }
    });
    let ticks = 0;
    let now = 0;
    for (;;) {
      let next = Infinity;
      for (const sm of sessions) next = Math.min(next, sm.deadline() ?? Infinity);
      if (next === Infinity) break;
      now = Math.max(now, next);
      for (const sm of sessions) if (sm.tick(now)) ticks++;
    }
    expect(sessions.every((sm) => sm.closed)).toBe(true);
    // Silent ones: HOLD, CLOSING, CLOSED. Never-speaking ones: CLOSING, CLOSED.
    expect(ticks).toBe(500 * 3 + 500 * 2);
  });
});

describe('session state machine: listeners', () => {
  it('a listener that throws does not change the state, the other listeners, or the return', () => {
    const errors: [unknown, Transition][] = [];
    const sm = new SessionStateMachine({ nowMs: 0, onListenerError: (err, t) => errors.push([err, t]) });
    const boom = new Error('listener bug');
    sm.onTransition(() => {
      throw boom;
    });
    const seen = recorder(sm);
    const t = sm.transition('ACTIVE', 'speech_start', 10);
    expect(sm.state).toBe('ACTIVE');
    expect(seen).toEqual([t]);
    expect(errors).toEqual([[boom, t]]);
    // The machine keeps working.
    sm.transition('SILENCE', 'speech_end', 20);
    expect(seen).toHaveLength(2);
    expect(errors).toHaveLength(2);
  });

  it('an error reporter that throws is contained too', () => {
    const sm = new SessionStateMachine({
      nowMs: 0,
      onListenerError: () => {
        throw new Error('reporter bug');
      },
    });
    sm.onTransition(() => {
      throw new Error('listener bug');
    });
    expect(() => sm.transition('ACTIVE', 'speech_start', 1)).not.toThrow();
    expect(sm.state).toBe('ACTIVE');
  });

  it('without a reporter a throwing listener is ignored', () => {
    const sm = new SessionStateMachine({ nowMs: 0 });
    sm.onTransition(() => {
      throw new Error('x');
    });
    expect(sm.tick(30_000)?.to).toBe('CLOSING');
    expect(sm.state).toBe('CLOSING');
  });

  it('a listener sees the new state already in place', () => {
    const sm = new SessionStateMachine({ nowMs: 0 });
    const states: [SessionState, number][] = [];
    sm.onTransition(() => states.push([sm.state, sm.enteredAt]));
    sm.transition('ACTIVE', 'speech_start', 50);
    expect(states).toEqual([['ACTIVE', 50]]);
  });

  it('a move made inside a listener reaches every listener after the one in progress, in order', () => {
    const sm = new SessionStateMachine({ nowMs: 0 });
    const a: string[] = [];
    const b: string[] = [];
    sm.onTransition((t) => {
      a.push(t.to);
      if (t.to === 'CLOSING') sm.transition('CLOSED', 'drained', t.at); // drained synchronously
    });
    sm.onTransition((t) => b.push(t.to));
    sm.close('close_requested', 5);
    expect(a).toEqual(['CLOSING', 'CLOSED']);
    expect(b).toEqual(['CLOSING', 'CLOSED']);
    expect(sm.state).toBe('CLOSED');
  });

  it('a removed listener is not called; removing twice is harmless', () => {
    const sm = new SessionStateMachine({ nowMs: 0 });
    const seen: Transition[] = [];
    const off = sm.onTransition((t) => seen.push(t));
    sm.transition('ACTIVE', 'speech_start', 1);
    off();
    off();
    sm.transition('SILENCE', 'speech_end', 2);
    expect(seen).toHaveLength(1);
  });

  it('each transition fires once per listener', () => {
    const sm = new SessionStateMachine({ nowMs: 0 });
    const seen = recorder(sm);
    sm.transition('ACTIVE', 'speech_start', 1);
    sm.close('close_requested', 2);
    sm.close('close_requested', 3);
    sm.tick(10_000);
    sm.tick(20_000);
    expect(seen.map((t) => t.to)).toEqual(['ACTIVE', 'CLOSING', 'CLOSED']);
  });
});
