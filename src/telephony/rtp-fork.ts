// Plain RTP fork ingest: ports where every new source (address, port) that sends RTP becomes a call session
// (FreeSWITCH or an SBC forking a call's audio, `theo rtp send`). Anyone can send from any port, so a source
// is admitted only once it has proved to be an RTP call (the media plane's admission: consistent packets,
// unproven and live sources per address bounded), and only while the fork's share of the session pool has
// room; sources outside `allow` are refused outright. The call id is the source and its first SSRC; the
// session ends when the source goes quiet for rtp.idleTimeoutMs (a fork has no signalling to say the call is
// over).
import type { Logger } from 'pino';
import type { RtpEndpoint } from '../mediaplane/rtp/endpoint.js';
import type { RtpListener } from '../mediaplane/rtp/listener.js';
import type { RtpStream } from '../mediaplane/rtp/stream.js';
import { FORK_SOURCE } from '../session/manager.js';
import { RtpCallSession, type CallSessionOptions } from './rtp-call.js';

export interface RtpForkOptions extends CallSessionOptions {
  ports: readonly number[];
  allow: readonly string[];
  /** Consistent packets a new source sends before it is a call. */
  probationPackets: number;
  maxPendingPerAddress: number;
  maxCallsPerAddress: number;
}

export class RtpFork {
  private readonly endpoints: RtpEndpoint[] = [];
  private readonly calls = new Set<RtpCallSession>();
  private seq = 0;

  private constructor(private readonly opts: RtpForkOptions) {}

  static async open(rtp: RtpListener, opts: RtpForkOptions, logger: Logger): Promise<RtpFork> {
    const fork = new RtpFork(opts);
    // One admission for every fork port: the per-address limits hold across them.
    const admission = rtp.createAdmission({
      probationPackets: opts.probationPackets,
      maxPendingPerAddress: opts.maxPendingPerAddress,
      maxStreamsPerAddress: opts.maxCallsPerAddress,
      admit: () => opts.sessions.refusal(FORK_SOURCE),
    });
    try {
      for (const port of opts.ports) {
        // RTCP comes on the port + 1 (ffmpeg sends its SR and BYE there) or multiplexed: a BYE ends its call.
        const ep = await rtp.open({ port, sourcePolicy: 'multi', allow: opts.allow, admission, rtcp: true });
        ep.on('stream', (s) => fork.onStream(s, ep));
        fork.endpoints.push(ep);
      }
    } catch (err) {
      await fork.close();
      throw err;
    }
    if (opts.ports.length > 0) logger.info({ ports: opts.ports, allow: opts.allow, probationPackets: opts.probationPackets, maxCallsPerAddress: opts.maxCallsPerAddress }, 'RTP fork listening');
    return fork;
  }

  private onStream(stream: RtpStream, ep: RtpEndpoint): void {
    const { address, port: from } = stream.source;
    const callId = `fork-${address}:${from}-${Date.now().toString(36)}${(this.seq++).toString(36)}`;
    // The session opens now, at the rate of the packets that admitted the source: its place in the pool is
    // taken at once, as the admission counted on.
    // A failure is logged with the refusal (at a bounded rate: a source may retry every few seconds).
    const rate = stream.sampleRate > 0 ? stream.sampleRate : undefined;
    let failure: unknown;
    const call = new RtpCallSession(
      stream,
      { callId, channelId: `${address}:${from}>${ep.port}`, direction: 'inbound', source: FORK_SOURCE },
      { ...this.opts, ...(rate ? { rate } : {}), onOpenFailed: (err) => (failure = err) },
    );
    if (!call.live) {
      ep.refuse(stream.source, 'session_failed', failure);
      return;
    }
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
