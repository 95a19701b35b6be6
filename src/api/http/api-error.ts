// Errors of the HTTP API in the OpenAI shape: {error: {message, type, param, code}}. Route code throws
// ApiError; domain errors (TheoError codes) map to a status here, in one place. A worker's own words (its
// last error, a gRPC status, an address) stay in the logs: the client is told what state the model is in.
import { isTheoError, isWorkerUnavailableError, type TheoErrorCode } from '../../errors/index.js';

/** 'requests': a rate limit on requests, as OpenAI names it in its 429s. */
export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'requests' | 'server_error' | 'service_unavailable';

export class ApiError extends Error {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, opts: { type?: ApiErrorType; code?: string | null; param?: string | null; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = opts.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.code = opts.code ?? null;
    this.param = opts.param ?? null;
    this.headers = opts.headers ?? {};
  }
}

export function badParam(param: string | null, message: string, code = 'invalid_value'): ApiError {
  return new ApiError(400, message, { param, code });
}

const STATUS_OF: Partial<Record<TheoErrorCode, number>> = {
  invalid_argument: 400,
  audio_decode: 400,
  wav_invalid: 400,
  model_not_found: 404,
  overloaded: 429,
  model_loading: 503,
  worker_unavailable: 503,
  cancelled: 499,
};

/** The ApiError a thrown value becomes. Unknown failures are 500s whose message names only the request id. */
export function toApiError(err: unknown, requestId: string): ApiError {
  if (err instanceof ApiError) return err;
  if (isTheoError(err)) {
    const status = STATUS_OF[err.code];
    if (status === 400) return new ApiError(400, err.message, { code: err.code, param: err.code === 'audio_decode' || err.code === 'wav_invalid' ? 'file' : null });
    if (status === 404) return new ApiError(404, err.message, { type: 'not_found_error', code: 'model_not_found', param: 'model' });
    if (status === 429) {
      const reason = typeof err.details.reason === 'string' ? err.details.reason : 'overloaded';
      return new ApiError(429, err.message, { type: 'requests', code: reason, headers: { 'Retry-After': String(retryAfterOf(err.details, 1)) } });
    }
    if (status === 503) {
      const message = isWorkerUnavailableError(err) ? err.clientMessage() : err.message;
      return new ApiError(503, message, { type: 'service_unavailable', code: err.code, headers: { 'Retry-After': String(retryAfterOf(err.details, 5)) } });
    }
    if (status === 499) return new ApiError(499, 'request cancelled', { code: 'cancelled' });
  }
  return new ApiError(500, `internal error while handling request ${requestId}`, { code: 'internal_error' });
}

/** Whole seconds (at least 1) from a TheoError's details.retryAfter, else the fallback. */
function retryAfterOf(details: Readonly<Record<string, unknown>>, fallback: number): number {
  return typeof details.retryAfter === 'number' ? Math.max(1, Math.ceil(details.retryAfter)) : fallback;
}

export function errorBody(e: ApiError): { error: { message: string; type: string; param: string | null; code: string | null } } {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}
