// The Koa side-API: health and Prometheus metrics now; the OpenAI-compatible routes join it later.
// Errors leave as JSON in the OpenAI error shape, never as a stack trace.
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { errorMessage } from '../../errors/index.js';

export interface HealthSource {
  /** A component's health details; throwing marks the component (and the service) unhealthy. */
  (): Record<string, unknown>;
}

export interface HttpAppOptions {
  logger: Logger;
  registry: Registry;
  version: string;
  health: Record<string, HealthSource>;
  startedAt?: number;
}

export function createHttpApp(opts: HttpAppOptions): Koa {
  const app = new Koa();
  const router = new Router();
  const startedAt = opts.startedAt ?? Date.now();

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
      ctx.status = status;
      ctx.body = { error: { message: status >= 500 ? 'internal server error' : errorMessage(err), type: status >= 500 ? 'server_error' : 'invalid_request_error', code: null, param: null } };
      if (status >= 500) opts.logger.error({ err: errorMessage(err), path: ctx.path }, 'request failed');
    }
  });

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
    ctx.body = { status: ok ? 'ok' : 'degraded', version: opts.version, uptime_s: Math.round((Date.now() - startedAt) / 1000), components };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = opts.registry.contentType;
    ctx.body = await opts.registry.metrics();
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { error: { message: `no route for ${ctx.method} ${ctx.path}`, type: 'invalid_request_error', code: 'not_found', param: null } };
  });
  return app;
}
