// Emitting to listeners that may throw: the exception is reported, never propagated into the
// emitter's state machine (a bad consumer must not corrupt a media stream).
import type { EventEmitter } from 'node:events';

export type ListenerErrorHandler = (event: string, err: unknown) => void;

export function safeEmit<T extends Record<keyof T, unknown[]>, K extends keyof T & string>(
  emitter: EventEmitter<T>,
  onError: ListenerErrorHandler,
  event: K,
  ...args: T[K]
): void {
  try {
    // The generic EventEmitter typing cannot relate K to its own args tuple; the signature above does.
    (emitter.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
  } catch (err) {
    try {
      onError(event, err);
    } catch {
      // A reporter that throws as well: nothing more can be done without letting it reach the emitter.
    }
  }
}
