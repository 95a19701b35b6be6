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

  it("a worker's own words (last error, gRPC details, addresses) stay out of a 503", () => {
    const cases: Array<[WorkerUnavailableError, RegExp]> = [
      [new WorkerUnavailableError('m', 'failed', "the worker for 'm' failed: cannot open /srv/theo/models/m/hmm/mdef"), /^model 'm' is down: its worker keeps failing; a retry is starting/],
      [new WorkerUnavailableError('m', 'failed', "model 'm' is down: cannot open /srv/theo/models/m/hmm/mdef", { retryAfter: 7.2 }), /^model 'm' is down: its worker keeps failing; next retry in 8 s/],
      [new WorkerUnavailableError('m', 'unreachable', "worker for 'm' is unreachable: connect ECONNREFUSED 10.1.2.3:50051"), /^the worker for model 'm' is unreachable$/],
      [new WorkerUnavailableError('m', 'restarting', "the worker for 'm' is restarting after: exited with code 1 (/srv/theo/dist/cli/main.js)"), /^the worker for model 'm' is restarting$/],
      [new WorkerUnavailableError('m', 'crashed', "worker for 'm' went away during the call: 14 UNAVAILABLE: read ECONNRESET"), /^the worker for model 'm' went away during the request$/],
      [new WorkerUnavailableError('m', 'stopped', "worker for 'm': Socket closed"), /^the worker for model 'm' is stopped$/],
      [new WorkerUnavailableError('m', 'deadline', "worker for 'm' did not answer in time"), /^the worker for model 'm' did not answer in time$/],
    ];
    for (const [err, message] of cases) {
      const e = toApiError(err, 'r1');
      expect(e.status).toBe(503);
      expect(e.message).toMatch(message);
      expect(e.message).not.toMatch(/\/srv|ECONN|10\.1\.2\.3|UNAVAILABLE|Socket/);
    }
  });

  it('keeps an ApiError as it is', () => {
    const e = new ApiError(413, 'too big', { param: 'file', code: 'file_too_large' });
    expect(toApiError(e, 'r')).toBe(e);
  });
});
