// Telephony ingest of one `theo serve`: the call hub every call session joins, its webhook sinks, and the
// sources that turn calls into sessions (the plain RTP fork; Asterisk ARI and SIP build on the same parts).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TelephonyConfig } from '../config/schema.js';
import type { RtpListener } from '../mediaplane/rtp/listener.js';
import type { SessionManager } from '../session/manager.js';
import { CallHub } from './call-hub.js';
import { RtpFork } from './rtp-fork.js';
import { WebhookSink, createWebhookMetrics } from './webhooks.js';

export interface Telephony {
  readonly hub: CallHub;
  close(): Promise<void>;
}

export interface TelephonyDeps {
  config: TelephonyConfig;
  defaultModel: string;
  rtp: RtpListener;
  sessions: SessionManager;
  registry: Registry;
  logger: Logger;
}

export async function startTelephony(deps: TelephonyDeps): Promise<Telephony> {
  const { config, logger } = deps;
  const hub = new CallHub();
  hub.on('listenerError', (err) => logger.warn({ err: String(err) }, 'call event sink failed'));
  const metrics = config.webhooks.length > 0 ? createWebhookMetrics(deps.registry) : undefined;
  const sinks = config.webhooks.map((w) => new WebhookSink(hub, w, logger, metrics));
  const fork = await RtpFork.open(
    deps.rtp,
    {
      ports: config.fork.ports,
      allow: config.fork.allow,
      sessions: deps.sessions,
      hub,
      logger,
      model: config.model ?? deps.defaultModel,
      language: config.language,
      hotWords: config.hotWords,
      denoise: config.denoise,
    },
    logger,
  );
  return {
    hub,
    async close() {
      await fork.close();
      await Promise.all(sinks.map((s) => s.close()));
    },
  };
}
