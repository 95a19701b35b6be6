// The Asterisk side of telephony: a Stasis application over ARI. A caller channel entering the app
// (dialplan `Stasis(theo)` or an ARI originate into it) gets a mixing bridge, an RTP port from the pool and
// an ExternalMedia channel (`ulaw` or `slin16` over UDP/RTP) that sends the bridge's audio to that port; the
// caller and the ExternalMedia channel are bridged, and the RTP stream becomes the call's session. When the
// caller hangs up (StasisEnd / ChannelDestroyed) — or the ExternalMedia channel goes away — the session is
// finalised and closed and everything created for the call is released: ExternalMedia channel, bridge, port.
// With `split: 'directions'` the caller gets two snoop channels instead (spy in: what the caller says, spy
// out: what the caller hears), each bridged with its own ExternalMedia channel: one session per speaker.
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
  /** 'mixed': one session hears the whole call; 'directions': snoop channels, one session per direction. */
  split?: 'mixed' | 'directions';
}

/** One transcribed leg: the caller itself (mixed) or a snoop channel on one direction of it. */
interface Leg {
  /** The channel bridged with the ExternalMedia channel: the caller, or its snoop channel. */
  source: string;
  snoopId: string | undefined;
  speaker: 'mixed' | 'caller' | 'callee';
  bridgeId: string;
  emId: string;
  endpoint: RtpEndpoint | undefined;
  media: RtpCallSession | undefined;
}

interface AriCall {
  id: string;
  caller: AriChannel;
  legs: Leg[];
  ending: Promise<void> | undefined;
}

const EM_PREFIX = 'theo-em-';
const SNOOP_PREFIX = 'theo-snoop-';

export class AriController {
  private readonly calls = new Map<string, AriCall>();
  /** Channels the controller created (ExternalMedia, snoop) → their call and leg. */
  private readonly owned = new Map<string, { call: AriCall; leg: Leg }>();

  constructor(
    private readonly opts: AriControllerOptions,
    private readonly logger: Logger,
  ) {
    opts.client.on('event', (ev) => this.onEvent(ev));
    opts.client.on('connected', (again) => {
      if (again) void this.reconcile();
    });
  }

  private onEvent(ev: AriEvent): void {
    const ch = ev.channel;
    if (!ch) return;
    const mine = this.owned.get(ch.id);
    switch (ev.type) {
      case 'StasisStart':
        if (mine && ch.id === mine.leg.emId) void this.bridge(mine.call, mine.leg, ch.id);
        else if (mine && ch.id === mine.leg.snoopId) void this.startLeg(mine.call, mine.leg);
        else if (!mine && !ch.id.startsWith(EM_PREFIX) && !ch.id.startsWith(SNOOP_PREFIX) && !this.calls.has(ch.id)) void this.startCall(ch);
        return;
      case 'StasisEnd':
      case 'ChannelDestroyed': {
        const call = mine?.call ?? this.calls.get(ch.id);
        if (call) void this.endCall(call, mine ? 'media_gone' : 'hangup');
        return;
      }
      default:
        return;
    }
  }

  private async startCall(caller: AriChannel): Promise<void> {
    const uid = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const leg = (speaker: Leg['speaker'], tag: string, snoop: boolean): Leg => ({
      source: snoop ? `${SNOOP_PREFIX}${tag}${uid}` : caller.id,
      snoopId: snoop ? `${SNOOP_PREFIX}${tag}${uid}` : undefined,
      speaker,
      bridgeId: `theo-br-${tag}${uid}`,
      emId: `${EM_PREFIX}${tag}${uid}`,
      endpoint: undefined,
      media: undefined,
    });
    const legs = this.opts.split === 'directions' ? [leg('caller', 'in-', true), leg('callee', 'out-', true)] : [leg('mixed', '', false)];
    const call: AriCall = { id: caller.id, caller, legs, ending: undefined };
    this.calls.set(caller.id, call);
    for (const l of legs) {
      this.owned.set(l.emId, { call, leg: l });
      if (l.snoopId) this.owned.set(l.snoopId, { call, leg: l });
    }
    try {
      if (caller.state !== 'Up') await this.opts.client.request('POST', `/channels/${enc(caller.id)}/answer`);
      for (const l of legs) {
        if (call.ending) return;
        // A snoop leg starts when its snoop channel enters the app; the mixed leg starts now.
        if (l.snoopId) await this.opts.client.request('POST', `/channels/${enc(caller.id)}/snoop`, { spy: l.speaker === 'caller' ? 'in' : 'out', app: this.opts.app, snoopId: l.snoopId });
        else await this.startLeg(call, l);
      }
    } catch (err) {
      this.logger.warn({ channel: caller.id, err: errorMessage(err) }, 'ARI call setup failed; releasing what was created');
      await this.endCall(call, 'setup_failed');
    }
  }

  /** A port, a bridge with the leg's source channel, and an ExternalMedia channel toward the port. */
  private async startLeg(call: AriCall, leg: Leg): Promise<void> {
    if (call.ending) return;
    const { client } = this.opts;
    try {
      const ep = await this.opts.rtp.open({ sourcePolicy: 'pin' });
      leg.endpoint = ep;
      ep.on('stream', (stream) => {
        if (call.ending) return;
        // A later stream (RTP back after the first timed out) is the leg's next session, with its own id.
        leg.media = new RtpCallSession(stream, this.metadata(call.caller, leg), { ...this.opts, index: leg.media?.nextIndex ?? 0, onFinal: (text) => this.writeBack(call, leg, text) });
      });
      if (call.ending) return;
      await client.request('POST', '/bridges', { type: 'mixing', bridgeId: leg.bridgeId, name: `theo-${call.id}` });
      await client.request('POST', `/bridges/${enc(leg.bridgeId)}/addChannel`, { channel: leg.source });
      await client.request('POST', '/channels/externalMedia', { app: this.opts.app, channelId: leg.emId, external_host: `${this.opts.rtpHost}:${ep.port}`, format: this.opts.format, encapsulation: 'rtp', transport: 'udp', direction: 'both' });
      this.logger.info({ channel: call.id, speaker: leg.speaker, bridge: leg.bridgeId, externalMedia: leg.emId, port: ep.port }, 'ARI leg started');
    } catch (err) {
      this.logger.warn({ channel: call.id, err: errorMessage(err) }, 'ARI leg setup failed; releasing the call');
      await this.endCall(call, 'setup_failed');
    }
  }

  private async bridge(call: AriCall, leg: Leg, emId: string): Promise<void> {
    if (call.ending) return;
    try {
      await this.opts.client.request('POST', `/bridges/${enc(leg.bridgeId)}/addChannel`, { channel: emId });
    } catch (err) {
      this.logger.warn({ channel: call.id, err: errorMessage(err) }, 'cannot bridge the ExternalMedia channel');
      await this.endCall(call, 'setup_failed');
    }
  }

  private metadata(caller: AriChannel, leg: Leg): CallMetadata {
    const from = caller.caller?.number || caller.caller?.name;
    const to = caller.dialplan?.exten;
    return {
      callId: caller.id,
      channelId: leg.snoopId ? `${caller.name || caller.id} (${leg.speaker})` : caller.name || caller.id,
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      direction: 'inbound',
      speaker: leg.speaker,
      source: 'ari',
    };
  }

  private writeBack(call: AriCall, leg: Leg, text: string): void {
    if (call.ending || !text) return;
    const { client, transcriptVariable, userEvent } = this.opts;
    if (transcriptVariable) {
      client.request('POST', `/channels/${enc(call.id)}/variable`, { variable: transcriptVariable, value: text }).catch((err: unknown) => this.logger.debug({ err: errorMessage(err) }, 'transcript variable not set'));
    }
    if (userEvent) {
      client
        .request('POST', `/events/user/${enc(userEvent)}`, { application: this.opts.app, source: `channel:${call.id}` }, { variables: { text, speaker: leg.speaker, session_id: leg.media?.current?.id ?? '' } })
        .catch((err: unknown) => this.logger.debug({ err: errorMessage(err) }, 'transcript user event not sent'));
    }
  }

  /** Ends the call's sessions and releases its ExternalMedia and snoop channels, bridges and ports. Idempotent. */
  private endCall(call: AriCall, reason: string): Promise<void> {
    call.ending ??= (async () => {
      const { client } = this.opts;
      await Promise.all(call.legs.map((l) => (l.media ? l.media.end(reason).catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'session close failed')) : Promise.resolve())));
      // Each release on its own: a failed one (ARI down) is logged and the rest still happen.
      for (const l of call.legs) {
        await this.release(client.request('DELETE', `/channels/${enc(l.emId)}`), 'ExternalMedia channel', l.emId);
        if (l.snoopId) await this.release(client.request('DELETE', `/channels/${enc(l.snoopId)}`), 'snoop channel', l.snoopId);
        await this.release(client.request('DELETE', `/bridges/${enc(l.bridgeId)}`), 'bridge', l.bridgeId);
        l.endpoint?.close();
        this.owned.delete(l.emId);
        if (l.snoopId) this.owned.delete(l.snoopId);
      }
      this.calls.delete(call.id);
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
      for (const id of [call.id, ...call.legs.map((l) => l.emId)]) {
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
