// Incoming WebSocket audio: a message's bytes as one Buffer, and G.711 / PCM16 bytes as PCM samples in a
// scratch buffer that is reused from frame to frame (the session copies what it keeps).
import { PCMA, PCMU } from '../../mediaplane/codec/codec.js';

export type FrameEncoding = 'pcm16' | 'mulaw' | 'alaw';

export function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class FrameDecoder {
  private scratch = new Int16Array(0);

  /** Samples in `buf` (PCM16 must have an even length: callers check). The view is valid until the next call. */
  decode(buf: Buffer, enc: FrameEncoding): Int16Array {
    const n = enc === 'pcm16' ? buf.length >> 1 : buf.length;
    if (this.scratch.length < n) this.scratch = new Int16Array(n);
    const out = this.scratch.subarray(0, n);
    if (enc === 'mulaw') PCMU.decode(buf, out);
    else if (enc === 'alaw') PCMA.decode(buf, out);
    else for (let i = 0; i < n; i++) out[i] = buf.readInt16LE(2 * i);
    return out;
  }
}

export type ClientEvent = { type: string; fields: Record<string, unknown> };
export type ClientEventError = { code: 'invalid_json' | 'invalid_event'; message: string; param?: string };

/** A client's text message as `{ type, ...fields }`, or why it is not one. */
export function parseClientEvent(text: string): ClientEvent | ClientEventError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { code: 'invalid_json', message: `message is not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as { type?: unknown }).type !== 'string') {
    return { code: 'invalid_event', message: 'a message must be a JSON object with a string "type"', param: 'type' };
  }
  const { type, ...fields } = parsed as { type: string } & Record<string, unknown>;
  return { type, fields };
}
