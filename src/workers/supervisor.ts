// One supervisor loop per worker. Local: spawn (the worker's token on its stdin) → read the listening line
// → poll Health until SERVING → watch (exit, failed calls, periodic Health) → restart as the RestartPolicy
// says: backoff, then 'failed' while it crash-loops, retried with a capped backoff until a start serves.
// Remote: connect, poll Health until SERVING, watch, poll again with backoff while it is unreachable.
import { getPriority, setPriority } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Counter, Gauge } from 'prom-client';
import type { WorkersConfig } from '../config/index.js';
import type { EngineCapabilities } from '../engines/engine.js';
import { WorkerUnavailableError, errorMessage } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { ModelEntry } from '../registry/manifest.js';
import { newWorkerToken } from './auth.js';
import { createSttClient, type GrpcSttClient } from './client.js';
import { RestartPolicy } from './restart-policy.js';
import type { WorkerState, WorkerStatus } from './types.js';

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

/**
 * How a worker for `entry` is started; the default runs `theo worker` with this Node. The command must read
 * its token from the first line of stdin (`--token-stdin`): the supervisor writes it there.
 */
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
    '--token-stdin',
    ...(ctx.configFile ? ['--config', ctx.configFile] : []),
  ],
});

export interface SupervisorOptions {
  config: WorkersConfig;
  command?: WorkerCommandFactory | undefined;
  configFile?: string | undefined;
  /** Restart backoff: first delay, doubling up to maxMs (default 250 ms → 5 s). */
  backoff?: { initialMs: number; maxMs: number } | undefined;
  /** Health poll of a serving worker (default 2 s). */
  healthIntervalMs?: number | undefined;
  /** Deadline of one Health call to a serving worker (default 5 s); three late answers in a row mean hung. */
  healthTimeoutMs?: number | undefined;
  /** Deadline of one TranscribeFile call through the clients (default 10 min). */
  requestTimeoutMs?: number | undefined;
}

/** What the supervisor loops share with the manager. */
export interface Shared {
  opts: SupervisorOptions;
  logger: Logger;
  up: Gauge;
  restarts: Counter;
  changed(w: Supervisor): void;
}

const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 5000 };
/** What a start is assumed to take before one has been seen to serve (a Retry-After while loading). */
const UNKNOWN_START_MS = 5000;

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

export abstract class Supervisor {
  state: WorkerState = 'starting';
  restarts = 0;
  lastError: string | undefined;
  capabilities: EngineCapabilities | undefined;
  device: string | undefined;
  engine = '';
  client: GrpcSttClient | undefined;
  loop: Promise<void> = Promise.resolve();
  /** When the next start (local) or connection attempt (remote) is due; undefined while one runs. */
  protected nextStartAt: number | undefined;
  /** When the current start or attempt began. */
  protected startedAt = Date.now();
  /** Start to SERVING of the last start that served. */
  protected lastStartMs: number | undefined;
  /** Restarts within the restart window when the worker was last found crash-looping. */
  protected recentRestarts = 0;
  protected readonly stopCtl = new AbortController();
  protected readonly log: Logger;
  /** Wakes the watch loop for an immediate Health check (a call found the worker unreachable). */
  protected poke: (() => void) | undefined;

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
    if (state === 'serving') this.log.info({ address: this.address, pid: this.pid, restarts: this.restarts }, 'worker serving');
    this.shared.changed(this);
  }

  /** Seconds a caller should wait before trying again: until the next start, plus what a start takes. */
  retryAfterS(now = Date.now()): number {
    const at = this.nextStartAt ?? this.startedAt;
    const start = this.lastStartMs ?? (this.nextStartAt === undefined ? UNKNOWN_START_MS : 0);
    return Math.max(1, Math.ceil((at + start - now) / 1000));
  }

  /** Why this worker cannot take a call now (it is not serving). */
  unavailable(): WorkerUnavailableError {
    const retryAfter = this.retryAfterS();
    const m = this.model;
    switch (this.state) {
      case 'starting':
      case 'serving':
        return new WorkerUnavailableError(m, 'loading', `model '${m}' is loading`, { retryAfter });
      case 'restarting':
        return new WorkerUnavailableError(m, 'restarting', `the worker for '${m}' is restarting${this.lastError ? ` after: ${this.lastError}` : ''}`, { retryAfter });
      case 'stopped':
        return new WorkerUnavailableError(m, 'stopped', `the worker for '${m}' is stopped`);
      case 'failed':
        return new WorkerUnavailableError(m, 'failed', `model '${m}' is down: ${this.downReason()}; ${this.nextStartAt === undefined ? 'a retry is starting' : `next retry in ${retryAfter} s`}`, { retryAfter });
    }
  }

  /** Why a failed worker is failed, for errors and /health. */
  downReason(): string {
    const why = this.lastError ?? 'unknown error';
    return this.kind === 'local' ? `its worker went down ${this.recentRestarts} times within ${this.shared.opts.config.restartWindowMs / 1000} s (last: ${why})` : why;
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
      ...(this.state === 'serving' || this.state === 'stopped' ? {} : { retryAfterS: this.retryAfterS() }),
    };
  }

  protected connect(address: string, token: string | undefined): GrpcSttClient {
    this.client?.close();
    this.address = address;
    this.client = createSttClient({
      model: this.model,
      address,
      logger: this.log,
      token,
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
        if (h.serving) {
          this.lastStartMs = Date.now() - this.startedAt;
          return true;
        }
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
      const maxBackoff = this.shared.opts.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs;
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
    this.nextStartAt = undefined;
    this.setState('stopped');
  }
}

export class RemoteSupervisor extends Supervisor {
  get pid(): number | undefined {
    return undefined;
  }

  /** Never spawned: connect, wait for SERVING, watch; an unreachable worker is polled again with backoff. */
  async run(): Promise<void> {
    const { config } = this.shared.opts;
    const client = this.connect(this.address, config.token);
    const started = Date.now();
    const backoff = this.shared.opts.backoff ?? DEFAULT_BACKOFF;
    let delay = backoff.initialMs;
    while (!this.stopping) {
      this.startedAt = Date.now();
      const deadline = this.startedAt + (this.state === 'failed' ? backoff.maxMs : config.startTimeoutMs);
      if (await this.waitServing(client, deadline, this.stopCtl.signal)) {
        delay = backoff.initialMs;
        this.setState('serving');
        await this.watch(client, this.stopCtl.signal, Number.POSITIVE_INFINITY);
        continue;
      }
      if (this.stopping) break;
      this.nextStartAt = Date.now() + delay;
      if (Date.now() - started >= config.startTimeoutMs && this.state !== 'failed') {
        this.setState('failed', `remote worker at ${this.address} did not report SERVING within ${config.startTimeoutMs} ms: ${this.lastError ?? 'no answer'}`);
        this.log.error({ lastError: this.lastError, retryInMs: delay }, 'remote worker unreachable; polling it with backoff');
      }
      await sleep(delay, this.stopCtl.signal);
      this.nextStartAt = undefined;
      delay = Math.min(delay * 2, backoff.maxMs);
    }
  }
}

interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LocalSupervisor extends Supervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<ChildExit> | undefined;
  private readonly port: number;

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
    const backoff = this.shared.opts.backoff ?? DEFAULT_BACKOFF;
    const policy = new RestartPolicy({ maxRestarts: config.maxRestarts, windowMs: config.restartWindowMs, initialMs: backoff.initialMs, maxMs: backoff.maxMs, retryMaxMs: config.retryMaxMs });
    while (!this.stopping) {
      const { reason, served } = await this.runOnce();
      if (this.stopping) break;
      this.client?.close();
      this.client = undefined;
      const next = policy.next(Date.now(), served);
      this.restarts++;
      this.shared.restarts.inc({ model: this.model });
      this.nextStartAt = Date.now() + next.delayMs;
      if (next.failed) {
        this.recentRestarts = next.recent;
        const msg = this.state === 'failed' ? 'worker retry failed; the model stays down' : 'worker failed: it keeps going down; retrying with backoff';
        this.log.error({ reason, restartsInWindow: next.recent, windowMs: config.restartWindowMs, retryInMs: next.delayMs }, msg);
        this.setState('failed', reason);
      } else {
        this.log.warn({ reason, restartInMs: next.delayMs }, 'worker down; restarting');
        this.setState('restarting', reason);
      }
      await sleep(next.delayMs, this.stopCtl.signal);
      this.nextStartAt = undefined;
    }
  }

  /** One worker process from spawn to exit: why it is down, and whether it served meanwhile. */
  private async runOnce(): Promise<{ reason: string; served: boolean }> {
    const { opts } = this.shared;
    const { config } = opts;
    const command = (opts.command ?? defaultWorkerCommand)(this.entry, { host: config.host, port: this.port, configFile: opts.configFile, logLevel: this.shared.logger.level });
    const token = newWorkerToken();
    this.startedAt = Date.now();
    const child = spawn(command.file, command.args, { cwd: command.cwd, env: command.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdin?.on('error', (err) => this.log.debug({ err }, 'worker stdin error'));
    child.stdin?.write(`${token}\n`);
    // Inference yields to the media path: on a saturated machine the runtime (RTP, VAD, sessions, the API)
    // must keep real time; late finals are recoverable, late packets are not.
    if (child.pid !== undefined && config.nice !== 0) {
      try {
        setPriority(child.pid, Math.min(19, getPriority(process.pid) + config.nice));
      } catch (err) {
        this.log.debug({ err }, 'cannot lower the worker priority');
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
    const down = (reason: string, served = false): { reason: string; served: boolean } => ({ reason, served });

    const deadline = Date.now() + config.startTimeoutMs;
    const startTimer = new AbortController();
    const timer = setTimeout(() => startTimer.abort(), config.startTimeoutMs);
    try {
      const port = await Promise.race([listening, new Promise<undefined>((r) => AbortSignal.any([startTimer.signal, this.stopCtl.signal]).addEventListener('abort', () => r(undefined), { once: true }))]);
      if (this.stopping) return down('stopped');
      if (port === undefined) {
        if (lifetime.signal.aborted) return down(await describeExit());
        await this.kill(child);
        return down(`worker did not report its port within ${config.startTimeoutMs} ms`);
      }
      const client = this.connect(`${config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host}:${port}`, token);
      const serving = await this.waitServing(client, deadline, stopOrExit);
      if (this.stopping) return down('stopped');
      if (!serving) {
        if (lifetime.signal.aborted) return down(await describeExit());
        const why = `worker did not report SERVING within ${config.startTimeoutMs} ms${this.lastError ? ` (${this.lastError})` : ''}`;
        await this.kill(child);
        return down(why);
      }
    } finally {
      clearTimeout(timer);
    }
    if (this.state === 'failed') this.log.info({ restarts: this.restarts }, 'worker recovered: a retry serves');
    this.setState('serving');
    // A hung worker (Health fails three times running) is killed and restarted like a crashed one.
    const hung = await this.watch(this.client as GrpcSttClient, stopOrExit, 3);
    if (this.stopping) return down('stopped', true);
    if (hung !== undefined && !lifetime.signal.aborted) {
      await this.kill(child);
      return down(`worker stopped answering Health: ${hung}`, true);
    }
    return down(await describeExit(), true);
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
