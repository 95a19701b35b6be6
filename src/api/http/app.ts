// The Koa side-API: /health, /metrics and, mounted by the caller, the OpenAI-compatible /v1 routes.
// Every response carries an x-request-id; errors leave as JSON in the OpenAI error shape, never as a
// stack trace; /v1 needs the API key when one is configured. Routes match their exact spelling only
// (letter case included): one path, one route, one key decision.
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router, { type RouterContext } from '@koa/router';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { errorMessage, excerpt } from '../../errors/index.js';
import { ApiError, errorBody, toApiError } from './api-error.js';
import { bearerMatches, guardRoutes } from './auth.js';

export { keyMatches } from './auth.js';

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

export function createHttpApp(opts: HttpAppOptions): Koa {
  const app = new Koa();
  const router = new Router({ sensitive: true });
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
      if (e.status >= 500) opts.logger.error({ err, path: excerpt(ctx.path, 256), requestId }, 'request failed');
      else opts.logger.debug({ status: e.status, message: e.message, path: excerpt(ctx.path, 256), requestId }, 'request rejected');
    } finally {
      const route = typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : 'unmatched';
      httpRequests.inc({ method: ctx.method, route, status: String(ctx.status) });
      httpDuration.observe({ method: ctx.method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  // Liveness probes send no key; with a key configured, a request without it sees each component's status only
  // (worker addresses, pids and error texts are for operators who hold the key).
  router.get('/health', (ctx) => {
    const details = !opts.apiKey || bearerMatches(ctx.get('authorization'), opts.apiKey);
    const components: Record<string, unknown> = {};
    let ok = true;
    for (const [name, source] of Object.entries(opts.health)) {
      try {
        const info = source();
        components[name] = details ? { status: 'ok', ...info } : { status: 'ok' };
      } catch (err) {
        ok = false;
        components[name] = details ? { status: 'error', error: errorMessage(err) } : { status: 'error' };
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
  if (opts.apiKey) guardRoutes(router, opts.apiKey);
  app.use(router.routes());
  // Reached when no handler answered: the path's other methods (405, or OPTIONS), else 404.
  app.use((ctx) => {
    const allowed = methodsOf(ctx as unknown as RouterContext);
    if (allowed.length > 0 && !allowed.includes(ctx.method)) {
      const allow = allowed.join(', ');
      if (ctx.method === 'OPTIONS') {
        ctx.status = 204;
        ctx.set('Allow', allow);
        return;
      }
      const use = allowed.filter((m) => m !== 'HEAD').join(', ');
      throw new ApiError(405, `${ctx.method} is not allowed on ${excerpt(ctx.path)}; use ${use}`, { code: 'method_not_allowed', headers: { Allow: allow } });
    }
    throw new ApiError(404, `no route for ${ctx.method} ${excerpt(ctx.path)}`, { type: 'not_found_error', code: 'not_found' });
  });
  return app;
}

/** The methods of the routes that matched the request's path, whatever its method. */
function methodsOf(ctx: RouterContext): string[] {
  const methods = new Set<string>();
  for (const layer of ctx.matched ?? []) for (const m of layer.methods) methods.add(m);
  return [...methods];
}
