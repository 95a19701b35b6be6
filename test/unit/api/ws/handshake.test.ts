// The pure parts of a WebSocket handshake and close: which route a path names (as the HTTP router matches
// it), the API key a request carries, the model check, and close reasons cut to what a close frame holds.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { closeReason } from '../../../../src/api/ws/closing.js';
import { keyOf, routeOf } from '../../../../src/api/ws/handshake.js';
import { checkModel } from '../../../../src/api/ws/model-check.js';
import { TheoError } from '../../../../src/errors/index.js';
import { POCKETSPHINX_CAPABILITIES } from '../../../../src/engines/pocketsphinx/engine.js';

describe('routeOf', () => {
  it('matches the exact letter case and a trailing slash, as the HTTP routes do', () => {
    for (const p of ['/v1/realtime', '/v1/realtime/']) expect(routeOf(p)).toEqual({ kind: 'realtime' });
    expect(routeOf('/v1/calls/events')).toEqual({ kind: 'calls' });
    expect(routeOf('/v1/sessions/sess_a%2Fb/events/')).toEqual({ kind: 'observer', sessionId: 'sess_a/b' });
  });

  it('names no route for another letter case, which the HTTP routes and the key check refuse too', () => {
    for (const p of ['/V1/realtime', '/v1/Realtime', '/V1/Calls/events', '/v1/Sessions/sess_a/events']) expect(routeOf(p)).toBeUndefined();
  });

  it('names no route for other paths, encoded letters, or a session id that is not valid percent-encoding', () => {
    for (const p of ['/v1/%72ealtime', '/v1//realtime', '/v1/realtimex', '/v2/realtime', '/v1/sessions//events', '/v1/sessions/%E0%A4%A/events']) expect(routeOf(p)).toBeUndefined();
  });
});

describe('keyOf', () => {
  const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
  const url = (q = ''): URL => new URL(`http://h/v1/realtime${q}`);
  it('takes the key from the header, the query or the subprotocol, in that order', () => {
    expect(keyOf(req({ authorization: 'Bearer  k1 ' }), url('?api_key=k2'))).toBe('k1');
    expect(keyOf(req({}), url('?api_key=k2&token=k3'))).toBe('k2');
    expect(keyOf(req({}), url('?token=k3'))).toBe('k3');
    expect(keyOf(req({ 'sec-websocket-protocol': 'realtime, openai-insecure-api-key.k4' }), url())).toBe('k4');
    expect(keyOf(req({ authorization: 'Basic xyz' }), url())).toBeUndefined();
  });
});

describe('closeReason', () => {
  it('keeps a reason that fits and cuts a longer one at a character boundary within 123 bytes', () => {
    expect(closeReason('session closed')).toBe('session closed');
    const cut = closeReason(`model '${'é'.repeat(100)}' is not available`);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(123);
    expect(cut).toMatch(/^model 'é+$/);
    expect(Buffer.byteLength(closeReason('😀'.repeat(40)))).toBe(120);
  });
});

describe('checkModel', () => {
  const lookup = (name: string) => {
    if (name === 'pocketsphinx-en-us') return POCKETSPHINX_CAPABILITIES;
    if (name === 'broken') throw new TheoError('model_loading', "model 'broken' is not usable: its files are missing");
    throw new TheoError('model_not_found', `model '${name}' not found in /srv/models (available: pocketsphinx-en-us)`, { available: ['pocketsphinx-en-us'] });
  };
  it('passes a model it has with a language it knows (or none)', () => {
    expect(checkModel(lookup, 'pocketsphinx-en-us', 'en')).toBeUndefined();
    expect(checkModel(lookup, 'pocketsphinx-en-us', undefined)).toBeUndefined();
  });
  it('names the problem and the field, without the server folder', () => {
    expect(checkModel(lookup, 'nope', 'en')).toEqual({ code: 'model_not_found', field: 'model', message: "model 'nope' is not available (available: pocketsphinx-en-us)" });
    expect(checkModel(lookup, 'pocketsphinx-en-us', 'xx')).toEqual({ code: 'unsupported_language', field: 'language', message: "model 'pocketsphinx-en-us' does not know language 'xx' (it knows: en)" });
    expect(checkModel(lookup, 'broken', undefined)).toMatchObject({ code: 'model_loading', field: 'model' });
  });
});
