// `theo serve`: the runtime process. Today it runs the HTTP side-API (/health, /metrics) and the RTP
// media plane; sessions, workers and telephony controllers attach here as they land.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TheoConfig } from '../config/index.js';
import { createHttpApp } from '../api/http/app.js';
import { RtpListener } from '../mediaplane/rtp/listener.js';
import { componentLogger, type Logger } from '../observability/logger.js';
import { createRegistry } from '../observability/metrics.js';
import { VERSION } from './version.js';

export interface RunningServer {
  url: string;
  port: number;
  rtp: RtpListener;
  /** Graceful stop: no new connections, endpoints flushed and closed. Safe to call twice. */
  close(): Promise<void>;
}

export async function startServer(config: Readonly<TheoConfig>, logger: Logger): Promise<RunningServer> {
  const registry = createRegistry();
  const rtp = new RtpListener({ config: config.rtp, logger: componentLogger(logger, 'rtp'), registry });
  const app = createHttpApp({
    logger: componentLogger(logger, 'http'),
    registry,
    version: VERSION,
    health: {
      rtp: () => {
        const s = rtp.stats();
        return { ports_allocated: s.portsAllocated, ports_capacity: s.portsCapacity, active_streams: s.activeStreams, port_range: `${config.rtp.portMin}-${config.rtp.portMax}` };
      },
    },
  });
  const handle = app.callback();
  // Koa answers errors itself (see createHttpApp); the promise only signals completion.
  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  logger.info({ url, rtp_ports: `${config.rtp.portMin}-${config.rtp.portMax}`, rtp_host: config.rtp.host }, 'theo serving');

  let closing: Promise<void> | undefined;
  return {
    url,
    port: addr.port,
    rtp,
    close() {
      closing ??= new Promise<void>((resolve) => {
        rtp.close();
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
