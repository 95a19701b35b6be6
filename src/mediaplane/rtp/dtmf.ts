// RFC 4733 telephone-events: the 4-byte event payload, the DTMF event codes, and a detector that
// turns the redundant packet train of each key press into exactly one begin and one end.
import { tsDiff } from './seq.js';

/** One event block (RFC 4733 §2.3); a packet may pack older events after it (§2.5.1), the first is current. */
export const TELEPHONE_EVENT_SIZE = 4;
/** RFC 4733 §2.3.4: volume is 6 bits, dBm0 with the sign dropped. */
export const MAX_EVENT_VOLUME = 63;
/** RFC 4733 §2.3.5: 16-bit duration in timestamp units. */
export const MAX_EVENT_DURATION = 0xffff;

/*
 * RFC 4733 §2.3 event payload:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     event     |E|R| volume    |          duration             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const END_BIT = 0x80;
const VOLUME_MASK = 0x3f;

/** RFC 4733 §3.2 DTMF event codes 0-16, in code order. */
export const DTMF_DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D', 'flash'] as const;
export type DtmfDigit = (typeof DTMF_DIGITS)[number];

/** Digit name of an event code, or undefined for codes that are not DTMF (e.g. the RFC 4734 fax and modem tones). */
export function eventDigit(code: number): DtmfDigit | undefined {
  return DTMF_DIGITS[code];
}

/** Event code of a digit name. */
export function digitEvent(digit: DtmfDigit): number {
  return DTMF_DIGITS.indexOf(digit);
}

export interface TelephoneEventFields {
  event: number;
  /** E bit: this packet reports the end of the event. */
  end: boolean;
  volume: number;
  duration: number;
}

/** Reusable view of one event block; readTelephoneEvent overwrites every field. */
export class TelephoneEvent implements TelephoneEventFields {
  event = 0;
  end = false;
  /** R bit; senders set it to 0 and receivers ignore it (§2.3.3), kept for diagnostics. */
  reserved = false;
  volume = 0;
  duration = 0;
}

export interface TelephoneEventReadFailure {
  reason: 'truncated';
  message: string;
}

/** Parses the first event block of `payload` into `out`; `out` is left untouched on failure. */
export function readTelephoneEvent(payload: Uint8Array, out: TelephoneEvent): TelephoneEventReadFailure | undefined {
  if (payload.length < TELEPHONE_EVENT_SIZE) {
    return {
      reason: 'truncated',
      message: `telephone-event payload needs ${TELEPHONE_EVENT_SIZE} bytes, got ${payload.length}`,
    };
  }
  const b1 = payload[1]!;
  out.event = payload[0]!;
  out.end = (b1 & END_BIT) !== 0;
  out.reserved = (b1 & 0x40) !== 0;
  out.volume = b1 & VOLUME_MASK;
  out.duration = (payload[2]! << 8) | payload[3]!;
  return undefined;
}

/** Writes one event block into `target` at `offset`; returns the bytes written (4). */
export function writeTelephoneEvent(fields: TelephoneEventFields, target: Uint8Array, offset = 0): number {
  checkRange('event', fields.event, 0xff);
  checkRange('volume', fields.volume, MAX_EVENT_VOLUME);
  checkRange('duration', fields.duration, MAX_EVENT_DURATION);
  if (!Number.isInteger(offset) || offset < 0 || offset + TELEPHONE_EVENT_SIZE > target.length) {
    throw new RangeError(
      `telephone-event of ${TELEPHONE_EVENT_SIZE} bytes does not fit at offset ${offset} of a ${target.length}-byte buffer`,
    );
  }
  target[offset] = fields.event;
  target[offset + 1] = (fields.end ? END_BIT : 0) | fields.volume;
  target[offset + 2] = fields.duration >>> 8;
  target[offset + 3] = fields.duration & 0xff;
  return TELEPHONE_EVENT_SIZE;
}

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`telephone-event ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

export interface DtmfEvent {
  type: 'begin' | 'end';
  digit: DtmfDigit;
  /** RFC 4733 event code. */
  event: number;
  /** RTP timestamp of the event's start: the same on its begin and its end. */
  timestamp: number;
  /** In timestamp units: as reported so far on begin, the total on end. */
  duration: number;
  /** dBm0 with the sign dropped (0 loudest .. 63). */
  volume: number;
  /** End inferred because a new event started before any end packet arrived. */
  endLost: boolean;
  /** Its packets came after a later event had begun (reordered, within the reorder window). */
  reordered?: true;
}

export type DtmfListener = (ev: DtmfEvent) => void;

/** Start (and segment) timestamps of this many recent events are kept, to tell their repeats from new events. */
const RECENT_EVENTS = 8;
/** How long before the current event a reordered one may have ended and still be reported: the jitter buffer's default reach. */
const DEFAULT_REORDER_WINDOW_MS = 200;

/**
 * Fed every telephone-event packet of one stream, in arrival order. Events are keyed by their RTP
 * timestamp (RFC 4733 §2.5.1: all packets of an event share it), which makes the retransmitted final
 * packets (§2.5.1) and late packets of events already reported easy to drop: the start (and segment)
 * timestamps of the last RECENT_EVENTS events are kept. An event older than the current one that was never
 * seen was reordered on the way: it is reported (flagged `reordered`, after the current one began) when it
 * ended within `reorderWindowMs` of the current one's start — the jitter buffer's reach — and otherwise
 * dropped, with push() returning 'late' for its first packet so the caller counts it. Only DTMF codes (0-16)
 * are reported. State is updated before the listener runs, so a throwing listener cannot corrupt it.
 */
export class DtmfDetector {
  private readonly scratch = new TelephoneEvent();
  private readonly reorderWindowMs: number;
  /** Start and segment timestamps of recent events (a ring; -1 = empty). */
  private readonly recent = new Float64Array(RECENT_EVENTS).fill(-1);
  private recentAt = 0;
  /** A reordered event still open (its end packets not seen yet). */
  private lateOpen = false;
  private lateTs = 0;
  private lateEvent = 0;
  private lateVolume = 0;
  private lateDuration = 0;
  private seen = false;
  private open = false;
  /** Start timestamp of the current (or last) event. */
  private startTs = 0;
  /** Timestamp of the current segment of a long-duration event (§2.5.1); startTs otherwise. */
  private segmentTs = 0;
  private event = 0;
  private volume = 0;
  private duration = 0;

  constructor(opts: { reorderWindowMs?: number } = {}) {
    this.reorderWindowMs = opts.reorderWindowMs ?? DEFAULT_REORDER_WINDOW_MS;
  }

  /**
   * Handles one packet (`clockRate`: the telephone-event clock, for the reorder window). Returns why the
   * payload was rejected, 'late' for the first packet of an event too old to report, or undefined. Repeats
   * of events already reported are ignored.
   */
  push(timestamp: number, marker: boolean, payload: Uint8Array, emit: DtmfListener, clockRate = 8000): TelephoneEventReadFailure | 'late' | undefined {
    const te = this.scratch;
    const failure = readTelephoneEvent(payload, te);
    if (failure) return failure;
    timestamp >>>= 0;

    if (this.seen) {
      const age = tsDiff(timestamp, this.segmentTs);
      if (age < 0) return this.older(timestamp, emit, clockRate);
      if (age === 0 && !this.open) return undefined;
      // Same segment; or a long-duration event (§2.5.1): a press longer than the 16-bit duration goes
      // on in a new segment with a new timestamp and no marker. Either way it is the same digit, not a new one.
      if (age === 0 || (this.open && !marker && te.event === this.event)) {
        if (age !== 0) this.remember(timestamp);
        this.segmentTs = timestamp;
        const total = tsDiff(timestamp, this.startTs) + te.duration;
        // Reordered packets of the event carry a shorter duration: keep the longest seen.
        if (total > this.duration) this.duration = total;
        this.volume = te.volume;
        if (te.end) {
          this.open = false;
          this.report(emit, 'end', false);
        }
        return undefined;
      }
    }

    const lost = this.seen && this.open;
    const lostEvent = this.event;
    const lostTs = this.startTs;
    const lostDuration = this.duration;
    const lostVolume = this.volume;
    this.seen = true;
    this.open = !te.end;
    this.startTs = this.segmentTs = timestamp;
    this.remember(timestamp);
    this.event = te.event;
    this.volume = te.volume;
    this.duration = te.duration;
    this.endLate(emit, true);
    if (lost) emitEvent(emit, 'end', lostEvent, lostTs, lostDuration, lostVolume, true);
    this.report(emit, 'begin', false);
    // A first packet that already carries E: the earlier packets were lost, or the press was
    // shorter than one packet interval.
    if (te.end) this.report(emit, 'end', false);
    return undefined;
  }

  /** Ends an open event (e.g. the stream is closing), flagged endLost; no-op otherwise. */
  flush(emit: DtmfListener): void {
    this.endLate(emit, true);
    if (!this.open) return;
    this.open = false;
    this.report(emit, 'end', true);
  }

  /** Forgets all state, e.g. on an SSRC change. */
  reset(): void {
    this.seen = false;
    this.open = false;
    this.lateOpen = false;
    this.startTs = this.segmentTs = 0;
    this.event = this.volume = this.duration = 0;
    this.recent.fill(-1);
  }

  /** A packet older than the current event: a repeat of a known event, the reordered one, or a new late one. */
  private older(timestamp: number, emit: DtmfListener, clockRate: number): 'late' | undefined {
    const te = this.scratch;
    if (this.lateOpen && timestamp === this.lateTs) {
      if (te.duration > this.lateDuration) this.lateDuration = te.duration;
      this.lateVolume = te.volume;
      if (te.end) this.endLate(emit, false);
      return undefined;
    }
    if (this.known(timestamp)) return undefined;
    this.endLate(emit, true);
    this.remember(timestamp);
    // How long before the current event began this one had ended (as far as this packet tells).
    const gapMs = (tsDiff(this.startTs, (timestamp + te.duration) >>> 0) * 1000) / clockRate;
    if (gapMs > this.reorderWindowMs) return 'late';
    this.lateTs = timestamp;
    this.lateEvent = te.event;
    this.lateVolume = te.volume;
    this.lateDuration = te.duration;
    this.lateOpen = !te.end;
    emitEvent(emit, 'begin', te.event, timestamp, te.duration, te.volume, false, true);
    if (te.end) emitEvent(emit, 'end', te.event, timestamp, te.duration, te.volume, false, true);
    return undefined;
  }

  private endLate(emit: DtmfListener, endLost: boolean): void {
    if (!this.lateOpen) return;
    this.lateOpen = false;
    emitEvent(emit, 'end', this.lateEvent, this.lateTs, this.lateDuration, this.lateVolume, endLost, true);
  }

  private remember(timestamp: number): void {
    this.recent[this.recentAt] = timestamp;
    this.recentAt = (this.recentAt + 1) % RECENT_EVENTS;
  }

  private known(timestamp: number): boolean {
    for (let i = 0; i < RECENT_EVENTS; i++) if (this.recent[i] === timestamp) return true;
    return false;
  }

  private report(emit: DtmfListener, type: DtmfEvent['type'], endLost: boolean): void {
    emitEvent(emit, type, this.event, this.startTs, this.duration, this.volume, endLost);
  }
}

function emitEvent(
  emit: DtmfListener,
  type: DtmfEvent['type'],
  event: number,
  timestamp: number,
  duration: number,
  volume: number,
  endLost: boolean,
  reordered = false,
): void {
  const digit = eventDigit(event);
  if (digit !== undefined) emit(reordered ? { type, digit, event, timestamp, duration, volume, endLost, reordered } : { type, digit, event, timestamp, duration, volume, endLost });
}
