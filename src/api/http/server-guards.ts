// The HTTP(S) server's own failures, outside any request: malformed requests that never reach Koa (bad
// request lines, oversized headers, timeouts, TLS handshakes that fail) are answered as Node would and counted
// by reason; server errors after listen (e.g. EMFILE on accept when file descriptors run out) are logged,
// never left as an unhandled 'error' event that ends the process.
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../observability/logger.js';

/** What Node answers for a client error it can still answer (see Node's default 'clientError' handler). */
function statusLine(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

export function guardHttpServer(server: HttpServer | HttpsServer, opts: { logger: Logger; registry: Registry }): void {
  const clientErrors = new Counter({ name: 'theo_http_client_errors_total', help: 'connections refused before a request reached the API: malformed requests, oversized headers, timeouts, failed TLS handshakes', labelNames: ['code'], registers: [opts.registry] });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    clientErrors.inc({ code: err.code ?? 'unknown' });
    // A reset or closed connection has no one left to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${statusLine(err.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    clientErrors.inc({ code: err.code ?? 'tls_error' });
    socket.destroy();
  });
  server.on('error', (err) => {
    opts.logger.error({ err }, 'HTTP server error');
  });
}
