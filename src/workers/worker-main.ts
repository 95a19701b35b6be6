// The life of one worker process (`theo worker`): build the engine, bind the gRPC server, print
// `{"event":"listening","port":N}` on stdout (how the manager learns the port), load the model, serve
// until SIGTERM/SIGINT (or the end of stdin when the parent asked to be watched), stop gracefully.
// An exception nobody caught ends the process with a non-zero code, so the manager restarts it.
import type { Writable } from 'node:stream';
import type { Engine } from '../engines/engine.js';
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { ModelEntry } from '../registry/manifest.js';
import { startWorkerServer } from './server.js';

/** Exit code of a worker that died of an uncaught exception (EX_SOFTWARE). */
export const EXIT_UNCAUGHT = 70;
/** Exit code of a worker whose model failed to load. */
export const EXIT_LOAD_FAILED = 2;

export interface RunWorkerOptions {
  entry: ModelEntry;
  createEngine: (entry: ModelEntry) => Promise<Engine>;
  host: string;
  port: number;
  logger: Logger;
  /** Time a running request gets to finish after SIGTERM. */
  stopTimeoutMs: number;
  /** Where the JSON status lines go (default process.stdout). */
  stdout?: Writable;
  /** Stop when stdin ends: the parent that spawned this worker is gone. */
  watchStdin?: boolean;
  device?: string;
  /** What every call must carry (a spawned worker reads it from stdin: pending until that line arrives). */
  token: string | Promise<string>;
}

/** Runs the worker until it is told to stop; resolves with the process exit code. */
export async function runWorker(opts: RunWorkerOptions): Promise<number> {
  const out = opts.stdout ?? process.stdout;
  const say = (msg: Record<string, unknown>): void => void out.write(`${JSON.stringify(msg)}\n`);
  const log = opts.logger.child({ model: opts.entry.manifest.name });

  const die = (kind: string) => (err: unknown) => {
    log.fatal({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, `${kind} in worker; exiting`);
    say({ event: 'error', message: `${kind}: ${errorMessage(err)}` });
    log.flush();
    process.exit(EXIT_UNCAUGHT);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled rejection'));

  const stopRequested = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    if (opts.watchStdin) {
      // The token line was read from stdin before this listener existed: its end may have come already.
      if (process.stdin.readableEnded) resolve('stdin closed');
      process.stdin.on('end', () => resolve('stdin closed'));
      process.stdin.on('error', () => resolve('stdin error'));
      process.stdin.resume();
    }
  });

  const token = await opts.token;
  const engine = await opts.createEngine(opts.entry);
  const server = await startWorkerServer({ engine, modelName: opts.entry.manifest.name, host: opts.host, port: opts.port, logger: log, device: opts.device, token });
  say({ event: 'listening', port: server.port, pid: process.pid });

  const loaded = server.load().then(
    () => {
      say({ event: 'serving' });
      return true;
    },
    (err: unknown) => {
      log.error({ err: errorMessage(err) }, 'model failed to load');
      say({ event: 'error', message: `model failed to load: ${errorMessage(err)}` });
      return false;
    },
  );
  const outcome = await Promise.race([loaded.then((ok) => (ok ? undefined : 'load failed')), stopRequested]);
  const reason = outcome ?? (await stopRequested);
  log.info({ reason }, 'worker stopping');
  await server.stop(opts.stopTimeoutMs);
  if (opts.watchStdin) process.stdin.pause();
  return reason === 'load failed' ? EXIT_LOAD_FAILED : 0;
}
