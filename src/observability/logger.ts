// The process logger (pino). Components get child loggers tagged with their name, passed in
// through constructors rather than imported.
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Destination stream; defaults to stderr so stdout stays free for command output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const dest = opts.destination ?? pino.destination({ fd: 2, sync: false });
  return pino({ level: opts.level, base: { service: 'theo' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export function componentLogger(root: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ component, ...bindings });
}
