// The WebSocket side of the API, on the HTTP(S) server's `upgrade` event:
//   /v1/realtime                   the Theo realtime protocol (theo-protocol.ts)
//   /v1/realtime?intent=transcription  OpenAI's realtime transcription protocol (openai-protocol.ts)
//   /v1/sessions/{id}/events       observers of one live session (observer.ts)
//   /v1/calls/events               every call session's events (observer.ts)
// Shared rules: the API key (when configured) as `Authorization: Bearer`, `?api_key=` / `?token=`, or the
// subprotocol `openai-insecure-api-key.<key>` (browsers cannot set headers) is checked before the upgrade,
// whatever the path: a wrong or missing key gets HTTP 401 and no WebSocket. At most
// `realtime.maxConnections` open connections (more close with 1013, try again later); messages over
// `realtime.maxMessageBytes` close with 1009; a ping every `realtime.heartbeatMs`, and a connection that did
// not answer the previous one is closed (1011). Unknown paths get HTTP 404. On close(), every realtime
// session ends first (its client gets session.closed), then the sockets close with 1001.
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import type { RealtimeConfig, VadConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import type { Registry } from '../../observability/metrics.js';
import type { SessionManager } from '../../session/manager.js';
import { keyMatches } from '../http/app.js';
import { CLOSE_TIMEOUT_MS, closeConnection } from './closing.js';
import { KEY_PROTOCOL, keyOf, refuseUpgrade, requestUrl, routeOf, type Route } from './handshake.js';
import { createWsMetrics, type WsMetrics } from './metrics.js';
import type { ModelLookup } from './model-check.js';
import { observeCalls, observeSession, type CallEventSource } from './observer.js';
import { OpenAiRealtimeConnection } from './openai-protocol.js';
import { TheoRealtimeConnection, querySettings } from './theo-protocol.js';

export interface WsApiOptions {
  config: RealtimeConfig;
  apiKey?: string | undefined;
  sessions: SessionManager;
  defaultModel: string;
  /** The catalog's view of a model a client names (its capabilities, or a TheoError why not). */
  models: ModelLookup;
  /** The server's VAD settings (what an OpenAI turn_detection is mapped over). */
  vad: VadConfig;
  /** Every call's events, for `WS /v1/calls/events` (absent: that path is 404). */
  calls?: CallEventSource | undefined;
  registry: Registry;
  logger: Logger;
}

export interface WsApi {
  readonly metrics: WsMetrics;
  /** Open connections that were accepted (authenticated, within the limit). */
  connections(): number;
  /** Ends every realtime session (their clients get its end), closes every connection (1001) and stops accepting new ones. */
  close(): Promise<void>;
}

/** What a connection does when the server shuts down, before its socket closes. */
interface Connection {
  shutdown(): Promise<void>;
}

export function attachWebSockets(server: HttpServer | HttpsServer, opts: WsApiOptions): WsApi {
  const { config, logger } = opts;
  const metrics = createWsMetrics(opts.registry);
  const options: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    maxPayload: config.maxMessageBytes,
    closeTimeout: CLOSE_TIMEOUT_MS,
    // Answer with a protocol the client offered (browsers fail the handshake otherwise), never the key.
    handleProtocols: (offered) => [...offered].find((p) => !p.startsWith(KEY_PROTOCOL)) ?? false,
  };
  const wss = new WebSocketServer(options);
  const alive = new WeakMap<WebSocket, boolean>();
  /** Accepted connections: only these count against the limit. */
  const live = new Map<WebSocket, Connection | undefined>();
  let closed = false;
  let closing: Promise<void> | undefined;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const onSocketError = (err: Error): void => logger.debug({ err }, 'websocket handshake socket error');
    socket.on('error', onSocketError);
    if (closed) {
      metrics.rejected.inc({ reason: 'shutting_down' });
      refuseUpgrade(socket, 503, { message: 'the server is shutting down', type: 'server_error', code: 'shutting_down' });
      return;
    }
    const url = requestUrl(req);
    if (!url) {
      metrics.rejected.inc({ reason: 'invalid_url' });
      refuseUpgrade(socket, 400, { message: 'the request target is not a valid URL', type: 'invalid_request_error', code: 'invalid_url' });
      return;
    }
    // Every path, routed or not: no WebSocket of this API is public.
    if (opts.apiKey) {
      const key = keyOf(req, url);
      if (!key || !keyMatches(key, opts.apiKey)) {
        metrics.rejected.inc({ reason: 'unauthorized' });
        refuseUpgrade(
          socket,
          401,
          key
            ? { message: 'incorrect API key', type: 'authentication_error', code: 'invalid_api_key' }
            : { message: 'missing API key: send Authorization: Bearer <key>, ?api_key=<key>, or the subprotocol openai-insecure-api-key.<key>', type: 'authentication_error', code: 'missing_api_key' },
        );
        return;
      }
    }
    const route = routeOf(url.pathname);
    if (!route || (route.kind === 'calls' && !opts.calls)) {
      metrics.rejected.inc({ reason: 'not_found' });
      refuseUpgrade(socket, 404, { message: `no WebSocket route for ${url.pathname}`, type: 'not_found_error', code: 'not_found' });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', onSocketError);
      accept(ws, req, url, route);
    });
  };
  server.on('upgrade', onUpgrade);
  // A handshake the ws library refuses itself (a bad Sec-WebSocket-Version or -Key, a method other than GET):
  // counted, and answered in the API's error shape.
  wss.on('wsClientError', (err: Error, socket: Duplex) => {
    metrics.rejected.inc({ reason: 'bad_handshake' });
    refuseUpgrade(socket, 400, { message: `invalid WebSocket handshake: ${err.message}`, type: 'invalid_request_error', code: 'bad_handshake' });
  });

  function accept(ws: WebSocket, req: IncomingMessage, url: URL, route: Route): void {
    ws.on('error', (err: Error & { code?: string }) => {
      // The ws library reports a frame that breaks the protocol here, then closes the connection itself.
      if (err.code?.startsWith('WS_ERR_')) metrics.protocolErrors.inc({ code: err.code });
      logger.debug({ err }, 'websocket error');
    });
    ws.on('close', (code) => metrics.closes.inc({ code: String(code) }));
    if (closed) {
      closeConnection(ws, 1001, 'server shutting down');
      return;
    }
    if (live.size >= config.maxConnections) {
      metrics.rejected.inc({ reason: 'too_many_connections' });
      closeConnection(ws, 1013, `too many connections (limit ${config.maxConnections}); try again later`);
      return;
    }
    const protocol = route.kind === 'observer' || route.kind === 'calls' ? route.kind : url.searchParams.get('intent') === 'transcription' ? 'openai' : 'theo';
    live.set(ws, undefined);
    alive.set(ws, true);
    metrics.connections.inc({ protocol });
    ws.on('pong', () => alive.set(ws, true));
    ws.on('close', () => {
      live.delete(ws);
      metrics.connections.dec({ protocol });
    });
    const connection = open(ws, req, url, route, protocol);
    if (connection && live.has(ws)) live.set(ws, connection);
  }

  function open(ws: WebSocket, req: IncomingMessage, url: URL, route: Route, protocol: string): Connection | undefined {
    if (route.kind === 'calls') {
      if (opts.calls) observeCalls(ws, opts.calls, { maxQueuedBytes: config.maxQueuedBytes, metrics });
      return undefined;
    }
    if (route.kind === 'observer') {
      const session = opts.sessions.get(route.sessionId);
      if (!session || session.closed) {
        metrics.rejected.inc({ reason: 'no_such_session' });
        closeConnection(ws, 4404, `no live session '${route.sessionId}'`);
        return undefined;
      }
      observeSession(ws, session, { maxQueuedBytes: config.maxQueuedBytes, metrics });
      return undefined;
    }
    const deps = { sessions: opts.sessions, defaultModel: opts.defaultModel, models: opts.models, maxQueuedBytes: config.maxQueuedBytes, metrics, logger };
    if (protocol === 'openai') {
      const beta = /realtime=v1/i.test(String(req.headers['openai-beta'] ?? ''));
      return new OpenAiRealtimeConnection(ws, { ...deps, vad: opts.vad, beta });
    }
    const parsed = querySettings(url.searchParams, deps);
    if ('code' in parsed) {
      metrics.rejected.inc({ reason: parsed.code === 'invalid_argument' ? 'invalid_query' : parsed.code });
      ws.send(JSON.stringify({ type: 'error', code: parsed.code, message: parsed.message, param: parsed.param, recoverable: false }));
      closeConnection(ws, parsed.closeCode, parsed.code === 'invalid_argument' ? `invalid query: ${parsed.param}` : parsed.message);
      return undefined;
    }
    return new TheoRealtimeConnection(ws, parsed.settings, deps);
  }

  const heartbeat =
    config.heartbeatMs > 0
      ? setInterval(() => {
          for (const ws of live.keys()) {
            if (alive.get(ws) === false) {
              closeConnection(ws, 1011, 'no pong to the last ping');
              continue;
            }
            alive.set(ws, false);
            ws.ping();
          }
        }, config.heartbeatMs).unref()
      : undefined;

  async function shutdown(): Promise<void> {
    closed = true;
    if (heartbeat) clearInterval(heartbeat);
    server.off('upgrade', onUpgrade);
    await Promise.all(
      [...live.values()].map(async (c) => {
        try {
          await c?.shutdown();
        } catch (err) {
          logger.warn({ err }, 'realtime connection shutdown failed');
        }
      }),
    );
    for (const ws of wss.clients) closeConnection(ws, 1001, 'server shutting down', false);
    // Each socket is gone within the close timeout (its handshake, or destroyed).
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  return {
    metrics,
    connections: () => live.size,
    close: () => (closing ??= shutdown()),
  };
}
