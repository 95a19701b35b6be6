// The session lifecycle as a pure state machine: which state a session is in, since when, why, and
// when its current state times out. It owns no timer and reads no clock: every call takes the time,
// and `deadline()` / `tick(nowMs)` let one shared clock drive thousands of sessions.
//
//   from     -> to        reasons that make the move valid
//   ───────     ───────   ───────────────────────────────────────
//   INIT     -> ACTIVE    speech_start
//   INIT     -> CLOSING   close_requested, error, init_timeout
//   ACTIVE   -> SILENCE   speech_end
//   ACTIVE   -> HOLD      hold_requested
//   ACTIVE   -> CLOSING   close_requested, error
//   SILENCE  -> ACTIVE    speech_start
//   SILENCE  -> HOLD      silence_timeout, hold_requested
//   SILENCE  -> CLOSING   close_requested, error
//   HOLD     -> ACTIVE    speech_start, resume
//   HOLD     -> SILENCE   resume
//   HOLD     -> CLOSING   close_requested, error, hold_timeout
//   CLOSING  -> CLOSED    drained, closing_timeout, error
//   CLOSED   -> (none: terminal)
//
// Anything else (a pair not listed, a self-move, a reason that does not fit the pair) is rejected
// with an InvalidTransitionError and changes nothing.
//
// HOLD -> SILENCE on 'resume': a call taken off hold with nobody speaking yet must be able to time
// out again. ACTIVE has no timeout (only a VAD speech_end leaves it), so resuming into ACTIVE
// without speech would park the session there for good; the caller resumes into ACTIVE only when
// its VAD is inside speech at that moment. An error in CLOSING goes straight to CLOSED: the drain
// it was waiting for will not come.
//
// Timeouts (defaults): INIT 30 s, SILENCE 30 s, HOLD 5 min, CLOSING 2 s; ACTIVE never times out.
import { TheoError } from '../errors/index.js';

export type SessionState = 'INIT' | 'ACTIVE' | 'SILENCE' | 'HOLD' | 'CLOSING' | 'CLOSED';

export const SESSION_STATES: readonly SessionState[] = Object.freeze(['INIT', 'ACTIVE', 'SILENCE', 'HOLD', 'CLOSING', 'CLOSED']);

export type TransitionReason =
  | 'speech_start'
  | 'speech_end'
  | 'hold_requested'
  | 'resume'
  | 'close_requested'
  | 'error'
  | 'drained'
  | 'init_timeout'
  | 'silence_timeout'
  | 'hold_timeout'
  | 'closing_timeout';

/** The reason a session is in INIT: it was created (no transition led there). */
export type StateReason = TransitionReason | 'created';

export interface Transition {
  readonly from: SessionState;
  readonly to: SessionState;
  readonly reason: TransitionReason;
  /** ms, from the caller's clock. */
  readonly at: number;
  /** Free text from the caller for logs and events (e.g. "client hung up"); present only when given. */
  readonly detail?: string;
}

export type TransitionListener = (t: Transition) => void;

/** Per-state timeouts in ms (the shape of the `sessions.timeouts` config); Infinity disables one. */
export interface StateTimeouts {
  initMs: number;
  silenceMs: number;
  holdMs: number;
  closingMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<StateTimeouts> = Object.freeze({ initMs: 30_000, silenceMs: 30_000, holdMs: 300_000, closingMs: 2_000 });

export interface SessionStateMachineOptions {
  /** When the session was created (ms): INIT's `enteredAt`. */
  nowMs: number;
  timeouts?: Partial<StateTimeouts>;
  /** A listener that throws is reported here and otherwise ignored (default: ignored). */
  onListenerError?: (err: unknown, t: Transition) => void;
}

const TABLE: Readonly<Record<SessionState, Partial<Record<SessionState, readonly TransitionReason[]>>>> = {
  INIT: { ACTIVE: ['speech_start'], CLOSING: ['close_requested', 'error', 'init_timeout'] },
  ACTIVE: { SILENCE: ['speech_end'], HOLD: ['hold_requested'], CLOSING: ['close_requested', 'error'] },
  SILENCE: { ACTIVE: ['speech_start'], HOLD: ['silence_timeout', 'hold_requested'], CLOSING: ['close_requested', 'error'] },
  HOLD: { ACTIVE: ['speech_start', 'resume'], SILENCE: ['resume'], CLOSING: ['close_requested', 'error', 'hold_timeout'] },
  CLOSING: { CLOSED: ['drained', 'closing_timeout', 'error'] },
  CLOSED: {},
};

/** The move a timeout makes from each state that has one. */
const ON_TIMEOUT: Readonly<Partial<Record<SessionState, { to: SessionState; reason: TransitionReason; key: keyof StateTimeouts }>>> = {
  INIT: { to: 'CLOSING', reason: 'init_timeout', key: 'initMs' },
  SILENCE: { to: 'HOLD', reason: 'silence_timeout', key: 'silenceMs' },
  HOLD: { to: 'CLOSING', reason: 'hold_timeout', key: 'holdMs' },
  CLOSING: { to: 'CLOSED', reason: 'closing_timeout', key: 'closingMs' },
};

/** Whether the table allows `from -> to` (for `reason`, or for some reason when none is given). */
export function isValidTransition(from: SessionState, to: SessionState, reason?: TransitionReason): boolean {
  const reasons = TABLE[from][to];
  if (reasons === undefined) return false;
  return reason === undefined || reasons.includes(reason);
}

/** The reasons that make `from -> to` valid (empty when it never is). */
export function transitionReasons(from: SessionState, to: SessionState): readonly TransitionReason[] {
  return TABLE[from][to] ?? [];
}

/** A move the table does not allow; the machine is left as it was. */
export class InvalidTransitionError extends TheoError {
  readonly from: SessionState;
  readonly to: SessionState;
  readonly reason: TransitionReason;
  constructor(from: SessionState, to: SessionState, reason: TransitionReason) {
    const allowed = transitionReasons(from, to);
    const why =
      from === 'CLOSED' ? 'CLOSED is terminal' : allowed.length === 0 ? `${from} never moves to ${to}` : `${from} -> ${to} takes only ${allowed.join(', ')}`;
    super('invalid_argument', `session cannot move ${from} -> ${to} (${reason}): ${why}`, { from, to, reason });
    this.name = 'InvalidTransitionError';
    this.from = from;
    this.to = to;
    this.reason = reason;
  }
}

export function isInvalidTransitionError(err: unknown): err is InvalidTransitionError {
  return err instanceof InvalidTransitionError;
}

function checkTime(what: string, ms: number): void {
  if (!Number.isFinite(ms)) throw new TheoError('invalid_argument', `${what} must be a finite time in ms, got ${ms}`, { [what]: ms });
}

export class SessionStateMachine {
  readonly timeouts: Readonly<StateTimeouts>;
  private current: SessionState = 'INIT';
  private since: number;
  private why: StateReason = 'created';
  private readonly listeners = new Set<TransitionListener>();
  private readonly onListenerError: (err: unknown, t: Transition) => void;
  /** Transitions made by a listener while others are being told: delivered after, in order. */
  private readonly queue: Transition[] = [];
  private delivering = false;

  constructor(opts: SessionStateMachineOptions) {
    checkTime('nowMs', opts.nowMs);
    const timeouts = { ...DEFAULT_TIMEOUTS };
    for (const key of ['initMs', 'silenceMs', 'holdMs', 'closingMs'] as const) {
      const v = opts.timeouts?.[key] ?? DEFAULT_TIMEOUTS[key];
      if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new TheoError('invalid_argument', `timeouts.${key} must be >= 0 ms (Infinity disables it), got ${v}`, { [key]: v });
      timeouts[key] = v;
    }
    this.timeouts = Object.freeze(timeouts);
    this.since = opts.nowMs;
    this.onListenerError = opts.onListenerError ?? (() => {});
  }

  get state(): SessionState {
    return this.current;
  }

  /** When the current state was entered (ms). */
  get enteredAt(): number {
    return this.since;
  }

  /** Why the current state was entered. */
  get reason(): StateReason {
    return this.why;
  }

  get closed(): boolean {
    return this.current === 'CLOSED';
  }

  /** CLOSING or CLOSED: no new work should start. */
  get closing(): boolean {
    return this.current === 'CLOSING' || this.current === 'CLOSED';
  }

  /** Whether `to` (for `reason`, or for some reason) is a valid move from the current state. */
  can(to: SessionState, reason?: TransitionReason): boolean {
    return isValidTransition(this.current, to, reason);
  }

  /** Moves to `to`, or throws InvalidTransitionError and changes nothing. */
  transition(to: SessionState, reason: TransitionReason, nowMs: number, detail?: string): Transition {
    checkTime('nowMs', nowMs);
    const from = this.current;
    if (!isValidTransition(from, to, reason)) throw new InvalidTransitionError(from, to, reason);
    return this.enter(from, to, reason, nowMs, detail);
  }

  /**
   * Starts closing from any live state. Safe to call twice: in CLOSING or CLOSED it does nothing and
   * returns undefined (the first close's reason stands).
   */
  close(reason: 'close_requested' | 'error', nowMs: number, detail?: string): Transition | undefined {
    checkTime('nowMs', nowMs);
    if (this.closing) return undefined;
    return this.enter(this.current, 'CLOSING', reason, nowMs, detail);
  }

  /** When the current state times out (ms), or undefined when it cannot (ACTIVE, CLOSED, Infinity). */
  deadline(): number | undefined {
    const t = ON_TIMEOUT[this.current];
    if (t === undefined) return undefined;
    const ms = this.timeouts[t.key];
    return ms === Infinity ? undefined : this.since + ms;
  }

  /**
   * Makes the timeout move when the deadline has come (nowMs >= deadline) and returns it; otherwise
   * undefined. One move per call, stamped `nowMs`: the next state's deadline counts from when the
   * timeout was seen, so a late tick never chains several timeouts at once.
   */
  tick(nowMs: number): Transition | undefined {
    checkTime('nowMs', nowMs);
    const due = this.deadline();
    if (due === undefined || nowMs < due) return undefined;
    const t = ON_TIMEOUT[this.current];
    if (t === undefined) return undefined;
    return this.enter(this.current, t.to, t.reason, nowMs);
  }

  /** Adds a listener for every transition; returns its removal. */
  onTransition(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private enter(from: SessionState, to: SessionState, reason: TransitionReason, at: number, detail?: string): Transition {
    // State first: listeners see the new state, and one that throws cannot undo it.
    this.current = to;
    this.since = at;
    this.why = reason;
    const t: Transition = Object.freeze(detail === undefined ? { from, to, reason, at } : { from, to, reason, at, detail });
    this.queue.push(t);
    if (!this.delivering) this.deliver();
    return t;
  }

  private deliver(): void {
    this.delivering = true;
    try {
      for (let t = this.queue.shift(); t !== undefined; t = this.queue.shift()) {
        for (const listener of [...this.listeners]) {
          try {
            listener(t);
          } catch (err) {
            try {
              this.onListenerError(err, t);
            } catch {
              // The error reporter itself failed: nothing left to tell, and state must stay intact.
            }
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}
