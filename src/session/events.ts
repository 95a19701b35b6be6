// The domain events a session emits: one vocabulary for every source (WebSocket, RTP call, CLI) and every
// sink (protocol adapters, webhooks, logs). Times are milliseconds of session audio from the first frame;
// `at` is the wall-clock time (ms since the epoch) the event was emitted.
import type { EngineWord } from '../engines/engine.js';
import type { SessionState } from './state-machine.js';

/** The phone call a session transcribes (telephony sources); every event of such a session carries it. */
export interface CallMetadata {
  /** The call: an ARI channel's linked id, a SIP Call-ID, a fork's source. */
  callId: string;
  /** The channel or leg within the call (ARI channel id, SIP dialog, RTP source address). */
  channelId?: string;
  /** Caller and callee as the signalling names them (numbers or URIs). */
  from?: string;
  to?: string;
  direction: 'inbound' | 'outbound' | 'unknown';
  /** Which side of the conversation this session hears, when the call is split per direction. */
  speaker?: 'caller' | 'callee' | 'mixed';
  /** How the audio arrived: 'ari', 'sip', 'rtp-fork'. */
  source: string;
}

interface Base {
  sessionId: string;
  at: number;
  call?: CallMetadata;
}

export interface SessionCreatedEvent extends Base {
  type: 'session.created';
  model: string;
  inputRate: number;
  sampleRate: number;
}

export interface SpeechStartEvent extends Base {
  type: 'vad.speech_start';
  segmentId: number;
  startMs: number;
}

export interface SpeechEndEvent extends Base {
  type: 'vad.speech_end';
  segmentId: number;
  endMs: number;
  /** Cut at the maximum segment length (or a forced commit), not at a pause. */
  forced: boolean;
}

export interface PartialEvent extends Base {
  type: 'transcript.partial';
  segmentId: number;
  /** The whole hypothesis so far: confirmed words first (never post-processed). */
  text: string;
  /** The prefix no later partial or final will change (LocalAgreement); '' for native partials. */
  stable: string;
  startMs: number;
  endMs: number;
}

export interface FinalEvent extends Base {
  type: 'transcript.final';
  segmentId: number;
  /** Post-processed (ITN, entities, hot words) unless the session turned it off. */
  text: string;
  /** The recogniser's own text. */
  rawText: string;
  startMs: number;
  endMs: number;
  language: string;
  confidence: number;
  words: EngineWord[];
}

export interface StateEvent extends Base {
  type: 'session.state';
  from: SessionState;
  to: SessionState;
  reason: string;
}

export interface HoldEvent extends Base {
  type: 'session.hold';
  reason: string;
}

export interface BackpressureEvent extends Base {
  type: 'session.backpressure';
  /** 'rate_limited': input runs ahead of real time; 'dropping': frames are being dropped; 'ok': cleared. */
  state: 'ok' | 'rate_limited' | 'dropping';
  backlogMs: number;
  droppedSamples: number;
}

interface RecoveryFields extends Base {
  reason: string;
  /** Segment id the new worker stream continues with. */
  nextSegmentId: number;
  /** Samples (model rate) sent again to the new stream. */
  resentSamples: number;
}

/** The worker stream broke; the session is reopening it. */
export interface RecoveringEvent extends RecoveryFields {
  type: 'session.recovering';
}

/** A new worker stream took over; pending audio was sent to it again. */
export interface RecoveredEvent extends RecoveryFields {
  type: 'session.recovered';
}

export interface ClosedEvent extends Base {
  type: 'session.closed';
  reason: string;
  durationMs: number;
  segments: number;
  droppedSamples: number;
  recoveries: number;
}

/** A DTMF digit the caller pressed (RFC 4733 telephone-event on a call's RTP), reported when it ends. */
export interface DigitEvent extends Base {
  type: 'dtmf';
  /** 0-9, *, #, A-D. */
  digit: string;
  durationMs: number;
  /** Where in the session's audio the digit ended (ms of input so far). */
  atMs: number;
}

export interface ErrorEvent extends Base {
  type: 'error';
  code: string;
  message: string;
  /** False when the session closed because of it. */
  recoverable: boolean;
}

export type SessionEvent =
  | SessionCreatedEvent
  | SpeechStartEvent
  | SpeechEndEvent
  | PartialEvent
  | FinalEvent
  | StateEvent
  | HoldEvent
  | BackpressureEvent
  | RecoveringEvent
  | RecoveredEvent
  | DigitEvent
  | ClosedEvent
  | ErrorEvent;

export type SessionEventType = SessionEvent['type'];
