import { describe, expect, it } from 'vitest';
import { ApiError, errorBody, toApiError } from '../../../src/api/http/api-error.js';
import { CancelledError, TheoError, WorkerUnavailableError } from '../../../src/errors/index.js';
import { OverloadedError } from '../../../src/scheduler/admission.js';

describe('domain errors become OpenAI-shaped API errors', () => {
  it('maps each domain error code to its status', () => {
    expect(toApiError(new TheoError('audio_decode', 'not audio: 6e 6f'), 'r1')).toMatchObject({ status: 400, param: 'file', code: 'audio_decode', message: 'not audio: 6e 6f' });
    expect(toApiError(new TheoError('model_not_found', "model 'x' not found"), 'r1')).toMatchObject({ status: 404, type: 'not_found_error', param: 'model' });
    const busy = toApiError(new WorkerUnavailableError('m', 'loading', "model 'm' is loading", { retryAfter: 2.2 }), 'r1');
    expect(busy).toMatchObject({ status: 503, type: 'service_unavailable', code: 'worker_unavailable' });
    expect(busy.headers['Retry-After']).toBe('3');
    expect(toApiError(new WorkerUnavailableError('m', 'failed', 'failed'), 'r1').headers['Retry-After']).toBe('5');
    expect(toApiError(new CancelledError(), 'r1').status).toBe(499);
    const full = toApiError(new OverloadedError('queue_full', 'the transcription queue is full', 2.5), 'r1');
    expect(full).toMatchObject({ status: 429, type: 'requests', code: 'queue_full', message: 'the transcription queue is full' });
    expect(full.headers['Retry-After']).toBe('3');
    expect(errorBody(full)).toEqual({ error: { message: 'the transcription queue is full', type: 'requests', param: null, code: 'queue_full' } });
  });

  it('an unexpected failure is a 500 that names the request id and leaks nothing', () => {
    const e = toApiError(new Error('ECONNRESET at /internal/path.js:12'), 'req_abc');
    expect(e.status).toBe(500);
    expect(e.type).toBe('server_error');
    expect(e.message).toBe('internal error while handling request req_abc');
    expect(toApiError(new TheoError('engine_failed', 'decoder blew up'), 'req_x').status).toBe(500);
    expect(errorBody(e)).toEqual({ error: { message: e.message, type: 'server_error', param: null, code: 'internal_error' } });
  });

  it('keeps an ApiError as it is', () => {
    const e = new ApiError(413, 'too big', { param: 'file', code: 'file_too_large' });
    expect(toApiError(e, 'r')).toBe(e);
  });
});
