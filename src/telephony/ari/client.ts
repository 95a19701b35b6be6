// A small typed client of Asterisk's REST Interface: REST calls over fetch (basic auth, JSON) and the
// application's event WebSocket (`/ari/events?app=…`), reconnected with exponential backoff (0.5 s doubling,
// at most 30 s) for as long as the client runs. Every request in flight is aborted by close().
// (The `ari-client` npm package was not used: unmaintained since 2018, it builds its API at run time from
// the Swagger listing through swagger-client 2.0 and the deprecated `request`, with no types. The test double
// checks every call this client makes against the recorded Swagger listing of a real Asterisk instead.)
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { TheoError, errorMessage } from '../../errors/index.js';
import { LogThrottle } from '../../util/log-throttle.js';
import { redactError, redactUrl, splitCredentials } from '../../util/redact.js';
import { checkAriEvent } from './event-shape.js';

export interface AriChannel {
  id: string;
  name: string;
  state: string;
  caller?: { name: string; number: string };
  connected?: { name: string; number: string };
  dialplan?: { context: string; exten: string; priority: number; app_name?: string; app_data?: string };
  channelvars?: Record<string, string>;
}

export interface AriEvent {
  type: string;
  application?: string;
  timestamp?: string;
  channel?: AriChannel;
  bridge?: { id: string; channels: string[] };
  args?: string[];
  [k: string]: unknown;
}

export interface AriClientOptions {
  /** Base URL of Asterisk's HTTP server, e.g. http://127.0.0.1:8088 (with or without /ari). */
  url: string;
  user: string;
  password: string;
  app: string;
  logger: Logger;
  requestTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export interface AriClientEvents {
  event: [AriEvent];
  /** The event WebSocket is open (again): `reconnected` is true after a drop. */
  connected: [boolean];
  disconnected: [string];
}

export class AriError extends TheoError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    message: string,
  ) {
    super('ari_failed', `ARI ${method} ${path}: ${status} ${message}`, { status, method, path });
  }
}

export class AriClient extends EventEmitter<AriClientEvents> {
  private readonly base: string;
  /** `base` as logs show it. */
  private readonly shown: string;
  private readonly auth: string;
  private ws: WebSocket | undefined;
  private readonly aborter = new AbortController();
  private closed = false;
  private everConnected = false;
  private attempt = 0;
  /** Failed connection attempts since the last success. */
  private failures = 0;
  /** Events refused as not JSON or malformed (see event-shape.ts). */
  malformed = 0;
  private readonly refusals: LogThrottle;
  private timer: NodeJS.Timeout | undefined;
  connected = false;

  constructor(private readonly opts: AriClientOptions) {
    super();
    // Credentials come from user and password: any in the URL are dropped (fetch refuses them) and never logged.
    this.base = `${splitCredentials(opts.url).url.replace(/\/+$/, '').replace(/\/ari$/, '')}/ari`;
    this.shown = redactUrl(this.base);
    this.auth = `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}`;
    this.refusals = new LogThrottle((fields, message) => opts.logger.warn(fields, message));
  }

  /** Opens the event WebSocket (and keeps it open). */
  start(): void {
    if (this.closed || this.ws) return;
    const url = `${this.base.replace(/^http/, 'ws')}/events?app=${encodeURIComponent(this.opts.app)}&subscribeAll=false`;
    const ws = new WebSocket(url, { headers: { Authorization: this.auth }, handshakeTimeout: this.opts.requestTimeoutMs ?? 5000 });
    this.ws = ws;
    ws.on('open', () => {
      this.attempt = 0;
      this.failures = 0;
      this.connected = true;
      const again = this.everConnected;
      this.everConnected = true;
      this.opts.logger.info({ url: this.shown, app: this.opts.app, reconnected: again }, 'ARI connected');
      this.emit('connected', again);
    });
    ws.on('message', (data: Buffer) => {
      let value: unknown;
      try {
        value = JSON.parse(data.toString('utf8'));
      } catch (err) {
        this.malformed++;
        this.refusals.note('not_json', 'ARI sent an event that is not JSON; ignored', { err: errorMessage(err) });
        return;
      }
      const checked = checkAriEvent(value);
      if ('problem' in checked) {
        this.malformed++;
        this.refusals.note(checked.problem, 'ARI sent a malformed event; ignored', { problem: checked.problem });
        return;
      }
      const ev = checked.event;
      try {
        this.emit('event', ev);
      } catch (err) {
        this.opts.logger.error({ err, type: ev.type }, 'ARI event handler failed');
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      this.opts.logger.warn({ status: res.statusCode }, res.statusCode === 401 ? 'ARI refused the credentials' : 'ARI refused the event connection');
      ws.terminate();
    });
    ws.on('error', (err) => {
      // While Asterisk stays away: the first failure and every tenth after it are warnings.
      this.failures++;
      const level = this.failures === 1 || this.failures % 10 === 0 ? 'warn' : 'debug';
      this.opts.logger[level]({ url: this.shown, err: redactError(err), attempts: this.failures }, 'cannot reach ARI; retrying');
    });
    ws.on('close', () => {
      this.ws = undefined;
      if (this.connected) {
        this.connected = false;
        this.opts.logger.warn({ url: this.shown }, 'ARI disconnected; reconnecting');
        this.emit('disconnected', 'websocket closed');
      }
      if (this.closed) return;
      const min = this.opts.reconnectMinMs ?? 500;
      const delay = Math.min(this.opts.reconnectMaxMs ?? 30_000, min * 2 ** this.attempt++);
      this.timer = setTimeout(() => this.start(), delay);
    });
  }

  /** One REST call; resolves with the parsed body (undefined for 204), throws AriError for an error status. */
  async request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, query: Record<string, string | number | boolean | undefined> = {}, body?: unknown): Promise<T> {
    if (this.closed) throw new TheoError('closed', 'ARI client is closed');
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const url = `${this.base}${path}${qs.size > 0 ? `?${qs.toString()}` : ''}`;
    const signal = AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.opts.requestTimeoutMs ?? 5000)]);
    const res = await fetch(url, {
      method,
      headers: { Authorization: this.auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal,
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not JSON
      }
      throw new AriError(res.status, method, path, message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Stops reconnecting, closes the WebSocket and aborts requests in flight. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.aborter.abort(new TheoError('closed', 'ARI client closed'));
    this.ws?.close();
    this.ws = undefined;
    this.connected = false;
  }
}
