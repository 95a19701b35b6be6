// `WS /v1/sessions/{id}/events`: every event of one live session, in the Theo protocol's form, to any number
// of observers (a supervisor's screen, a CRM integration), whatever the session's source (a realtime
// connection, a telephone call). Observers only read; the socket closes (1000) when the session closes.
import type { WebSocket } from 'ws';
import type { SessionEvent } from '../../session/events.js';
import type { Session } from '../../session/session.js';
import { closeConnection, onOpenMessage } from './closing.js';
import { callToWire, droppable, toWire, type WireEvent } from './events.js';
import type { WsMetrics } from './metrics.js';
import { Outbox } from './outbox.js';

export function observeSession(ws: WebSocket, session: Session, opts: { maxQueuedBytes: number; metrics: WsMetrics }): void {
  const outbox = new Outbox(ws, { maxQueuedBytes: opts.maxQueuedBytes, onDropped: () => opts.metrics.dropped.inc({ protocol: 'observer' }) });
  outbox.send({ type: 'session.observed', session_id: session.id, model: session.model, state: session.state, input_rate: session.inputRate, ...(session.call ? { call: callToWire(session.call) } : {}) });
  const listener = (ev: SessionEvent): void => {
    const wire = toWire(ev);
    if (wire) outbox.send(wire, droppable(wire));
    if (ev.type === 'session.closed') closeConnection(ws, 1000, 'session closed', false);
  };
  session.on('event', listener);
  ws.on('close', () => session.off('event', listener));
  onOpenMessage(
    ws,
    () => {
      opts.metrics.inputErrors.inc({ protocol: 'observer', code: 'read_only' });
      outbox.send({ type: 'error', session_id: session.id, code: 'read_only', message: 'observers only receive events', recoverable: true });
    },
    () => opts.metrics.inputErrors.inc({ protocol: 'observer', code: 'closing' }),
  );
}

/** The source of every call's events (the call hub): what `WS /v1/calls/events` relays. */
export interface CallEventSource {
  on(event: 'event', listener: (ev: WireEvent) => void): unknown;
  off(event: 'event', listener: (ev: WireEvent) => void): unknown;
}

/**
 * `WS /v1/calls/events`: the firehose of every call session's events (each with its `call`), from the moment
 * of connecting, until the client leaves. Partials are dropped for a client that does not read; read-only.
 */
export function observeCalls(ws: WebSocket, calls: CallEventSource, opts: { maxQueuedBytes: number; metrics: WsMetrics }): void {
  const outbox = new Outbox(ws, { maxQueuedBytes: opts.maxQueuedBytes, onDropped: () => opts.metrics.dropped.inc({ protocol: 'calls' }) });
  outbox.send({ type: 'calls.observed' });
  const listener = (ev: WireEvent): void => void outbox.send(ev, droppable(ev));
  calls.on('event', listener);
  ws.on('close', () => calls.off('event', listener));
  onOpenMessage(
    ws,
    () => {
      opts.metrics.inputErrors.inc({ protocol: 'calls', code: 'read_only' });
      outbox.send({ type: 'error', code: 'read_only', message: 'the calls firehose only sends events', recoverable: true });
    },
    () => opts.metrics.inputErrors.inc({ protocol: 'calls', code: 'closing' }),
  );
}
