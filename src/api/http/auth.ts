// The API key of the HTTP API. The check is put in front of the handlers of every /v1 route itself, so the
// router's own match decides: whatever spelling of a path reaches a /v1 handler went through the check.
import { timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { RouterMiddleware } from '@koa/router';
import { ApiError } from './api-error.js';

/** Routes whose handlers need the key: the OpenAI-compatible API and the session views. */
const PROTECTED_PREFIX = '/v1';

/** Constant-time comparison of an API key. */
export function keyMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether a request carries the key (`Authorization: Bearer <key>`). */
export function bearerMatches(authorization: string, apiKey: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization);
  return m?.[1] !== undefined && keyMatches(m[1].trim(), apiKey);
}

function requireKey(apiKey: string): RouterMiddleware {
  return async (ctx, next) => {
    const m = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'));
    if (!m?.[1]) throw new ApiError(401, 'missing API key: send Authorization: Bearer <key>', { type: 'authentication_error', code: 'missing_api_key' });
    if (!keyMatches(m[1].trim(), apiKey)) throw new ApiError(401, 'incorrect API key', { type: 'authentication_error', code: 'invalid_api_key' });
    await next();
  };
}

function isProtected(path: string): boolean {
  return path === PROTECTED_PREFIX || path.startsWith(`${PROTECTED_PREFIX}/`);
}

/**
 * Puts the key check first in the chain of every /v1 layer registered so far (call it after the last route
 * is added). Returns how many layers it guarded.
 */
export function guardRoutes(router: Router, apiKey: string): number {
  const check = requireKey(apiKey);
  let guarded = 0;
  for (const layer of router.stack) {
    if (typeof layer.path !== 'string') {
      // A pattern could match /v1 paths without saying so; only a router-wide middleware may be one.
      if (layer.methods.length > 0) throw new Error(`route ${String(layer.path)} is a RegExp: the API key check needs string routes`);
      continue;
    }
    if (!isProtected(layer.path)) continue;
    layer.stack.unshift(check);
    guarded++;
  }
  return guarded;
}
