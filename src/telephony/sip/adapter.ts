// The SIP side of telephony: a user agent server on drachtio-srf. Theo connects to a drachtio-server the user
// runs (like Asterisk) as an application, routes INVITE and OPTIONS, and answers each INVITE with an SDP that
// points at a port from the RTP pool; the RTP arriving there becomes the call's session. Admission, in order:
// shutting down → 503, a signalling source outside `allow` → 403, at maxCalls or the session limit → 486
// Busy Here, no free port → 503, an offer we cannot take → 488 with a Warning naming why. An INVITE without
// SDP (late offer) gets our offer in the 200 and the caller's answer comes in its ACK. With ringMs the call
// rings (180) first; a CANCEL meanwhile releases everything (drachtio-server itself answers 200 and 487).
// OPTIONS is answered 200 (503 while shutting down) so SBCs and trunks can monitor us. drachtio-srf
// reconnects with backoff when the server restarts; calls in progress keep their media.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import Srf from 'drachtio-srf';
import { errorMessage } from '../../errors/index.js';
import { PayloadTypeMap } from '../../mediaplane/codec/payload-types.js';
import type { RtpEndpoint } from '../../mediaplane/rtp/endpoint.js';
import type { RtpListener } from '../../mediaplane/rtp/listener.js';
import type { CallMetadata } from '../../session/events.js';
import type { CallSessionOptions } from '../rtp-call.js';
import { SdpNegotiationError, negotiate, offer, type OfferedFormat } from '../sdp/negotiate.js';
import { SipCall, addFormats, sdpOf } from './call.js';

/** CallMetadata.source of SIP calls: their sessions count against the calls' share of the session pool. */
const SIP_SOURCE = 'sip';

export interface SipAdapterOptions extends CallSessionOptions {
  rtp: RtpListener;
  /** The address SDP answers give (where callers send RTP). */
  rtpHost: string;
  drachtio: { host: string; port: number; secret: string; pingIntervalMs: number };
  codecs: readonly string[];
  maxCalls: number;
  ringMs: number;
  mediaTimeoutMs: number;
  allow: readonly string[];
  /** Per-number settings; the first rule matching the called number wins. */
  numbers?: readonly NumberRule[];
  registry?: Registry;
}

export interface NumberRule {
  match: RegExp;
  model?: string | undefined;
  language?: string | undefined;
  hotWords?: readonly string[] | undefined;
  ringMs?: number | undefined;
}

const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS';

type Outcome = 'answered' | 'busy' | 'forbidden' | 'unavailable' | 'not_acceptable' | 'cancelled' | 'failed';

export class SipAdapter {
  private readonly srf = new Srf();
  private readonly calls = new Map<string, SipCall>();
  private readonly allow: ReadonlySet<string>;
  private isConnected = false;
  private closing = false;
  /** Failed connection attempts since the last success. */
  private failures = 0;
  /** Calls between INVITE and answer (ringing, negotiating): they count toward maxCalls. */
  private pending = 0;
  private readonly invites: Counter<'outcome'> | undefined;

  constructor(
    private readonly opts: SipAdapterOptions,
    private readonly logger: Logger,
  ) {
    this.allow = new Set(opts.allow);
    if (opts.registry) {
      this.invites = new Counter({ name: 'theo_sip_invites_total', help: 'INVITEs received, by outcome', labelNames: ['outcome'], registers: [opts.registry] });
      const connected = (): boolean => this.isConnected;
      new Gauge({ name: 'theo_sip_connected', help: '1 while connected to drachtio-server', registers: [opts.registry], collect() { this.set(connected() ? 1 : 0); } });
    }
    this.srf.on('connect', (err, hostport) => {
      if (err) {
        this.logger.error({ err: errorMessage(err) }, 'drachtio-server refused the connection (check the secret)');
        return;
      }
      this.isConnected = true;
      this.failures = 0;
      this.logger.info({ sip: hostport }, 'connected to drachtio-server');
    });
    // Without an 'error' listener drachtio-srf throws; with one it reconnects with backoff. While the server
    // stays away, every tenth failed attempt is logged (the first one at once).
    this.srf.on('error', (err) => {
      this.isConnected = false;
      if (this.closing) return;
      this.failures++;
      const level = this.failures === 1 || this.failures % 10 === 0 ? 'warn' : 'debug';
      this.logger[level]({ err: errorMessage(err), attempts: this.failures }, 'cannot reach drachtio-server; retrying');
    });
    (this.srf as unknown as NodeJS.EventEmitter).on('close', () => {
      if (this.isConnected) this.logger.warn('drachtio-server connection lost; reconnecting');
      this.isConnected = false;
    });
    this.srf.invite((req, res) => void this.onInvite(req, res));
    this.srf.use('options', (req, res) => this.onOptions(res));
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** Connects (and keeps reconnecting) to drachtio-server. */
  start(): void {
    const { host, port, secret, pingIntervalMs } = this.opts.drachtio;
    void this.srf.connect({
      host,
      port,
      secret,
      ...(pingIntervalMs > 0 ? { enablePing: true, pingInterval: pingIntervalMs } : {}),
      reconnect: { retryMaxDelay: 10_000 },
    } as Srf.SrfConfig);
  }

  list(): SipCall[] {
    return [...this.calls.values()];
  }

  private onOptions(res: Srf.SrfResponse): void {
    res.send(this.closing ? 503 : 200, { headers: { Allow: ALLOW, Accept: 'application/sdp' } });
  }

  private count(outcome: Outcome): void {
    this.invites?.inc({ outcome });
  }

  private reject(res: Srf.SrfResponse, status: number, outcome: Outcome, why: string, req: Srf.SrfRequest): void {
    this.count(outcome);
    this.logger.info({ callId: req.get('Call-ID'), from: req.callingNumber, to: req.calledNumber, source: req.source_address, status }, `INVITE refused: ${why}`);
    const headers: Record<string, string> = status === 503 ? { 'Retry-After': '5' } : {};
    if (status === 415) headers.Accept = 'application/sdp';
    if (status === 488 || status === 403) headers.Warning = `399 theo "${why.replace(/"/g, "'")}"`;
    res.send(status, { headers });
  }

  private async onInvite(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    let cancelled = false;
    let stopRinging: (() => void) | undefined;
    req.on('cancel', () => {
      cancelled = true;
      stopRinging?.();
    });
    if (this.closing) return this.reject(res, 503, 'unavailable', 'shutting down', req);
    if (this.allow.size > 0 && !this.allow.has(req.source_address)) return this.reject(res, 403, 'forbidden', `source ${req.source_address} is not allowed`, req);
    if (this.calls.size + this.pending >= this.opts.maxCalls || this.opts.sessions.refusal(SIP_SOURCE) !== undefined) return this.reject(res, 486, 'busy', 'at capacity', req);
    this.pending++;
    let endpoint: RtpEndpoint | undefined;
    let answered = false;
    try {
      const payloadTypes = PayloadTypeMap.fromEntries([]);
      try {
        endpoint = await this.opts.rtp.open({ sourcePolicy: 'pin', payloadTypes });
      } catch (err) {
        return this.reject(res, 503, 'unavailable', `no RTP port: ${errorMessage(err)}`, req);
      }
      const local = { address: this.opts.rtpHost, port: endpoint.port, codecs: this.opts.codecs, sessionId: String(Date.now()), version: 1 };
      let sdp: string;
      let formats: OfferedFormat[];
      let hold = false;
      const offered = sdpOf(req);
      if (offered === undefined) return this.reject(res, 415, 'not_acceptable', 'the body carries no SDP', req);
      if (offered) {
        try {
          const n = negotiate(offered, local);
          sdp = n.answer;
          hold = n.hold;
          formats = [{ payloadType: n.payloadType, encoding: n.encoding, clockRate: n.clockRate }];
          if (n.dtmfPayloadType !== undefined) formats.push({ payloadType: n.dtmfPayloadType, encoding: 'telephone-event', clockRate: n.clockRate });
        } catch (err) {
          if (err instanceof SdpNegotiationError) return this.reject(res, err.status, 'not_acceptable', err.message, req);
          return this.reject(res, 488, 'not_acceptable', `unreadable SDP offer: ${errorMessage(err)}`, req);
        }
      } else {
        ({ sdp, formats } = offer(local));
      }
      addFormats(payloadTypes, formats);
      const rule = this.opts.numbers?.find((n) => n.match.test(req.calledNumber ?? ''));
      const ringMs = rule?.ringMs ?? this.opts.ringMs;
      if (ringMs > 0) {
        res.send(180);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ringMs);
          stopRinging = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      if (cancelled) {
        this.count('cancelled');
        this.logger.info({ callId: req.get('Call-ID'), from: req.callingNumber, to: req.calledNumber }, 'call cancelled before answer');
        return;
      }
      if (this.closing) return this.reject(res, 503, 'unavailable', 'shutting down', req);
      const dialog = await this.srf.createUAS(req, res, { localSdp: sdp, headers: { Allow: ALLOW } });
      answered = true;
      this.count('answered');
      const id = req.get('Call-ID');
      const call = new SipCall(id, dialog, endpoint, payloadTypes, this.metadata(req, dialog), hold, { ...this.opts, ...definedOf(rule), local: { address: this.opts.rtpHost, codecs: this.opts.codecs } }, this.logger, (c) => this.calls.delete(c.id));
      this.calls.set(id, call);
      this.logger.info({ callId: id, from: req.callingNumber, to: req.calledNumber, port: endpoint.port, transport: req.protocol }, 'SIP call answered');
    } catch (err) {
      // createUAS rejects on CANCEL (487) or when the 200 could not be sent.
      const wasCancel = cancelled || (err as { status?: number }).status === 487;
      this.count(wasCancel ? 'cancelled' : 'failed');
      this.logger.info({ callId: req.get('Call-ID'), err: errorMessage(err) }, wasCancel ? 'call cancelled before answer' : 'call setup failed');
    } finally {
      this.pending--;
      if (!answered) endpoint?.close();
    }
  }

  private metadata(req: Srf.SrfRequest, dialog: Srf.Dialog): CallMetadata {
    const from = req.callingNumber || undefined;
    const to = req.calledNumber || undefined;
    return {
      callId: req.get('Call-ID'),
      channelId: `${dialog.sip.callId};from-tag=${dialog.sip.remoteTag}`,
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      direction: 'inbound',
      speaker: 'mixed',
      source: SIP_SOURCE,
    };
  }

  /** Hangs up every call (BYE; finals still delivered) and disconnects from drachtio-server. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled(this.list().map((c) => c.hangup('shutdown', 'SIP;cause=503;text="service shutting down"')));
    this.stopConnection();
    this.isConnected = false;
  }

  /**
   * Ends the connection and any reconnecting. drachtio-srf's disconnect() throws while it has no socket and
   * leaves a pending reconnect timer (which would keep the process alive), so its wire protocol is told it is
   * closing, the timer cleared and its socket ended.
   */
  private stopConnection(): void {
    const wp = (this.srf as unknown as { _app?: { client?: { wp?: WireProtocol } } })._app?.client?.wp;
    if (!wp) return;
    wp.closing = true;
    if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
    if (wp.reconnectVars) wp.reconnectVars.retryTimer = null;
    wp.socket?.end();
    wp.socket?.destroy();
  }
}

/** The parts of drachtio-srf's (untyped) client wire protocol that stopping it needs. */
interface WireProtocol {
  closing: boolean;
  socket?: Socket;
  reconnectVars?: { retryTimer?: NodeJS.Timeout | null };
}

/** A number rule's session settings that are set (model, language, hot words). */
function definedOf(rule: NumberRule | undefined): Partial<Pick<CallSessionOptions, 'model' | 'language' | 'hotWords'>> {
  if (!rule) return {};
  return { ...(rule.model ? { model: rule.model } : {}), ...(rule.language ? { language: rule.language } : {}), ...(rule.hotWords ? { hotWords: rule.hotWords } : {}) };
}
