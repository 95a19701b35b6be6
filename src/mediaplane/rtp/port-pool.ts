// Allocates UDP ports for RTP from a configured range and binds a socket on each. Even ports only
// (RFC 3550 §11: RTP on an even port, RTCP on the next odd one). A freed port rests in quarantine
// for a while so late packets of an old call never land in a new one.
import dgram from 'node:dgram';
import { PortPoolExhaustedError, errorMessage } from '../../errors/index.js';

export interface PortPoolOptions {
  host: string;
  min: number;
  max: number;
  /** Kernel receive buffer per socket (bytes); 0 keeps the system default. */
  recvBufferBytes?: number;
  /** How long a released port rests before reuse. */
  quarantineMs?: number;
  now?: () => number;
}

export interface BoundPort {
  port: number;
  socket: dgram.Socket;
}

export class PortPool {
  private readonly opts: Required<PortPoolOptions>;
  private readonly inUse = new Set<number>();
  private readonly restingUntil = new Map<number, number>();
  private cursor: number;

  constructor(opts: PortPoolOptions) {
    const min = opts.min % 2 === 0 ? opts.min : opts.min + 1;
    this.opts = { recvBufferBytes: 0, quarantineMs: 5_000, now: Date.now, ...opts, min };
    this.cursor = min;
  }

  get capacity(): number {
    return this.opts.max < this.opts.min ? 0 : Math.floor((this.opts.max - this.opts.min) / 2) + 1;
  }

  get allocated(): number {
    return this.inUse.size;
  }

  /** Binds a socket on the next free port; ports another process holds are skipped. */
  async allocate(): Promise<BoundPort> {
    const { min, max } = this.opts;
    const now = this.opts.now();
    for (let tries = 0; tries < this.capacity; tries++) {
      const port = this.cursor;
      this.cursor = port + 2 > max ? min : port + 2;
      if (this.inUse.has(port)) continue;
      const rest = this.restingUntil.get(port);
      if (rest !== undefined && rest > now) continue;
      this.restingUntil.delete(port);
      this.inUse.add(port);
      try {
        return { port, socket: await bindUdp(this.opts.host, port, this.opts.recvBufferBytes) };
      } catch {
        this.inUse.delete(port); // held by someone else: try the next one
      }
    }
    throw new PortPoolExhaustedError(min, max);
  }

  /** Binds a specific port (inside or outside the range), e.g. for `theo rtp record --port`. */
  async allocatePort(port: number): Promise<BoundPort> {
    if (this.inUse.has(port)) throw new Error(`RTP port ${port} is already in use by this process`);
    this.inUse.add(port);
    try {
      return { port, socket: await bindUdp(this.opts.host, port, this.opts.recvBufferBytes) };
    } catch (err) {
      this.inUse.delete(port);
      throw new Error(`cannot bind RTP port ${this.opts.host}:${port}: ${errorMessage(err)}`, { cause: err });
    }
  }

  release(port: number): void {
    if (!this.inUse.delete(port)) return;
    this.restingUntil.set(port, this.opts.now() + this.opts.quarantineMs);
  }
}

export function bindUdp(host: string, port: number, recvBufferBytes = 0): Promise<dgram.Socket> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  const socket = dgram.createSocket({ type, recvBufferSize: recvBufferBytes > 0 ? recvBufferBytes : undefined });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
