// Spawns and supervises the worker processes (one per local model), and connects to remote workers
// from config. Each worker has one supervisor loop: spawn → read the listening line → poll Health
// until SERVING → watch (exit, failed calls, periodic Health) → restart with exponential backoff,
// at most maxRestarts per restartWindowMs, then 'failed'. client(model) hands out serving workers only.
import { getPriority, setPriority } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WorkersConfig } from '../config/index.js';
import type { EngineCapabilities } from '../engines/engine.js';
import { TheoError, WorkerUnavailableError, errorMessage } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { ModelEntry } from '../registry/manifest.js';
import { safeEmit } from '../util/events.js';
import { createSttClient, type GrpcSttClient } from './client.js';
import type { SttClient, WorkerState, WorkerStatus } from './types.js';

export const THEO_BIN = fileURLToPath(new URL('../../bin/theo.js', import.meta.url));

export interface WorkerCommand {
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface WorkerSpawnContext {
  host: string;
  port: number;
  /** The runtime's config file, passed on so the worker sees the same settings. */
  configFile?: string;
  logLevel: string;
}

/** How a worker for `entry` is started; the default runs `theo worker` with this Node. */
export type WorkerCommandFactory = (entry: ModelEntry, ctx: WorkerSpawnContext) => WorkerCommand;

export const defaultWorkerCommand: WorkerCommandFactory = (entry, ctx) => ({
  file: process.execPath,
  args: [
    THEO_BIN,
    'worker',
    '--model',
    entry.manifest.name,
    '--model-dir',
    entry.dir,
    '--host',
    ctx.host,
    '--port',
    String(ctx.port),
    '--log-level',
    ctx.logLevel,
    '--watch-stdin',
    ...(ctx.configFile ? ['--config', ctx.configFile] : []),
  ],
});

export interface WorkerManagerOptions {
  config: WorkersConfig;
  /** Models to run local workers for. */
  models: readonly ModelEntry[];
  command?: WorkerCommandFactory;
  configFile?: string;
  logger: Logger;
  registry: Registry;
  /** Restart backoff: first delay, doubling up to maxMs (default 250 ms → 5 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** Health poll of a serving worker (default 2 s). */
  healthIntervalMs?: number;
  /**
   * Deadline of one Health call to a serving worker (default 5 s). Three late answers in a row mean hung (the
   * worker is killed and restarted); engines decode in native calls that hold a worker's event loop for up
   * to a few seconds on a loaded host, and a crash is seen at once anyway (process exit, broken streams).
   */
  healthTimeoutMs?: number;
  /** Deadline of one TranscribeFile call through the clients (default 10 min). */
  requestTimeoutMs?: number;
}

export interface WorkerManagerEvents {
  state: [status: WorkerStatus];
}

const sleep = (msDelay: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, msDelay);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** What the supervisor loops share with the manager. */
interface Shared {
  opts: WorkerManagerOptions;
  logger: Logger;
  up: Gauge;
  restarts: Counter;
  changed(w: Supervisor): void;
}

abstract class Supervisor {
  state: WorkerState = 'starting';
  restarts = 0;
  lastError: string | undefined;
  capabilities: EngineCapabilities | undefined;
  device: string | undefined;
  engine = '';
  client: GrpcSttClient | undefined;
  protected readonly stopCtl = new AbortController();
  protected readonly log: Logger;
  /** Wakes the watch loop for an immediate Health check (a call found the worker unreachable). */
  protected poke: (() => void) | undefined;
  loop: Promise<void> = Promise.resolve();

  constructor(
    readonly model: string,
    readonly kind: 'local' | 'remote',
    public address: string,
    protected readonly shared: Shared,
  ) {
    this.log = shared.logger.child({ worker: model });
  }

  abstract get pid(): number | undefined;
  abstract run(): Promise<void>;

  get stopping(): boolean {
    return this.stopCtl.signal.aborted;
  }

  setState(state: WorkerState, lastError?: string): void {
    if (lastError !== undefined) this.lastError = lastError;
    if (this.state === state && lastError === undefined) return;
    this.state = state;
    this.shared.up.set({ model: this.model }, state === 'serving' ? 1 : 0);
    if (state === 'serving') this.log.info({ address: this.address, pid: this.pid }, 'worker serving');
    else if (state === 'failed') this.log.error({ lastError: this.lastError }, 'worker failed');
    this.shared.changed(this);
  }

  status(): WorkerStatus {
    return {
      model: this.model,
      engine: this.engine,
      kind: this.kind,
      address: this.address,
      state: this.state,
      pid: this.pid,
      restarts: this.restarts,
      capabilities: this.capabilities,
      device: this.device,
      lastError: this.lastError,
    };
  }

  protected connect(address: string): GrpcSttClient {
    this.client?.close();
    this.address = address;
    this.client = createSttClient({
      model: this.model,
      address,
      logger: this.log,
      requestTimeoutMs: this.shared.opts.requestTimeoutMs,
      onUnavailable: () => this.poke?.(),
    });
    return this.client;
  }

  /** Polls Health with backoff until SERVING; false when `until` says stop or the deadline passes. */
  protected async waitServing(client: GrpcSttClient, deadline: number, until: AbortSignal): Promise<boolean> {
    let delay = 50;
    while (!until.aborted && Date.now() < deadline) {
      try {
        const h = await client.health(Math.max(100, Math.min(2000, deadline - Date.now())));
        this.capabilities = h.capabilities;
        this.device = h.device;
        this.engine = h.engine;
        if (h.serving) return true;
        if (h.status === 'NOT_SERVING') this.lastError = `worker reports NOT_SERVING`;
      } catch (err) {
        this.lastError = errorMessage(err);
      }
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), until);
      delay = Math.min(delay * 2, 1000);
    }
    return false;
  }

  /** Watches a serving worker until `until` fires or Health fails `maxFailures` times in a row. */
  protected async watch(client: GrpcSttClient, until: AbortSignal, maxFailures: number): Promise<string | undefined> {
    const interval = this.shared.opts.healthIntervalMs ?? 2000;
    let failures = 0;
    while (!until.aborted) {
      const wake = new AbortController();
      const onStop = (): void => wake.abort();
      until.addEventListener('abort', onStop, { once: true });
      this.poke = () => wake.abort();
      const maxBackoff = this.shared.opts.backoff?.maxMs ?? 5000;
      await sleep(failures > 0 ? Math.min(250 * 2 ** (failures - 1), maxBackoff) : interval, wake.signal);
      this.poke = undefined;
      until.removeEventListener('abort', onStop);
      if (until.aborted) return undefined;
      let slow = false;
      try {
        const h = await client.health(this.shared.opts.healthTimeoutMs ?? 5000);
        if (h.serving) {
          failures = 0;
          if (this.state !== 'serving') this.setState('serving');
          continue;
        }
        failures++;
        this.lastError = `worker reports ${h.status}`;
      } catch (err) {
        failures++;
        this.lastError = errorMessage(err);
        slow = err instanceof WorkerUnavailableError && err.reason === 'deadline';
      }
      // A slow answer is not an outage: a worker busy in a long native call (or descheduled on a loaded host)
      // keeps its requests and takes new ones, and counts as down only when it stays silent maxFailures times.
      // A refused or broken connection, or a worker that says it is not serving, is down at once.
      if (this.state === 'serving' && (!slow || failures >= maxFailures)) this.setState('restarting');
      if (failures >= maxFailures) return this.lastError;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopCtl.abort();
    this.poke?.();
    await this.loop;
    this.client?.close();
    this.setState('stopped');
  }
}

class RemoteSupervisor extends Supervisor {
  get pid(): number | undefined {
    return undefined;
  }

  /** Never spawned: connect, wait for SERVING, watch; an unreachable worker is polled again with backoff. */
  async run(): Promise<void> {
    const { config } = this.shared.opts;
    const client = this.connect(this.address);
    const started = Date.now();
    const backoff = this.shared.opts.backoff ?? { initialMs: 250, maxMs: 5000 };
    let delay = backoff.initialMs;
    while (!this.stopping) {
      const deadline = Date.now() + (this.state === 'failed' ? backoff.maxMs : config.startTimeoutMs);
      if (await this.waitServing(client, deadline, this.stopCtl.signal)) {
        delay = backoff.initialMs;
        this.setState('serving');
        await this.watch(client, this.stopCtl.signal, Number.POSITIVE_INFINITY);
        continue;
      }
      if (this.stopping) break;
      if (Date.now() - started >= config.startTimeoutMs && this.state !== 'failed') {
        this.setState('failed', `remote worker at ${this.address} did not report SERVING within ${config.startTimeoutMs} ms: ${this.lastError ?? 'no answer'}`);
      }
      await sleep(delay, this.stopCtl.signal);
      delay = Math.min(delay * 2, backoff.maxMs);
    }
  }
}

interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

class LocalSupervisor extends Supervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<ChildExit> | undefined;
  private readonly restartTimes: number[] = [];
  private port: number;

  constructor(
    readonly entry: ModelEntry,
    port: number,
    shared: Shared,
  ) {
    super(entry.manifest.name, 'local', `${shared.opts.config.host}:${port}`, shared);
    this.port = port;
    this.engine = entry.manifest.engine;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  async run(): Promise<void> {
    const { config } = this.shared.opts;
    const backoff = this.shared.opts.backoff ?? { initialMs: 250, maxMs: 5000 };
    while (!this.stopping) {
      const reason = await this.runOnce();
      if (this.stopping) break;
      this.client?.close();
      this.client = undefined;
      this.lastError = reason;
      this.log.warn({ reason }, 'worker down');
      const now = Date.now();
      while (this.restartTimes.length > 0 && now - (this.restartTimes[0] ?? 0) > config.restartWindowMs) this.restartTimes.shift();
      if (this.restartTimes.length >= config.maxRestarts) {
        this.setState('failed', `${reason}; gave up after ${this.restartTimes.length} restarts within ${config.restartWindowMs} ms`);
        return;
      }
      const delay = Math.min(backoff.initialMs * 2 ** this.restartTimes.length, backoff.maxMs);
      this.restartTimes.push(now);
      this.restarts++;
      this.shared.restarts.inc({ model: this.model });
      this.setState('restarting');
      await sleep(delay, this.stopCtl.signal);
    }
  }

  /** One worker process from spawn to exit; resolves with why it is down. */
  private async runOnce(): Promise<string> {
    const { opts } = this.shared;
    const { config } = opts;
    const command = (opts.command ?? defaultWorkerCommand)(this.entry, { host: config.host, port: this.port, configFile: opts.configFile, logLevel: this.shared.logger.level });
    const child = spawn(command.file, command.args, { cwd: command.cwd, env: command.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    // Inference yields to the media path: on a saturated machine the runtime (RTP, VAD, sessions, the API)
    // must keep real time; late finals are recoverable, late packets are not.
    if (child.pid !== undefined && config.nice !== 0) {
      try {
        setPriority(child.pid, Math.min(19, getPriority(process.pid) + config.nice));
      } catch (err) {
        this.shared.logger.debug({ err: errorMessage(err) }, 'cannot lower the worker priority');
      }
    }
    const exited = new Promise<ChildExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (err) => {
        this.lastError = `cannot start worker: ${err.message}`;
        resolve({ code: null, signal: null });
      });
    });
    this.exited = exited;
    child.stdin?.on('error', () => undefined);
    const lifetime = new AbortController();
    void exited.then(() => lifetime.abort());
    const stopOrExit = AbortSignal.any([lifetime.signal, this.stopCtl.signal]);
    let workerError: string | undefined;

    const listening = new Promise<number | undefined>((resolve) => {
      void exited.then(() => resolve(undefined));
      if (!child.stdout) return resolve(undefined);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const msg = parseJson(line);
        if (msg?.event === 'listening' && typeof msg.port === 'number') resolve(msg.port);
        else if (msg?.event === 'error' && typeof msg.message === 'string') workerError = msg.message;
      });
    });
    if (child.stderr) this.forwardStderr(child.stderr, (line) => (workerError = line));

    const describeExit = async (): Promise<string> => {
      const e = await exited;
      const how = e.signal ? `killed by ${e.signal}` : `exited with code ${e.code ?? 'unknown'}`;
      return workerError ? `worker ${how}: ${workerError}` : `worker ${how}`;
    };

    const deadline = Date.now() + config.startTimeoutMs;
    const startTimer = new AbortController();
    const timer = setTimeout(() => startTimer.abort(), config.startTimeoutMs);
    try {
      const port = await Promise.race([listening, new Promise<undefined>((r) => AbortSignal.any([startTimer.signal, this.stopCtl.signal]).addEventListener('abort', () => r(undefined), { once: true }))]);
      if (this.stopping) return 'stopped';
      if (port === undefined) {
        if (lifetime.signal.aborted) return await describeExit();
        await this.kill(child);
        return `worker did not report its port within ${config.startTimeoutMs} ms`;
      }
      const client = this.connect(`${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`);
      const serving = await this.waitServing(client, deadline, stopOrExit);
      if (this.stopping) return 'stopped';
      if (!serving) {
        if (lifetime.signal.aborted) return await describeExit();
        const why = `worker did not report SERVING within ${config.startTimeoutMs} ms${this.lastError ? ` (${this.lastError})` : ''}`;
        await this.kill(child);
        return why;
      }
    } finally {
      clearTimeout(timer);
    }
    this.setState('serving');
    // A hung worker (Health fails three times running) is killed and restarted like a crashed one.
    const hung = await this.watch(this.client as GrpcSttClient, stopOrExit, 3);
    if (this.stopping) return 'stopped';
    if (hung !== undefined && !lifetime.signal.aborted) {
      await this.kill(child);
      return `worker stopped answering Health: ${hung}`;
    }
    return await describeExit();
  }

  private forwardStderr(stderr: NodeJS.ReadableStream, onError: (line: string) => void): void {
    createInterface({ input: stderr }).on('line', (line) => {
      const msg = parseJson(line);
      if (msg && typeof msg.level === 'number') {
        const { level: lvl, msg: text, time: _time, pid: _pid, hostname: _host, service: _service, ...rest } = msg;
        const method = lvl >= 50 ? 'error' : lvl >= 40 ? 'warn' : lvl >= 30 ? 'info' : lvl >= 20 ? 'debug' : 'trace';
        this.log[method](rest, typeof text === 'string' ? text : 'worker log');
        if (lvl >= 50 && typeof text === 'string') onError(typeof rest.err === 'string' ? `${text}: ${rest.err}` : text);
      } else if (line.trim()) {
        this.log.warn({ line }, 'worker stderr');
        onError(line.trim());
      }
    });
  }

  /** SIGTERM, then SIGKILL after stopTimeoutMs; resolves when the process is gone. */
  async kill(child = this.child, graceMs = this.shared.opts.config.stopTimeoutMs): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null || !this.exited) return;
    const exited = this.exited;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([exited.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(timer);
    if (!killed) {
      this.log.warn({ pid: child.pid, graceMs }, 'worker did not stop in time; killing it');
      child.kill('SIGKILL');
      await exited;
    }
  }

  override async stop(): Promise<void> {
    this.stopCtl.abort();
    this.poke?.();
    await this.kill();
    await super.stop();
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
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
      changed: (w) => safeEmit(this, (event, err) => this.log.error({ event, err: errorMessage(err) }, 'worker state listener threw'), 'state', w.status()),
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

  /** Resolves when a worker of `model` serves; rejects when every worker of it has failed or after timeoutMs. */
  whenServing(model: string, timeoutMs = 120_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const ws = this.workers.filter((w) => w.model === model);
        if (ws.length === 0) return done(new TheoError('model_not_found', `no worker for model '${model}'`));
        if (ws.some((w) => w.state === 'serving')) return done();
        if (ws.every((w) => w.state === 'failed' || w.state === 'stopped')) return done(new WorkerUnavailableError(model, 'failed', `worker for '${model}' ${ws[0]?.state}: ${ws[0]?.lastError ?? ''}`));
        return false;
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

  /** The client of a serving worker of `model`; throws WorkerUnavailableError (or model_not_found) otherwise. */
  client(model: string): SttClient {
    const ws = this.workers.filter((w) => w.model === model);
    if (ws.length === 0) throw new TheoError('model_not_found', `model '${model}' has no worker`, { model });
    const serving = ws.filter((w) => w.state === 'serving' && w.client);
    if (serving.length > 0) {
      const i = (this.rr.get(model) ?? 0) % serving.length;
      this.rr.set(model, i + 1);
      return serving[i]?.client as SttClient;
    }
    const w = ws.find((x) => x.state === 'starting' || x.state === 'restarting') ?? ws[0];
    switch (w?.state) {
      case 'starting':
        throw new WorkerUnavailableError(model, 'loading', `model '${model}' is loading`, { retryAfter: 5 });
      case 'restarting':
        throw new WorkerUnavailableError(model, 'restarting', `the worker for '${model}' is restarting${w.lastError ? ` after: ${w.lastError}` : ''}`, { retryAfter: 2 });
      case 'stopped':
        throw new WorkerUnavailableError(model, 'stopped', `the worker for '${model}' is stopped`);
      default:
        throw new WorkerUnavailableError(model, 'failed', `the worker for '${model}' failed: ${w?.lastError ?? 'unknown error'}`);
    }
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
