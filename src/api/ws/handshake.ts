// The HTTP side of a WebSocket handshake, before anything is upgraded: which route a request names, the API
// key it carries, and refusing it with a plain HTTP response on the raw socket. Paths match as the HTTP
// router matches them (case-insensitive, an optional trailing slash, parameters percent-decoded).
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CLOSE_TIMEOUT_MS } from './closing.js';

export type Route = { kind: 'realtime' } | { kind: 'observer'; sessionId: string } | { kind: 'calls' };

/** The subprotocol prefix browsers use to pass the key (they cannot set headers on a WebSocket). */
export const KEY_PROTOCOL = 'openai-insecure-api-key.';

// The HTTP router's rule: letter case exact, one trailing slash allowed.
const REALTIME = /^\/v1\/realtime\/?$/;
const CALLS = /^\/v1\/calls\/events\/?$/;
const OBSERVER = /^\/v1\/sessions\/([^/]+)\/events\/?$/;

/** The request's URL (path and query); undefined when it cannot be parsed. */
export function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** The route a path names; undefined for no route (or a session id that is not valid percent-encoding). */
export function routeOf(pathname: string): Route | undefined {
  if (REALTIME.test(pathname)) return { kind: 'realtime' };
  if (CALLS.test(pathname)) return { kind: 'calls' };
  const m = OBSERVER.exec(pathname);
  if (!m?.[1]) return undefined;
  try {
    return { kind: 'observer', sessionId: decodeURIComponent(m[1]) };
  } catch {
    return undefined;
  }
}

/** The API key a handshake carries: `Authorization: Bearer`, `?api_key=` / `?token=`, or the key subprotocol. */
export function keyOf(req: IncomingMessage, url: URL): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (bearer?.[1]) return bearer[1].trim();
  const q = url.searchParams.get('api_key') ?? url.searchParams.get('token');
  if (q) return q;
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  return protocols.find((p) => p.startsWith(KEY_PROTOCOL))?.slice(KEY_PROTOCOL.length);
}

/**
 * Answers a handshake with an HTTP error (JSON in the API's error shape) and no upgrade. Nothing more is read
 * from the socket; it is destroyed once the answer is written, or after the close timeout for a peer that
 * does not take it.
 */
export function refuseUpgrade(socket: Duplex, status: number, error: { message: string; type: string; code: string }): void {
  socket.pause();
  const body = JSON.stringify({ error: { ...error, param: null } });
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`];
  if (status === 401) head.push('WWW-Authenticate: Bearer');
  const timer = setTimeout(() => socket.destroy(), CLOSE_TIMEOUT_MS).unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('finish', () => socket.destroy());
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
