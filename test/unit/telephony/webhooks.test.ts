// Webhook delivery against a real local HTTP server: signed JSON bodies, in order, retries with backoff on
// 5xx and network errors, no retry on other 4xx, a bounded queue that drops the oldest, and the event filter.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CallHub } from '../../../src/telephony/call-hub.js';
import { WebhookSink, createWebhookMetrics, signature, webhookLabels } from '../../../src/telephony/webhooks.js';
import type { WebhookConfig } from '../../../src/config/schema.js';

interface Hit {
  body: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A receiver answering with the statuses in `script` (then 200). */
async function receiver(script: number[] = []): Promise<{ url: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hits.push({ body, url: req.url ?? '', headers: req.headers });
      res.statusCode = script.shift() ?? 200;
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits };
}

const config = (url: string, over: Partial<WebhookConfig> = {}): WebhookConfig => ({ url, events: ['transcript.final', 'session.closed'], timeoutMs: 2000, maxRetries: 3, maxQueue: 100, ...over });
const logger = pino({ level: 'silent' });
const until = async (ok: () => boolean): Promise<void> => {
  const end = Date.now() + 10_000;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};

describe('WebhookSink', () => {
  it('posts the wanted events in order, signed with the secret', async () => {
    const rx = await receiver();
    const hub = new CallHub();
    const sink = new WebhookSink(hub, config(rx.url, { secret: 'k3y' }), logger);
    hub.emit('event', { type: 'transcript.partial', text: 'thank' });
    hub.emit('event', { type: 'transcript.final', text: 'thank you', call: { call_id: 'c1' } });
    hub.emit('event', { type: 'session.closed', reason: 'call_ended' });
    await until(() => rx.hits.length === 2);
    expect(rx.hits.map((h) => (JSON.parse(h.body) as { type: string }).type)).toEqual(['transcript.final', 'session.closed']);
    const h = rx.hits[0]!;
    expect(JSON.parse(h.body)).toMatchObject({ type: 'transcript.final', text: 'thank you', call: { call_id: 'c1' }, id: h.headers['theo-event-id'] });
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(h.headers['theo-signature']));
    expect(m).not.toBeNull();
    expect(m![2]).toBe(createHmac('sha256', 'k3y').update(`${m![1]}.${h.body}`).digest('hex'));
    expect(signature('k3y', Number(m![1]), h.body)).toBe(h.headers['theo-signature']);
    expect(h.headers['content-type']).toBe('application/json');
    await sink.close();
  });

  it('retries a 5xx with backoff and delivers once; gives up on a 400 without retrying', async () => {
    const rx = await receiver([503, 500]);
    const hub = new CallHub();
    const sink = new WebhookSink(hub, config(rx.url), logger);
    hub.emit('event', { type: 'transcript.final', text: 'a' });
    await until(() => sink.delivered === 1);
    expect(rx.hits).toHaveLength(3);
    expect(new Set(rx.hits.map((h) => h.headers['theo-event-id'])).size).toBe(1);
    await sink.close();

    const bad = await receiver([400]);
    const sink2 = new WebhookSink(hub, config(bad.url), logger);
    hub.emit('event', { type: 'transcript.final', text: 'b' });
    hub.emit('event', { type: 'transcript.final', text: 'c' });
    await until(() => sink2.delivered === 1);
    expect(bad.hits.map((h) => (JSON.parse(h.body) as { text: string }).text)).toEqual(['b', 'c']);
    await sink2.close();
  });

  it('keeps at most maxQueue waiting events for an endpoint that is down, dropping the oldest', async () => {
    const hub = new CallHub();
    // Nothing listens on port 9: every attempt fails at once.
    const sink = new WebhookSink(hub, config('http://127.0.0.1:9/hook', { maxQueue: 3, maxRetries: 0 }), logger);
    for (let i = 0; i < 50; i++) hub.emit('event', { type: 'transcript.final', text: String(i) });
    // One in flight, three waiting, the rest dropped as they came.
    expect(sink.dropped).toBe(46);
    await sink.close(100);
  });

  it("sends every event with events: ['*']", async () => {
    const rx = await receiver();
    const hub = new CallHub();
    const sink = new WebhookSink(hub, config(rx.url, { events: ['*'] }), logger);
    hub.emit('event', { type: 'transcript.partial', text: 'x' });
    hub.emit('event', { type: 'vad.speech_start' });
    await until(() => rx.hits.length === 2);
    await sink.close();
  });

  it('keeps credentials out of /metrics and the logs: labelled by name or host, userinfo sent as Basic auth', async () => {
    const rx = await receiver([400]);
    const { port } = new URL(rx.url);
    const secrets = ['hookpass', 'tok9f8e7d6c5b4a3928', 'qs3cret'];
    const url = (p: string): string => `http://hookuser:hookpass@127.0.0.1:${p}/hooks/tok9f8e7d6c5b4a3928?token=qs3cret&v=2`;
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const registry = new Registry();
    const metrics = createWebhookMetrics(registry);
    const hub = new CallHub();
    const sink = new WebhookSink(hub, config(url(port)), log, metrics);
    // Refused (400: logged as failed), then delivered; and a sink whose endpoint is down (network errors, logged).
    const named = new WebhookSink(hub, config(url('9'), { name: 'crm', maxRetries: 0 }), log, metrics);
    hub.emit('event', { type: 'transcript.final', text: 'a' });
    hub.emit('event', { type: 'transcript.final', text: 'b' });
    await until(() => sink.delivered === 1);
    await until(() => lines.filter((l) => l.includes('webhook delivery failed')).length === 3);
    expect(rx.hits.map((h) => h.url)).toEqual(['/hooks/tok9f8e7d6c5b4a3928?token=qs3cret&v=2', '/hooks/tok9f8e7d6c5b4a3928?token=qs3cret&v=2']);
    expect(rx.hits[1]!.headers.authorization).toBe(`Basic ${Buffer.from('hookuser:hookpass').toString('base64')}`);
    const text = await registry.metrics();
    expect(text).toContain(`theo_webhook_queue{webhook="127.0.0.1:${port}"} 0`);
    expect(text).toContain('theo_webhook_queue{webhook="crm"} 0');
    const logged = lines.join('');
    expect(logged).toContain('webhook request failed');
    expect(logged).toContain(`"url":"http://***@127.0.0.1:${port}/hooks/***?token=***&v=***"`);
    for (const s of secrets) {
      expect(text).not.toContain(s);
      expect(logged).not.toContain(s);
    }
    await Promise.all([sink.close(), named.close(100)]);
    expect(webhookLabels([config('http://a:1/x'), config('http://u:p@a:1/y'), config('http://b/z', { name: 'crm' }), config('http://c/', { name: 'crm' })])).toEqual(['a:1', 'a:1#2', 'crm', 'crm#2']);
  });
});
