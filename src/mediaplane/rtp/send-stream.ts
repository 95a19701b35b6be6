// Paced sending of PCM as RTP: one packet per ptime on the shared media clock, drift-free (due times
// come from the talkspurt start, not from the previous tick). When the queue runs dry the talkspurt
// ends; the next write starts a new one with the marker bit and a timestamp that covers the pause.
import { EventEmitter } from 'node:events';
import type { ClockTask, MediaClock } from '../clock.js';
import { RtpPacketizer, type PacketizerOptions } from './packetizer.js';

/** Puts one datagram on the wire; `dueMs` is when the pacing wanted it sent. */
export type Transmit = (datagram: Buffer, dueMs: number) => void;

export interface RtpSendStreamEvents {
  /** The queue ran dry (everything written so far has been sent). */
  drain: [];
  close: [];
}

export class RtpSendStream extends EventEmitter<RtpSendStreamEvents> implements ClockTask {
  readonly packetizer: RtpPacketizer;
  private readonly clock: MediaClock;
  private readonly transmit: Transmit;
  private readonly queue: Int16Array[] = [];
  private queueHead = 0; // samples already taken from queue[0]
  private queued = 0;
  private readonly frame: Int16Array;
  private spurtStartMs = -1;
  private spurtPackets = 0;
  private lastSpurtEndMs = -1;
  private ending = false;
  private isClosed = false;
  packetsSent = 0;

  constructor(opts: PacketizerOptions & { clock: MediaClock; transmit: Transmit }) {
    super();
    this.packetizer = new RtpPacketizer(opts);
    this.clock = opts.clock;
    this.transmit = opts.transmit;
    this.frame = new Int16Array(this.packetizer.frameSamples);
  }

  /** Samples waiting to be sent. */
  get pendingSamples(): number {
    return this.queued;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Queues PCM (mono, at the codec's clock rate). The array is kept, not copied: do not reuse it. */
  write(pcm: Int16Array): void {
    if (this.isClosed || this.ending || pcm.length === 0) return;
    this.queue.push(pcm);
    this.queued += pcm.length;
    this.clock.add(this);
  }

  /** Drops everything queued (barge-in). The talkspurt ends at the next tick. */
  clear(): void {
    this.queue.length = 0;
    this.queueHead = 0;
    this.queued = 0;
  }

  /** Sends what is queued, then closes. */
  end(): void {
    this.ending = true;
    if (this.queued === 0) this.close();
  }

  onTick(nowMs: number): void {
    if (this.queued > 0) this.sendDue(nowMs);
    if (this.queued === 0) this.finishSpurt();
  }

  private sendDue(nowMs: number): void {
    const ptime = this.packetizer.ptimeMs;
    if (this.spurtStartMs < 0) {
      if (this.lastSpurtEndMs >= 0) {
        this.packetizer.pause(((nowMs - this.lastSpurtEndMs) * this.packetizer.codec.clockRate) / 1000);
      }
      this.spurtStartMs = nowMs;
      this.spurtPackets = 0;
    }
    // Send every packet that is due; a late tick catches up instead of drifting.
    while (this.queued > 0) {
      const due = this.spurtStartMs + this.spurtPackets * ptime;
      if (due > nowMs) break;
      const n = this.take();
      this.transmit(this.packetizer.packetize(this.frame.subarray(0, n)), due);
      this.spurtPackets++;
      this.packetsSent++;
    }
  }

  private finishSpurt(): void {
    if (this.spurtStartMs >= 0) {
      this.lastSpurtEndMs = this.spurtStartMs + this.spurtPackets * this.packetizer.ptimeMs;
      this.spurtStartMs = -1;
      this.emit('drain');
    }
    this.clock.remove(this);
    if (this.ending) this.close();
  }

  /** Fills this.frame with up to one frame of queued PCM; returns the sample count. */
  private take(): number {
    const want = this.frame.length;
    let n = 0;
    while (n < want && this.queue.length > 0) {
      const head = this.queue[0] as Int16Array;
      const k = Math.min(want - n, head.length - this.queueHead);
      this.frame.set(head.subarray(this.queueHead, this.queueHead + k), n);
      n += k;
      this.queueHead += k;
      if (this.queueHead >= head.length) {
        this.queue.shift();
        this.queueHead = 0;
      }
    }
    this.queued -= n;
    return n;
  }

  /** Safe to call twice. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.clear();
    this.clock.remove(this);
    this.emit('close');
    this.removeAllListeners();
  }
}
