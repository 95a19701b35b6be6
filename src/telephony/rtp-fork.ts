// Plain RTP fork ingest: ports where every new source (address, port) that sends RTP becomes a call session
// (FreeSWITCH or an SBC forking a call's audio, `theo rtp send`). Sources outside `allow` are refused by the
// endpoint and counted. The call id is the source and its first SSRC; the session ends when the source goes
// quiet for rtp.idleTimeoutMs (a fork has no signalling to say the call is over).
import type { Logger } from 'pino';
import type { RtpEndpoint } from '../mediaplane/rtp/endpoint.js';
import type { RtpListener } from '../mediaplane/rtp/listener.js';
import type { RtpStream } from '../mediaplane/rtp/stream.js';
import { RtpCallSession, type CallSessionOptions } from './rtp-call.js';

export interface RtpForkOptions extends CallSessionOptions {
  ports: readonly number[];
  allow: readonly string[];
}

export class RtpFork {
  private readonly endpoints: RtpEndpoint[] = [];
  private readonly calls = new Set<RtpCallSession>();
  private seq = 0;

  private constructor(private readonly opts: RtpForkOptions) {}

  static async open(rtp: RtpListener, opts: RtpForkOptions, logger: Logger): Promise<RtpFork> {
    const fork = new RtpFork(opts);
    try {
      for (const port of opts.ports) {
        const ep = await rtp.open({ port, sourcePolicy: 'multi', allow: opts.allow });
        ep.on('stream', (s) => fork.onStream(s, port));
        fork.endpoints.push(ep);
      }
    } catch (err) {
      await fork.close();
      throw err;
    }
    if (opts.ports.length > 0) logger.info({ ports: opts.ports, allow: opts.allow }, 'RTP fork listening');
    return fork;
  }

  private onStream(stream: RtpStream, port: number): void {
    const { address, port: from } = stream.source;
    const callId = `fork-${address}:${from}-${Date.now().toString(36)}${(this.seq++).toString(36)}`;
    const call = new RtpCallSession(stream, { callId, channelId: `${address}:${from}>${port}`, direction: 'inbound', source: 'rtp-fork' }, this.opts);
    this.calls.add(call);
    stream.once('close', () => this.calls.delete(call));
  }

  /** Ends every call (finals are still delivered) and closes the ports. */
  async close(): Promise<void> {
    const ending = [...this.calls].map((c) => c.end('shutdown'));
    for (const ep of this.endpoints.splice(0)) ep.close();
    await Promise.allSettled(ending);
  }
}
