// The credentials between the runtime and its workers: a bearer token in every call's metadata. The server
// side is an interceptor that checks it on every RPC (Health included) before any handler runs; the client
// side adds it to every call. A spawned worker gets a fresh random token on its stdin (never on its
// command line, which `ps` shows); remote workers share the configured workers.token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { TheoError } from '../errors/index.js';

export const TOKEN_METADATA = 'authorization';

/** A fresh token for one spawned worker: 256 random bits. */
export function newWorkerToken(): string {
  return randomBytes(32).toString('base64url');
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant time: both sides are hashed to 32 bytes first, so neither a prefix nor the length leaks. */
export function tokenMatches(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

/** The token of a call's metadata (`authorization: Bearer TOKEN`), if any. */
function bearer(metadata: grpc.Metadata): string | undefined {
  const v = metadata.get(TOKEN_METADATA)[0];
  if (typeof v !== 'string') return undefined;
  return /^Bearer (\S+)$/i.exec(v)?.[1];
}

/** Answers UNAUTHENTICATED, before any handler sees the call, when its token is missing or wrong. */
export function tokenInterceptor(token: string, onRejected: (method: string, reason: 'missing' | 'wrong') => void): grpc.ServerInterceptor {
  const expected = digest(token);
  return (method, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const given = bearer(metadata);
        if (given !== undefined && tokenMatches(given, expected)) return next(metadata);
        const reason = given === undefined ? 'missing' : 'wrong';
        onRejected(method.path, reason);
        call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: `${reason} worker token: send 'authorization: Bearer <token>' (workers.token)` });
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

/** Adds the token to every call a client makes. */
export function tokenCallInterceptor(token: string): grpc.Interceptor {
  const value = `Bearer ${token}`;
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(TOKEN_METADATA, value);
        next(metadata, listener);
      },
    });
}

/** The first line of `input` (a spawned worker's stdin) as the token; rejects when it ends or stays silent first. */
export function readTokenLine(input: NodeJS.ReadableStream, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err: Error | undefined, token?: string): void => {
      clearTimeout(timer);
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      if (err) reject(err);
      else resolve(token ?? '');
    };
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl < 0) {
        if (text.length > 4096) done(new TheoError('invalid_argument', 'the worker token line on stdin is longer than 4096 bytes'));
        return;
      }
      const token = text.slice(0, nl).trim();
      done(token ? undefined : new TheoError('invalid_argument', 'the worker token line on stdin is empty'), token);
    };
    const onEnd = (): void => done(new TheoError('invalid_argument', 'stdin ended before the worker token line (--token-stdin)'));
    const onError = (err: Error): void => done(err);
    const timer = setTimeout(() => done(new TheoError('invalid_argument', `no worker token line on stdin within ${timeoutMs} ms (--token-stdin)`)), timeoutMs);
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
  });
}
