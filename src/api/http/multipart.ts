// multipart/form-data uploads (the OpenAI audio endpoints): fields and one `file`, parsed as the request
// streams in. The size limit is enforced on the bytes received, so an oversized upload is refused after
// at most `maxBytes` of it, never buffered whole.
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { ApiError } from './api-error.js';

export interface UploadedFile {
  bytes: Uint8Array;
  filename: string;
  mimeType: string;
}

export interface MultipartForm {
  /** Every text field; a repeated field (e.g. `timestamp_granularities[]`) keeps all its values in order. */
  fields: Map<string, string[]>;
  file?: UploadedFile;
}

export interface MultipartLimits {
  /** Largest file accepted. */
  maxBytes: number;
  maxFields?: number;
  maxFieldBytes?: number;
}

export function parseMultipart(req: IncomingMessage, limits: MultipartLimits): Promise<MultipartForm> {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\b/i.test(contentType)) {
    return Promise.reject(new ApiError(400, `expected a multipart/form-data body with a 'file' field, got content-type '${contentType || 'none'}'`, { code: 'invalid_content_type' }));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBytes + 64 * 1024) {
    req.resume(); // drain what the client insists on sending; the answer is already known
    return Promise.reject(tooLarge(limits.maxBytes));
  }

  return new Promise<MultipartForm>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fileSize: limits.maxBytes, fields: limits.maxFields ?? 64, fieldSize: limits.maxFieldBytes ?? 64 * 1024 } });
    } catch (err) {
      reject(new ApiError(400, `malformed multipart request: ${(err as Error).message}`, { code: 'invalid_multipart' }));
      return;
    }
    const form: MultipartForm = { fields: new Map() };
    let failed = false;
    const fail = (e: ApiError): void => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume();
      reject(e);
    };

    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new ApiError(400, `field '${name}' is longer than ${limits.maxFieldBytes ?? 64 * 1024} bytes`, { param: name, code: 'field_too_long' }));
      const list = form.fields.get(name);
      if (list) list.push(value);
      else form.fields.set(name, [value]);
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || form.file) {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        chunks.push(chunk);
      });
      stream.on('limit', () => fail(tooLarge(limits.maxBytes)));
      stream.on('end', () => {
        if (failed) return;
        form.file = { bytes: new Uint8Array(Buffer.concat(chunks, size)), filename: info.filename || 'upload', mimeType: info.mimeType };
      });
    });
    bb.on('filesLimit', () => undefined);
    bb.on('fieldsLimit', () => fail(new ApiError(400, 'too many form fields', { code: 'too_many_fields' })));
    bb.on('error', (err: Error) => fail(new ApiError(400, `malformed multipart request: ${err.message}`, { code: 'invalid_multipart' })));
    bb.on('close', () => {
      if (!failed) resolve(form);
    });
    req.on('aborted', () => fail(new ApiError(400, 'the upload was aborted by the client', { code: 'upload_aborted' })));
    req.pipe(bb);
  });
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, `the file is larger than the limit of ${maxBytes} bytes (${(maxBytes / 1024 / 1024).toFixed(1)} MB)`, { param: 'file', code: 'file_too_large' });
}
