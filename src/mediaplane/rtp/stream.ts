// One received RTP stream (one source on one port): jitter buffer, decoding, loss concealment,
// talkspurt gaps filled with silence, DTMF digits and RFC 3550 receiver statistics. It owns no timer:
// the listener's shared clock calls poll().
//
// Payload formats: packets of formats with the stream's clock rate (PCMU and PCMA, say) share its timeline
// and are each decoded with their own codec. A format of another clock rate needs a new timeline: the
// stream switches to it once SWITCH_PACKETS packets in a row have it (a codec change); until then they are
// dropped as payload type flapping (counted, and reported through onFlap), so a sender that alternates
// formats stays one stream on its first clock.
import { EventEmitter } from 'node:events';
import type { AudioCodec } from '../codec/codec.js';
import type { PayloadFormat } from '../codec/payload-types.js';
import { JitterBuffer, type JitterSink, type PushOutcome } from '../jitter/jitter-buffer.js';
import { safeEmit } from '../../util/events.js';
import type { RtpCounters } from './counters.js';
import { DtmfDetector, type DtmfEvent } from './dtmf.js';
import type { RtpPacket } from './packet.js';
import { Concealer, type ConcealmentMode } from './concealment.js';
import { ReceiverStats, type ReceiverStatsSnapshot } from './receiver-stats.js';

export type AudioFrameKind = 'audio' | 'concealed' | 'silence';

/**
 * Decoded audio in stream order. `pcm` is a view into the stream's scratch buffer, valid only during
 * the listener call: copy it to keep it.
 */
export interface AudioFrame {
  pcm: Int16Array;
  sampleRate: number;
  /** Samples since the stream's first sample: the stream's own timeline, gaps and losses included. */
  position: number;
  /** RTP timestamp of the first sample. */
  timestamp: number;
  kind: AudioFrameKind;
}

/** `bye`: its sender left (RTCP BYE, RFC 3550 §6.6). */
export type StreamCloseReason = 'idle' | 'closed' | 'endpoint_closed' | 'refused' | 'bye';
export type StreamResetReason = 'ssrc_change' | 'seq_jump' | 'timestamp_jump' | 'codec_change';

export interface RtpStreamEvents {
  audio: [AudioFrame];
  dtmf: [DtmfEvent];
  reset: [StreamResetReason];
  close: [StreamCloseReason];
  /** A listener threw; the stream carried on. */
  listenerError: [unknown];
}

export interface RtpSource {
  address: string;
  port: number;
}

export interface RtpStreamOptions {
  jitter: { mode: 'fixed' | 'adaptive'; depthMs: number; minDepthMs: number; maxDepthMs: number; capacity: number };
  concealment: ConcealmentMode;
  /** Emit talkspurt gaps as silence frames so downstream time stays true (default true). */
  fillGaps?: boolean;
  /** A packet of another clock rate than the stream's was dropped as flapping (payload types `from` -> `to`). */
  onFlap?: (source: RtpSource, from: number, to: number) => void;
  /** A DTMF digit came too late to report (reordered past the jitter buffer's reach): its first packet's sequence number. */
  onLateDigit?: (source: RtpSource, seq: number) => void;
}

/** Scratch size: bigger gaps and losses are emitted in several frames. */
const SCRATCH_SAMPLES = 8192;
/** Packets in a row of a format of another clock rate that make the stream switch to it. */
export const SWITCH_PACKETS = 3;
/** The RTP header's PT field is 7 bits (RFC 3550 §5.1). */
const PAYLOAD_TYPES = 128;

export class RtpStream extends EventEmitter<RtpStreamEvents> implements JitterSink {
  readonly source: RtpSource;
  readonly startedAtMs: number;
  ssrc = 0;
  /** The codec of the latest audio packet taken; every taken format has its clock rate. */
  codec: AudioCodec | undefined;
  lastArrivalMs: number;
  closed = false;
  private jb: JitterBuffer | undefined;
  private stats: ReceiverStats | undefined;
  private readonly dtmf: DtmfDetector;
  private readonly counters: RtpCounters;
  private readonly opts: RtpStreamOptions;
  private readonly scratch = new Int16Array(SCRATCH_SAMPLES);
  private concealer: Concealer | undefined;
  private position = 0;
  private payloadType = 0;
  /** Codecs by payload type of the packets taken: each frame is decoded with its packet's own. */
  private readonly codecs = new Array<AudioCodec | undefined>(PAYLOAD_TYPES).fill(undefined);
  /** A format of another clock rate seen in the latest packets, and how many in a row. */
  private switchTo: AudioCodec | undefined;
  private switchCount = 0;
  private tickHandler: ((nowMs: number) => void) | undefined;
  private readonly listenerError = (_event: string, err: unknown): void => {
    if (this.listenerCount('listenerError') > 0) this.emit('listenerError', err);
  };

  constructor(source: RtpSource, opts: RtpStreamOptions, counters: RtpCounters, nowMs: number) {
    super();
    this.source = source;
    this.opts = opts;
    this.counters = counters;
    this.startedAtMs = nowMs;
    this.lastArrivalMs = nowMs;
    // A digit reordered behind the next one is still reported if the jitter buffer could have held it.
    this.dtmf = new DtmfDetector({ reorderWindowMs: opts.jitter.maxDepthMs });
  }

  get sampleRate(): number {
    return this.codec?.clockRate ?? 0;
  }

  /** Samples emitted so far (the stream's timeline length). */
  get samplesOut(): number {
    return this.position;
  }

  get jitterBuffer(): JitterBuffer | undefined {
    return this.jb;
  }

  receiverStats(): ReceiverStatsSnapshot | undefined {
    return this.stats?.snapshot();
  }

  /** Takes one parsed packet whose payload type is known; returns the outcome for the counters. */
  handle(pkt: RtpPacket, format: PayloadFormat, nowMs: number): PushOutcome | 'payload_flap' {
    this.lastArrivalMs = nowMs;
    if (format.kind === 'telephone-event') return this.handleDtmf(pkt, format, nowMs);

    const codec = format.codec;
    if (this.codec && codec.clockRate !== this.codec.clockRate) {
      if (this.switchTo === codec) this.switchCount++;
      else {
        this.switchTo = codec;
        this.switchCount = 1;
      }
      if (this.switchCount < SWITCH_PACKETS) {
        this.opts.onFlap?.(this.source, this.payloadType, pkt.payloadType);
        return 'payload_flap';
      }
    } else {
      this.switchCount = 0;
    }
    if (!this.jb || !this.stats || codec.clockRate !== this.codec?.clockRate) {
      if (this.jb) {
        this.jb.flush(this);
        this.onReset('codec_change');
        this.counters.formatSwitches++;
      }
      this.switchCount = 0;
      this.jb = new JitterBuffer({ clockRate: codec.clockRate, ...this.opts.jitter });
      this.stats = new ReceiverStats(codec.clockRate);
      this.concealer = new Concealer(this.opts.concealment, codec.clockRate);
    }
    this.codec = codec;
    this.payloadType = pkt.payloadType;
    this.codecs[pkt.payloadType] = codec;
    if (pkt.ssrc !== this.ssrc) {
      if (this.stats.received > 0) this.stats.reset();
      this.ssrc = pkt.ssrc;
    }
    this.stats.update(pkt.sequenceNumber, pkt.timestamp, nowMs);
    const samples = codec.samplesIn(pkt.payload.byteLength);
    return this.jb.push(pkt.ssrc, pkt.sequenceNumber, pkt.timestamp, pkt.marker, pkt.payload, samples, nowMs, this, pkt.payloadType);
  }

  private handleDtmf(pkt: RtpPacket, format: PayloadFormat & { kind: 'telephone-event' }, nowMs: number): 'accepted' {
    // RFC 4733 events share the sequence space with audio: tell the jitter buffer the slot is taken
    // so the audio path does not call it loss.
    this.jb?.skip(pkt.ssrc, pkt.sequenceNumber, nowMs, this);
    const late = this.dtmf.push(
      pkt.timestamp,
      pkt.marker,
      pkt.payload,
      (ev) => {
        if (ev.type === 'end') {
          this.counters.dtmfEvents++;
          if (ev.reordered) this.counters.dtmfReordered.reported++;
        }
        safeEmit(this, this.listenerError, 'dtmf', ev);
      },
      format.clockRate,
    );
    if (late === 'late') {
      this.counters.dtmfReordered.dropped++;
      this.opts.onLateDigit?.(this.source, pkt.sequenceNumber);
    }
    return 'accepted';
  }

  poll(nowMs: number): void {
    this.jb?.poll(nowMs, this);
    const onTick = this.tickHandler;
    if (onTick && !this.closed) {
      try {
        onTick(nowMs);
      } catch (err) {
        this.listenerError('tick', err);
      }
    }
  }

  /**
   * `handler` runs on each tick of the listener's shared media clock, after the jitter buffer's playout
   * (monotonic ms), until the stream closes: what its consumer needs a timer for (feeding silence while no
   * packets come) runs there rather than on a timer per stream. One handler (a plain call, no event
   * allocation 100 times a second per stream); a later one replaces it, undefined removes it.
   */
  onTick(handler: ((nowMs: number) => void) | undefined): void {
    this.tickHandler = handler;
  }

  /** Releases everything held (end of stream). */
  flush(): void {
    this.jb?.flush(this);
  }

  close(reason: StreamCloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    this.counters.streamsClosed++;
    if (reason === 'idle') this.counters.streamsTimedOut++;
    safeEmit(this, this.listenerError, 'close', reason);
    this.removeAllListeners();
    this.tickHandler = undefined;
  }

  // JitterSink: called by the jitter buffer in playout order.

  onFrame(payload: Uint8Array, timestamp: number, samples: number, _marker: boolean, payloadType: number): void {
    const codec = this.codecs[payloadType] ?? this.codec;
    if (!codec) return;
    let done = 0;
    // Payloads larger than the scratch (ffmpeg sends ~180 ms packets) are decoded in slices.
    const bps = codec.bytesPerSample;
    while (done < samples) {
      const n = Math.min(samples - done, SCRATCH_SAMPLES);
      const written = codec.decode(payload.subarray(done * bps, (done + n) * bps), this.scratch, 0);
      this.concealer?.good(this.scratch.subarray(0, written));
      this.emitFrame(written, (timestamp + done) >>> 0, 'audio');
      done += n;
    }
  }

  onLoss(timestamp: number, samples: number, packets: number): void {
    this.counters.lostPackets += packets;
    this.counters.concealedSamples += samples;
    let done = 0;
    while (done < samples) {
      const n = Math.min(samples - done, SCRATCH_SAMPLES);
      if (this.concealer) this.concealer.lost(this.scratch.subarray(0, n));
      else this.scratch.fill(0, 0, n);
      this.emitFrame(n, (timestamp + done) >>> 0, 'concealed');
      done += n;
    }
  }

  onGap(timestamp: number, samples: number): void {
    this.counters.gapSamples += samples;
    this.concealer?.reset(); // after a pause, concealment must not replay audio from before it
    if (this.opts.fillGaps === false) return;
    this.scratch.fill(0);
    let done = 0;
    while (done < samples) {
      const n = Math.min(samples - done, SCRATCH_SAMPLES);
      this.emitFrame(n, (timestamp + done) >>> 0, 'silence');
      done += n;
    }
  }

  onReset(reason: StreamResetReason): void {
    this.counters.resets++;
    this.concealer?.reset();
    safeEmit(this, this.listenerError, 'reset', reason);
  }

  private emitFrame(n: number, timestamp: number, kind: AudioFrameKind): void {
    const frame: AudioFrame = { pcm: this.scratch.subarray(0, n), sampleRate: this.sampleRate, position: this.position, timestamp, kind };
    this.position += n;
    safeEmit(this, this.listenerError, 'audio', frame);
  }
}
