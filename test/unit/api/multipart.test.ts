// parseMultipart behind a real HTTP server, fed raw bodies over real sockets: malformed and hostile
// uploads get a specific 400 and never take the process down.
import http from 'node:http';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/api/http/api-error.js';
import { parseMultipart } from '../../../src/api/http/multipart.js';
import { SOUNDS } from '../../helpers/audio.js';

const PORT = 43100;
const WAV = readFileSync(`${SOUNDS}/queue-thankyou.wav`);

interface Reply {
  status: number;
  body: { fields?: Record<string, string[]>; bytes?: number; error?: { message: string; code: string | null; param: string | null } };
}

let server: http.Server;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    parseMultipart(req, { maxBytes: 1024 * 1024 }).then(
      (form) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ fields: Object.fromEntries(form.fields), bytes: form.file?.bytes.length }));
      },
      (err: unknown) => {
        const e = err instanceof ApiError ? err : new ApiError(500, String(err));
        res.writeHead(e.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: e.message, code: e.code, param: e.param } }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(PORT, '127.0.0.1', resolve));
});
afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

function post(body: Buffer, boundary = 'XyZ'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, method: 'POST', path: '/', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Reply['body'] }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const filePart = (name: string, data: Buffer, filename = 'a.wav'): Buffer =>
  Buffer.concat([Buffer.from(`--XyZ\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: audio/wav\r\n\r\n`), data, Buffer.from('\r\n')]);
const field = (name: string, value: string): Buffer => Buffer.from(`--XyZ\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
const END = Buffer.from('--XyZ--\r\n');

describe('parseMultipart', () => {
  it('reads fields and the file of a well-formed body', async () => {
    const r = await post(Buffer.concat([field('model', 'm'), filePart('file', WAV), END]));
    expect(r.status).toBe(200);
    expect(r.body.bytes).toBe(WAV.length);
    expect(r.body.fields).toEqual({ model: ['m'] });
  });

  it('a file part that never reaches its closing boundary is a 400, and the server keeps serving', async () => {
    const truncated = Buffer.concat([Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'), WAV]);
    const r = await post(truncated);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'truncated_upload', param: 'file' });
    expect(r.body.error?.message).toBe("the upload ended inside the 'file' part: the multipart body has no closing boundary (truncated upload?)");
    expect((await post(Buffer.concat([filePart('file', WAV), END]))).status).toBe(200);
  });

  it('a second file part is a 400 that says so', async () => {
    const r = await post(Buffer.concat([filePart('file', WAV), filePart('file', WAV, 'b.wav'), END]));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'duplicate_file', param: 'file' });
    expect(r.body.error?.message).toBe("the form has more than one 'file' part ('a.wav', then 'b.wav'); send one file per request");
  });

  it('a file under another field name is a 400 that names it', async () => {
    const r = await post(Buffer.concat([filePart('audio', WAV), END]));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'unknown_parameter', param: 'audio' });
    expect(r.body.error?.message).toBe("unexpected file part 'audio': the audio goes in the 'file' field");
  });

  it('a client that drops the connection mid-upload leaves the server serving', async () => {
    const head = `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: ${WAV.length * 4}\r\n\r\n`;
    await new Promise<void>((resolve, reject) => {
      const s = connect(PORT, '127.0.0.1', () => {
        s.write(head);
        s.write(filePart('file', WAV).subarray(0, 5000), () => {
          s.destroy();
          resolve();
        });
      });
      s.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 50));
    expect((await post(Buffer.concat([filePart('file', WAV), END]))).status).toBe(200);
  });
});

describe('a wrong content type', () => {
  it('is refused with at most a short prefix of it echoed', async () => {
    const long = `text/plain; x=${'y'.repeat(12_000)}`;
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: PORT, method: 'POST', path: '/', headers: { 'content-type': long, 'content-length': 2 } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Reply['body'] }));
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(reply.status).toBe(400);
    expect(reply.body.error?.code).toBe('invalid_content_type');
    expect(reply.body.error?.message.length).toBeLessThan(300);
    expect(reply.body.error?.message).toContain('characters)');
  });
});
