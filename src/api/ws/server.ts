// The WebSocket side of the API, on the HTTP(S) server's `upgrade` event:
//   /v1/realtime                   the Theo realtime protocol (theo-protocol.ts)
//   /v1/realtime?intent=transcription  OpenAI's realtime transcription protocol (openai-protocol.ts)
//   /v1/sessions/{id}/events       observers of one live session (observer.ts)
//   /v1/calls/events               every call session's events (observer.ts)
// Shared rules: the API key (when configured) as `Authorization: Bearer`, `?api_key=` / `?token=`, or the
// subprotocol `openai-insecure-api-key.<key>` (browsers cannot set headers) — a wrong or missing key closes
// with 4401; at most `realtime.maxConnections` connections (more close with 1013, try again later);
// messages over `realtime.maxMessageBytes` close with 1009; a ping every `realtime.heartbeatMs`, and a
// connection that did not answer the previous one is closed (1011). Unknown paths get HTTP 404.
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RealtimeConfig, VadConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import type { Registry } from '../../observability/metrics.js';
import type { SessionManager } from '../../session/manager.js';
import { keyMatches } from '../http/app.js';
import { createWsMetrics, type WsMetrics } from './metrics.js';
import { observeCalls, observeSession, type CallEventSource } from './observer.js';
import { OpenAiRealtimeConnection } from './openai-protocol.js';
import { TheoRealtimeConnection, settingsFromQuery } from './theo-protocol.js';

export interface WsApiOptions {
  config: RealtimeConfig;
  apiKey?: string | undefined;
  sessions: SessionManager;
  defaultModel: string;
  /** The server's VAD settings (what an OpenAI turn_detection is mapped over). */
  vad: VadConfig;
  /** Every call's events, for `WS /v1/calls/events` (absent: that path is 404). */
  calls?: CallEventSource | undefined;
  registry: Registry;
  logger: Logger;
}

export interface WsApi {
  readonly metrics: WsMetrics;
  /** Open connections. */
  connections(): number;
  /** Closes every connection (1001) and stops accepting new ones. */
  close(): Promise<void>;
}

type Route = { kind: 'realtime' } | { kind: 'observer'; sessionId: string } | { kind: 'calls' };

function routeOf(pathname: string): Route | undefined {
  if (pathname === '/v1/realtime') return { kind: 'realtime' };
  if (pathname === '/v1/calls/events') return { kind: 'calls' };
  const m = /^\/v1\/sessions\/([^/]+)\/events$/.exec(pathname);
  if (m?.[1]) return { kind: 'observer', sessionId: decodeURIComponent(m[1]) };
  return undefined;
}

const KEY_PROTOCOL = 'openai-insecure-api-key.';

function keyOf(req: IncomingMessage, url: URL): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (bearer?.[1]) return bearer[1].trim();
  const q = url.searchParams.get('api_key') ?? url.searchParams.get('token');
  if (q) return q;
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  return protocols.find((p) => p.startsWith(KEY_PROTOCOL))?.slice(KEY_PROTOCOL.length);
}

export function attachWebSockets(server: HttpServer | HttpsServer, opts: WsApiOptions): WsApi {
  const { config, logger } = opts;
  const metrics = createWsMetrics(opts.registry);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxMessageBytes,
    // Answer with a protocol the client offered (browsers fail the handshake otherwise), never the key.
    handleProtocols: (offered) => [...offered].find((p) => !p.startsWith(KEY_PROTOCOL)) ?? false,
  });
  const alive = new WeakMap<WebSocket, boolean>();
  let closed = false;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routeOf(url.pathname);
    if (!route || closed || (route.kind === 'calls' && !opts.calls)) {
      socket.end(`HTTP/1.1 ${closed ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, url, route));
  };
  server.on('upgrade', onUpgrade);

  function accept(ws: WebSocket, req: IncomingMessage, url: URL, route: Route): void {
    ws.on('error', (err) => logger.debug({ err: err.message }, 'websocket error'));
    if (opts.apiKey) {
      const key = keyOf(req, url);
      if (!key || !keyMatches(key, opts.apiKey)) {
        metrics.rejected.inc({ reason: 'unauthorized' });
        ws.close(4401, key ? 'unauthorized: incorrect API key' : 'unauthorized: send the API key (Authorization: Bearer, ?api_key=, or subprotocol openai-insecure-api-key.<key>)');
        return;
      }
    }
    if (wss.clients.size > config.maxConnections) {
      metrics.rejected.inc({ reason: 'too_many_connections' });
      ws.close(1013, `too many connections (limit ${config.maxConnections}); try again later`);
      return;
    }
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    const protocol = route.kind === 'observer' || route.kind === 'calls' ? route.kind : url.searchParams.get('intent') === 'transcription' ? 'openai' : 'theo';
    metrics.connections.inc({ protocol });
    ws.on('close', () => metrics.connections.dec({ protocol }));
    if (route.kind === 'calls') {
      if (opts.calls) observeCalls(ws, opts.calls, { maxQueuedBytes: config.maxQueuedBytes, metrics });
      return;
    }
    if (route.kind === 'observer') {
      const session = opts.sessions.get(route.sessionId);
      if (!session || session.closed) {
        metrics.rejected.inc({ reason: 'no_such_session' });
        ws.close(4404, `no live session '${route.sessionId}'`);
        return;
      }
      observeSession(ws, session, { maxQueuedBytes: config.maxQueuedBytes, metrics });
      return;
    }
    if (protocol === 'openai') {
      const beta = /realtime=v1/i.test(String(req.headers['openai-beta'] ?? ''));
      new OpenAiRealtimeConnection(ws, { sessions: opts.sessions, defaultModel: opts.defaultModel, vad: opts.vad, maxQueuedBytes: config.maxQueuedBytes, metrics, logger, beta });
      return;
    }
    const parsed = settingsFromQuery(url.searchParams);
    if ('error' in parsed) {
      metrics.rejected.inc({ reason: 'invalid_query' });
      ws.send(JSON.stringify({ type: 'error', code: 'invalid_argument', message: `query: ${parsed.error}`, param: parsed.param, recoverable: false }));
      ws.close(1008, `invalid query: ${parsed.param}`.slice(0, 120));
      return;
    }
    new TheoRealtimeConnection(ws, parsed.settings, { sessions: opts.sessions, defaultModel: opts.defaultModel, maxQueuedBytes: config.maxQueuedBytes, metrics, logger });
  }

  const heartbeat =
    config.heartbeatMs > 0
      ? setInterval(() => {
          for (const ws of wss.clients) {
            if (alive.get(ws) === false) {
              ws.close(1011, 'no pong to the last ping');
              setTimeout(() => ws.terminate(), 1000).unref();
              continue;
            }
            alive.set(ws, false);
            ws.ping();
          }
        }, config.heartbeatMs).unref()
      : undefined;

  return {
    metrics,
    connections: () => wss.clients.size,
    close: () => {
      closed = true;
      if (heartbeat) clearInterval(heartbeat);
      server.off('upgrade', onUpgrade);
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      return new Promise<void>((resolve) => {
        const done = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 2000).unref();
        wss.close(() => {
          clearTimeout(done);
          resolve();
        });
      });
    },
  };
}
