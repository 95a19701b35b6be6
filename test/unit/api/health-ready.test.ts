// GET /health (liveness: 200 while every component reports, 503 "degraded" when one throws) and GET /ready
// (readiness: 503 with the reason until the service can serve, then 200), on the real Koa app.
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApp, type Readiness } from '../../../src/api/http/app.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createRegistry } from '../../../src/observability/metrics.js';

let server: http.Server | undefined;

async function serve(ready: (() => Readiness) | undefined, health: Record<string, () => Record<string, unknown>>, apiKey?: string): Promise<string> {
  const app = createHttpApp({ logger: silentLogger(), registry: createRegistry({ defaultMetrics: false }), version: '0.0.0', health, apiKey, ...(ready ? { ready } : {}) });
  const handle = app.callback();
  server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

describe('/health and /ready', () => {
  it('is not ready (503, with the reason) until the readiness source says so; /health stays 200 meanwhile', async () => {
    let state: Readiness = { ready: false, reason: "model 'm' is loading" };
    const url = await serve(() => state, { workers: () => ({ n: 1 }) });
    let r = await fetch(`${url}/ready`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ ready: false, reason: "model 'm' is loading" });
    const h = await fetch(`${url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: 'ok', ready: false, components: { workers: { status: 'ok', n: 1 } } });
    state = { ready: true };
    r = await fetch(`${url}/ready`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ready: true });
  });

  it('a failing component makes /health 503 degraded; without a readiness source /ready is 200', async () => {
    const url = await serve(undefined, {
      rtp: () => {
        throw new Error('socket gone');
      },
    });
    const h = await fetch(`${url}/health`);
    expect(h.status).toBe(503);
    expect(await h.json()).toMatchObject({ status: 'degraded', components: { rtp: { status: 'error', error: 'socket gone' } } });
    expect((await fetch(`${url}/ready`)).status).toBe(200);
  });

  it('with an API key configured, a probe without the key gets the statuses only; the key shows the details', async () => {
    const url = await serve(undefined, {
      workers: () => ({ address: '127.0.0.1:50051', pid: 4242 }),
      models: () => {
        throw new Error("model 'm' is down: cannot open /srv/models/m/lm.bin");
      },
    }, 'sk-health');
    const anonymous = await fetch(`${url}/health`);
    expect(anonymous.status).toBe(503);
    const body = (await anonymous.json()) as { components: Record<string, unknown> };
    expect(body).toMatchObject({ status: 'degraded', components: { workers: { status: 'ok' }, models: { status: 'error' } } });
    expect(JSON.stringify(body)).not.toMatch(/50051|4242|srv/);
    const wrong = await fetch(`${url}/health`, { headers: { authorization: 'Bearer nope' } });
    expect(JSON.stringify(await wrong.json())).not.toMatch(/50051|srv/);
    const operator = await fetch(`${url}/health`, { headers: { authorization: 'Bearer sk-health' } });
    expect(await operator.json()).toMatchObject({ components: { workers: { status: 'ok', address: '127.0.0.1:50051', pid: 4242 }, models: { status: 'error', error: expect.stringMatching(/lm\.bin/) as string } } });
  });
});
