// The worker manager: one supervisor (src/workers/supervisor.ts) per local worker process (one per loaded
// model and replica) and per remote worker from config; hands out clients of serving workers, and says why
// a model cannot serve now (loading, restarting, down and when it is retried next) for requests, live
// sessions and /health.
import { EventEmitter } from 'node:events';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WorkersConfig } from '../config/index.js';
import { TheoError, WorkerUnavailableError, errorMessage } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { ModelEntry } from '../registry/manifest.js';
import { safeEmit } from '../util/events.js';
import { LocalSupervisor, RemoteSupervisor, type Shared, type Supervisor, type SupervisorOptions } from './supervisor.js';
import type { SttClient, WorkerStatus } from './types.js';

export { THEO_BIN, defaultWorkerCommand, type WorkerCommand, type WorkerCommandFactory, type WorkerSpawnContext } from './supervisor.js';

export interface WorkerManagerOptions extends SupervisorOptions {
  config: WorkersConfig;
  /** Models to run local workers for. */
  models: readonly ModelEntry[];
  logger: Logger;
  registry: Registry;
}

export interface WorkerManagerEvents {
  state: [status: WorkerStatus];
}

/** A model whose local workers are all failed: what /health reports as dead. */
export interface DeadModel {
  model: string;
  /** Why, and when it is retried next. */
  reason: string;
  retryAfterS: number;
}

export class WorkerManager extends EventEmitter<WorkerManagerEvents> {
  private readonly workers: Supervisor[] = [];
  private readonly rr = new Map<string, number>();
  private started = false;
  private stopPromise: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly shared: Shared;

  constructor(private readonly opts: WorkerManagerOptions) {
    super();
    // Every session or request waiting for a model's worker (whenServing) listens for state changes: with
    // hundreds of live sessions that is hundreds of listeners, each removed when its wait ends.
    this.setMaxListeners(0);
    this.log = opts.logger;
    const shared: Shared = {
      opts,
      logger: opts.logger,
      up: new Gauge({ name: 'theo_worker_up', help: '1 when the worker of a model is serving, else 0', labelNames: ['model'], registers: [opts.registry] }),
      restarts: new Counter({ name: 'theo_worker_restarts_total', help: 'worker restarts after a crash or a hang, by model', labelNames: ['model'], registers: [opts.registry] }),
      changed: (w) => safeEmit(this, (event, err) => this.log.error({ event, err }, 'worker state listener threw'), 'state', w.status()),
    };
    this.shared = shared;
    const { config } = opts;
    opts.models.forEach((entry, i) => {
      const port = config.portBase === 0 ? 0 : config.portBase + i;
      this.workers.push(new LocalSupervisor(entry, port, shared));
    });
    for (const r of config.remote) this.workers.push(new RemoteSupervisor(r.model, 'remote', r.address, shared));
    for (const w of this.workers) {
      shared.up.set({ model: w.model }, 0);
      shared.restarts.inc({ model: w.model }, 0);
    }
  }

  /** Spawns the local workers and connects the remote ones; resolves at once (see whenServing). */
  start(): Promise<void> {
    if (this.started) return Promise.resolve();
    this.started = true;
    for (const w of this.workers) {
      w.loop = w.run().catch((err: unknown) => {
        w.setState('failed', `supervisor error: ${errorMessage(err)}`);
      });
    }
    return Promise.resolve();
  }

  /** True when some worker (local or remote) is configured for `model`. */
  has(model: string): boolean {
    return this.workers.some((w) => w.model === model);
  }

  /**
   * Starts a local worker for a model that has none yet (a model first named by a request); a no-op when
   * one exists. Callers then get 503 + Retry-After from client() until it serves.
   */
  ensure(entry: ModelEntry): void {
    if (this.has(entry.manifest.name) || this.stopPromise) return;
    const { config } = this.opts;
    const port = config.portBase === 0 ? 0 : config.portBase + this.workers.length;
    const w = new LocalSupervisor(entry, port, this.shared);
    this.workers.push(w);
    this.shared.up.set({ model: w.model }, 0);
    this.shared.restarts.inc({ model: w.model }, 0);
    if (this.started) {
      w.loop = w.run().catch((err: unknown) => {
        w.setState('failed', `supervisor error: ${errorMessage(err)}`);
      });
    }
  }

  /**
   * Resolves when a worker of `model` serves; rejects at once when every worker of it is failed (down,
   * retried later: the error says when) or stopped, and after timeoutMs.
   */
  whenServing(model: string, timeoutMs = 120_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const ws = this.workersOf(model);
        if (ws.length === 0) return done(new TheoError('model_not_found', `no worker for model '${model}'`));
        if (ws.some((w) => w.state === 'serving')) return done();
        const down = this.down(model);
        return down ? done(down) : false;
      };
      const onState = (): void => void check();
      const timer = setTimeout(() => done(new WorkerUnavailableError(model, 'loading', `worker for '${model}' not serving after ${timeoutMs} ms`)), timeoutMs);
      const done = (err?: Error): true => {
        clearTimeout(timer);
        this.off('state', onState);
        if (err) reject(err);
        else resolve();
        return true;
      };
      this.on('state', onState);
      check();
    });
  }

  /**
   * Why a live session for `model` cannot start now: every worker of it is failed (crash-looping; the error
   * says when it is retried next) or stopped. Undefined while one serves, starts or restarts (a session
   * waits for those), and for a model without workers. Sessions and the WebSocket API check it before they
   * accept a session, so a client hears at once that the model is down.
   */
  down(model: string): WorkerUnavailableError | undefined {
    const ws = this.workersOf(model);
    if (ws.length === 0 || !ws.every((w) => w.state === 'failed' || w.state === 'stopped')) return undefined;
    return soonest(ws).unavailable();
  }

  /**
   * Local models all of whose workers are failed: /health's liveness rule. Remote workers do not count: a
   * restart of this process cannot repair them.
   */
  dead(): DeadModel[] {
    const out: DeadModel[] = [];
    for (const model of new Set(this.workers.filter((w) => w.kind === 'local').map((w) => w.model))) {
      const ws = this.workersOf(model);
      if (!ws.every((w) => w.state === 'failed')) continue;
      const w = soonest(ws);
      out.push({ model, reason: w.downReason(), retryAfterS: w.retryAfterS() });
    }
    return out;
  }

  /** The client of a serving worker of `model`; throws WorkerUnavailableError (or model_not_found) otherwise. */
  client(model: string): SttClient {
    const ws = this.workersOf(model);
    if (ws.length === 0) throw new TheoError('model_not_found', `model '${model}' has no worker`, { model });
    const serving = ws.filter((w) => w.state === 'serving' && w.client);
    if (serving.length > 0) {
      const i = (this.rr.get(model) ?? 0) % serving.length;
      this.rr.set(model, i + 1);
      return serving[i]?.client as SttClient;
    }
    throw soonest(ws).unavailable();
  }

  private workersOf(model: string): Supervisor[] {
    return this.workers.filter((w) => w.model === model);
  }

  status(): WorkerStatus[] {
    return this.workers.map((w) => w.status());
  }

  /** SIGTERM to every local worker, SIGKILL after stopTimeoutMs; closes every client. Safe twice. */
  stop(): Promise<void> {
    this.stopPromise ??= Promise.all(this.workers.map((w) => w.stop())).then(() => undefined);
    return this.stopPromise;
  }
}

const HOPE: Record<WorkerStatus['state'], number> = { serving: 0, starting: 1, restarting: 1, failed: 2, stopped: 3 };

/** The worker that should serve soonest: starting or restarting before failed (then the nearest retry) before stopped. */
function soonest(ws: readonly Supervisor[]): Supervisor {
  let best = ws[0] as Supervisor;
  for (const w of ws) {
    const d = HOPE[w.state] - HOPE[best.state];
    if (d < 0 || (d === 0 && w.retryAfterS() < best.retryAfterS())) best = w;
  }
  return best;
}
