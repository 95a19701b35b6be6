// Typed domain errors: small named classes with structured fields and type guards, so callers
// branch on `code` rather than on message text.

export type TheoErrorCode =
  | 'config_invalid'
  | 'rtp_parse'
  | 'codec_unsupported'
  | 'port_pool_exhausted'
  | 'port_unavailable'
  | 'wav_invalid'
  | 'closed'
  | 'invalid_argument'
  | 'audio_decode'
  | 'model_not_found'
  | 'model_invalid'
  | 'model_loading'
  | 'engine_failed'
  | 'worker_unavailable'
  | 'cancelled'
  | 'hub_failed'
  | 'session_limit'
  | 'overloaded'
  | 'ari_failed'
  | 'rtp_send_failed';

export class TheoError extends Error {
  readonly code: TheoErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: TheoErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TheoError';
    this.code = code;
    this.details = details;
  }
}

export class ConfigError extends TheoError {
  readonly issues: readonly string[];
  constructor(issues: readonly string[], source?: string) {
    super('config_invalid', `invalid configuration${source ? ` (${source})` : ''}:\n  - ${issues.join('\n  - ')}`, { source });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Thrown only by the convenience (throwing) RTP parse entry points; the hot path returns a reason code. */
export class RtpParseError extends TheoError {
  readonly reason: string;
  readonly byteLength: number;
  constructor(reason: string, message: string, byteLength: number) {
    super('rtp_parse', message, { reason, byteLength });
    this.name = 'RtpParseError';
    this.reason = reason;
    this.byteLength = byteLength;
  }
}

export class PortPoolExhaustedError extends TheoError {
  constructor(min: number, max: number) {
    super('port_pool_exhausted', `no free RTP port in ${min}-${max}: every port is allocated or unavailable`, { min, max });
    this.name = 'PortPoolExhaustedError';
  }
}

export class WavError extends TheoError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('wav_invalid', message, details);
    this.name = 'WavError';
  }
}

export class ClosedError extends TheoError {
  constructor(what: string) {
    super('closed', `${what} is closed`, { what });
    this.name = 'ClosedError';
  }
}

export function isTheoError(err: unknown): err is TheoError {
  return err instanceof TheoError;
}

export function isTheoErrorCode(err: unknown, code: TheoErrorCode): err is TheoError {
  return err instanceof TheoError && err.code === code;
}

/**
 * A value from a request as an error message may echo it: whole when short, else its first `max` characters
 * and its length, so a client's 60 KB field never comes back to it (or into the logs) in full.
 */
export function excerpt(given: string, max = 64): string {
  // Typed as a string, but it echoes what a client sent: whatever arrives is shown, never thrown on.
  const value = typeof given === 'string' ? given : String(given);
  if (value.length <= max) return value;
  // Never cut between the halves of a surrogate pair.
  const end = isHighSurrogate(value.charCodeAt(max - 1)) ? max - 1 : max;
  return `${value.slice(0, end)}… (${value.length} characters)`;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** Message of any thrown value, for logs and error replies. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Why a worker cannot take a request now; `loading`, `restarting` and `failed` come with a retry hint. */
export type WorkerUnavailableReason = 'loading' | 'restarting' | 'failed' | 'stopped' | 'unreachable' | 'crashed' | 'closed' | 'deadline';

/** A worker is down, still loading, or died during a call. `retryAfter` (seconds) when waiting may help. */
export class WorkerUnavailableError extends TheoError {
  readonly model: string;
  readonly reason: WorkerUnavailableReason;
  readonly retryAfter: number | undefined;
  constructor(model: string, reason: WorkerUnavailableReason, message: string, opts: { retryAfter?: number; cause?: unknown } = {}) {
    super('worker_unavailable', message, { model, reason, retryAfter: opts.retryAfter }, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WorkerUnavailableError';
    this.model = model;
    this.reason = reason;
    this.retryAfter = opts.retryAfter;
  }

  /**
   * What a client is told: the worker's state and when to retry, never the worker's own error text, address
   * or paths (those are in the server's log).
   */
  clientMessage(): string {
    const of = `the worker for model '${this.model}'`;
    switch (this.reason) {
      case 'loading':
        return `model '${this.model}' is loading`;
      case 'restarting':
        return `${of} is restarting`;
      case 'failed':
        return `model '${this.model}' is down: its worker keeps failing; ${this.retryAfter === undefined ? 'a retry is starting' : `next retry in ${Math.max(1, Math.ceil(this.retryAfter))} s`} (the server's log says why)`;
      case 'stopped':
      case 'closed':
        return `${of} is stopped`;
      case 'unreachable':
        return `${of} is unreachable`;
      case 'crashed':
        return `${of} went away during the request`;
      case 'deadline':
        return `${of} did not answer in time`;
    }
  }
}

/** A request or stream was cancelled (by its caller, or by a Cancel RPC). */
export class CancelledError extends TheoError {
  constructor(message = 'cancelled', details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super('cancelled', message, details, options);
    this.name = 'CancelledError';
  }
}

export function isWorkerUnavailableError(err: unknown): err is WorkerUnavailableError {
  return err instanceof WorkerUnavailableError;
}

export function isCancelledError(err: unknown): err is TheoError {
  return err instanceof TheoError && err.code === 'cancelled';
}
