// WebSocket on the wire (RFC 6455 §5.2) without a library, so that a fuzzer can write what no client
// library would: any opcode, reserved bits, unmasked client frames, non-minimal and huge length encodings,
// fragmented control frames, truncated frames. RawWs is one TCP connection: the HTTP upgrade written as
// given, then raw bytes out, and the server's frames parsed as they come back (text events, close code).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-------+-+-------------+-------------------------------+
//  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//  | |1|2|3|       |K|             |                               |
//  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface FrameSpec {
  fin?: boolean;
  /** RSV1-3 as bits 0b100, 0b010, 0b001. */
  rsv?: number;
  opcode: number;
  payload: Uint8Array;
  /** Clients must mask (§5.1); false writes an unmasked frame. */
  mask?: boolean;
  /** Force the 16- or 64-bit length form even for short payloads (non-minimal, still valid per §5.2). */
  lengthForm?: 7 | 16 | 64;
  /** A length field that is not the payload's real length. */
  claimedLength?: number;
  /** The masking key; default random (a fuzzer passes its own, so that its frames replay byte for byte). */
  maskKey?: Uint8Array;
}

export function encodeFrame(f: FrameSpec): Buffer {
  const len = f.claimedLength ?? f.payload.length;
  const form = f.lengthForm ?? (len < 126 ? 7 : len < 0x10000 ? 16 : 64);
  const mask = f.mask ?? true;
  const head = Buffer.alloc(2 + (form === 16 ? 2 : form === 64 ? 8 : 0) + (mask ? 4 : 0));
  head[0] = (f.fin === false ? 0 : 0x80) | ((f.rsv ?? 0) << 4) | (f.opcode & 0x0f);
  let o = 2;
  if (form === 7) head[1] = len & 0x7f;
  else if (form === 16) {
    head[1] = 126;
    head.writeUInt16BE(len & 0xffff, 2);
    o = 4;
  } else {
    head[1] = 127;
    head.writeUInt32BE(Math.floor(len / 0x100000000) >>> 0, 2);
    head.writeUInt32BE(len >>> 0, 6);
    o = 10;
  }
  const body = Buffer.from(f.payload);
  if (mask) {
    head[1] |= 0x80;
    const key = f.maskKey ?? randomBytes(4);
    head.set(key.subarray(0, 4), o);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i & 3] as number);
  }
  return Buffer.concat([head, body]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export interface ServerView {
  /** The HTTP status of the upgrade answer (101 when it was accepted). */
  status: number;
  /** Text messages, parsed. */
  events: Array<Record<string, unknown>>;
  /** Text messages that were not JSON. */
  badText: number;
  closeCode: number | undefined;
  closeReason: string;
  /** The TCP connection is gone. */
  ended: boolean;
}

/** One raw connection. Resolves once the upgrade is answered (any status). */
export class RawWs {
  readonly view: ServerView = { status: 0, events: [], badText: 0, closeCode: undefined, closeReason: '', ended: false };
  private buf: Buffer = Buffer.alloc(0);
  private upgraded = false;
  private frag: Buffer[] = [];
  private readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined); // resets are an outcome, read from `view`
    socket.on('close', () => {
      this.view.ended = true;
    });
  }

  static connect(port: number, request: string, timeoutMs = 10_000): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const ws = new RawWs(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('no answer to the upgrade request'));
      }, timeoutMs);
      socket.once('connect', () => socket.write(request));
      socket.on('data', (d: Buffer) => {
        if (ws.onData(d)) {
          clearTimeout(timer);
          resolve(ws);
        }
      });
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(ws);
      });
    });
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Waits until the server has closed the connection, or `ms`; true when it did. */
  async waitClosed(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.closed.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
    clearTimeout(timer);
    return r;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** True once the upgrade answer is complete. */
  private onData(d: Buffer): boolean {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const head = this.buf.subarray(0, end).toString('latin1');
      this.view.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      this.buf = this.buf.subarray(end + 4);
      this.upgraded = true;
      if (this.view.status !== 101) return true;
    }
    this.parseFrames();
    return true;
  }

  private parseFrames(): void {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = ((b[0] as number) & 0x80) !== 0;
      const op = (b[0] as number) & 0x0f;
      let len = (b[1] as number) & 0x7f;
      let o = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        o = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = b.readUInt32BE(2) * 0x100000000 + b.readUInt32BE(6);
        o = 10;
      }
      if (b.length < o + len) return;
      const payload = b.subarray(o, o + len);
      this.buf = b.subarray(o + len);
      if (op === OP.ping) {
        // The server's heartbeat: a connection that does not answer is closed (1011).
        this.write(encodeFrame({ opcode: OP.pong, payload }));
      } else if (op === OP.close) {
        this.view.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.view.closeReason = payload.subarray(2).toString('utf8');
        // The closing handshake (§5.5.1): until the client answers, the server holds the connection.
        this.write(encodeFrame({ opcode: OP.close, payload: payload.subarray(0, 2) }));
      } else if (op === OP.text || op === OP.continuation) {
        this.frag.push(Buffer.from(payload));
        if (fin) {
          const text = Buffer.concat(this.frag).toString('utf8');
          this.frag = [];
          try {
            this.view.events.push(JSON.parse(text) as Record<string, unknown>);
          } catch {
            this.view.badText++;
          }
        }
      }
    }
  }
}

/** An HTTP/1.1 upgrade request for `path` with these extra header lines. */
export function upgradeRequest(path: string, headers: Record<string, string>, key: Uint8Array = randomBytes(16)): string {
  const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${Buffer.from(key).toString('base64')}`, 'Sec-WebSocket-Version: 13'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
