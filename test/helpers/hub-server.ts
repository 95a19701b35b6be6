// A local stand-in for a Hugging Face compatible hub (node:http on 127.0.0.1), serving in-memory repos in
// the hub's URL layout:
//   GET  /api/models/{repo}[/revision/{rev}]  → { id, sha, siblings: [{ rfilename }] }
//   HEAD/GET /{repo}/resolve/{rev}/{path}     → small files directly (ETag = git blob sha1); LFS files
//                                               (*.onnx by default) as a 302 to /lfs-cdn/{sha256} with
//                                               X-Linked-Etag (sha256) and X-Linked-Size, as the real hub does
//   GET  /lfs-cdn/{sha256}                    → the bytes, with Range support
// It can require a bearer token, cut a download after N bytes (the client sees a truncated body), serve
// corrupted bytes under the right etag, and it logs every request so tests can count what was refetched.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHubFile {
  path: string;
  content: Buffer;
  lfs: boolean;
  sha256: string;
  gitSha1: string;
}

export interface FakeHubRepo {
  id: string;
  sha: string;
  files: Map<string, FakeHubFile>;
}

export interface HubRequestLog {
  method: string;
  url: string;
  status: number;
  /** Repository path of the file this request served or redirected (undefined for API calls). */
  file: string | undefined;
  range: string | undefined;
  authorization: string | undefined;
  /** Body bytes written for the file (GET on a direct file or the CDN). */
  bytes: number;
}

export interface AddRepoOptions {
  /** Commit id (40 hex); default derived from the content. */
  sha?: string;
  /** Which files are LFS; default: *.onnx. */
  lfs?: (path: string) => boolean;
}

function gitBlobSha1(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export class FakeHub {
  readonly url: string;
  readonly requests: HubRequestLog[] = [];
  private readonly repos = new Map<string, FakeHubRepo>();
  private readonly cdn = new Map<string, FakeHubFile>();
  private readonly cuts = new Map<string, { bytes: number; times: number }>();
  private readonly corrupted = new Map<string, number>();
  private token: string | undefined;

  private constructor(
    private readonly server: Server,
    port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: { token?: string } = {}): Promise<FakeHub> {
    const holder: { hub?: FakeHub } = {};
    const server = createServer((req, res) => holder.hub?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hub = new FakeHub(server, (server.address() as AddressInfo).port);
    hub.token = options.token;
    holder.hub = hub;
    return hub;
  }

  addRepo(id: string, files: Record<string, Buffer | string>, options: AddRepoOptions = {}): FakeHubRepo {
    const isLfs = options.lfs ?? ((p: string) => p.endsWith('.onnx'));
    const map = new Map<string, FakeHubFile>();
    const commit = createHash('sha1').update(id);
    for (const [path, data] of Object.entries(files)) {
      const content = Buffer.isBuffer(data) ? data : Buffer.from(data);
      const file: FakeHubFile = { path, content, lfs: isLfs(path), sha256: createHash('sha256').update(content).digest('hex'), gitSha1: gitBlobSha1(content) };
      map.set(path, file);
      commit.update(path).update(file.gitSha1);
      if (file.lfs) this.cdn.set(file.sha256, file);
    }
    const repo: FakeHubRepo = { id, sha: options.sha ?? commit.digest('hex'), files: map };
    this.repos.set(id, repo);
    return repo;
  }

  /** Requests to the API and resolve URLs need `Authorization: Bearer {token}` (undefined: none needed). */
  requireToken(token: string | undefined): void {
    this.token = token;
  }

  /** The next `times` GETs of `path`'s bytes stop (socket destroyed) after `bytes` body bytes. */
  cutAfter(path: string, bytes: number, times = 1): void {
    this.cuts.set(path, { bytes, times });
  }

  /** The next `times` GETs of `path` serve its bytes with one byte flipped, under the right etag. */
  corrupt(path: string, times = 1): void {
    this.corrupted.set(path, times);
  }

  /** GETs that served bytes of `path` (direct or CDN). */
  fileGets(path: string): HubRequestLog[] {
    return this.requests.filter((r) => r.method === 'GET' && r.file === path && r.bytes > 0);
  }

  bytesServed(path?: string): number {
    return this.requests.filter((r) => path === undefined || r.file === path).reduce((s, r) => s + r.bytes, 0);
  }

  clearLog(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const log: HubRequestLog = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      status: 0,
      file: undefined,
      range: req.headers.range,
      authorization: req.headers.authorization,
      bytes: 0,
    };
    this.requests.push(log);
    res.on('close', () => {
      log.status = res.statusCode;
    });
    const path = new URL(req.url ?? '/', this.url).pathname;
    if (path.startsWith('/lfs-cdn/')) return this.serveCdn(path.slice('/lfs-cdn/'.length), req, res, log);
    if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) {
      return this.json(res, 401, { error: 'Invalid username or password.' });
    }
    if (path.startsWith('/api/models/')) return this.serveInfo(path.slice('/api/models/'.length), res);
    const at = path.indexOf('/resolve/');
    if (at > 0) return this.serveResolve(path.slice(1, at), path.slice(at + '/resolve/'.length), req, res, log);
    this.json(res, 404, { error: 'Not found' });
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private repoAt(id: string, rev: string, res: ServerResponse): FakeHubRepo | undefined {
    const repo = this.repos.get(id);
    if (!repo) {
      this.json(res, 404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
      return undefined;
    }
    if (rev !== 'main' && rev !== repo.sha) {
      this.json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'x-error-code': 'RevisionNotFound' });
      return undefined;
    }
    return repo;
  }

  private serveInfo(rest: string, res: ServerResponse): void {
    const [idPart, revPart] = rest.split('/revision/');
    const repo = this.repoAt(idPart ?? '', revPart === undefined ? 'main' : decodeURIComponent(revPart), res);
    if (!repo) return;
    this.json(res, 200, {
      _id: repo.sha.slice(0, 24),
      id: repo.id,
      modelId: repo.id,
      sha: repo.sha,
      private: this.token !== undefined,
      siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
    });
  }

  private serveResolve(id: string, rest: string, req: IncomingMessage, res: ServerResponse, log: HubRequestLog): void {
    const slash = rest.indexOf('/');
    const rev = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
    const filePath = slash < 0 ? '' : rest.slice(slash + 1).split('/').map(decodeURIComponent).join('/');
    const repo = this.repoAt(id, rev, res);
    if (!repo) return;
    const file = repo.files.get(filePath);
    log.file = filePath;
    if (!file) return this.json(res, 404, { error: `Entry not found: ${filePath}` }, { 'x-error-code': 'EntryNotFound' });
    if (file.lfs) {
      res.writeHead(302, {
        location: `${this.url}/lfs-cdn/${file.sha256}`,
        'x-linked-etag': `"${file.sha256}"`,
        'x-linked-size': String(file.content.length),
        etag: `"${file.gitSha1}"`,
        'x-repo-commit': repo.sha,
        'content-length': 0,
      });
      res.end();
      return;
    }
    this.serveBytes(file, req, res, log, { etag: `"${file.gitSha1}"`, 'x-repo-commit': repo.sha });
  }

  private serveCdn(sha: string, req: IncomingMessage, res: ServerResponse, log: HubRequestLog): void {
    const file = this.cdn.get(sha);
    if (!file) return this.json(res, 404, { error: 'NoSuchKey' });
    log.file = file.path;
    this.serveBytes(file, req, res, log, { etag: `"${createHash('md5').update(file.content).digest('hex')}"` });
  }

  private serveBytes(file: FakeHubFile, req: IncomingMessage, res: ServerResponse, log: HubRequestLog, headers: Record<string, string>): void {
    const size = file.content.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      start = Number(m[1]);
      if (m[2]) end = Math.min(end, Number(m[2]));
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    res.writeHead(status, { ...headers, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-length': end - start + 1 });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    let body = file.content.subarray(start, end + 1);
    const corrupt = this.corrupted.get(file.path) ?? 0;
    if (corrupt > 0 && body.length > 0) {
      this.corrupted.set(file.path, corrupt - 1);
      body = Buffer.from(body);
      body[body.length >> 1] = (body[body.length >> 1] ?? 0) ^ 0xff;
    }
    const cut = this.cuts.get(file.path);
    if (cut && cut.times > 0) {
      cut.times--;
      const part = body.subarray(0, Math.min(cut.bytes, body.length));
      log.bytes = part.length;
      // Flush the first bytes, then drop the connection mid-body.
      res.write(part, () => setTimeout(() => res.destroy(), 20));
      return;
    }
    log.bytes = body.length;
    res.end(body);
  }
}

/**
 * Files of a fake onnx-community Whisper export: real-looking JSON, ONNX files of random bytes (the engine is
 * not exercised), every dtype's pair, plus files `theo pull` must not fetch (README.md, onnx/*_int8).
 */
export function whisperRepoFiles(options: { multilingual?: boolean; alignment?: boolean; onnxBytes?: number; seed?: number } = {}): Record<string, Buffer | string> {
  const multilingual = options.multilingual ?? true;
  const n = options.onnxBytes ?? 64 * 1024;
  let x = options.seed ?? 1;
  const random = (len: number): Buffer => {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
  const langToId = { '<|en|>': 50259, '<|zh|>': 50260, '<|de|>': 50261, '<|es|>': 50262, '<|fr|>': 50265 };
  const files: Record<string, Buffer | string> = {
    'README.md': '# fake whisper\n',
    '.gitattributes': '*.onnx filter=lfs diff=lfs merge=lfs -text\n',
    'config.json': JSON.stringify({ model_type: 'whisper', architectures: ['WhisperForConditionalGeneration'], max_source_positions: 1500, max_target_positions: 448 }),
    'generation_config.json': JSON.stringify({
      decoder_start_token_id: 50258,
      eos_token_id: 50257,
      no_timestamps_token_id: 50363,
      is_multilingual: multilingual,
      ...(multilingual ? { lang_to_id: langToId, task_to_id: { transcribe: 50359, translate: 50358 } } : {}),
      ...(options.alignment ? { alignment_heads: [[1, 0], [2, 3]] } : {}),
    }),
    'preprocessor_config.json': JSON.stringify({ feature_size: 80, sampling_rate: 16000 }),
    'tokenizer.json': JSON.stringify({ added_tokens: [{ id: 50258, content: '<|startoftranscript|>' }] }),
    'tokenizer_config.json': JSON.stringify({ tokenizer_class: 'WhisperTokenizer' }),
  };
  for (const sfx of ['', '_fp16', '_quantized', '_q4', '_int8']) {
    files[`onnx/encoder_model${sfx}.onnx`] = random(n);
    files[`onnx/decoder_model_merged${sfx}.onnx`] = random(n + 1000);
  }
  return files;
}
