// One answered SIP call: its dialog, the RTP endpoint its SDP answer points at, and the call session(s) of the
// RTP that arrives there. Re-INVITEs are answered from the same port (a changed codec updates what the port
// decodes); an offer that puts the call on hold (sendonly, inactive, c=0.0.0.0) puts the session in HOLD and
// suspends the media timeout, a later offer resumes it. With no RTP for mediaTimeoutMs while not on hold the
// call is ended with a BYE (Reason: media timeout), so a caller that vanished without BYE leaks nothing.
// Ending — BYE from the caller, our BYE, shutdown — finalises the session and releases the port.
import type { Logger } from 'pino';
import type Srf from 'drachtio-srf';
import { errorMessage } from '../../errors/index.js';
import { MediaClock } from '../../mediaplane/clock.js';
import { codecByName } from '../../mediaplane/codec/codec.js';
import type { PayloadTypeMap } from '../../mediaplane/codec/payload-types.js';
import type { RtpEndpoint } from '../../mediaplane/rtp/endpoint.js';
import type { CallMetadata } from '../../session/events.js';
import { RtpCallSession, type CallSessionOptions } from '../rtp-call.js';
import { SdpNegotiationError, negotiate, type LocalMedia, type OfferedFormat } from '../sdp/negotiate.js';

export interface SipCallOptions extends CallSessionOptions {
  mediaTimeoutMs: number;
  /** Where the SDP answer points (address and codecs; the port is the endpoint's). */
  local: Omit<LocalMedia, 'port' | 'sessionId' | 'version'>;
}

/**
 * The SDP of a request: its body, or the application/sdp part of a multipart body (carriers send SDP with ISUP
 * or location parts). '' when there is no body; undefined when there is a body but no SDP in it.
 */
export function sdpOf(req: Srf.SrfRequest): string | undefined {
  if (!req.body) return '';
  const part = (req.payload ?? []).find((p) => p.type?.toLowerCase().startsWith('application/sdp'));
  return part?.content;
}

/** Adds the formats to what the endpoint decodes (a re-INVITE may bring a new codec or number). */
export function addFormats(map: PayloadTypeMap, formats: readonly OfferedFormat[]): void {
  for (const f of formats) {
    if (f.encoding.toLowerCase() === 'telephone-event') {
      map.set(f.payloadType, { kind: 'telephone-event', clockRate: f.clockRate });
    } else {
      const codec = codecByName(f.encoding, f.clockRate);
      if (codec) map.set(f.payloadType, { kind: 'audio', codec });
    }
  }
}

const BYE_WAIT_MS = 2000;

export class SipCall {
  private readonly sessions: RtpCallSession[] = [];
  private readonly watchdog: NodeJS.Timeout;
  private onHold: boolean;
  /** Media-clock time of the last RTP packet (or of answering, or of the last hold change). */
  private lastPacketAt = MediaClock.now();
  private version = 1;
  private ending: Promise<void> | undefined;

  constructor(
    readonly id: string,
    private readonly dialog: Srf.Dialog,
    private readonly endpoint: RtpEndpoint,
    private readonly payloadTypes: PayloadTypeMap,
    private readonly meta: CallMetadata,
    hold: boolean,
    private readonly opts: SipCallOptions,
    private readonly logger: Logger,
    private readonly onEnded: (call: SipCall) => void,
  ) {
    this.onHold = hold;
    endpoint.on('stream', (stream) => {
      // A stream after an earlier one (RTP back after a long hold) is a new session with its own id.
      if (!this.ending) this.sessions.push(new RtpCallSession(stream, meta, { ...opts, index: this.sessions.at(-1)?.nextIndex ?? 0 }));
    });
    dialog.on('destroy', () => void this.end('hangup'));
    dialog.on('modify', (req, res) => this.reinvite(req, res));
    this.watchdog = setInterval(() => this.checkMedia(), Math.min(1000, opts.mediaTimeoutMs / 4)).unref();
  }

  /** A re-INVITE: answered from the same port; hold and resume follow the offer's direction. */
  private reinvite(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    if (this.ending) {
      res.send(481);
      return;
    }
    const sdp = sdpOf(req);
    if (sdp === '') {
      // An offerless re-INVITE (session refresh): our current answer is the offer; the ACK's answer is not needed.
      res.send(200, { body: this.dialog.local.sdp, headers: { 'Content-Type': 'application/sdp' } });
      return;
    }
    if (sdp === undefined) {
      res.send(415, { headers: { Accept: 'application/sdp' } });
      return;
    }
    try {
      const n = negotiate(sdp, { ...this.opts.local, port: this.endpoint.port, sessionId: this.sdpSessionId(), version: ++this.version });
      addFormats(this.payloadTypes, [
        { payloadType: n.payloadType, encoding: n.encoding, clockRate: n.clockRate },
        ...(n.dtmfPayloadType !== undefined ? [{ payloadType: n.dtmfPayloadType, encoding: 'telephone-event', clockRate: n.clockRate }] : []),
      ]);
      res.send(200, { body: n.answer, headers: { 'Content-Type': 'application/sdp' } });
      this.dialog.local.sdp = n.answer;
      this.setHold(n.hold);
    } catch (err) {
      // A failed re-offer leaves the call as it was (RFC 3261 §14.2).
      const status = err instanceof SdpNegotiationError ? err.status : 500;
      this.logger.info({ callId: this.id, status, err: errorMessage(err) }, 're-INVITE refused');
      res.send(status, { headers: { Warning: `399 theo "${errorMessage(err).replace(/"/g, "'")}"` } });
    }
  }

  private setHold(hold: boolean): void {
    if (hold === this.onHold) return;
    this.onHold = hold;
    this.lastPacketAt = MediaClock.now();
    this.logger.info({ callId: this.id, hold }, hold ? 'call on hold' : 'call resumed');
    if (hold) for (const s of this.sessions) s.current?.hold('sip_hold');
  }

  private sdpSessionId(): string {
    return /^o=\S+ (\S+)/m.exec(this.dialog.local.sdp)?.[1] ?? '1';
  }

  private checkMedia(): void {
    if (this.ending) return;
    // The streams know when their last packet came; a stream that timed out is gone, its time kept here.
    for (const s of this.endpoint.streams()) this.lastPacketAt = Math.max(this.lastPacketAt, s.lastArrivalMs);
    const now = MediaClock.now();
    if (!this.onHold && now - this.lastPacketAt >= this.opts.mediaTimeoutMs) {
      this.logger.info({ callId: this.id, silentMs: now - this.lastPacketAt }, 'no RTP: ending the call');
      void this.hangup('media_timeout', 'SIP;cause=408;text="media timeout"');
    }
  }

  /** Ends the call from our side: BYE (with a Reason header), then the session is finalised. */
  async hangup(reason: string, sipReason = 'SIP;cause=200;text="call completed"'): Promise<void> {
    if (!this.ending) {
      // The BYE is handed to drachtio-server; past BYE_WAIT_MS without its word (connection gone) we go on.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.logger.info({ callId: this.id }, 'BYE not confirmed by drachtio-server');
          resolve();
        }, BYE_WAIT_MS);
        this.dialog.destroy({ headers: { Reason: sipReason } }, (err) => {
          if (err) this.logger.info({ callId: this.id, err: errorMessage(err) }, 'BYE not sent');
          clearTimeout(t);
          resolve();
        });
      });
    }
    await this.end(reason);
  }

  /** Finalises the call's sessions and releases its port; idempotent. */
  end(reason: string): Promise<void> {
    this.ending ??= (async () => {
      clearInterval(this.watchdog);
      await Promise.all(this.sessions.map((s) => s.end(reason).catch((err: unknown) => this.logger.warn({ callId: this.id, err: errorMessage(err) }, 'call session close failed'))));
      this.endpoint.close();
      this.logger.info({ callId: this.id, reason, from: this.meta.from, to: this.meta.to }, 'SIP call ended');
      this.onEnded(this);
    })();
    return this.ending;
  }
}
