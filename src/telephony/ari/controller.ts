// The Asterisk side of telephony: a Stasis application over ARI. A caller channel entering the app
// (dialplan `Stasis(theo)` or an ARI originate into it) gets a mixing bridge, an RTP port from the pool and
// an ExternalMedia channel (`ulaw` or `slin16` over UDP/RTP) that sends the bridge's audio to that port; the
// caller and the ExternalMedia channel are bridged, and the RTP stream becomes the call's session. When the
// caller hangs up (StasisEnd / ChannelDestroyed) — or the ExternalMedia channel goes away — the session is
// finalised and closed and everything created for the call is released: ExternalMedia channel, bridge, port.
// Finals are written back to the caller's channel (a channel variable, and an ARI user event) so dialplan
// and other ARI apps can react. After a WebSocket drop the controller reconciles on reconnect: calls whose
// channels vanished meanwhile are torn down.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../../errors/index.js';
import type { RtpEndpoint } from '../../mediaplane/rtp/endpoint.js';
import type { RtpListener } from '../../mediaplane/rtp/listener.js';
import type { CallMetadata } from '../../session/events.js';
import { RtpCallSession, type CallSessionOptions } from '../rtp-call.js';
import { AriError, type AriChannel, type AriClient, type AriEvent } from './client.js';

export interface AriControllerOptions extends CallSessionOptions {
  client: AriClient;
  app: string;
  rtp: RtpListener;
  /** The address Asterisk sends RTP to (this host as Asterisk reaches it). */
  rtpHost: string;
  format: 'ulaw' | 'slin16';
  /** Channel variable set to each final's text on the caller's channel ('' = off). */
  transcriptVariable: string;
  /** ARI user event raised with each final ('' = off). */
  userEvent: string;
}

interface AriCall {
  id: string;
  caller: AriChannel;
  bridgeId: string;
  emId: string;
  endpoint: RtpEndpoint | undefined;
  media: RtpCallSession | undefined;
  ending: Promise<void> | undefined;
}

const EM_PREFIX = 'theo-em-';

export class AriController {
  private readonly calls = new Map<string, AriCall>();
  /** ExternalMedia channel id → the caller channel id it serves. */
  private readonly media = new Map<string, string>();

  constructor(
    private readonly opts: AriControllerOptions,
    private readonly logger: Logger,
  ) {
    opts.client.on('event', (ev) => this.onEvent(ev));
    opts.client.on('connected', (again) => {
      if (again) void this.reconcile();
    });
  }

  /** Calls in progress. */
  get size(): number {
    return this.calls.size;
  }

  private onEvent(ev: AriEvent): void {
    const ch = ev.channel;
    if (!ch) return;
    switch (ev.type) {
      case 'StasisStart':
        if (ch.id.startsWith(EM_PREFIX)) void this.mediaJoined(ch.id);
        else if (!this.calls.has(ch.id)) void this.startCall(ch);
        return;
      case 'StasisEnd':
      case 'ChannelDestroyed': {
        const callerId = this.media.get(ch.id) ?? ch.id;
        const call = this.calls.get(callerId);
        if (call) void this.endCall(call, ch.id === callerId ? 'hangup' : 'media_gone');
        return;
      }
      default:
        return;
    }
  }

  private async startCall(caller: AriChannel): Promise<void> {
    const uid = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const call: AriCall = { id: caller.id, caller, bridgeId: `theo-br-${uid}`, emId: `${EM_PREFIX}${uid}`, endpoint: undefined, media: undefined, ending: undefined };
    this.calls.set(caller.id, call);
    this.media.set(call.emId, caller.id);
    const { client } = this.opts;
    try {
      if (caller.state !== 'Up') await client.request('POST', `/channels/${enc(caller.id)}/answer`);
      const ep = await this.opts.rtp.open({ sourcePolicy: 'pin' });
      call.endpoint = ep;
      ep.on('stream', (stream) => {
        if (call.ending) return;
        call.media = new RtpCallSession(stream, this.metadata(caller), { ...this.opts, onFinal: (text) => this.writeBack(call, text) });
      });
      if (call.ending) return;
      await client.request('POST', '/bridges', { type: 'mixing', bridgeId: call.bridgeId, name: `theo-${caller.id}` });
      await client.request('POST', `/bridges/${enc(call.bridgeId)}/addChannel`, { channel: caller.id });
      await client.request('POST', '/channels/externalMedia', { app: this.opts.app, channelId: call.emId, external_host: `${this.opts.rtpHost}:${ep.port}`, format: this.opts.format, encapsulation: 'rtp', transport: 'udp', direction: 'both' });
      this.logger.info({ channel: caller.id, bridge: call.bridgeId, externalMedia: call.emId, port: ep.port }, 'ARI call started');
    } catch (err) {
      this.logger.warn({ channel: caller.id, err: errorMessage(err) }, 'ARI call setup failed; releasing what was created');
      await this.endCall(call, 'setup_failed');
    }
  }

  private async mediaJoined(emId: string): Promise<void> {
    const call = this.calls.get(this.media.get(emId) ?? '');
    if (!call || call.ending) return;
    try {
      await this.opts.client.request('POST', `/bridges/${enc(call.bridgeId)}/addChannel`, { channel: emId });
    } catch (err) {
      this.logger.warn({ channel: call.id, err: errorMessage(err) }, 'cannot bridge the ExternalMedia channel');
      await this.endCall(call, 'setup_failed');
    }
  }

  private metadata(caller: AriChannel): CallMetadata {
    const from = caller.caller?.number || caller.caller?.name;
    const to = caller.dialplan?.exten;
    return { callId: caller.id, channelId: caller.name || caller.id, ...(from ? { from } : {}), ...(to ? { to } : {}), direction: 'inbound', speaker: 'mixed', source: 'ari' };
  }

  private writeBack(call: AriCall, text: string): void {
    if (call.ending || !text) return;
    const { client, transcriptVariable, userEvent } = this.opts;
    if (transcriptVariable) {
      client.request('POST', `/channels/${enc(call.id)}/variable`, { variable: transcriptVariable, value: text }).catch((err: unknown) => this.logger.debug({ err: errorMessage(err) }, 'transcript variable not set'));
    }
    if (userEvent) {
      client
        .request('POST', `/events/user/${enc(userEvent)}`, { application: this.opts.app, source: `channel:${call.id}` }, { variables: { text, session_id: call.media?.current?.id ?? '' } })
        .catch((err: unknown) => this.logger.debug({ err: errorMessage(err) }, 'transcript user event not sent'));
    }
  }

  /** Ends the call's session and releases the ExternalMedia channel, the bridge and the port. Idempotent. */
  private endCall(call: AriCall, reason: string): Promise<void> {
    call.ending ??= (async () => {
      const { client } = this.opts;
      await call.media?.end(reason).catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'session close failed'));
      // Each release on its own: a failed one (ARI down) is logged and the rest still happen.
      await this.release(client.request('DELETE', `/channels/${enc(call.emId)}`), 'ExternalMedia channel', call.emId);
      await this.release(client.request('DELETE', `/bridges/${enc(call.bridgeId)}`), 'bridge', call.bridgeId);
      call.endpoint?.close();
      this.calls.delete(call.id);
      this.media.delete(call.emId);
      this.logger.info({ channel: call.id, reason }, 'ARI call ended');
    })();
    return call.ending;
  }

  /** Awaits a DELETE; gone already (404) is fine, anything else is logged. */
  private async release(p: Promise<unknown>, what: string, id: string): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!(err instanceof AriError && err.status === 404)) this.logger.warn({ id, err: errorMessage(err) }, `cannot delete the ${what}`);
    }
  }

  /** After a reconnect: calls whose caller or media channel no longer exists are ended. */
  private async reconcile(): Promise<void> {
    for (const call of [...this.calls.values()]) {
      for (const id of [call.id, call.emId]) {
        try {
          await this.opts.client.request('GET', `/channels/${enc(id)}`);
        } catch (err) {
          if (err instanceof AriError && err.status === 404) {
            await this.endCall(call, id === call.id ? 'hangup' : 'media_gone');
            break;
          }
        }
      }
    }
  }

  /** Ends every call (finals still delivered) and releases what they hold. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.calls.values()].map((c) => this.endCall(c, 'shutdown')));
  }
}

const enc = encodeURIComponent;
