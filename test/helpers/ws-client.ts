// A WebSocket client for tests against `theo serve`: collects the JSON events it is sent, waits for them,
// streams audio at real-time pace, and reads the HTTP answer of a refused handshake.
import WebSocket from 'ws';
import { paced, waitFor } from './pace.js';

export interface Msg {
  type: string;
  [k: string]: unknown;
}

export class Client {
  readonly messages: Msg[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly ws: WebSocket;
  private readonly opened: Promise<void>;
  private readonly ended: Promise<{ code: number; reason: string }>;

  constructor(url: string, opts: WebSocket.ClientOptions = {}, protocols: string[] = []) {
    this.ws = new WebSocket(url, protocols, opts);
    this.ws.on('message', (d, binary) => {
      if (!binary) this.messages.push(JSON.parse(text(d)) as Msg);
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ended = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        resolve(this.closed);
      }),
    );
  }

  open(): Promise<void> {
    return this.opened;
  }

  closedWith(): Promise<{ code: number; reason: string }> {
    return this.ended;
  }

  send(msg: object): void {
    this.ws.send(JSON.stringify(msg));
  }

  of(type: string): Msg[] {
    return this.messages.filter((m) => m.type === type);
  }

  until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
    return waitFor(what, ok, () => this.messages.map((m) => m.type).join(', '), ms);
  }

  /** Sends the audio in 20 ms chunks at real-time pace. */
  stream(bytes: Buffer, bytesPer20ms: number): Promise<void> {
    return paced(bytes, bytesPer20ms, (chunk) => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(chunk);
    });
  }
}

function json(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

export function text(d: WebSocket.RawData): string {
  return (Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d as ArrayBuffer)).toString('utf8');
}

/** A handshake the server answers with an HTTP error instead of an upgrade: its status and body (JSON when it is). */
export function refused(url: string, opts: WebSocket.ClientOptions = {}, protocols: string[] = []): Promise<{ status: number; body: unknown }> {
  const ws = new WebSocket(url, protocols, opts);
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error(`${url} was upgraded`)));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: json(body) }));
    });
  });
}
