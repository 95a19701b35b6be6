// Helpers for telephony tests: a webhook receiver and a calls-firehose reader.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';

/** A call event in wire form, as the firehose and webhooks carry it. */
export interface CallEv {
  type: string;
  session_id?: string;
  text?: string;
  reason?: string;
  segment_id?: number;
  call?: Record<string, string>;
  /** When the reader received it (performance.now(); added by readFirehose). */
  recvAt?: number;
}

export interface HookReceiver {
  url: string;
  hooks: { body: string; event: CallEv; signature: string }[];
  close(): void;
}

/** A local HTTP server that records every webhook request. */
export async function hookReceiver(): Promise<HookReceiver> {
  const hooks: HookReceiver['hooks'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hooks.push({ body, event: JSON.parse(body) as CallEv, signature: String(req.headers['theo-signature']) });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hooks, close: () => server.close() };
}

/** Connects to WS /v1/calls/events of `httpBase` and collects what it sends. */
export async function readFirehose(httpBase: string): Promise<{ events: CallEv[]; close: () => void }> {
  const events: CallEv[] = [];
  const ws = new WebSocket(`${httpBase.replace(/^http/, 'ws')}/v1/calls/events`);
  ws.on('message', (d: Buffer) => events.push({ ...(JSON.parse(d.toString('utf8')) as CallEv), recvAt: performance.now() }));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { events, close: () => ws.close() };
}
