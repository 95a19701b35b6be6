// `theo serve`: the runtime process. The HTTP API (/health, /metrics, the OpenAI-compatible /v1 audio
// routes, /v1/sessions), the WebSocket API (/v1/realtime, session observers) over live sessions, the RTP
// media plane, and the worker manager that runs one worker process per loaded model.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TheoConfig } from '../config/index.js';
import { createHttpApp } from '../api/http/app.js';
import { mountAudioRoutes } from '../api/http/audio-routes.js';
import { createCatalog } from '../api/http/catalog.js';
import { mountSessionRoutes } from '../api/http/session-routes.js';
import { mountDemoRoutes } from '../api/http/demo-routes.js';
import { attachWebSockets, type WsApi } from '../api/ws/server.js';
import { guardHttpServer } from '../api/http/server-guards.js';
import { formatTranscription } from '../api/http/formats.js';
import { openPreparedAudio } from '../audio/prepare.js';
import { loadDenoiser } from '../audio/stages/denoise.js';
import { TheoError, errorMessage } from '../errors/index.js';
import { RtpListener } from '../mediaplane/rtp/listener.js';
import { startTelephony, type Telephony } from '../telephony/index.js';
import { componentLogger, type Logger } from '../observability/logger.js';
import { createRegistry } from '../observability/metrics.js';
import { ModelRegistry } from '../registry/registry.js';
import { RescanningRegistry } from '../registry/rescan.js';
import { Counter, type Registry } from 'prom-client';
import { BatchScheduler } from '../scheduler/scheduler.js';
import { createSessionStack, type SessionStack } from '../session/stack.js';
import { WorkerManager } from '../workers/manager.js';
import { VERSION } from './version.js';

export interface ServeOptions {
  /** Wait until every loaded model's worker serves before listening. */
  preload?: boolean;
  /** The config file, passed on to workers so they see the same settings. */
  configFile?: string | undefined;
}

export interface RunningServer {
  url: string;
  port: number;
  rtp: RtpListener;
  workers: WorkerManager;
  /** Live sessions (realtime WebSockets; telephone calls later). */
  stack: SessionStack;
  ws: WsApi;
  /** The process's one metrics registry (/metrics). */
  registry: Registry;
  /** Graceful stop: no new connections, workers stopped, endpoints flushed and closed. Safe to call twice. */
  close(): Promise<void>;
}

/** The certificate and key files of server.tlsCert/tlsKey, read now so a bad path fails at start with its name. */
function tlsOptions(config: Readonly<TheoConfig>): https.ServerOptions | undefined {
  const { tlsCert, tlsKey } = config.server;
  if (!tlsCert || !tlsKey) return undefined;
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TheoError('invalid_argument', `cannot read the TLS ${what} '${file}': ${errorMessage(err)}`);
    }
  };
  return { cert: read('certificate', tlsCert), key: read('key', tlsKey) };
}

export async function startServer(config: Readonly<TheoConfig>, logger: Logger, opts: ServeOptions = {}): Promise<RunningServer> {
  const tls = tlsOptions(config);
  const registry = createRegistry();
  const models = ModelRegistry.scan(config.models.dir, { defaultName: config.models.default });
  for (const p of models.problems) logger.warn({ path: p.path, reason: p.reason }, 'model manifest skipped');
  const live = rescanning(models, config.models.rescanIntervalMs, registry, componentLogger(logger, 'models'));

  // Local workers for the models to load, unless a remote worker already serves that model.
  const remote = new Set(config.workers.remote.map((r) => r.model));
  const toLoad = config.models.load.length > 0 ? config.models.load : [config.models.default];
  const local = [];
  for (const name of toLoad) {
    if (remote.has(name)) continue;
    const entry = models.get(name); // an unknown name in models.load is a configuration error: fail now
    if (entry.state === 'missing') logger.warn({ model: name, reason: entry.reason }, 'model files missing; its requests get 503 until they are installed');
    else for (let i = 0; i < config.workers.replicas; i++) local.push(entry);
  }
  const workers = new WorkerManager({ config: config.workers, models: local, configFile: opts.configFile, logger: componentLogger(logger, 'workers'), registry, requestTimeoutMs: config.api.requestTimeoutMs });
  await workers.start();
  if (opts.preload) {
    await Promise.all([...new Set(local.map((e) => e.manifest.name))].map((m) => workers.whenServing(m, config.workers.startTimeoutMs)));
  }

  // RNNoise loads once; where it cannot, denoising is skipped with one warning and everything else runs.
  const pre = config.preprocess;
  const audioLog = componentLogger(logger, 'audio');
  const warn = (message: string): void => audioLog.warn(message);
  const denoiser = pre.enabled && pre.denoise !== false ? await loadDenoiser({ onWarning: warn }) : undefined;

  const stack = await createSessionStack({ config, logger, registry, workers, models: local, denoiser, lookup: (model) => live.get(model) });
  const rtp = new RtpListener({ config: config.rtp, logger: componentLogger(logger, 'rtp'), registry });
  let telephony: Telephony;
  try {
    telephony = await startTelephony({ config: config.telephony, defaultModel: config.models.default, rtp, rtpHost: config.rtp.host, sessions: stack.sessions, registry, logger: componentLogger(logger, 'telephony') });
  } catch (err) {
    rtp.close();
    await stack.close();
    await workers.stop();
    throw err;
  }
  const { batch } = config;
  const scheduler = new BatchScheduler(workers, { maxJobs: batch.maxQueuedJobs, maxWaitSeconds: batch.maxQueueWaitSeconds, modelWaitMs: batch.modelWaitMs, registry, logger: componentLogger(logger, 'scheduler') });
  const catalog = createCatalog(live, workers, config.models.default);
  let closing: Promise<void> | undefined;
  const app = createHttpApp({
    logger: componentLogger(logger, 'http'),
    registry,
    version: VERSION,
    apiKey: config.api.apiKey,
    ready: () => {
      if (closing) return { ready: false, reason: 'shutting down' };
      const mine = workers.status().filter((w) => w.model === config.models.default);
      if (mine.some((w) => w.state === 'serving')) return { ready: true };
      const down = workers.down(config.models.default);
      if (down) return { ready: false, reason: down.clientMessage() };
      const state = mine[0]?.state ?? 'missing';
      return { ready: false, reason: `model '${config.models.default}' is ${state === 'starting' || state === 'restarting' ? 'loading' : state}` };
    },
    health: {
      rtp: () => {
        const s = rtp.stats();
        return { ports_allocated: s.portsAllocated, ports_capacity: s.portsCapacity, active_streams: s.activeStreams, port_range: `${config.rtp.portMin}-${config.rtp.portMax}` };
      },
      workers: () => ({
        default_model: config.models.default,
        in_flight: scheduler.inFlight(),
        workers: workers.status().map((s) => ({ model: s.model, state: s.state, kind: s.kind, address: s.address, pid: s.pid, restarts: s.restarts, device: s.device, last_error: s.lastError, retry_after_s: s.retryAfterS })),
      }),
      // Liveness: a model this process serves with its own workers is dead when every one of them is failed
      // (crash-looping). /health then says 503 so that a supervisor restarts the process; retries go on.
      models: () => {
        const dead = workers.dead();
        if (dead.length > 0) throw new TheoError('worker_unavailable', dead.map((d) => `model '${d.model}' is down: ${d.reason}; next retry in ${d.retryAfterS} s`).join('; '));
        return {};
      },
    },
    mount: (router) => {
      mountDemoRoutes(router);
      mountSessionRoutes(router, stack.sessions);
      mountAudioRoutes(router, {
        catalog,
        scheduler,
        prepare: (bytes, targetRate, req, signal) =>
          openPreparedAudio(bytes, {
            targetRate,
            signal,
            preprocess: req.preprocess ?? pre.enabled,
            dc: pre.dc,
            gain: req.gain ?? pre.gain,
            denoise: req.denoise ?? pre.denoise,
            denoiser,
            onWarning: warn,
            maxSeconds: batch.maxAudioSeconds,
            pieceSeconds: batch.partSeconds,
          }),
        format: formatTranscription,
        itnByDefault: config.postprocess.itn,
        hotWordThreshold: config.postprocess.hotWordThreshold,
        maxUploadBytes: config.api.maxUploadBytes,
        requestTimeoutMs: config.api.requestTimeoutMs,
        registry,
        logger: componentLogger(logger, 'api'),
      });
    },
  });
  const handle = app.callback();
  let inFlight = 0;
  // Koa answers errors itself (see createHttpApp); the promise only signals completion.
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    inFlight++;
    res.once('close', () => inFlight--);
    void handle(req, res);
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  const ws = attachWebSockets(server, {
    config: config.realtime,
    apiKey: config.api.apiKey,
    sessions: stack.sessions,
    defaultModel: config.models.default,
    // As an upload would: an installed model without a worker gets one started.
    // A model that is down (its workers keep failing) is refused at connect, before any audio is taken.
    models: (name) => {
      const caps = catalog.capabilities(catalog.resolve(name));
      const down = workers.down(name);
      if (down) throw down;
      return caps;
    },
    vad: config.vad,
    calls: telephony.hub,
    registry,
    logger: componentLogger(logger, 'ws'),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.server.port, config.server.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    guardHttpServer(server, { logger: componentLogger(logger, 'http'), registry });
  } catch (err) {
    await telephony.close();
    rtp.close();
    await ws.close();
    await stack.close();
    await workers.stop();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
  logger.info({ url, rtp_ports: `${config.rtp.portMin}-${config.rtp.portMax}`, rtp_host: config.rtp.host, models: toLoad, node: process.version, node_flags: process.execArgv }, 'theo serving');

  return {
    url,
    port: addr.port,
    rtp,
    workers,
    stack,
    ws,
    registry,
    close() {
      closing ??= (async () => {
        // Calls first: their finals still reach the firehose and the webhooks. A failure there must not keep
        // the rest (workers, ports, HTTP) from shutting down.
        await telephony.close().catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'telephony shutdown failed'));
        rtp.close();
        const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await ws.close();
        await stack.close();
        // Requests in flight finish with their workers still up, but a slow client (an upload trickling in)
        // must not hold the process: after the drain time what is left is cut.
        if (!(await settlesWithin(httpClosed, config.server.drainTimeoutMs))) {
          logger.warn({ requests: inFlight, drain_ms: config.server.drainTimeoutMs }, 'HTTP requests still open after the drain time; closing their connections');
          server.closeAllConnections();
          await httpClosed;
        }
        await workers.stop();
      })();
      return closing;
    },
  };
}

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The registry requests see: rescanned on a miss, each rescan counted and logged. */
function rescanning(initial: ModelRegistry, minIntervalMs: number, metrics: Registry, logger: Logger): RescanningRegistry {
  const rescans = new Counter({ name: 'theo_model_rescans_total', help: 'rescans of the models folder after a request named a model it did not have', registers: [metrics] });
  return new RescanningRegistry(initial, {
    minIntervalMs,
    onRescan: (r) => {
      rescans.inc();
      const level = r.added.length > 0 || r.removed.length > 0 ? 'info' : 'debug';
      logger[level]({ models: r.models, added: r.added, removed: r.removed, scan_ms: Math.round(r.seconds * 1e4) / 10 }, 'models folder rescanned');
      for (const p of r.problems) logger.warn({ path: p.path, reason: p.reason }, 'model manifest skipped');
    },
  });
}
