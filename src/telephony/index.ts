// Telephony ingest of one `theo serve`: the call hub every call session joins, its webhook sinks, and the
// sources that turn calls into sessions: the plain RTP fork, the Asterisk ARI controller and the SIP user
// agent server on drachtio.
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TelephonyConfig } from '../config/schema.js';
import type { RtpListener } from '../mediaplane/rtp/listener.js';
import type { SessionManager } from '../session/manager.js';
import { Counter, Gauge } from 'prom-client';
import { AriClient } from './ari/client.js';
import { AriController } from './ari/controller.js';
import { CallHub } from './call-hub.js';
import { RtpFork } from './rtp-fork.js';
import { SipAdapter } from './sip/adapter.js';
import { WebhookSink, createWebhookMetrics, webhookLabels } from './webhooks.js';

export interface Telephony {
  readonly hub: CallHub;
  close(): Promise<void>;
}

export interface TelephonyDeps {
  config: TelephonyConfig;
  defaultModel: string;
  rtp: RtpListener;
  /** rtp.host: where ExternalMedia channels and SIP callers send unless telephony.ari/sip.rtpHost say otherwise. */
  rtpHost: string;
  sessions: SessionManager;
  registry: Registry;
  logger: Logger;
}

export async function startTelephony(deps: TelephonyDeps): Promise<Telephony> {
  const { config, logger } = deps;
  const hub = new CallHub();
  hub.on('listenerError', (err) => logger.warn({ err }, 'call event sink failed'));
  new Gauge({
    name: 'theo_calls_active',
    help: 'call sessions in progress, by source (ari, sip, rtp-fork)',
    labelNames: ['source'],
    registers: [deps.registry],
    collect() {
      this.reset();
      for (const s of deps.sessions.list()) if (s.call && !s.closed) this.inc({ source: s.call.source });
    },
  });
  const metrics = config.webhooks.length > 0 ? createWebhookMetrics(deps.registry) : undefined;
  const labels = webhookLabels(config.webhooks);
  const sinks = config.webhooks.map((w, i) => new WebhookSink(hub, w, logger, metrics, labels[i]));
  const common = { sessions: deps.sessions, hub, logger, model: config.model ?? deps.defaultModel, language: config.language, hotWords: config.hotWords, denoise: config.denoise };
  // Where ARI and SIP peers are told to send RTP, worked out (and warned about) once, when first needed.
  let advertisedHost: string | undefined;
  const rtpHost = (): string => (advertisedHost ??= advertised(deps.rtpHost, logger));
  const fork = await RtpFork.open(deps.rtp, { ...common, ...config.fork }, logger);
  const ari = config.ari;
  let client: AriClient | undefined;
  let controller: AriController | undefined;
  if (ari) {
    const ariLog = logger.child({ component: 'ari' });
    client = new AriClient({ url: ari.url, user: ari.user, password: ari.password, app: ari.app, logger: ariLog });
    controller = new AriController(
      { ...common, client, app: ari.app, rtp: deps.rtp, rtpHost: ari.rtpHost ?? rtpHost(), format: ari.format, transcriptVariable: ari.transcriptVariable, userEvent: ari.userEvent, split: ari.split },
      ariLog,
    );
    const c = client;
    new Gauge({ name: 'theo_ari_connected', help: '1 while the ARI event WebSocket is connected', registers: [deps.registry], collect() { this.set(c.connected ? 1 : 0); } });
    new Counter({ name: 'theo_ari_malformed_events_total', help: 'ARI events refused before any handler read them: not JSON, not an object, or fields of the wrong type', registers: [deps.registry], collect() { this.reset(); this.inc(c.malformed); } });
    client.start();
  }
  let sip: SipAdapter | undefined;
  if (config.sip) {
    const c = config.sip;
    sip = new SipAdapter(
      {
        ...common,
        rtp: deps.rtp,
        rtpHost: c.rtpHost ?? rtpHost(),
        drachtio: { host: c.host, port: c.port, secret: c.secret, pingIntervalMs: c.pingIntervalMs },
        codecs: c.codecs,
        maxCalls: c.maxCalls,
        ringMs: c.ringMs,
        mediaTimeoutMs: c.mediaTimeoutMs,
        allow: c.allow,
        numbers: c.numbers.map((n) => ({ ...n, match: new RegExp(n.match) })),
        registry: deps.registry,
      },
      logger.child({ component: 'sip' }),
    );
    sip.start();
  }
  return {
    hub,
    async close() {
      await sip?.close();
      await controller?.close();
      client?.close();
      await fork.close();
      await Promise.all(sinks.map((s) => s.close()));
    },
  };
}

/**
 * The address peers send RTP to: rtp.host, unless it binds every interface (0.0.0.0, ::), which no peer can
 * send to (and which SDP reads as hold): then the first external IPv4 address, with a hint to set it.
 */
export function advertised(host: string, logger: Logger): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
  const address = external?.address ?? '127.0.0.1';
  logger.warn({ rtpHost: host, advertised: address }, 'RTP binds every interface: peers are told to send to this address (set telephony.sip.rtpHost / telephony.ari.rtpHost to choose)');
  return address;
}
