// Domain session events in the one JSON form in which they leave Theo: one object per event, `type` first,
// snake_case fields, times in milliseconds of session audio. Realtime connections, observers of a session
// (/v1/sessions/{id}/events), the calls firehose and `theo transcribe --stream --json` use this mapping.
// docs/REALTIME.md lists every event.
import type { CallMetadata, SessionEvent } from '../../session/events.js';

export type WireEvent = { type: string } & Record<string, unknown>;

/**
 * The wire form of a domain event, with its call (snake_case) when the session transcribes one; undefined
 * for session.created, which realtime connections and observers announce in their own way.
 */
export function toWire(ev: SessionEvent): WireEvent | undefined {
  return ev.type === 'session.created' ? undefined : withCall(eventToWire(ev), ev);
}

/** The wire form of every event, session.created included (for outputs that relay a session as it is). */
export function toWireAll(ev: SessionEvent): WireEvent {
  if (ev.type !== 'session.created') return withCall(eventToWire(ev), ev);
  return withCall({ type: ev.type, session_id: ev.sessionId, model: ev.model, input_rate: ev.inputRate, sample_rate: ev.sampleRate }, ev);
}

function withCall(wire: WireEvent, ev: SessionEvent): WireEvent {
  return ev.call ? { ...wire, call: callToWire(ev.call) } : wire;
}

export function callToWire(c: CallMetadata): Record<string, string> {
  return {
    call_id: c.callId,
    ...(c.channelId ? { channel_id: c.channelId } : {}),
    ...(c.from ? { from: c.from } : {}),
    ...(c.to ? { to: c.to } : {}),
    direction: c.direction,
    ...(c.speaker ? { speaker: c.speaker } : {}),
    source: c.source,
  };
}

function eventToWire(ev: Exclude<SessionEvent, { type: 'session.created' }>): WireEvent {
  const session_id = ev.sessionId;
  switch (ev.type) {
    case 'vad.speech_start':
      return { type: ev.type, session_id, segment_id: ev.segmentId, start_ms: ev.startMs };
    case 'vad.speech_end':
      return { type: ev.type, session_id, segment_id: ev.segmentId, end_ms: ev.endMs, forced: ev.forced };
    case 'transcript.partial':
      return { type: ev.type, session_id, segment_id: ev.segmentId, text: ev.text, stable: ev.stable, start_ms: ev.startMs, end_ms: ev.endMs };
    case 'transcript.final':
      return {
        type: ev.type,
        session_id,
        segment_id: ev.segmentId,
        text: ev.text,
        raw_text: ev.rawText,
        start_ms: ev.startMs,
        end_ms: ev.endMs,
        language: ev.language,
        confidence: ev.confidence,
        words: ev.words.map((w) => ({ word: w.word, start_ms: Math.round(w.start * 1000), end_ms: Math.round(w.end * 1000), confidence: w.probability })),
      };
    case 'session.state':
      return { type: ev.type, session_id, from: ev.from, to: ev.to, reason: ev.reason };
    case 'session.hold':
      return { type: ev.type, session_id, reason: ev.reason };
    case 'session.backpressure':
      if (ev.state === 'dropping') return { type: 'session.frames_dropped', session_id, dropped_samples: ev.droppedSamples, backlog_ms: ev.backlogMs };
      return { type: 'session.rate_limit', session_id, state: ev.state === 'ok' ? 'cleared' : 'limited', backlog_ms: ev.backlogMs };
    case 'session.recovering':
    case 'session.recovered':
      return { type: ev.type, session_id, reason: ev.reason, next_segment_id: ev.nextSegmentId };
    case 'session.closed':
      return { type: ev.type, session_id, reason: ev.reason, duration_ms: ev.durationMs, segments: ev.segments, dropped_samples: ev.droppedSamples, recoveries: ev.recoveries };
    case 'dtmf':
      return { type: 'dtmf', session_id, digit: ev.digit, duration_ms: ev.durationMs, at_ms: ev.atMs };
    case 'error':
      return { type: 'error', session_id, code: ev.code, message: ev.message, recoverable: ev.recoverable };
  }
}

/** Events a slow reader may lose (partials); everything else is kept while the socket lives. */
export function droppable(ev: WireEvent): boolean {
  return ev.type === 'transcript.partial';
}
