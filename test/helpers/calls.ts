// Helpers for telephony tests: a webhook receiver, a calls-firehose reader, and a `theo serve` read through it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { serveTheo, stopTheo, type TheoRun } from './theo.js';

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
  hooks: { body: string; event: CallEv; signature: string; path: string; authorization: string | undefined }[];
  close(): void;
}

/** A local HTTP server that records every webhook request. */
export async function hookReceiver(): Promise<HookReceiver> {
  const hooks: HookReceiver['hooks'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hooks.push({ body, event: JSON.parse(body) as CallEv, signature: String(req.headers['theo-signature']), path: req.url ?? '', authorization: req.headers.authorization });
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

export interface ServedCalls {
  run: TheoRun;
  base: string;
  /** What the firehose sent, from just after the server listened. */
  firehose: CallEv[];
  /** Closes the firehose and stops the server; resolves with its exit code and what it logged (stderr). */
  stop(): Promise<{ code: number | null; stderr: string }>;
}

/** `theo serve ...args` with the calls firehose read from the start. */
export async function serveCalls(args: string[]): Promise<ServedCalls> {
  const { run, url } = await serveTheo(args);
  const f = await readFirehose(url);
  return {
    run,
    base: url,
    firehose: f.events,
    async stop() {
      f.close();
      const done = await stopTheo(run);
      return { code: done?.code ?? 0, stderr: done?.stderr ?? '' };
    },
  };
}
