// What a WebSocket client is sent, bounded: while more than `maxQueuedBytes` wait in the socket's buffer
// (a client that does not read), droppable messages (partials) are dropped and counted; everything else
// (finals, speech events, errors) is still queued, so nothing that matters is lost while the socket lives.
// Past `hardLimitBytes` the client is not reading at all: the connection is closed (1008), and no longer
// read, rather than letting its queue grow without bound.
import type { WebSocket } from 'ws';
import { closeConnection } from './closing.js';

export interface OutboxOptions {
  maxQueuedBytes: number;
  /** Default 8x maxQueuedBytes. */
  hardLimitBytes?: number;
  onDropped?: () => void;
  onOverflow?: () => void;
}

export class Outbox {
  dropped = 0;
  private readonly hardLimit: number;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: OutboxOptions,
  ) {
    this.hardLimit = opts.hardLimitBytes ?? opts.maxQueuedBytes * 8;
  }

  /** Sends one JSON message; returns false when it was dropped or the socket is not open. */
  send(message: object, droppable = false): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return false;
    const queued = this.ws.bufferedAmount;
    if (droppable && queued > this.opts.maxQueuedBytes) {
      this.dropped++;
      this.opts.onDropped?.();
      return false;
    }
    if (queued > this.hardLimit) {
      this.opts.onOverflow?.();
      closeConnection(this.ws, 1008, 'client is not reading its messages');
      return false;
    }
    this.ws.send(JSON.stringify(message));
    return true;
  }
}
