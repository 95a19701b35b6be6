// One bound RTP port: receives datagrams, validates them, enforces the source policy and hands
// packets to the stream of their source; on a multi-source port a new source becomes a stream only once
// its admission (admission.ts) lets it. RTCP, multiplexed (RFC 5761) or on the port + 1 when that is bound
// too, is validated and counted; on a multi-source port a BYE (RFC 3550 §6.6) ends its sender's stream at
// once (there is no signalling to end it). Replies (RtpSendStream) leave from this same socket,
// because Asterisk ExternalMedia and symmetric-RTP peers expect media back from where they send.
import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { MediaClock } from '../clock.js';
import type { PacketizerOptions } from './packetizer.js';
import { RtpSendStream } from './send-stream.js';
import type { AudioCodec } from '../codec/codec.js';
import type { PayloadFormat, PayloadTypeMap } from '../codec/payload-types.js';
import { safeEmit } from '../../util/events.js';
import type { SourceAdmission, SourceRefusal } from './admission.js';
import type { RtpCounters } from './counters.js';
import { RtpPacket, isRtcp, readRtp } from './packet.js';
import { RtcpCompound, readRtcp } from './rtcp.js';
import { RtpStream, type RtpSource, type RtpStreamOptions } from './stream.js';

/**
 * - `pin`: one stream; the first valid RTP packet (or `expectedPeer`) fixes the source, and
 *   datagrams from anywhere else are counted as foreign and dropped (no RTP injection).
 * - `multi`: every source becomes its own stream (RTP fork mode), optionally limited by `allow`.
 */
export type SourcePolicy = 'pin' | 'multi';

export interface EndpointOptions {
  sourcePolicy?: SourcePolicy;
  /** Only this peer may send. A missing port pins the port of its first packet (NAT, symmetric RTP). */
  expectedPeer?: { address: string; port?: number | undefined } | undefined;
  /** For `multi`: addresses allowed to start a stream (empty = any); RTCP from elsewhere is dropped too. */
  allow?: readonly string[];
  /**
   * For `multi`: what a new source must pass before it gets a stream (probation, per-address limits, the
   * owner's policy); may be shared by several endpoints. Without it every source gets a stream at once.
   */
  admission?: SourceAdmission | undefined;
  payloadTypes?: PayloadTypeMap;
}

export interface RtpEndpointEvents {
  stream: [RtpStream];
  close: [];
  listenerError: [unknown];
}

export interface EndpointContext {
  counters: RtpCounters;
  streamOptions: RtpStreamOptions;
  payloadTypes: PayloadTypeMap;
  clock: MediaClock;
  onClose: (ep: RtpEndpoint) => void;
}

export class RtpEndpoint extends EventEmitter<RtpEndpointEvents> {
  readonly port: number;
  readonly socket: dgram.Socket;
  readonly policy: SourcePolicy;
  private readonly ctx: EndpointContext;
  private readonly payloadTypes: PayloadTypeMap;
  private readonly pkt = new RtpPacket();
  private readonly rtcp = new RtcpCompound();
  /** The RTCP socket on port + 1, when bound. */
  readonly rtcpSocket: dgram.Socket | undefined;
  private readonly expected: EndpointOptions['expectedPeer'];
  private readonly allow: ReadonlySet<string>;
  private readonly admission: SourceAdmission | undefined;
  private pinnedAddress: string | undefined;
  private pinnedPort = -1;
  private single: RtpStream | undefined;
  private readonly multi = new Map<string, RtpStream>();
  private readonly senders = new Set<RtpSendStream>();
  private isClosed = false;
  private readonly onListenerError = (_e: string, err: unknown): void => {
    if (this.listenerCount('listenerError') > 0) this.emit('listenerError', err);
  };

  constructor(port: number, socket: dgram.Socket, opts: EndpointOptions, ctx: EndpointContext, rtcpSocket?: dgram.Socket) {
    super();
    this.port = port;
    this.socket = socket;
    this.rtcpSocket = rtcpSocket;
    this.ctx = ctx;
    this.policy = opts.sourcePolicy ?? 'pin';
    this.payloadTypes = opts.payloadTypes ?? ctx.payloadTypes;
    this.expected = opts.expectedPeer;
    this.allow = new Set(opts.allow ?? []);
    this.admission = this.policy === 'multi' ? opts.admission : undefined;
    if (this.expected) {
      this.pinnedAddress = this.expected.address;
      this.pinnedPort = this.expected.port ?? -1;
    }
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port, MediaClock.now()));
    // A UDP socket error (e.g. ICMP unreachable surfacing on send) must not crash the process.
    socket.on('error', (err) => safeEmit(this, this.onListenerError, 'listenerError', err));
    rtcpSocket?.on('message', (msg, rinfo) => this.onRtcpDatagram(msg, rinfo.address, rinfo.port));
    rtcpSocket?.on('error', (err) => safeEmit(this, this.onListenerError, 'listenerError', err));
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The pinned peer, once known. */
  get peer(): RtpSource | undefined {
    return this.pinnedAddress !== undefined && this.pinnedPort >= 0 ? { address: this.pinnedAddress, port: this.pinnedPort } : undefined;
  }

  streams(): RtpStream[] {
    if (this.policy === 'pin') return this.single ? [this.single] : [];
    return [...this.multi.values()];
  }

  /** The receive path. Public so tests and benchmarks can drive it without a socket. */
  onDatagram(msg: Uint8Array, address: string, port: number, nowMs: number): void {
    const c = this.ctx.counters;
    c.datagrams++;
    if (this.isClosed) {
      c.outcome.closed++;
      return;
    }
    let stream: RtpStream | undefined;
    let key = '';
    if (this.policy === 'pin') {
      if (this.pinnedAddress !== undefined && (address !== this.pinnedAddress || (this.pinnedPort >= 0 && port !== this.pinnedPort))) {
        c.outcome.foreign_source++;
        return;
      }
      stream = this.single;
    } else {
      if (this.allow.size > 0 && !this.allow.has(address)) {
        c.outcome.foreign_source++;
        c.refused.not_allowed++;
        return;
      }
      key = sourceKey(address, port);
      stream = this.multi.get(key);
    }

    if (isRtcp(msg)) {
      // rtcp-mux (RFC 5761): an RTP outcome of its own, then read as RTCP.
      c.outcome.rtcp++;
      this.onRtcpDatagram(msg, address, port);
      return;
    }
    const failure = readRtp(msg, this.pkt);
    if (failure) {
      c.outcome.malformed++;
      c.malformed[failure.reason]++;
      return;
    }
    const format = this.payloadTypes.get(this.pkt.payloadType);
    if (!format) {
      c.outcome.unknown_payload_type++;
      return;
    }
    if (!stream) {
      // Only a valid, known-format packet may pin the source or open a stream; on a multi-source port, only
      // one that completes its source's admission.
      if (this.admission) {
        stream = this.admit(this.admission, key, address, port, format, msg, nowMs);
        if (!stream) return;
      } else {
        stream = this.openStream(address, port, nowMs);
      }
    }
    const outcome = stream.handle(this.pkt, format, nowMs);
    c.outcome[outcome]++;
  }

  /**
   * A packet from a source without a stream, through the admission: the new stream (with the packets that
   * proved the source replayed into it, and `this.pkt` holding `msg` again), or undefined when the packet
   * was held or dropped (counted).
   */
  private admit(admission: SourceAdmission, key: string, address: string, port: number, format: PayloadFormat, msg: Uint8Array, nowMs: number): RtpStream | undefined {
    const c = this.ctx.counters;
    if (format.kind !== 'audio') {
      c.outcome.probation++; // an event before the call exists has nothing to belong to
      return undefined;
    }
    const verdict = admission.offer(this.admissionKey(key), { address, port }, this.pkt, format.codec, msg, nowMs);
    if (verdict !== 'admitted') {
      c.outcome[verdict]++;
      return undefined;
    }
    const stream = this.openStream(address, port, nowMs, format.codec);
    if (stream.closed) {
      c.outcome.refused++; // its owner refused it at once (see refuse())
      return undefined;
    }
    const replay = admission.replay;
    const at = admission.replayAt;
    // Counted as 'probation' when they came; handled now in arrival order, then the packet that proved the source.
    for (let i = 0; i < replay.length; i++) {
      if (readRtp(replay[i]!, this.pkt)) continue;
      const f = this.payloadTypes.get(this.pkt.payloadType);
      if (f && !stream.closed) stream.handle(this.pkt, f, at[i]!);
    }
    readRtp(msg, this.pkt);
    if (stream.closed) {
      c.outcome.refused++;
      return undefined;
    }
    return stream;
  }

  /**
   * One RTCP datagram (from the RTCP socket, or multiplexed), validated and counted. On a multi-source port a
   * BYE ends the stream of its source: the same address, an SSRC the BYE lists, and the stream's RTP port or
   * the one above it (where RTP senders send RTCP from). Public so tests can drive it without a socket.
   */
  onRtcpDatagram(msg: Uint8Array, address: string, port: number): void {
    const c = this.ctx.counters;
    if (this.isClosed) return;
    // The RTP path checked the source of what is multiplexed; what reaches the RTCP port is checked here.
    const foreign = this.policy === 'pin' ? this.pinnedAddress !== undefined && address !== this.pinnedAddress : this.allow.size > 0 && !this.allow.has(address);
    if (foreign) {
      c.rtcp.foreign_source++;
      return;
    }
    const failure = readRtcp(msg, this.rtcp);
    if (failure) {
      c.rtcp.malformed++;
      c.rtcpMalformed[failure.reason]++;
      return;
    }
    if (this.rtcp.byeCount === 0) {
      c.rtcp.report++;
      return;
    }
    if (this.policy !== 'multi') {
      c.rtcp.bye_ignored++;
      return;
    }
    let ended = 0;
    for (const s of [...this.multi.values()]) {
      if (s.source.address === address && (port === s.source.port || port === s.source.port + 1) && this.rtcp.says(s.ssrc)) {
        s.close('bye');
        ended++;
      }
    }
    c.rtcp[ended > 0 ? 'bye' : 'bye_unknown']++;
  }

  /**
   * Refuses a source after its admission (its owner could not take it after all): its stream closes
   * ('refused') and its packets are dropped until the admission lets it try again.
   */
  refuse(source: RtpSource, reason: SourceRefusal, err?: unknown): void {
    if (!this.admission || this.isClosed) return;
    const key = sourceKey(source.address, source.port);
    this.admission.block(this.admissionKey(key), source, reason, MediaClock.now(), err);
    this.multi.get(key)?.close('refused');
  }

  private admissionKey(sourceKey: string): string {
    return `${this.port}/${sourceKey}`;
  }

  /** `codec`: the stream's format when already known (its listeners can read the rate when it is announced). */
  private openStream(address: string, port: number, nowMs: number, codec?: AudioCodec): RtpStream {
    const stream = new RtpStream({ address, port }, this.ctx.streamOptions, this.ctx.counters, nowMs);
    stream.codec = codec;
    this.ctx.counters.streamsOpened++;
    if (this.policy === 'pin') {
      this.pinnedAddress = address;
      this.pinnedPort = port;
      this.single = stream;
    } else {
      this.multi.set(sourceKey(address, port), stream);
    }
    const admitted = this.admission;
    stream.once('close', () => {
      if (this.single === stream) this.single = undefined;
      else this.multi.delete(sourceKey(address, port));
      admitted?.release(address);
    });
    safeEmit(this, this.onListenerError, 'stream', stream);
    return stream;
  }

  /** Clock tick: playout, then idle checks. */
  tick(nowMs: number, idleTimeoutMs: number): void {
    if (this.single) tickStream(this.single, nowMs, idleTimeoutMs);
    else for (const s of this.multi.values()) tickStream(s, nowMs, idleTimeoutMs);
    this.admission?.sweep(nowMs);
  }

  /** Sends a datagram from this port's socket (to the pinned peer unless told otherwise). */
  send(datagram: Uint8Array, address?: string, port?: number): boolean {
    const to = address !== undefined && port !== undefined ? { address, port } : this.peer;
    if (this.isClosed || !to) return false;
    this.socket.send(datagram, to.port, to.address, (err) => {
      if (err) this.ctx.counters.sendErrors++;
    });
    this.ctx.counters.packetsSent++;
    return true;
  }

  /**
   * A paced sender whose packets leave from this port's socket, to `to` or else the pinned peer
   * (known once the peer has sent, or from `expectedPeer`).
   */
  createSender(opts: PacketizerOptions & { to?: RtpSource }): RtpSendStream {
    const to = opts.to;
    const sender = new RtpSendStream({
      ...opts,
      clock: this.ctx.clock,
      transmit: (d) => {
        this.send(d, to?.address, to?.port);
      },
    });
    this.senders.add(sender);
    sender.once('close', () => this.senders.delete(sender));
    return sender;
  }

  /** Safe to call twice; closes every sender and stream (flushing their audio), then the socket. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const s of [...this.senders]) s.close();
    for (const s of this.streams()) s.close('endpoint_closed');
    for (const s of [this.socket, this.rtcpSocket]) {
      if (!s) continue;
      s.removeAllListeners('message');
      try {
        s.close();
      } catch {
        // already closed by the runtime (e.g. after an error): nothing left to release
      }
    }
    this.ctx.onClose(this);
    safeEmit(this, this.onListenerError, 'close');
    this.removeAllListeners();
  }
}

function tickStream(s: RtpStream, nowMs: number, idleTimeoutMs: number): void {
  if (nowMs - s.lastArrivalMs >= idleTimeoutMs) s.close('idle');
  else s.poll(nowMs);
}

function sourceKey(address: string, port: number): string {
  return `${address}:${port}`;
}
