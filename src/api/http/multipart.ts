// multipart/form-data uploads (the OpenAI audio endpoints): fields and one `file`, parsed as the request
// streams in. The size limit is enforced on the bytes received, so an oversized upload is refused after
// at most `maxBytes` of it, never buffered whole. A body cut off inside a part, a second file or a file
// under another name is a 400 that says which; the rest of a refused body is drained.
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { ApiError } from './api-error.js';
import { excerpt } from '../../errors/index.js';

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
    return Promise.reject(new ApiError(400, `expected a multipart/form-data body with a 'file' field, got content-type '${contentType ? excerpt(contentType) : 'none'}'`, { code: 'invalid_content_type' }));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBytes + 64 * 1024) {
    req.resume(); // drain what the client insists on sending; the answer is already known
    return Promise.reject(tooLarge(limits.maxBytes));
  }

  return new Promise<MultipartForm>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: limits.maxBytes, fields: limits.maxFields ?? 64, fieldSize: limits.maxFieldBytes ?? 64 * 1024 } });
    } catch (err) {
      reject(malformed(err as Error));
      return;
    }
    const form: MultipartForm = { fields: new Map() };
    /** Filename of the 'file' part once one began. */
    let seen: string | undefined;
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
      // Every file stream gets an error listener first: busboy fails it when the body ends inside the part.
      stream.on('error', (err: Error) => fail(endedEarly(err, name)));
      const filename = info.filename || 'upload';
      if (name !== 'file') {
        stream.resume();
        fail(new ApiError(400, `unexpected file part '${name}': the audio goes in the 'file' field`, { param: name, code: 'unknown_parameter' }));
        return;
      }
      if (seen !== undefined) {
        stream.resume();
        fail(new ApiError(400, `the form has more than one 'file' part ('${seen}', then '${filename}'); send one file per request`, { param: 'file', code: 'duplicate_file' }));
        return;
      }
      seen = filename;
      // Copied into place as it arrives: joining a 25 MB upload at its end would hold the event loop.
      const file = new GrowingBytes(Number.isFinite(declared) ? Math.min(declared, limits.maxBytes) : 64 * 1024);
      stream.on('data', (chunk: Buffer) => file.append(chunk));
      stream.on('limit', () => fail(tooLarge(limits.maxBytes)));
      stream.on('end', () => {
        if (failed) return;
        form.file = { bytes: file.bytes(), filename, mimeType: info.mimeType };
      });
    });
    // Parts past the first file are refused above, as they arrive; busboy's own count is not the bound.
    bb.on('fieldsLimit', () => fail(new ApiError(400, 'too many form fields', { code: 'too_many_fields' })));
    bb.on('error', (err: Error) => fail(seen !== undefined && !form.file ? endedEarly(err, 'file') : malformed(err)));
    bb.on('close', () => {
      if (!failed) resolve(form);
    });
    const aborted = (): void => fail(new ApiError(400, 'the upload was aborted by the client', { code: 'upload_aborted' }));
    req.on('aborted', aborted);
    req.on('error', aborted);
    req.pipe(bb);
  });
}

/** Bytes appended in place, in a buffer sized from the declared length (doubling past it). */
class GrowingBytes {
  private buf: Buffer;
  private length = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, capacity));
  }

  append(chunk: Buffer): void {
    if (this.length + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + chunk.length));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.length);
    this.length += chunk.length;
  }

  /** What was appended: a view, not a copy. */
  bytes(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.length);
  }
}

function malformed(err: Error): ApiError {
  return new ApiError(400, `malformed multipart request: ${err.message}`, { code: 'invalid_multipart' });
}

/** busboy's error when the body stops inside a part, as the client's mistake it is. */
function endedEarly(err: Error, part: string): ApiError {
  if (!/Unexpected end of/i.test(err.message)) return malformed(err);
  return new ApiError(400, `the upload ended inside the '${part}' part: the multipart body has no closing boundary (truncated upload?)`, { param: part, code: 'truncated_upload' });
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, `the file is larger than the limit of ${maxBytes} bytes (${(maxBytes / 1024 / 1024).toFixed(1)} MB)`, { param: 'file', code: 'file_too_large' });
}
