// The outgoing queue of a WebSocket client that does not read: partials go first, finals stay.
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { Outbox } from '../../../../src/api/ws/outbox.js';

class FakeSocket {
  readonly OPEN = 1;
  readonly CLOSED = 3;
  readyState = 1;
  paused = false;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closed: [number, string] | undefined;
  send(data: string): void {
    this.sent.push(data);
    this.bufferedAmount += data.length;
  }
  close(code: number, reason: string): void {
    this.closed = [code, reason];
    this.readyState = 2;
  }
  pause(): void {
    this.paused = true;
  }
}

describe('Outbox', () => {
  it('sends everything while the client reads', () => {
    const ws = new FakeSocket();
    const box = new Outbox(ws as unknown as WebSocket, { maxQueuedBytes: 100 });
    expect(box.send({ type: 'transcript.partial', text: 'a' }, true)).toBe(true);
    ws.bufferedAmount = 0;
    expect(box.send({ type: 'transcript.final', text: 'a' })).toBe(true);
    expect(ws.sent.map((s) => (JSON.parse(s) as { type: string }).type)).toEqual(['transcript.partial', 'transcript.final']);
  });

  it('drops partials but keeps finals once the backlog passes the bound, and counts the drops', () => {
    const ws = new FakeSocket();
    let dropped = 0;
    const box = new Outbox(ws as unknown as WebSocket, { maxQueuedBytes: 100, onDropped: () => dropped++ });
    ws.bufferedAmount = 150;
    expect(box.send({ type: 'transcript.partial', text: 'x' }, true)).toBe(false);
    expect(box.send({ type: 'transcript.final', text: 'kept' })).toBe(true);
    expect(box.dropped).toBe(1);
    expect(dropped).toBe(1);
    expect(ws.sent).toHaveLength(1);
    // Reading again: partials flow.
    ws.bufferedAmount = 50;
    expect(box.send({ type: 'transcript.partial', text: 'y' }, true)).toBe(true);
  });

  it('closes with 1008 a client whose backlog passes the hard limit instead of growing without bound, and stops reading it', () => {
    const ws = new FakeSocket();
    let overflow = 0;
    const box = new Outbox(ws as unknown as WebSocket, { maxQueuedBytes: 100, hardLimitBytes: 1000, onOverflow: () => overflow++ });
    ws.bufferedAmount = 1001;
    expect(box.send({ type: 'transcript.final', text: 'z' })).toBe(false);
    expect(ws.closed?.[0]).toBe(1008);
    expect(ws.paused).toBe(true);
    expect(overflow).toBe(1);
    expect(box.send({ type: 'transcript.final', text: 'after' })).toBe(false);
  });
});
