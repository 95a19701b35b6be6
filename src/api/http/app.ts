// The Koa side-API: /health, /metrics and, mounted by the caller, the OpenAI-compatible /v1 routes.
// Every response carries an x-request-id; errors leave as JSON in the OpenAI error shape, never as a
// stack trace; /v1 needs the API key when one is configured.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { errorMessage } from '../../errors/index.js';
import { ApiError, errorBody, toApiError } from './api-error.js';

export interface HealthSource {
  /** A component's health details; throwing marks the component (and the service) unhealthy. */
  (): Record<string, unknown>;
}

export interface Readiness {
  ready: boolean;
  reason?: string;
}

export interface HttpAppOptions {
  logger: Logger;
  registry: Registry;
  version: string;
  health: Record<string, HealthSource>;
  /** Readiness (GET /ready): whether requests can be served now, and why not. */
  ready?: () => Readiness;
  startedAt?: number;
  /** When set, /v1/* requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  /** Adds routes (e.g. the /v1 API) to the app's router. */
  mount?: (router: Router) => void;
}

/** Constant-time comparison of an API key. */
export function keyMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createHttpApp(opts: HttpAppOptions): Koa {
  const app = new Koa();
  const router = new Router();
  const startedAt = opts.startedAt ?? Date.now();

  const httpRequests = new Counter({ name: 'theo_http_requests_total', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'], registers: [opts.registry] });
  const httpDuration = new Histogram({
    name: 'theo_http_request_duration_seconds',
    help: 'HTTP request duration by method and route',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [opts.registry],
  });
  const httpErrors = new Counter({ name: 'theo_http_errors_total', help: 'HTTP error responses by status and error code', labelNames: ['status', 'code'], registers: [opts.registry] });

  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('x-request-id');
    const requestId = /^[\w.:-]{1,128}$/.test(incoming) ? incoming : `req_${randomUUID().replaceAll('-', '')}`;
    ctx.state.requestId = requestId;
    ctx.set('x-request-id', requestId);
    try {
      await next();
    } catch (err) {
      const e = toApiError(err, requestId);
      ctx.status = e.status;
      ctx.set(e.headers);
      ctx.body = errorBody(e);
      httpErrors.inc({ status: String(e.status), code: e.code ?? 'none' });
      if (e.status >= 500) opts.logger.error({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined, path: ctx.path, requestId }, 'request failed');
      else opts.logger.debug({ status: e.status, message: e.message, path: ctx.path, requestId }, 'request rejected');
    } finally {
      const route = typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : 'unmatched';
      httpRequests.inc({ method: ctx.method, route, status: String(ctx.status) });
      httpDuration.observe({ method: ctx.method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  const apiKey = opts.apiKey;
  if (apiKey) {
    app.use(async (ctx, next) => {
      if (ctx.path.startsWith('/v1/') || ctx.path === '/v1') {
        const m = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'));
        if (!m?.[1]) throw new ApiError(401, 'missing API key: send Authorization: Bearer <key>', { type: 'authentication_error', code: 'missing_api_key' });
        if (!keyMatches(m[1].trim(), apiKey)) throw new ApiError(401, 'incorrect API key', { type: 'authentication_error', code: 'invalid_api_key' });
      }
      await next();
    });
  }

  router.get('/health', (ctx) => {
    const components: Record<string, unknown> = {};
    let ok = true;
    for (const [name, source] of Object.entries(opts.health)) {
      try {
        components[name] = { status: 'ok', ...source() };
      } catch (err) {
        ok = false;
        components[name] = { status: 'error', error: errorMessage(err) };
      }
    }
    ctx.status = ok ? 200 : 503;
    const readiness = opts.ready?.();
    ctx.body = { status: ok ? 'ok' : 'degraded', ...(readiness ? { ready: readiness.ready } : {}), version: opts.version, uptime_s: Math.round((Date.now() - startedAt) / 1000), components };
  });

  // Readiness for load balancers and orchestrators: 503 until the default model serves (and while shutting
  // down); /health stays the liveness view (200 while the process is up).
  router.get('/ready', (ctx) => {
    const r = opts.ready?.() ?? { ready: true };
    ctx.status = r.ready ? 200 : 503;
    ctx.body = r.ready ? { ready: true } : { ready: false, reason: r.reason ?? 'not ready' };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = opts.registry.contentType;
    ctx.body = await opts.registry.metrics();
  });

  opts.mount?.(router);
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use((ctx) => {
    throw new ApiError(404, `no route for ${ctx.method} ${ctx.path}`, { type: 'not_found_error', code: 'not_found' });
  });
  return app;
}
