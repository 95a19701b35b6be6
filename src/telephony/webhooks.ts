// Webhooks: call events POSTed as JSON to configured URLs, off the media path. Each sink keeps its own
// bounded queue and delivers in order, one request at a time: a slow or dead endpoint delays only its own
// deliveries (retries with exponential backoff, 0.5 s doubling up to 30 s) and, once its queue is full,
// loses its oldest events (counted) — never audio, never another sink's events. Requests are signed when a
// secret is set: `theo-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A URL's
// user:password goes in a Basic Authorization header (fetch refuses URLs with credentials); metrics and logs
// name a webhook by its configured name or its host, and show its URL only redacted.
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WebhookConfig } from '../config/schema.js';
import type { WireEvent } from '../api/ws/events.js';
import { redactError, redactUrl, splitCredentials, urlHost } from '../util/redact.js';
import type { CallHub } from './call-hub.js';

export interface WebhookMetrics {
  deliveries: Counter<'outcome'>;
  queued: Gauge<'webhook'>;
}

export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  return {
    deliveries: new Counter({ name: 'theo_webhook_deliveries_total', help: 'webhook requests by outcome (delivered, retried, failed, dropped)', labelNames: ['outcome'], registers: [registry] }),
    queued: new Gauge({ name: 'theo_webhook_queue', help: "events waiting for delivery, by webhook (its name, or its URL's host:port)", labelNames: ['webhook'], registers: [registry] }),
  };
}

/**
 * How metrics and logs name each webhook: its `name`, else its URL's host:port; a name that comes twice gets
 * `#2`, `#3`, … so each webhook has its own series.
 */
export function webhookLabels(configs: readonly WebhookConfig[]): string[] {
  const seen = new Map<string, number>();
  return configs.map((c) => {
    const base = c.name ?? urlHost(c.url);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  });
}

/** The signature header value for `body` sent at `t` (unix seconds). */
export function signature(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

const MAX_BACKOFF_MS = 30_000;

export class WebhookSink {
  private readonly queue: { id: string; body: string }[] = [];
  private running = false;
  private closed = false;
  private readonly wanted: ReadonlySet<string>;
  private readonly unsubscribe: () => void;
  /** The URL requests go to (no userinfo), its Basic credentials, and how logs and metrics show it. */
  private readonly target: string;
  private readonly authorization: string | undefined;
  private readonly label: string;
  private readonly shown: string;
  private wake: (() => void) | undefined;
  dropped = 0;
  delivered = 0;

  constructor(
    hub: CallHub,
    private readonly config: WebhookConfig,
    private readonly logger: Logger,
    private readonly metrics?: WebhookMetrics,
    label?: string,
  ) {
    this.wanted = new Set(config.events);
    const { url, basic } = splitCredentials(config.url);
    this.target = url;
    this.authorization = basic;
    this.label = label ?? webhookLabels([config])[0]!;
    this.shown = redactUrl(config.url);
    const onEvent = (ev: WireEvent): void => this.offer(ev);
    hub.on('event', onEvent);
    this.unsubscribe = () => hub.off('event', onEvent);
  }

  /** Queues an event (if this sink wants its type); returns at once. */
  offer(ev: WireEvent): void {
    if (this.closed || !(this.wanted.has('*') || this.wanted.has(ev.type))) return;
    if (this.queue.length >= this.config.maxQueue) {
      this.queue.shift();
      this.dropped++;
      this.metrics?.deliveries.inc({ outcome: 'dropped' });
    }
    const id = `whev_${randomUUID()}`;
    this.queue.push({ id, body: JSON.stringify({ id, ...ev }) });
    this.metrics?.queued.set({ webhook: this.label }, this.queue.length);
    if (!this.running) void this.run();
  }

  /** Stops taking events; waits up to `graceMs` for the queue to drain. */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    const end = Date.now() + graceMs;
    while (this.running && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    this.wake?.();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      // The event in flight leaves the queue first: an overflow meanwhile drops only waiting ones.
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        this.metrics?.queued.set({ webhook: this.label }, this.queue.length);
        await this.deliver(next.id, next.body);
      }
    } finally {
      this.running = false;
    }
  }

  private async deliver(id: string, body: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.post(id, body);
      if (outcome === 'ok') {
        this.delivered++;
        this.metrics?.deliveries.inc({ outcome: 'delivered' });
        return;
      }
      if (outcome === 'fatal' || attempt >= this.config.maxRetries || this.closed) {
        this.metrics?.deliveries.inc({ outcome: 'failed' });
        this.logger.warn({ webhook: this.label, url: this.shown, eventId: id, attempts: attempt + 1 }, 'webhook delivery failed; event dropped');
        return;
      }
      this.metrics?.deliveries.inc({ outcome: 'retried' });
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt)).unref();
      });
    }
  }

  private async post(id: string, body: string): Promise<'ok' | 'retry' | 'fatal'> {
    const t = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'theo-event-id': id, 'user-agent': 'theo-webhooks' };
    if (this.config.secret) headers['theo-signature'] = signature(this.config.secret, t, body);
    if (this.authorization) headers.authorization = this.authorization;
    try {
      const res = await fetch(this.target, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.config.timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return 'ok';
      // A client error other than a timeout or rate limit will not get better by retrying.
      return res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429 ? 'fatal' : 'retry';
    } catch (err) {
      this.logger.debug({ webhook: this.label, url: this.shown, err: redactError(err) }, 'webhook request failed');
      return 'retry';
    }
  }
}
