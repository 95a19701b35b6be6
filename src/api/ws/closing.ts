// How Theo ends a WebSocket connection: the close frame goes out and, for a client that broke a rule (not
// reading, no pong, over a limit, a bad query), reading stops at once, so a client that floods and never
// answers the close costs no parsing; the server's close timeout then destroys the socket. Messages that
// still arrive while a connection closes are dropped (counted), never acted on.
import type { RawData, WebSocket } from 'ws';

/** How long a closing handshake may take before the socket is destroyed (the ws default is 30 s). */
export const CLOSE_TIMEOUT_MS = 2000;

/** RFC 6455 §5.5: a control frame's payload is at most 125 bytes, 2 of them the status code. */
const MAX_REASON_BYTES = 123;

/**
 * Closes the connection with `code`. `stopReading` (the default) pauses the socket as well: for closes that
 * end a client's misbehaviour. A normal end (1000, 1001) keeps reading so the client's close frame is seen.
 */
export function closeConnection(ws: WebSocket, code: number, reason: string, stopReading = true): void {
  if (ws.readyState === ws.CLOSED) return;
  ws.close(code, closeReason(reason));
  if (stopReading) ws.pause();
}

/** `text` cut to what a close frame can carry, at a character boundary. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= MAX_REASON_BYTES) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > MAX_REASON_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** Calls `handler` for each message while the connection is open; `onDropped` for one that came while it closed. */
export function onOpenMessage(ws: WebSocket, handler: (data: RawData, isBinary: boolean) => void, onDropped: () => void): void {
  ws.on('message', (data, isBinary) => {
    if (ws.readyState === ws.OPEN) handler(data, isBinary);
    else onDropped();
  });
}
