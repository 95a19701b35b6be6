// Turns PCM into RTP packets of one ptime each, with the sequence, timestamp and SSRC bookkeeping
// of RFC 3550 §5.1 and the marker bit on the first packet of each talkspurt (RFC 3551 §4.1).
import { randomInt } from 'node:crypto';
import type { AudioCodec } from '../codec/codec.js';
import { rtpHeaderSize, writeRtp } from './packet.js';

export interface PacketizerOptions {
  codec: AudioCodec;
  payloadType: number;
  ptimeMs?: number;
  /** Random when omitted (RFC 3550 §5.1: random initial values make known-plaintext attacks harder). */
  ssrc?: number;
  sequenceNumber?: number;
  timestamp?: number;
}

export class RtpPacketizer {
  readonly codec: AudioCodec;
  readonly payloadType: number;
  readonly ssrc: number;
  readonly frameSamples: number;
  readonly ptimeMs: number;
  private seq: number;
  private ts: number;
  private talkspurtStart = true;
  private readonly payload: Uint8Array;

  constructor(opts: PacketizerOptions) {
    this.codec = opts.codec;
    this.payloadType = opts.payloadType;
    this.ptimeMs = opts.ptimeMs ?? 20;
    this.frameSamples = Math.round((opts.codec.clockRate * this.ptimeMs) / 1000);
    this.ssrc = (opts.ssrc ?? randomInt(0, 0xffffffff)) >>> 0;
    this.seq = (opts.sequenceNumber ?? randomInt(0, 0x10000)) & 0xffff;
    this.ts = (opts.timestamp ?? randomInt(0, 0xffffffff)) >>> 0;
    this.payload = new Uint8Array(opts.codec.bytesFor(this.frameSamples));
  }

  get nextSequenceNumber(): number {
    return this.seq;
  }

  get nextTimestamp(): number {
    return this.ts;
  }

  /**
   * One packet for `pcm` (at most frameSamples samples; a short last frame is allowed). Returns a new
   * Buffer, because the socket holds it until the send completes.
   */
  packetize(pcm: Int16Array): Buffer {
    const n = Math.min(pcm.length, this.frameSamples);
    const bytes = this.codec.encode(pcm.subarray(0, n), this.payload, 0);
    const fields = { marker: this.talkspurtStart, payloadType: this.payloadType, sequenceNumber: this.seq, timestamp: this.ts, ssrc: this.ssrc };
    const out = Buffer.allocUnsafe(rtpHeaderSize(fields) + bytes);
    writeRtp(fields, this.payload.subarray(0, bytes), out, 0);
    this.talkspurtStart = false;
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + n) >>> 0;
    return out;
  }

  /**
   * Starts a new talkspurt after a pause: the timestamp advances by the silent time, as the sample
   * clock keeps running while nothing is sent (RFC 3550 §5.1), and the next packet carries the marker.
   */
  pause(silentSamples: number): void {
    this.ts = (this.ts + Math.max(0, Math.round(silentSamples))) >>> 0;
    this.talkspurtStart = true;
  }
}
