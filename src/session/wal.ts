// The in-memory write-ahead log of what each session has committed: after a worker crash, a session
// resumes from its last record (the segment it had finalised and the ring offset audio was committed
// through) instead of re-sending or losing audio.
//
// A commit replaces the session's record as a whole: the record is copied and frozen, checked, then
// swapped in by one assignment, so a reader holds either the old record or the new one, never a mix,
// and a rejected commit leaves everything as it was. Segment ids and offsets only move forward; a
// smaller one is a bug in the caller (a stale or reordered commit) and is refused. The last few
// records per session are kept for debugging, in a fixed ring per session.
import { TheoError } from '../errors/index.js';

export interface WalRecord {
  readonly sessionId: string;
  /** The last committed segment. */
  readonly segmentId: number;
  /** The ring offset audio is committed through. */
  readonly offset: number;
  /** When the commit happened (ms, the caller's clock). */
  readonly timestamp: number;
}

export interface SessionWalOptions {
  /** Records kept per session for debugging, the last included (default 8, at least 1). */
  historySize?: number;
}

export const DEFAULT_WAL_HISTORY = 8;

/** A commit that would move a session's segment id or offset backwards. */
export class WalOrderError extends TheoError {
  readonly sessionId: string;
  readonly field: 'segmentId' | 'offset';
  readonly last: number;
  readonly attempted: number;
  constructor(sessionId: string, field: 'segmentId' | 'offset', last: number, attempted: number) {
    super('invalid_argument', `WAL commit for session ${sessionId}: ${field} ${attempted} is behind the last committed ${field} ${last}`, { sessionId, field, last, attempted });
    this.name = 'WalOrderError';
    this.sessionId = sessionId;
    this.field = field;
    this.last = last;
    this.attempted = attempted;
  }
}

export function isWalOrderError(err: unknown): err is WalOrderError {
  return err instanceof WalOrderError;
}

interface Entry<R> {
  last: R;
  /** History ring: `count` records ending just before `next`. */
  readonly ring: (R | undefined)[];
  next: number;
  count: number;
}

function invalid(message: string, details: Record<string, unknown>): TheoError {
  return new TheoError('invalid_argument', message, details);
}

export class SessionWal<R extends WalRecord = WalRecord> {
  readonly historySize: number;
  private readonly entries = new Map<string, Entry<Readonly<R>>>();

  constructor(opts: SessionWalOptions = {}) {
    const h = opts.historySize ?? DEFAULT_WAL_HISTORY;
    if (!Number.isSafeInteger(h) || h < 1) throw invalid(`WAL historySize must be a positive integer, got ${h}`, { historySize: h });
    this.historySize = h;
  }

  /**
   * Records a commit and returns the stored (frozen) copy. Throws and changes nothing when a field is
   * invalid or the segment id or offset is behind the session's last record; equal values are a repeat
   * commit and are accepted. Extra fields are copied shallowly: they should be immutable values.
   */
  commit(record: R): Readonly<R> {
    const frozen = Object.freeze({ ...record });
    const { sessionId, segmentId, offset, timestamp } = frozen;
    if (typeof sessionId !== 'string' || sessionId === '') throw invalid('WAL commit needs a non-empty sessionId', { sessionId });
    if (!Number.isSafeInteger(segmentId) || segmentId < 0) throw invalid(`WAL commit for session ${sessionId}: segmentId must be a non-negative integer, got ${segmentId}`, { sessionId, segmentId });
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid(`WAL commit for session ${sessionId}: offset must be a non-negative integer, got ${offset}`, { sessionId, offset });
    if (!Number.isFinite(timestamp)) throw invalid(`WAL commit for session ${sessionId}: timestamp must be a finite ms time, got ${timestamp}`, { sessionId, timestamp });
    const entry = this.entries.get(sessionId);
    if (entry === undefined) {
      const ring = new Array<Readonly<R> | undefined>(this.historySize).fill(undefined);
      ring[0] = frozen;
      this.entries.set(sessionId, { last: frozen, ring, next: 1 % this.historySize, count: 1 });
      return frozen;
    }
    if (segmentId < entry.last.segmentId) throw new WalOrderError(sessionId, 'segmentId', entry.last.segmentId, segmentId);
    if (offset < entry.last.offset) throw new WalOrderError(sessionId, 'offset', entry.last.offset, offset);
    entry.last = frozen;
    entry.ring[entry.next] = frozen;
    entry.next = (entry.next + 1) % this.historySize;
    if (entry.count < this.historySize) entry.count++;
    return frozen;
  }

  /** The session's last record, or undefined when it has none. */
  last(sessionId: string): Readonly<R> | undefined {
    return this.entries.get(sessionId)?.last;
  }

  /** The session's recent records, oldest first, the last one included (at most `historySize`). */
  history(sessionId: string): Readonly<R>[] {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) return [];
    const out: Readonly<R>[] = [];
    const size = this.historySize;
    for (let i = entry.count; i > 0; i--) {
      const r = entry.ring[(entry.next - i + size) % size];
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /** Forgets a session (it closed cleanly). Returns whether it had records. */
  remove(sessionId: string): boolean {
    return this.entries.delete(sessionId);
  }

  /** The sessions with a record, in first-commit order. */
  sessions(): string[] {
    return [...this.entries.keys()];
  }

  get size(): number {
    return this.entries.size;
  }
}
