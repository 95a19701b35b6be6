// A drachtio-server test double built from a real drachtio-server v0.9.10's recordings (test/fixtures/drachtio):
// a TCP server on 127.0.0.1 that speaks drachtio's application wire protocol (`<byte length>#<payload>`
// frames) to a drachtio-srf application. The handshake is the recorded one: `authenticate` is answered with the
// recorded hostports and version (NOK for a wrong secret), `route|<verb>` and `ping` with OK / OK|pong; an app
// that authenticates late, routes verbs the recorded app did not, or misses one is a `violation`. play(scenario)
// replays the server side of a recorded call on the app's connection: the network's requests and responses
// (`sip|network|…`) at their recorded offsets, each app frame checked against the recorded one (kind,
// transaction / dialog id, status or method, Call-ID, CSeq, From, To) and answered with the recorded
// `…|Msg sent:|` echo carrying what the app actually sent. Every uuid, the sipp call number and the server's
// tags and branches are fresh per play, so plays run concurrently on one connection, each taking only the app
// frames with its ids. The caller's RTP (the recorded packets' timing, sequence numbers, timestamps and SSRC,
// µ-law payloads from opts.audio or silence) goes from the play's own UDP socket, which the INVITE's SDP names,
// to the address in the app's SDP answer once the ACK has been sent.
import { randomBytes, randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { serializeRtp } from '../../src/mediaplane/rtp/packet.js';

const TRACES = new URL('../fixtures/drachtio/traces/', import.meta.url);
const CRLF = '\r\n';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const UUID_ONLY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** µ-law bytes per 20 ms packet. */
const PACKET_BYTES = 160;
const PACKET_MS = 20;
/** How long after authenticating an app has to route every recorded verb. */
const ROUTE_SETTLE_MS = 1000;

export const SCENARIOS = ['options', 'options_with_ping', 'basic_call', 'basic_call_tcp', 'hold_unhold', 'uas_hangup', 'reject_486', 'cancel'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface PlayOptions {
  /** The caller's audio, G.711 µ-law, 160 bytes a packet; absent: µ-law silence (0xFF). Audio longer than the recorded packets is sent on at 20 ms and delays the steps recorded after the last packet. */
  audio?: Uint8Array;
  /** Multiplies the recorded gaps between SIP steps (not the RTP pacing); default 1. */
  timeScale?: number;
  /** How long to wait for each frame the app should send; default 10 s. */
  timeoutMs?: number;
  /** Variations on the recording: the first INVITE's SDP replaced (null: an INVITE without SDP, a late offer). */
  offer?: string | null;
  /** The signalling source address the network frames report (the recorded one is 127.0.0.1). */
  source?: string;
  /** The final status expected of the app where the recording has a failure (e.g. 488 or 403 for reject_486's 486). */
  status?: number;
}

export interface PlayResult {
  scenario: Scenario;
  /** The call's (fresh) Call-ID. */
  callId: string;
  /** The app's SDP answer to the INVITE. */
  answerSdp?: string;
  /** The port in that answer, where the RTP went. */
  rtpPort?: number;
  rtpPacketsSent: number;
  /** First lines of the SIP messages the app sent, in order. */
  appMessages: string[];
  /** Status codes of the responses the app sent, in order. */
  statuses: number[];
}

// ---- the recordings ------------------------------------------------------------------------------

interface WireFrame {
  ts: string;
  t_ms: number;
  dir: 'app->server' | 'server->app';
  kind: string;
  fields: string[];
  payload: string;
}

interface RtpRow {
  ts: string;
  t_ms: number;
  seq: number;
  rtp_ts: number;
  ssrc: string;
  pt: number;
  m: number;
}

/** A server→app `sip|network|…` frame, or an app→server `sip|…` frame with the server's `Msg sent` echo. */
interface Step {
  dir: 'network' | 'app';
  /** ms on the recording's wire timeline. */
  at: number;
  payload: string;
  echo?: string;
  /** network: recorded SIP bytes minus the `<len>` field (drachtio counts the bytes received, before it adds `;rport=N`). */
  lenDelta: number;
  /** network: the step whose `<len>` this one repeats (drachtio reports a CANCEL with its INVITE's length). */
  lenFrom?: number;
}

interface RtpPacket {
  /** ms after the ACK was sent. */
  at: number;
  seq: number;
  ts: number;
  ssrc: number;
  pt: number;
  marker: boolean;
}

interface Recording {
  scenario: Scenario;
  steps: Step[];
  rtp: RtpPacket[];
  /** The step after which the RTP starts (the first ACK). */
  ackStep: number;
  /** The last RTP packet on the wire timeline (absent without RTP). */
  lastRtpAt?: number;
  sippNumber: string;
  /** Tags and branches drachtio-server generated. */
  serverTokens: string[];
}

function readJsonl<T>(file: string): T[] {
  const text = readFileSync(new URL(file, TRACES), 'utf8').trim();
  return text ? text.split('\n').map((l) => JSON.parse(l) as T) : [];
}

/** Epoch ms minus t_ms: `ts` is the same instant truncated to the ms, so the largest difference is the closest. */
function clockOffset(rows: { ts: string; t_ms: number }[]): number {
  return Math.max(...rows.map((r) => Date.parse(r.ts) - r.t_ms));
}

function splitFrame(payload: string): { fields: string[]; sip: string } {
  const nl = payload.indexOf(CRLF);
  return nl < 0 ? { fields: payload.split('|'), sip: '' } : { fields: payload.slice(0, nl).split('|'), sip: payload.slice(nl + 2) };
}

function loadScenario(scenario: Scenario): Recording {
  const frames = readJsonl<WireFrame>(`${scenario}.wire.frames.jsonl`);
  const steps: Step[] = [];
  for (const f of frames) {
    if (f.kind === 'sip' && f.dir === 'server->app') steps.push({ dir: 'network', at: f.t_ms, payload: f.payload, ...lengthRule(f.payload, steps) });
    else if (f.kind === 'sip') steps.push({ dir: 'app', at: f.t_ms, payload: f.payload, lenDelta: 0 });
    else if (f.kind === 'response' && f.fields[4] === 'application') {
      const app = steps.at(-1);
      if (app?.dir !== 'app' || splitFrame(app.payload).fields[0] !== f.fields[2]) throw new Error(`${scenario}: an echo that answers no preceding app frame`);
      app.echo = f.payload;
    }
    // authenticate, route, ping and their answers belong to the connection, not to the call.
  }
  if (steps[0]?.dir !== 'network') throw new Error(`${scenario}: the recording does not start with the network`);
  const text = steps.map((s) => `${s.payload}\n${s.echo ?? ''}`).join('\n');
  const ackStep = steps.findIndex((s) => s.dir === 'network' && splitFrame(s.payload).sip.startsWith('ACK '));
  const rows = readJsonl<RtpRow>(`${scenario}.rtp.jsonl`);
  const rtp: RtpPacket[] = [];
  let lastRtpAt: number | undefined;
  if (rows.length > 0) {
    const ack = steps[ackStep];
    if (!ack) throw new Error(`${scenario}: RTP without an ACK`);
    const toWire = clockOffset(rows) - clockOffset(frames);
    for (const r of rows) rtp.push({ at: r.t_ms + toWire - ack.at, seq: r.seq, ts: r.rtp_ts, ssrc: Number(r.ssrc), pt: r.pt, marker: r.m === 1 });
    lastRtpAt = ack.at + rtp.at(-1)!.at;
  }
  const sippNumber = /Call-ID: 1-(\d+)@/.exec(text)?.[1];
  if (!sippNumber) throw new Error(`${scenario}: no sipp Call-ID`);
  const tags = [...text.matchAll(/;tag=([A-Za-z0-9]+)/g)].map((m) => m[1]!).filter((t) => !t.includes('SIPpTag'));
  const branches = [...text.matchAll(/branch=(z9hG4bK[A-Za-z0-9]+)/g)].map((m) => m[1]!);
  return { scenario, steps, rtp, ackStep, lastRtpAt, sippNumber, serverTokens: [...new Set([...tags, ...branches])] };
}

function lengthRule(payload: string, earlier: Step[]): Pick<Step, 'lenDelta' | 'lenFrom'> {
  const { fields, sip } = splitFrame(payload);
  const len = fields[3];
  if (sip.startsWith('CANCEL ')) {
    const invite = earlier.findIndex((s) => s.dir === 'network' && splitFrame(s.payload).fields[3] === len && splitFrame(s.payload).fields[8] === fields[8]);
    if (invite >= 0) return { lenDelta: 0, lenFrom: invite };
  }
  return { lenDelta: Buffer.byteLength(sip) - Number(len) };
}

const RECORDINGS = new Map(SCENARIOS.map((s) => [s, loadScenario(s)]));

/** What the recorded app sent before its first call and what the server answered. */
const HANDSHAKE = ((): { secret: string; authOk: string[]; routes: string[]; pong: string[] } => {
  const frames = readJsonl<WireFrame>('options_with_ping.wire.frames.jsonl');
  const answer = (id: string | undefined): string[] => frames.find((f) => f.kind === 'response' && f.fields[2] === id)?.fields.slice(3) ?? [];
  const auth = frames.find((f) => f.kind === 'authenticate')!;
  const ping = frames.find((f) => f.kind === 'ping')!;
  const routes = frames.filter((f) => f.kind === 'route').map((f) => f.fields[2]!);
  return { secret: auth.fields[2]!, authOk: answer(auth.fields[0]), routes, pong: answer(ping.fields[0]) };
})();

// ---- SIP text --------------------------------------------------------------------------------------

interface Sip {
  start: string;
  headers: [string, string][];
  body: string;
}

function parseSip(text: string): Sip {
  const end = text.indexOf(CRLF + CRLF);
  const head = end < 0 ? text : text.slice(0, end);
  const [start = '', ...lines] = head.split(CRLF);
  const headers = lines.map((l): [string, string] => [l.slice(0, l.indexOf(':')).trim(), l.slice(l.indexOf(':') + 1).trim()]);
  return { start, headers, body: end < 0 ? '' : text.slice(end + 4) };
}

function formatSip(sip: Sip): string {
  return [sip.start, ...sip.headers.map(([n, v]) => `${n}: ${v}`)].join(CRLF) + CRLF + CRLF + sip.body;
}

function header(sip: Sip, name: string): string | undefined {
  return sip.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

const isResponse = (sip: Sip): boolean => sip.start.startsWith('SIP/2.0 ');
const statusOf = (sip: Sip): number => Number(sip.start.split(' ')[1]);
const methodOf = (sip: Sip): string => sip.start.split(' ')[0] ?? '';

/** Sets Content-Length to the body's bytes, keeping the recorded padding (sipp writes `Content-Length:   202`). */
function fixContentLength(text: string): string {
  const body = text.indexOf(CRLF + CRLF);
  const bytes = body < 0 ? 0 : Buffer.byteLength(text.slice(body + 4));
  return text.replace(/^(Content-Length:)( +\d+)/im, (_m, name: string, old: string) => `${name} ${String(bytes).padStart(old.length - 1)}`);
}

/** The SIP message with another body (null: none, and no Content-Type). */
function withBody(sip: string, body: string | null): string {
  const head = sip.slice(0, sip.indexOf(CRLF + CRLF));
  if (body === null) return `${head.replace(/^Content-Type:.*\r\n/im, '')}${CRLF}${CRLF}`;
  return `${head}${CRLF}${CRLF}${body}`;
}

function sdpMedia(sdp: string): { host: string; port: number; direction: string } | undefined {
  const host = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
  const port = /^m=audio (\d+)/m.exec(sdp)?.[1];
  if (!host || !port) return undefined;
  return { host, port: Number(port), direction: /^a=(sendrecv|sendonly|recvonly|inactive)/m.exec(sdp)?.[1] ?? 'sendrecv' };
}

/** The answer directions RFC 3264 §6.1 allows for an offer's. */
const ANSWERS: Record<string, string[]> = { sendrecv: ['sendrecv', 'sendonly', 'recvonly', 'inactive'], sendonly: ['recvonly', 'inactive'], recvonly: ['sendonly', 'inactive'], inactive: ['inactive'] };

/** Headers the server writes itself: the echo keeps the recorded ones whatever the app sent. */
const SERVER_HEADERS = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length']);
/** Headers the server adds when the app sends none. */
const SERVER_DEFAULTS = new Set(['contact']);

const titleCase = (name: string): string => (/[A-Z]/.test(name) ? name : name.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()));

/**
 * The SIP the server sent for an app's message: the recorded "as sent" text with the app's start line (a
 * request keeps the server's request URI), body and own headers in place of the recorded app's.
 */
function asSent(template: Sip, recordedApp: Sip, actual: Sip): string {
  const recordedOwn = new Set(recordedApp.headers.map(([n]) => n.toLowerCase()).filter((n) => !SERVER_HEADERS.has(n)));
  const own = actual.headers.filter(([n]) => !SERVER_HEADERS.has(n.toLowerCase()));
  const placed = new Set<string>();
  const headers: [string, string][] = [];
  for (const [name, value] of template.headers) {
    const key = name.toLowerCase();
    const mine = own.filter(([n]) => n.toLowerCase() === key);
    if (key === 'content-length') headers.push([name, String(Buffer.byteLength(actual.body))]);
    else if (mine.length > 0) {
      for (const [, v] of mine) headers.push([name, v]);
      placed.add(key);
    } else if (!recordedOwn.has(key) || SERVER_DEFAULTS.has(key)) headers.push([name, value]);
  }
  const rest = own.filter(([n]) => !placed.has(n.toLowerCase())).map(([n, v]): [string, string] => [titleCase(n), v]);
  const at = headers.findIndex(([n]) => n.toLowerCase() === 'content-length');
  headers.splice(at < 0 ? headers.length : at, 0, ...rest);
  const start = isResponse(actual) ? actual.start : `${methodOf(actual)} ${template.start.split(' ')[1]} SIP/2.0`;
  return formatSip({ start, headers, body: actual.body });
}

/** drachtio's time field: HH:MM:SS.uuuuuu (UTC). */
function wireTime(): string {
  const micros = String(Math.floor((performance.now() % 1) * 1000)).padStart(3, '0');
  return new Date().toISOString().slice(11, 23) + micros;
}

const randomToken = (length: number): string =>
  [...randomBytes(length)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62]).join('');

let nextSippNumber = 20_000 + Math.floor(Math.random() * 20_000);

// ---- the wire ----------------------------------------------------------------------------------------

/** Splits the byte stream into frame payloads; throws on a malformed length prefix. */
class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: string[] = [];
    for (;;) {
      const hash = this.buf.indexOf(0x23);
      if (hash < 0) {
        // An incomplete length prefix: at most 10 digits so far.
        const partial = this.buf.toString('latin1', 0, Math.min(this.buf.length, 11));
        if (!/^\d{0,10}$/.test(partial)) throw new Error(`malformed frame length '${partial}'`);
        return frames;
      }
      const prefix = this.buf.toString('latin1', 0, hash);
      if (!/^[1-9]\d{0,9}$/.test(prefix)) throw new Error(`malformed frame length '${prefix.slice(0, 20)}'`);
      const end = hash + 1 + Number(prefix);
      if (this.buf.length < end) return frames;
      frames.push(this.buf.toString('utf8', hash + 1, end));
      this.buf = this.buf.subarray(end);
    }
  }
}

class AppConnection {
  authenticated = false;
  ready = false;
  /** dropConnection() or close() ended it: the plays on it fail without a violation. */
  expectedClose = false;
  readonly routes = new Set<string>();
  readonly plays = new Set<Play>();
  readonly ended: Play[] = [];
  settleTimer: NodeJS.Timeout | undefined;

  constructor(readonly socket: net.Socket) {}

  send(payload: string): void {
    if (!this.socket.destroyed) this.socket.write(`${Buffer.byteLength(payload)}#${payload}`);
  }
}

// ---- a call --------------------------------------------------------------------------------------------

interface AppFrame {
  fields: string[];
  sip: Sip;
}

/** One replay of a recorded scenario on one app connection, with its own ids, UDP socket and timers. */
class Play {
  readonly abort = new AbortController();
  private readonly steps: Step[];
  private readonly keys = new Set<string>();
  private readonly callId: string;
  private readonly scale: number;
  private readonly timeoutMs: number;
  private readonly inbox: AppFrame[] = [];
  private waiter: ((f: AppFrame) => void) | undefined;
  private udp: dgram.Socket | undefined;
  private startedAt = 0;
  private readonly sentLen: number[] = [];
  private offerDirection = 'sendrecv';
  private dest: { host: string; port: number } | undefined;
  private readonly rtpStop = new AbortController();
  private rtpDone: Promise<void> = Promise.resolve();
  private rtpEndedAt = 0;
  private readonly result: PlayResult;

  constructor(
    private readonly rec: Recording,
    private readonly conn: AppConnection,
    private readonly opts: PlayOptions,
    private readonly violation: (v: string) => void,
  ) {
    this.scale = opts.timeScale ?? 1;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    const map = freshIds(rec);
    this.steps = rec.steps.map((s) => ({ ...s, payload: map(s.payload), echo: s.echo === undefined ? undefined : map(s.echo) }));
    for (const s of this.steps) {
      const { fields, sip } = splitFrame(s.payload);
      const ids = s.dir === 'network' ? [fields[8], fields[9]] : [fields[2], fields[3]];
      // The echo of an app request names the transaction the server opened for it (and the dialog).
      const echo = s.echo === undefined ? [] : splitFrame(s.echo).fields.slice(10, 12);
      for (const id of [...ids, ...echo, header(parseSip(sip), 'Call-ID')]) if (id && (UUID_ONLY.test(id) || id.includes('@'))) this.keys.add(id);
    }
    this.callId = header(parseSip(splitFrame(this.steps[0]!.payload).sip), 'Call-ID')!;
    this.result = { scenario: rec.scenario, callId: this.callId, rtpPacketsSent: 0, appMessages: [], statuses: [] };
    this.abort.signal.addEventListener('abort', () => this.rtpStop.abort(), { once: true });
  }

  get scenario(): Scenario {
    return this.rec.scenario;
  }

  /** The frame carries this play's transaction id, dialog id or Call-ID. */
  owns(frame: AppFrame): boolean {
    return [frame.fields[2], frame.fields[3], header(frame.sip, 'Call-ID')].some((k) => k !== undefined && k !== '' && this.keys.has(k));
  }

  deliver(frame: AppFrame): void {
    if (this.waiter) this.waiter(frame);
    else this.inbox.push(frame);
  }

  async run(): Promise<PlayResult> {
    try {
      if (this.steps.some((s) => s.dir === 'network' && /^m=audio /m.test(s.payload))) await this.bindUdp();
      for (const [i, step] of this.steps.entries()) {
        if (step.dir === 'network') await this.sendNetwork(i, step);
        else await this.receiveApp(i, step);
      }
      const extra = this.inbox.map((f) => `'${f.sip.start}'`);
      if (extra.length > 0) throw this.fail(`the app sent ${extra.join(', ')}, which the recording does not have`);
      return this.result;
    } catch (err) {
      throw this.abort.signal.aborted ? (this.abort.signal.reason as Error) : err;
    } finally {
      this.rtpStop.abort();
      await this.rtpDone;
      this.udp?.close();
    }
  }

  private fail(message: string): Error {
    const v = `${this.rec.scenario}: ${message}`;
    this.violation(v);
    return new Error(v);
  }

  private bindUdp(): Promise<void> {
    const udp = dgram.createSocket('udp4');
    this.udp = udp;
    udp.on('error', () => undefined);
    return new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
  }

  // -- network → app

  private async sendNetwork(i: number, step: Step): Promise<void> {
    const first = this.steps[0]!;
    if (i === 0) this.startedAt = performance.now();
    let due = this.startedAt + this.scale * (step.at - first.at);
    if (this.rec.lastRtpAt !== undefined && step.at > this.rec.lastRtpAt) {
      // The caller speaks, then acts: after the (possibly extended) RTP, at the recorded gap.
      await this.rtpDone;
      due = this.rtpEndedAt + this.scale * (step.at - this.rec.lastRtpAt);
    }
    await sleep(Math.max(0, due - performance.now()), undefined, { signal: this.abort.signal });
    const payload = this.networkPayload(i, step);
    this.conn.send(payload);
    const sip = parseSip(splitFrame(payload).sip);
    if (methodOf(sip) === 'INVITE' && sip.body) this.offerDirection = sdpMedia(sip.body)?.direction ?? 'sendrecv';
    if (methodOf(sip) === 'BYE') this.rtpStop.abort();
    if (i === this.rec.ackStep && this.rec.rtp.length > 0) this.startRtp();
  }

  private networkPayload(i: number, step: Step): string {
    const { fields, sip } = splitFrame(step.payload);
    const offered = i === 0 && this.opts.offer !== undefined ? withBody(sip, this.opts.offer) : sip;
    const text = fixContentLength(this.udp ? offered.replace(/^m=audio \d+/m, `m=audio ${this.udp.address().port}`) : offered);
    if (this.opts.source !== undefined && fields[2] === 'network') fields[5] = this.opts.source;
    const len = step.lenFrom === undefined ? Buffer.byteLength(text) - step.lenDelta : this.sentLen[step.lenFrom]!;
    this.sentLen[i] = len;
    fields[3] = String(len);
    if (/^\d\d:\d\d:\d\d\.\d+$/.test(fields[7] ?? '')) fields[7] = wireTime();
    return fields.join('|') + CRLF + text;
  }

  // -- app → network

  private async receiveApp(i: number, step: Step): Promise<void> {
    const want = splitFrame(step.payload);
    const wantSip = parseSip(want.sip);
    const got = await this.next(`'${wantSip.start}'`);
    this.check(i, want.fields, wantSip, got);
    this.result.appMessages.push(got.sip.start);
    if (isResponse(got.sip)) this.result.statuses.push(statusOf(got.sip));
    if (wantSip.body) this.checkAnswer(got.sip);
    if (step.echo) this.conn.send(this.echoPayload(step.echo, wantSip, got));
    if (methodOf(got.sip) === 'BYE') this.rtpStop.abort();
  }

  private next(expected: string): Promise<AppFrame> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    const signal = this.abort.signal;
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        this.waiter = undefined;
        reject(signal.reason as Error);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        reject(this.fail(`no ${expected} from the app within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = (frame): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        resolve(frame);
      };
    });
  }

  /** The app's frame against the recorded one (ids already mapped to this play's). */
  private check(i: number, want: string[], wantSip: Sip, got: AppFrame): void {
    const problems: string[] = [];
    const differ = (what: string, actual: string | undefined, expected: string | undefined): void => {
      if (actual !== expected) problems.push(`${what} ${JSON.stringify(actual)}, recorded ${JSON.stringify(expected)}`);
    };
    differ('frame kind', got.fields[1], want[1]);
    if (isResponse(wantSip) !== isResponse(got.sip)) problems.push(`a ${isResponse(got.sip) ? 'response' : 'request'} where the recording has '${wantSip.start}'`);
    else if (isResponse(wantSip)) {
      differ('transaction id', got.fields[2], want[2]);
      differ('dialog id', got.fields[3] ?? '', want[3]);
      const recorded = statusOf(wantSip);
      differ('status', String(statusOf(got.sip)), String(this.opts.status !== undefined && recorded >= 300 ? this.opts.status : recorded));
    } else {
      differ('transaction id', got.fields[2], want[2]);
      differ('dialog id', got.fields[3], want[3]);
      differ('method', methodOf(got.sip), methodOf(wantSip));
      differ('request URI', got.sip.start.split(' ')[1], wantSip.start.split(' ')[1]);
    }
    for (const name of ['Call-ID', 'CSeq', 'From', 'To']) {
      if (header(wantSip, name) !== undefined) differ(name, header(got.sip, name), header(wantSip, name));
    }
    if (problems.length > 0) throw this.fail(`step ${i}, the app's '${got.sip.start}': ${problems.join('; ')}`);
  }

  /** An SDP answer where the recorded app gave one: its direction fits the offer; RTP goes to its address. */
  private checkAnswer(sip: Sip): void {
    const media = sdpMedia(sip.body);
    if (!media) throw this.fail(`the app's '${sip.start}' carries no SDP audio answer`);
    if (!ANSWERS[this.offerDirection]?.includes(media.direction)) throw this.fail(`a=${media.direction} answers an a=${this.offerDirection} offer`);
    this.dest = { host: media.host, port: media.port };
    this.result.answerSdp ??= sip.body;
    this.result.rtpPort ??= media.port;
  }

  private echoPayload(echo: string, recordedApp: Sip, got: AppFrame): string {
    const { fields, sip } = splitFrame(echo);
    const text = asSent(parseSip(sip), recordedApp, got.sip);
    fields[2] = got.fields[0]!;
    fields[5] = String(Buffer.byteLength(text));
    if (/^\d\d:\d\d:\d\d\.\d+$/.test(fields[9] ?? '')) fields[9] = wireTime();
    return fields.join('|') + CRLF + text;
  }

  // -- RTP

  private startRtp(): void {
    const packets = [...this.rec.rtp];
    const audio = this.opts.audio;
    const last = packets.at(-1)!;
    const extra = audio ? Math.ceil(audio.length / PACKET_BYTES) - packets.length : 0;
    for (let j = 1; j <= extra; j++) {
      packets.push({ ...last, at: last.at + j * PACKET_MS, seq: (last.seq + j) & 0xffff, ts: (last.ts + j * PACKET_BYTES) >>> 0, marker: false });
    }
    this.rtpDone = this.sendRtp(packets, performance.now());
  }

  private async sendRtp(packets: RtpPacket[], ackAt: number): Promise<void> {
    try {
      for (const [k, p] of packets.entries()) {
        await sleep(Math.max(0, ackAt + p.at - performance.now()), undefined, { signal: this.rtpStop.signal });
        if (!this.dest || !this.udp) break;
        const fields = { payloadType: p.pt, marker: p.marker, sequenceNumber: p.seq, timestamp: p.ts, ssrc: p.ssrc };
        this.udp.send(serializeRtp(fields, this.payload(k)), this.dest.port, this.dest.host);
        this.result.rtpPacketsSent++;
      }
    } catch {
      // Stopped: the call ended or the play was abandoned.
    } finally {
      this.rtpEndedAt = performance.now();
    }
  }

  private payload(k: number): Buffer {
    const out = Buffer.alloc(PACKET_BYTES, 0xff);
    const audio = this.opts.audio;
    if (audio && k * PACKET_BYTES < audio.length) out.set(audio.subarray(k * PACKET_BYTES, (k + 1) * PACKET_BYTES));
    return out;
  }
}

/** A consistent rewrite of a recording's ids: fresh uuids, sipp call number and server tags / branches. */
function freshIds(rec: Recording): (text: string) => string {
  const uuids = new Map<string, string>();
  const n = rec.sippNumber;
  const m = String(nextSippNumber++);
  const tokens = rec.serverTokens.map((t): [string, string] => [t, t.startsWith('z9hG4bK') ? `z9hG4bK${randomToken(t.length - 7)}` : randomToken(t.length)]);
  return (text) => {
    let out = text.replace(UUID, (u) => uuids.get(u) ?? uuids.set(u, randomUUID()).get(u)!);
    out = out.replace(new RegExp(`\\b1-${n}@`, 'g'), `1-${m}@`).replace(new RegExp(`\\b${n}SIPpTag`, 'g'), `${m}SIPpTag`).replace(new RegExp(`z9hG4bK-${n}-`, 'g'), `z9hG4bK-${m}-`);
    for (const [from, to] of tokens) out = out.split(from).join(to);
    return out;
  };
}

// ---- the server ------------------------------------------------------------------------------------------

export class DrachtioDouble {
  /** Departures from the recordings: handshake, app frames, unexpected frames. */
  readonly violations: string[] = [];
  /** Successful handshakes. */
  connections = 0;
  /** `authenticate` with a wrong secret (answered NOK). */
  authFailures = 0;
  pings = 0;
  private current: AppConnection | undefined;
  private readonly conns = new Set<AppConnection>();
  private readonly running = new Set<Promise<PlayResult>>();
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private closed = false;
  private listenPort = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly secret: string,
  ) {}

  /** Listens on 127.0.0.1 (an ephemeral port); apps authenticate with `secret` (default: the recorded one). */
  static async start(opts: { secret?: string } = {}): Promise<DrachtioDouble> {
    const server = net.createServer();
    const double = new DrachtioDouble(server, opts.secret ?? HANDSHAKE.secret);
    server.on('connection', (socket) => double.onConnection(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    double.listenPort = (server.address() as AddressInfo).port;
    return double;
  }

  /** The port apps connect to. */
  get port(): number {
    return this.listenPort;
  }

  /** Resolves once an app has authenticated and routed its verbs (at once if one has). */
  whenReady(): Promise<void> {
    if (this.current?.ready) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('the drachtio double is closed'));
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    p.catch(() => undefined);
    return p;
  }

  /** Destroys the app's connection (drachtio-server restarting); whenReady() then waits for the next handshake. */
  dropConnection(): void {
    const conn = this.current;
    if (!conn) return;
    conn.expectedClose = true;
    this.current = undefined;
    conn.socket.destroy();
  }

  /** Replays `scenario` on the app's connection; rejects on a violation, a timeout or a lost connection. */
  play(scenario: Scenario, opts: PlayOptions = {}): Promise<PlayResult> {
    const rec = RECORDINGS.get(scenario);
    const conn = this.current;
    if (!rec) return Promise.reject(new Error(`play(${scenario}): no such recording (${SCENARIOS.join(', ')})`));
    if (!conn?.ready) return Promise.reject(new Error(`play(${scenario}): no app is connected and routed (await whenReady())`));
    const play = new Play(rec, conn, opts, (v) => this.violations.push(v));
    conn.plays.add(play);
    const p = play.run().finally(() => {
      conn.plays.delete(play);
      conn.ended.push(play);
      this.running.delete(p);
    });
    this.running.add(p);
    // Awaited by the caller; a play abandoned by close() must not become an unhandled rejection.
    p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters) w.reject(new Error('the drachtio double is closed'));
    this.waiters = [];
    for (const conn of this.conns) {
      conn.expectedClose = true;
      clearTimeout(conn.settleTimer);
      for (const play of conn.plays) play.abort.abort(new Error(`${play.scenario}: the drachtio double was closed`));
      conn.socket.destroy();
    }
    await Promise.allSettled([...this.running]);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- connections

  private onConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn = new AppConnection(socket);
    const reader = new FrameReader();
    this.conns.add(conn);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) this.onFrame(conn, frame);
      } catch (err) {
        this.violations.push(`wire: ${(err as Error).message}; closing the connection`);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose(conn));
  }

  private onClose(conn: AppConnection): void {
    this.conns.delete(conn);
    clearTimeout(conn.settleTimer);
    if (this.current === conn) this.current = undefined;
    for (const play of conn.plays) {
      const reason = `${play.scenario}: the app connection closed mid-call`;
      if (!conn.expectedClose) this.violations.push(reason);
      play.abort.abort(new Error(reason));
    }
  }

  private onFrame(conn: AppConnection, payload: string): void {
    const { fields, sip } = splitFrame(payload);
    const [msgId = '', kind = ''] = fields;
    if (kind === 'ping') {
      this.pings++;
      conn.send([randomUUID(), 'response', msgId, ...HANDSHAKE.pong].join('|'));
    } else if (kind === 'authenticate') this.onAuthenticate(conn, fields);
    else if (!conn.authenticated) this.violations.push(`handshake: '${kind}' before authenticating`);
    else if (kind === 'route') this.onRoute(conn, fields);
    else if (kind === 'sip') this.dispatch(conn, { fields, sip: parseSip(sip) });
    else this.violations.push(`app: a '${kind}' frame, which the recorded app never sent`);
  }

  private onAuthenticate(conn: AppConnection, fields: string[]): void {
    const [msgId = '', , secret] = fields;
    if (conn.authenticated) this.violations.push('handshake: authenticate on an authenticated connection');
    const ok = secret === this.secret;
    const status = ok ? HANDSHAKE.authOk : ['NOK', ...HANDSHAKE.authOk.slice(1)];
    conn.send([randomUUID(), 'response', msgId, ...status].join('|'));
    if (!ok) {
      this.authFailures++;
      return;
    }
    conn.authenticated = true;
    this.connections++;
    this.current = conn;
    conn.settleTimer = setTimeout(() => {
      const missing = HANDSHAKE.routes.filter((r) => !conn.routes.has(r));
      this.violations.push(`handshake: no route for ${missing.join(', ')} within ${ROUTE_SETTLE_MS} ms (recorded: ${HANDSHAKE.routes.join(', ')})`);
      this.markReady(conn);
    }, ROUTE_SETTLE_MS);
  }

  private onRoute(conn: AppConnection, fields: string[]): void {
    const [msgId = '', , verb = ''] = fields;
    if (!HANDSHAKE.routes.includes(verb)) this.violations.push(`handshake: route|${verb}, which the recorded app did not route`);
    if (conn.routes.has(verb)) this.violations.push(`handshake: route|${verb} twice`);
    conn.routes.add(verb);
    conn.send([randomUUID(), 'response', msgId, 'OK'].join('|'));
    if (HANDSHAKE.routes.every((r) => conn.routes.has(r))) this.markReady(conn);
  }

  private markReady(conn: AppConnection): void {
    clearTimeout(conn.settleTimer);
    if (conn.ready) return;
    conn.ready = true;
    if (conn !== this.current) return;
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** An app `sip` frame to the play it belongs to. */
  private dispatch(conn: AppConnection, frame: AppFrame): void {
    const play = [...conn.plays].find((p) => p.owns(frame));
    if (play) {
      play.deliver(frame);
      return;
    }
    const ended = conn.ended.find((p) => p.owns(frame));
    this.violations.push(ended ? `${ended.scenario}: the app sent '${frame.sip.start}' after the scenario ended` : `app: '${frame.sip.start}' (${frame.fields.slice(1).join('|')}) belongs to no call in play`);
  }
}
