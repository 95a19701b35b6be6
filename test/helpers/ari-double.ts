// An Asterisk ARI test double built from a real Asterisk 22's recordings (test/fixtures/asterisk-22): its
// events are the recorded ones carrying the ids of the call at hand, its REST answers the recorded bodies,
// and every REST call it receives is checked against the recorded Swagger listing (path, method, required
// and known parameters, allowed values) — a mismatch is a `violation`. Calls are driven by the test:
// startCall() (a caller channel enters the Stasis app, as `Stasis(theo)` in a dialplan does), hangup(),
// dropConnections() / refuseConnections() (Asterisk restarting). Once the call's ExternalMedia channel and
// the caller share a bridge, the caller's audio (G.711 µ-law) is sent to the ExternalMedia channel's
// external_host as Asterisk sends it: 20 ms packets of 160 bytes, PT 0, random SSRC and sequence, no packets
// during a pause and a marker bit after it.
import { randomBytes, randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { float32ToInt16, int16ToFloat32, resample } from '../../src/audio/resample.js';
import { mulawDecode } from '../../src/mediaplane/codec/g711.js';
import { writeRtp } from '../../src/mediaplane/rtp/packet.js';

const FIXTURES = new URL('../fixtures/asterisk-22/', import.meta.url);

interface SwaggerParam {
  name: string;
  paramType: 'path' | 'query' | 'body' | 'header';
  required?: boolean;
  allowableValues?: { valueType: string; values?: string[] };
}
interface SwaggerOp {
  httpMethod: string;
  parameters?: SwaggerParam[];
}
interface SwaggerApi {
  path: string;
  operations: SwaggerOp[];
}

type Json = Record<string, unknown>;

const recordedEvents = readFileSync(new URL('ari-events.jsonl', FIXTURES), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { event: Json }).event);
const recordedRest = readFileSync(new URL('rest-responses.jsonl', FIXTURES), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { method: string; path: string; response: Json | null });

const apis: { re: RegExp; api: SwaggerApi }[] = ['asterisk', 'applications', 'bridges', 'channels', 'events', 'endpoints', 'playbacks', 'recordings', 'sounds', 'deviceStates', 'mailboxes'].flatMap((name) =>
  (JSON.parse(readFileSync(new URL(`api-docs/${name}.json`, FIXTURES), 'utf8')) as { apis: SwaggerApi[] }).apis.map((api) => ({ re: new RegExp(`^${api.path.replace(/\{[^}]+\}/g, '[^/]+')}$`), api })),
);

function recordedEvent(type: string, channelName?: RegExp): Json {
  const ev = recordedEvents.find((e) => e.type === type && (!channelName || channelName.test(String((e.channel as Json | undefined)?.name))));
  if (!ev) throw new Error(`no recorded ${type} event`);
  return structuredClone(ev);
}

function recordedResponse(method: string, path: RegExp): Json {
  const r = recordedRest.find((x) => x.method === method && path.test(x.path));
  if (!r?.response) throw new Error(`no recorded ${method} ${String(path)}`);
  return structuredClone(r.response);
}

interface Channel {
  json: Json;
  /** The Stasis application the channel is in (its events go to that app's connections). */
  app: string;
  bridge: string | undefined;
  /** For a caller: µ-law audio with pauses (null = a pause of that many ms). */
  audio?: (Buffer | number)[] | undefined;
  /** What the caller hears (the other party), for snoop channels spying 'out'. */
  heard?: (Buffer | number)[] | undefined;
  /** A snoop channel: the channel it spies on and which direction. */
  snoop?: { of: string; spy: string } | undefined;
  externalHost?: { host: string; port: number } | undefined;
  /** The ExternalMedia channel's format: ulaw (PT 0, 160-byte payloads) or slin16 (PT 118, 640 bytes of big-endian L16). */
  format?: string | undefined;
  rtp?: dgram.Socket | undefined;
  sending?: boolean;
}

export interface AriRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

export class AriDouble {
  readonly requests: AriRequest[] = [];
  readonly violations: string[] = [];
  readonly channels = new Map<string, Channel>();
  readonly bridges = new Map<string, { json: Json; channels: Set<string> }>();
  readonly clients = new Set<WebSocket>();
  private readonly appOf = new WeakMap<WebSocket, string>();
  /** RTP packets sent to ExternalMedia hosts. */
  packetsSent = 0;
  private refuseUntil = 0;
  private readonly auth: string;

  private constructor(
    private readonly server: http.Server,
    private readonly wss: WebSocketServer,
    readonly app: string,
    user: string,
    password: string,
  ) {
    this.auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  static async start(opts: { user: string; password: string; app: string }): Promise<AriDouble> {
    const wss = new WebSocketServer({ noServer: true });
    const server = http.createServer();
    const double = new AriDouble(server, wss, opts.app, opts.user, opts.password);
    server.on('request', (req, res) => void double.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/ari/events' || Date.now() < double.refuseUntil) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (req.headers.authorization !== double.auth) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      double.check('GET', '/events', Object.fromEntries(url.searchParams));
      const app = url.searchParams.get('app') ?? '';
      wss.handleUpgrade(req, socket, head, (ws) => {
        double.appOf.set(ws, app);
        double.clients.add(ws);
        ws.on('close', () => double.clients.delete(ws));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return double;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A caller channel enters the app (StasisStart); `audio` is what the caller says (µ-law, numbers = pauses in ms). */
  startCall(opts: { id: string; number: string; exten: string; audio: (Buffer | number)[]; heard?: (Buffer | number)[]; state?: 'Up' | 'Ring'; app?: string }): void {
    const json = recordedEvent('StasisStart', /^Local\//).channel as Json;
    Object.assign(json, { id: opts.id, name: `PJSIP/${opts.number}-${randomBytes(4).toString('hex')}`, state: opts.state ?? 'Up', caller: { name: '', number: opts.number }, dialplan: { ...(json.dialplan as Json), context: 'from-phones', exten: opts.exten } });
    const app = opts.app ?? this.app;
    Object.assign(json, { dialplan: { ...(json.dialplan as Json), app_data: app } });
    this.channels.set(opts.id, { json, app, bridge: undefined, audio: opts.audio, heard: opts.heard });
    this.emit('StasisStart', { args: [], channel: json }, app);
  }

  /** The caller hangs up: its hangup request, StasisEnd and ChannelDestroyed, as Asterisk sends them. */
  hangup(id: string): void {
    const ch = this.channels.get(id);
    if (!ch) throw new Error(`no channel ${id}`);
    this.destroy(id, ch);
    // Its snoop channels go with it.
    for (const [sid, s] of [...this.channels]) if (s.snoop?.of === id) this.destroy(sid, s);
  }

  /** Sends `data` as it is (text or binary frame) on every event WebSocket: events no Asterisk would send. */
  sendRaw(data: string | Buffer): void {
    for (const ws of this.clients) ws.send(data);
  }

  /** Closes every event WebSocket (Asterisk restarted or the network dropped). */
  dropConnections(): void {
    for (const ws of this.clients) ws.terminate();
  }

  /** Refuses event WebSocket connections for `ms`. */
  refuseConnections(ms: number): void {
    this.refuseUntil = Date.now() + ms;
  }

  requestsTo(method: string, path: RegExp): AriRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  async close(): Promise<void> {
    for (const ch of this.channels.values()) ch.rtp?.close();
    for (const ws of this.clients) ws.terminate();
    this.wss.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---- REST ----------------------------------------------------------------------------------

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    let raw = '';
    for await (const chunk of req) raw += (chunk as Buffer).toString();
    const reply = (status: number, body?: unknown): void => {
      res.statusCode = status;
      if (body !== undefined) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      } else res.end();
    };
    if (url.pathname.startsWith('/ari/api-docs/')) {
      reply(200, JSON.parse(readFileSync(new URL(`api-docs/${url.pathname.slice('/ari/api-docs/'.length)}`, FIXTURES), 'utf8')));
      return;
    }
    if (req.headers.authorization !== this.auth) {
      reply(401, { message: 'Authentication required' });
      return;
    }
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/^\/ari/, '');
    const query = Object.fromEntries(url.searchParams);
    const body: unknown = raw ? JSON.parse(raw) : undefined;
    this.requests.push({ method, path, query, body });
    this.check(method, path, query);
    const [status, out] = this.handle(method, path.split('/').filter(Boolean).map(decodeURIComponent), query);
    reply(status, out);
  }

  /** The request against the Swagger listing. */
  private check(method: string, path: string, query: Record<string, string>): void {
    // A literal path (/channels/externalMedia) before a template that also matches it (/channels/{channelId}).
    const api = apis.filter((a) => a.re.test(path)).sort((a, b) => a.api.path.split('{').length - b.api.path.split('{').length)[0]?.api;
    const op = api?.operations.find((o) => o.httpMethod === method);
    if (!api || !op) {
      this.violations.push(`${method} ${path}: no such operation in the ARI listing`);
      return;
    }
    const params = op.parameters ?? [];
    for (const p of params) {
      if (p.paramType === 'query' && p.required && query[p.name] === undefined) this.violations.push(`${method} ${api.path}: required parameter '${p.name}' missing`);
      const allowed = p.allowableValues?.valueType === 'LIST' ? p.allowableValues.values : undefined;
      if (p.paramType === 'query' && allowed && query[p.name] !== undefined && !allowed.includes(query[p.name]!)) this.violations.push(`${method} ${api.path}: ${p.name}='${query[p.name]}' not in ${allowed.join('|')}`);
    }
    for (const k of Object.keys(query)) {
      if (!params.some((p) => p.paramType === 'query' && p.name === k) && k !== 'api_key') this.violations.push(`${method} ${api.path}: unknown parameter '${k}'`);
    }
  }

  private handle(method: string, seg: string[], query: Record<string, string>): [number, unknown?] {
    const [res, id, sub] = seg;
    if (method === 'GET' && res === 'asterisk' && id === 'info') return [200, recordedResponse('GET', /^\/asterisk\/info$/)];
    if (res === 'bridges') {
      if (method === 'POST' && !id) {
        const bridgeId = query.bridgeId ?? randomUUID();
        const json = { ...recordedResponse('POST', /^\/bridges$/), id: bridgeId, name: query.name ?? '', bridge_type: query.type ?? 'mixing', channels: [] };
        this.bridges.set(bridgeId, { json, channels: new Set() });
        return [200, json];
      }
      const bridge = this.bridges.get(id ?? '');
      if (!bridge) return [404, { message: 'Bridge not found' }];
      if (method === 'POST' && sub === 'addChannel') {
        const ch = this.channels.get(query.channel ?? '');
        if (!ch) return [400, { message: 'Channel not found' }];
        bridge.channels.add(query.channel!);
        ch.bridge = id;
        this.emit('ChannelEnteredBridge', { bridge: { ...bridge.json, channels: [...bridge.channels] }, channel: ch.json }, ch.app);
        this.maybeStartMedia(bridge.channels);
        return [204];
      }
      if (method === 'DELETE' && !sub) {
        this.bridges.delete(id!);
        this.emit('BridgeDestroyed', { bridge: { ...bridge.json, channels: [] } });
        return [204];
      }
      if (method === 'GET' && !sub) return [200, { ...bridge.json, channels: [...bridge.channels] }];
    }
    if (res === 'channels') {
      if (method === 'POST' && id === 'externalMedia') return this.externalMedia(query);
      if (method === 'POST' && res === 'channels' && !id) return [400, { message: 'originate is not simulated' }];
      const ch = this.channels.get(id ?? '');
      if (!ch) return [404, { message: 'Channel not found' }];
      if (method === 'GET' && !sub) return [200, ch.json];
      if (method === 'DELETE' && !sub) {
        this.destroy(id!, ch);
        return [204];
      }
      if (method === 'POST' && sub === 'answer') {
        ch.json.state = 'Up';
        return [204];
      }
      if (method === 'POST' && sub === 'variable') return [204];
      if (method === 'POST' && sub === 'snoop') return this.snoop(id!, ch, query);
    }
    if (method === 'POST' && res === 'events' && id === 'user') return [204];
    return [404, { message: 'not simulated' }];
  }

  private externalMedia(query: Record<string, string>): [number, unknown?] {
    const [host, port] = (query.external_host ?? '').split(':');
    if (!host || !port) return [400, { message: 'external_host is required for RTP' }];
    const id = query.channelId ?? randomUUID();
    const rtp = dgram.createSocket('udp4');
    rtp.bind(0, '127.0.0.1');
    const json: Json = { ...recordedResponse('POST', /^\/channels\/externalMedia$/), id, name: `UnicastRTP/${query.external_host}-0x${randomBytes(6).toString('hex')}` };
    const app = query.app ?? this.app;
    const ch: Channel = { json, app, bridge: undefined, externalHost: { host, port: Number(port) }, format: query.format, rtp };
    this.channels.set(id, ch);
    rtp.once('listening', () => {
      json.channelvars = { UNICASTRTP_LOCAL_PORT: String(rtp.address().port), UNICASTRTP_LOCAL_ADDRESS: '127.0.0.1' };
    });
    // The REST reply comes first, then the channel's events (as recorded).
    setTimeout(() => {
      const state = recordedEvent('ChannelStateChange', /^UnicastRTP\//);
      this.emitRaw({ ...state, channel: { ...json, state: 'Up' } }, app);
      this.emit('StasisStart', { args: [], channel: { ...json, state: 'Up' } }, app);
    }, 5);
    return [200, { ...json, state: 'Down' }];
  }

  private snoop(of: string, target: Channel, query: Record<string, string>): [number, unknown?] {
    const id = query.snoopId ?? randomUUID();
    const json: Json = { ...(target.json), id, name: `Snoop/${of}-${randomBytes(4).toString('hex')}`, state: 'Up', caller: { name: '', number: '' }, dialplan: { context: 'default', exten: 's', priority: 1, app_name: 'Stasis', app_data: this.app } };
    const app = query.app ?? this.app;
    this.channels.set(id, { json, app, bridge: undefined, snoop: { of, spy: query.spy ?? 'none' } });
    setTimeout(() => this.emit('StasisStart', { args: [], channel: json }, app), 5);
    return [200, json];
  }

  private destroy(id: string, ch: Channel): void {
    ch.sending = false;
    ch.rtp?.close();
    ch.rtp = undefined;
    this.channels.delete(id);
    if (ch.bridge) {
      const b = this.bridges.get(ch.bridge);
      b?.channels.delete(id);
      if (b) this.emit('ChannelLeftBridge', { bridge: { ...b.json, channels: [...b.channels] }, channel: ch.json }, ch.app);
    }
    this.emit('ChannelHangupRequest', { cause: 16, channel: ch.json }, ch.app);
    this.emit('StasisEnd', { channel: ch.json }, ch.app);
    this.emit('ChannelDestroyed', { cause: 16, cause_txt: 'Normal Clearing', channel: ch.json }, ch.app);
  }

  /** An event of `app` (the connections subscribed to that app get it; no app: every connection). */
  private emit(type: string, fields: Json, app?: string): void {
    this.emitRaw({ ...recordedEvent(type), ...fields }, app);
  }

  private emitRaw(ev: Json, app?: string): void {
    for (const ws of this.clients) {
      const subscribed = this.appOf.get(ws) ?? '';
      if (app !== undefined && subscribed !== app) continue;
      ws.send(JSON.stringify({ ...ev, timestamp: new Date().toISOString().replace('Z', '+0000'), application: subscribed }));
    }
  }

  // ---- media -----------------------------------------------------------------------------------

  private maybeStartMedia(members: Set<string>): void {
    const chans = [...members].map((m) => this.channels.get(m));
    const em = chans.find((c) => c?.externalHost);
    const source = chans.find((c) => c && !c.externalHost);
    // A snoop channel carries one direction of the channel it spies on: 'in' what it says, 'out' what it hears.
    const spied = source?.snoop ? this.channels.get(source.snoop.of) : undefined;
    const audio = source?.snoop ? (source.snoop.spy === 'in' ? spied?.audio : spied?.heard) : source?.audio;
    if (!em || !audio || em.sending) return;
    em.sending = true;
    void this.send(em, audio);
  }

  private async send(em: Channel, audio: (Buffer | number)[]): Promise<void> {
    const slin16 = em.format === 'slin16';
    // Samples per 20 ms packet and bytes per sample of the channel's format.
    const frame = slin16 ? 320 : 160;
    const ssrc = randomBytes(4).readUInt32BE(0);
    let seq = randomBytes(2).readUInt16BE(0);
    let ts = frame;
    let marker = false;
    const buf = new Uint8Array(12 + 2 * frame);
    let due = Date.now();
    for (const part of audio) {
      if (typeof part === 'number') {
        // No packets while nothing is said; the timestamp follows the wall clock and the next packet is marked.
        due += part;
        ts = (ts + (part * frame) / 20) >>> 0;
        marker = true;
        continue;
      }
      const payloads = slin16 ? toSlin16(part) : part;
      const size = slin16 ? 2 * frame : frame;
      for (let off = 0; off < payloads.length; off += size) {
        const payload = payloads.subarray(off, off + size);
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (!em.sending || !em.rtp || !em.externalHost) return;
        const n = writeRtp({ payloadType: slin16 ? 118 : 0, marker, sequenceNumber: seq, timestamp: ts, ssrc }, payload, buf);
        em.rtp.send(buf.subarray(0, n), em.externalHost.port, em.externalHost.host);
        this.packetsSent++;
        marker = false;
        seq = (seq + 1) & 0xffff;
        ts = (ts + (slin16 ? payload.length / 2 : payload.length)) >>> 0;
        due += 20;
      }
    }
  }
}

/** µ-law 8 kHz as Asterisk's slin16: 16 kHz big-endian 16-bit PCM. */
function toSlin16(ulaw: Buffer): Buffer {
  const pcm = new Int16Array(ulaw.length);
  mulawDecode(ulaw, pcm);
  const wide = float32ToInt16(resample(int16ToFloat32(pcm), 8000, 16000));
  const out = Buffer.alloc(wide.length * 2);
  for (let i = 0; i < wide.length; i++) out.writeInt16BE(wide[i]!, 2 * i);
  return out;
}
