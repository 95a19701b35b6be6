// Routing and the API key decide together: every request that reaches a /v1 handler has passed the key
// check, whatever its letter case, percent-encoding, slashes or dot segments; a known path with the wrong
// method is a 405 with Allow in the OpenAI error shape. Raw request targets go over a real socket (fetch
// would normalise them first).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../../src/api/http/app.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createRegistry } from '../../../src/observability/metrics.js';

const KEY = 'sk-routing-test';
let server: http.Server;
let port = 0;
/** Handlers that ran, by route. */
const reached: string[] = [];

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with `target` sent exactly as given (no URL normalisation). */
function send(method: string, target: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const app = createHttpApp({
    logger: silentLogger(),
    registry: createRegistry({ defaultMetrics: false }),
    version: '0.0.0',
    health: {},
    apiKey: KEY,
    mount: (router) => {
      router.get('/v1/models', (ctx) => {
        reached.push('/v1/models');
        ctx.body = { object: 'list', data: [] };
      });
      router.get('/v1/models/:id', (ctx) => {
        reached.push(`/v1/models/${ctx.params.id ?? ''}`);
        ctx.body = { id: ctx.params.id };
      });
      router.get('/v1/sessions', (ctx) => {
        reached.push('/v1/sessions');
        ctx.body = { object: 'list', data: [] };
      });
      router.post('/v1/audio/transcriptions', (ctx) => {
        reached.push('/v1/audio/transcriptions');
        ctx.body = { text: 'secret' };
      });
    },
  });
  const handle = app.callback();
  server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

// Spellings of /v1 paths an attacker might try, each sent without a key.
const VARIANTS: Array<[string, string]> = [
  ['GET', '/v1/models'],
  ['GET', '/V1/models'],
  ['GET', '/v1/MODELS'],
  ['GET', '/V1/Sessions'],
  ['POST', '/V1/audio/transcriptions'],
  ['POST', '/v1/Audio/Transcriptions'],
  ['GET', '/v1/models/'],
  ['GET', '/v1/sessions/'],
  ['GET', '/v1/models/x'],
  ['GET', '/v1/models/%2e%2e'],
  ['GET', '/v1/models/..'],
  ['GET', '/v1%2Fmodels'],
  ['GET', '/v1%2fmodels'],
  ['GET', '/%761/models'],
  ['GET', '/%56%31/models'],
  ['GET', '/v1/%6dodels'],
  ['GET', '//v1/models'],
  ['GET', '/v1//models'],
  ['GET', '/v1/./models'],
  ['GET', '/v1/../v1/models'],
  ['GET', '/x/../v1/models'],
  ['GET', '/./v1/models'],
  ['GET', '/v1/models/./'],
  ['GET', '/v1/models?x=1'],
  ['GET', '/v1/models;x=1'],
  ['GET', '/v1/models%00'],
  ['GET', '/v1/models%20'],
  ['GET', '/v1/models#frag'],
  ['GET', 'http://127.0.0.1/v1/models'],
  ['GET', 'http://127.0.0.1/V1/models'],
  ['HEAD', '/V1/models'],
  ['HEAD', '/v1/models'],
  ['OPTIONS', '/v1/models'],
  ['POST', '/v1/models'],
];

describe('the API key guards every /v1 handler, however the path is spelt', () => {
  it.each(VARIANTS)('%s %s without a key reaches no handler', async (method, target) => {
    const before = reached.length;
    const r = await send(method, target);
    expect(reached.slice(before), `${method} ${target} ran a handler (status ${r.status})`).toEqual([]);
    expect(r.status).not.toBe(200);
    expect(r.status === 401 || r.status === 404 || r.status === 405 || r.status === 204 || r.status === 400).toBe(true);
  });

  it('a path that reaches a handler needed the key: 401 without it, the handler with it', async () => {
    for (const target of ['/v1/models', '/v1/models/', '/v1/models/x', '/v1/sessions', 'http://127.0.0.1/v1/models']) {
      const bare = await send('GET', target);
      expect(bare.status, target).toBe(401);
      expect(JSON.parse(bare.body)).toMatchObject({ error: { type: 'authentication_error', code: 'missing_api_key' } });
      const wrong = await send('GET', target, { authorization: 'Bearer sk-wrong' });
      expect(wrong.status, target).toBe(401);
      expect(JSON.parse(wrong.body)).toMatchObject({ error: { code: 'invalid_api_key' } });
      const before = reached.length;
      const ok = await send('GET', target, { authorization: `Bearer ${KEY}` });
      expect(ok.status, target).toBe(200);
      expect(reached.length).toBe(before + 1);
    }
  });

  it('routes only the canonical spelling: other spellings are 404 even with the key', async () => {
    for (const target of ['/V1/models', '/v1%2Fmodels', '/%761/models', '//v1/models', '/v1/./models', '/v1/../v1/models']) {
      const before = reached.length;
      const r = await send('GET', target, { authorization: `Bearer ${KEY}` });
      expect(r.status, target).toBe(404);
      expect(reached.length, target).toBe(before);
      expect(JSON.parse(r.body)).toMatchObject({ error: { type: 'not_found_error', code: 'not_found' } });
    }
  });

  it('/health stays open', async () => {
    expect((await send('GET', '/health')).status).toBe(200);
  });
});

describe('errors of the routing layer', () => {
  it('a known path with the wrong method is 405 with Allow, in the OpenAI error shape', async () => {
    const r = await send('GET', '/v1/audio/transcriptions', { authorization: `Bearer ${KEY}` });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('POST');
    expect(JSON.parse(r.body)).toEqual({
      error: { message: 'GET is not allowed on /v1/audio/transcriptions; use POST', type: 'invalid_request_error', param: null, code: 'method_not_allowed' },
    });
    const del = await send('DELETE', '/v1/models', { authorization: `Bearer ${KEY}` });
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('HEAD, GET');
  });

  it('OPTIONS on a known path lists its methods', async () => {
    const r = await send('OPTIONS', '/v1/audio/transcriptions');
    expect(r.status).toBe(204);
    expect(r.headers.allow).toBe('POST');
  });

  it('a 404 echoes at most a short prefix of a long path', async () => {
    const long = `/${'a'.repeat(8000)}`;
    const r = await send('GET', long);
    expect(r.status).toBe(404);
    const { error } = JSON.parse(r.body) as { error: { message: string } };
    expect(error.message.length).toBeLessThan(200);
    expect(error.message).toContain('/aaaa');
    expect(error.message).toContain('8001 characters');
  });
});
