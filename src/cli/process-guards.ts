// Last-resort handling for the `theo` process: faults that no code path caught, and standard streams whose
// reader went away. These are defects to fix where they arise; here they are made loud, counted and bounded
// instead of killing every call and session of the runtime without a trace.
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';

/**
 * A closed pipe on stdout/stderr (`theo list --json | head -1`) ends the command quietly with its exit code so
 * far, as Unix tools do, instead of an unhandled 'error' event and a stack trace.
 */
export function guardStdio(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit();
      process.exitCode = 1;
    });
  }
}

export interface FaultHandlerOptions {
  logger: Logger;
  registry: Registry;
  /** Starts the graceful shutdown after an uncaught exception (the process's state can no longer be trusted). */
  shutdown: () => void;
  /** How long that shutdown may take before the process exits anyway. */
  shutdownBoundMs: number;
}

export interface FaultHandlers {
  onRejection(reason: unknown): void;
  onException(err: Error): void;
}

/**
 * Runtime fault handlers. An unhandled promise rejection is logged with its stack and counted, and the runtime
 * carries on: a promise nobody awaited has no state to corrupt. An uncaught exception is logged as fatal and
 * counted, then the runtime shuts down gracefully (calls get their BYE, sessions their finals) and exits 1,
 * within `shutdownBoundMs`, so a supervisor restarts it.
 */
export function faultHandlers(opts: FaultHandlerOptions): FaultHandlers {
  const faults = new Counter({ name: 'theo_process_faults_total', help: 'faults no code path caught: unhandled promise rejections and uncaught exceptions', labelNames: ['kind'], registers: [opts.registry] });
  faults.inc({ kind: 'unhandled_rejection' }, 0);
  faults.inc({ kind: 'uncaught_exception' }, 0);
  let fatal = false;
  return {
    onRejection(reason) {
      faults.inc({ kind: 'unhandled_rejection' });
      opts.logger.error({ err: reason }, 'unhandled promise rejection (a defect: please report it); the runtime carries on');
    },
    onException(err) {
      faults.inc({ kind: 'uncaught_exception' });
      opts.logger.fatal({ err }, 'uncaught exception (a defect: please report it); shutting down');
      process.exitCode = 1;
      if (fatal) return; // a second one while shutting down: the bound set by the first still ends the process
      fatal = true;
      setTimeout(() => {
        opts.logger.fatal({ bound_ms: opts.shutdownBoundMs }, 'shutdown after an uncaught exception took too long; exiting');
        opts.logger.flush();
        process.exit(1);
      }, opts.shutdownBoundMs).unref();
      opts.shutdown();
    },
  };
}

/** Installs faultHandlers() on the process; returns a function that removes them. */
export function installFaultHandlers(opts: FaultHandlerOptions): () => void {
  const h = faultHandlers(opts);
  const onRejection = (reason: unknown): void => h.onRejection(reason);
  const onException = (err: Error): void => h.onException(err);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
