// The RTP media plane of a process: a port pool, the endpoints bound on it, one shared media clock
// that drives every stream and sender, the admissions of multi-source ports, the receive counters and their
// Prometheus view, and the log of what the receive path refuses (at a bounded rate).
import type dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RtpConfig } from '../../config/index.js';
import { MediaClock, type ClockTask } from '../clock.js';
import { PayloadTypeMap } from '../codec/payload-types.js';
import { LogThrottle } from '../../util/log-throttle.js';
import { SourceAdmission, type SourceAdmissionOptions, type SourceRefusal } from './admission.js';
import { RtpCounters } from './counters.js';
import { RtpEndpoint, type EndpointOptions } from './endpoint.js';
import { registerRtpMetrics, type RtpMetrics } from './metrics.js';
import { PortPool, bindUdp } from './port-pool.js';
import type { RtpSource, RtpStreamOptions } from './stream.js';

export interface RtpListenerOptions {
  config: RtpConfig;
  logger: Logger;
  registry?: Registry;
  /** Inject a clock (tests drive ticks by hand). */
  clock?: MediaClock;
}

export interface OpenEndpointOptions extends EndpointOptions {
  /** Bind this port instead of taking one from the pool. */
  port?: number;
  /**
   * Also receive RTCP on the port + 1 (RFC 3550 §11; RTCP multiplexed on the port itself is read either way).
   * When that port cannot be bound the endpoint opens without it (logged).
   */
  rtcp?: boolean;
}

export interface RtpListenerStats {
  portsAllocated: number;
  portsCapacity: number;
  endpoints: number;
  activeStreams: number;
}

/** Jitter samples for the histogram are taken this often per stream. */
const JITTER_SAMPLE_MS = 1000;

export class RtpListener implements ClockTask {
  readonly counters = new RtpCounters();
  readonly clock: MediaClock;
  readonly pool: PortPool;
  readonly payloadTypes: PayloadTypeMap;
  private readonly config: RtpConfig;
  private readonly logger: Logger;
  private readonly endpointSet = new Set<RtpEndpoint>();
  private readonly metrics: RtpMetrics | undefined;
  private readonly streamOptions: RtpStreamOptions;
  private readonly admissions = new Set<SourceAdmission>();
  private readonly throttle: LogThrottle;
  private lastJitterSampleMs = 0;
  private isClosed = false;

  constructor(opts: RtpListenerOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
    this.clock = opts.clock ?? new MediaClock(opts.config.tickMs, (err) => this.logger.error({ err }, 'media clock task failed'));
    this.pool = new PortPool({ host: opts.config.host, min: opts.config.portMin, max: opts.config.portMax, recvBufferBytes: opts.config.recvBufferBytes });
    this.payloadTypes = PayloadTypeMap.parse(opts.config.payloadTypes);
    this.throttle = new LogThrottle((fields, msg) => this.logger.warn(fields, msg));
    this.streamOptions = {
      jitter: { ...opts.config.jitter },
      concealment: opts.config.concealment,
      onFlap: (source, from, to) => this.throttle.note('payload_flap', 'RTP payload type flapping: packets of another clock rate than their stream dropped', { source: `${source.address}:${source.port}`, from, to }),
      onLateDigit: (source, seq) => this.throttle.note('dtmf_late', 'DTMF digit dropped: its packets came after a later digit, past the jitter buffer reach', { source: `${source.address}:${source.port}`, seq }),
    };
    if (opts.registry) this.metrics = registerRtpMetrics(opts.registry, this.counters, { activeStreams: () => this.activeStreams(), pendingSources: () => this.pendingSources() });
  }

  /**
   * An admission for multi-source endpoints (pass it as `admission` to open(); several may share one): its
   * refusals are counted here and logged at a bounded rate.
   */
  createAdmission(opts: SourceAdmissionOptions): SourceAdmission {
    const a = new SourceAdmission(opts, this.counters, (reason, source, err) => this.noteRefusal(reason, source, err));
    this.admissions.add(a);
    return a;
  }

  /** Unproven sources held by every admission. */
  pendingSources(): number {
    let n = 0;
    for (const a of this.admissions) n += a.pending;
    return n;
  }

  private noteRefusal(reason: SourceRefusal, source: RtpSource, err?: unknown): void {
    this.throttle.note(reason, `RTP source refused: ${reason}`, { reason, source: `${source.address}:${source.port}`, ...(err === undefined ? {} : { err }) });
  }

  /** Binds a port (from the pool, or `opts.port`) and starts receiving on it. */
  async open(opts: OpenEndpointOptions = {}): Promise<RtpEndpoint> {
    if (this.isClosed) throw new Error('RTP listener is closed');
    const bound = opts.port !== undefined ? await this.pool.allocatePort(opts.port) : await this.pool.allocate();
    const rtcpSocket = opts.rtcp ? await this.bindRtcp(bound.port + 1) : undefined;
    const ep = new RtpEndpoint(bound.port, bound.socket, opts, {
      counters: this.counters,
      streamOptions: this.streamOptions,
      payloadTypes: this.payloadTypes,
      clock: this.clock,
      onClose: (e) => this.forget(e),
    }, rtcpSocket);
    ep.on('listenerError', (err) => this.logger.warn({ port: ep.port, err }, 'RTP endpoint listener failed'));
    this.endpointSet.add(ep);
    if (this.endpointSet.size === 1) this.clock.add(this);
    this.logger.debug({ port: ep.port, policy: ep.policy }, 'RTP endpoint open');
    return ep;
  }

  private async bindRtcp(port: number): Promise<dgram.Socket | undefined> {
    try {
      return await bindUdp(this.config.host, port, this.config.recvBufferBytes);
    } catch (err) {
      this.logger.warn({ port, err }, 'cannot bind the RTCP port (RTP port + 1): RTCP is read only where it is multiplexed on the RTP port');
      return undefined;
    }
  }

  endpoints(): RtpEndpoint[] {
    return [...this.endpointSet];
  }

  activeStreams(): number {
    let n = 0;
    for (const ep of this.endpointSet) n += ep.streams().length;
    return n;
  }

  stats(): RtpListenerStats {
    return {
      portsAllocated: this.pool.allocated,
      portsCapacity: this.pool.capacity,
      endpoints: this.endpointSet.size,
      activeStreams: this.activeStreams(),
    };
  }

  onTick(nowMs: number): void {
    const idle = this.config.idleTimeoutMs;
    for (const ep of this.endpointSet) ep.tick(nowMs, idle);
    if (this.metrics && nowMs - this.lastJitterSampleMs >= JITTER_SAMPLE_MS) {
      this.lastJitterSampleMs = nowMs;
      for (const ep of this.endpointSet) {
        for (const s of ep.streams()) {
          const st = s.receiverStats();
          if (st && st.received > 1) this.metrics.jitterSeconds.observe(st.jitterSeconds);
        }
      }
    }
  }

  private forget(ep: RtpEndpoint): void {
    if (!this.endpointSet.delete(ep)) return;
    this.pool.release(ep.port);
    if (this.endpointSet.size === 0) this.clock.remove(this);
  }

  /** Closes every endpoint (flushing their streams) and stops the clock. Safe to call twice. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const ep of [...this.endpointSet]) ep.close();
    this.clock.remove(this);
  }
}
