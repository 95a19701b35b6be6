// One stream of every call session's events in wire form (the firehose `WS /v1/calls/events`, webhooks).
// Adding a session is all a telephony source does; sinks subscribe here and never touch the media path (a
// sink that throws is contained). The live calls themselves are the session manager's sessions that have a
// call (GET /v1/calls).
import { EventEmitter } from 'node:events';
import { callToWire, toWire, type WireEvent } from '../api/ws/events.js';
import type { CallMetadata, SessionEvent } from '../session/events.js';
import type { Session } from '../session/session.js';
import { safeEmit } from '../util/events.js';

export interface CallHubEvents {
  /** A call session's event in wire form, `call` included. */
  event: [WireEvent];
  listenerError: [unknown];
}

export class CallHub extends EventEmitter<CallHubEvents> {
  private readonly onListenerError = (_e: string, err: unknown): void => {
    if (this.listenerCount('listenerError') > 0) this.emit('listenerError', err);
  };

  constructor() {
    super();
    // Every firehose connection and webhook sink listens.
    this.setMaxListeners(0);
  }

  /** Follows a call session until it closes. The session must have been created with its call. */
  add(session: Session): void {
    const call = session.call;
    if (!call) throw new Error(`session ${session.id} has no call`);
    session.on('event', (ev) => {
      const wire = wireOf(ev, call);
      if (wire) safeEmit(this, this.onListenerError, 'event', wire);
    });
  }
}

function wireOf(ev: SessionEvent, call: CallMetadata): WireEvent | undefined {
  if (ev.type === 'session.created') {
    return { type: 'session.created', session_id: ev.sessionId, model: ev.model, input_rate: ev.inputRate, sample_rate: ev.sampleRate, call: callToWire(call) };
  }
  return toWire(ev);
}
