// Client of a Hugging Face compatible hub (the URL layout huggingface_hub uses):
//   GET  {endpoint}/api/models/{repo}[/revision/{rev}]   → { id, sha, siblings: [{ rfilename }] }
//   HEAD {endpoint}/{repo}/resolve/{rev}/{path}          → ETag / X-Linked-Etag (sha256 for LFS files),
//                                                          Content-Length / X-Linked-Size, X-Repo-Commit;
//                                                          LFS files answer 302 to a CDN, whose headers
//                                                          describe the CDN object, so the HEAD does not follow it
//   GET  {endpoint}/{repo}/resolve/{rev}/{path}          → the bytes (Range supported)
// Every failure is a TheoError 'hub_failed' with a message a user can act on. An endpoint's user:password is
// sent as Basic auth (unless a token is set) and never shown: messages and pulled models name it redacted.
import { TheoError } from '../errors/index.js';
import { redactText, redactUrl, splitCredentials } from '../util/redact.js';

export interface HubClientOptions {
  endpoint: string;
  token?: string | undefined;
  /** Per-request limit on connecting and the response headers (not the body). Default 30 s. */
  timeoutMs?: number;
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface HubSibling {
  rfilename: string;
  size?: number;
  lfs?: { sha256: string; size: number };
}

export interface HubModelInfo {
  id: string;
  /** Commit the revision resolves to. */
  sha: string;
  siblings: HubSibling[];
}

export interface HubFileMeta {
  /** Bytes of the file (X-Linked-Size, else Content-Length). */
  size: number | undefined;
  /** Normalized ETag (X-Linked-Etag for LFS files): quotes and W/ removed. */
  etag: string | undefined;
  /** The etag when it is a sha256 (LFS files): the checksum of the content. */
  sha256: string | undefined;
  /** X-Repo-Commit. */
  commit: string | undefined;
}

export interface HubDownload {
  /** The body, from `offset` on. */
  body: ReadableStream<Uint8Array>;
  /** Where the body starts: the requested offset on a 206, 0 when the server sent the whole file. */
  offset: number;
  /** Total file size when the response says it (Content-Range total, or Content-Length on a 200). */
  total: number | undefined;
}

const REPO_RE = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

export function isValidRepoId(repo: string): boolean {
  return REPO_RE.test(repo) && !repo.includes('..');
}

/** `W/"abc"` or `"abc"` → `abc` (RFC 9110 entity tags; the hub sends the strong form). */
export function normalizeEtag(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  let v = value.trim();
  if (v.startsWith('W/')) v = v.slice(2);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  return v || undefined;
}

function intHeader(v: string | null): number | undefined {
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export class HubClient {
  /** The endpoint as messages and pulled models show it (credentials redacted). */
  readonly endpoint: string;
  /** The endpoint requests go to, without credentials, and those credentials. */
  private readonly base: string;
  private readonly basic: string | undefined;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: HubClientOptions) {
    const endpoint = options.endpoint.replace(/\/+$/, '');
    const { url, basic } = splitCredentials(endpoint);
    this.base = url.replace(/\/+$/, '');
    this.basic = basic;
    this.endpoint = redactUrl(endpoint);
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  infoUrl(repo: string, revision?: string): string {
    const base = `${this.base}/api/models/${repo}`;
    return revision === undefined ? base : `${base}/revision/${encodeURIComponent(revision)}`;
  }

  fileUrl(repo: string, revision: string, path: string): string {
    return `${this.base}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
  }

  /** The repository's file list and the commit `revision` (default: the main branch) points at. */
  async modelInfo(repo: string, revision?: string, signal?: AbortSignal): Promise<HubModelInfo> {
    checkRepo(repo);
    const url = this.infoUrl(repo, revision);
    const res = await this.request(url, { method: 'GET', headers: { accept: 'application/json' } }, signal, { repo, revision });
    if (!res.ok) throw await this.statusError(res, { repo, revision, url: redactUrl(url) });
    let body: unknown;
    try {
      body = await res.json();
    } catch (err) {
      throw new TheoError('hub_failed', `hub ${this.endpoint}: ${redactUrl(url)} did not return JSON`, { url: redactUrl(url) }, { cause: err });
    }
    return parseModelInfo(body, repo, redactUrl(url));
  }

  /** Size, etag and commit of one file, without its bytes. */
  async fileMeta(repo: string, revision: string, path: string, signal?: AbortSignal): Promise<HubFileMeta> {
    let url = this.fileUrl(repo, revision, path);
    // Relative redirects stay on the hub (a renamed repo); an absolute one leads to the CDN: stop there.
    for (let hop = 0; ; hop++) {
      const res = await this.request(url, { method: 'HEAD', redirect: 'manual', headers: { 'accept-encoding': 'identity' } }, signal, { repo, revision, path });
      const location = res.headers.get('location');
      const linked = res.headers.get('x-linked-etag');
      if (res.status >= 300 && res.status < 400 && location && !linked && hop < 3 && !/^[a-z][a-z0-9+.-]*:/i.test(location)) {
        url = new URL(location, url).toString();
        continue;
      }
      if (!(res.ok || (res.status >= 300 && res.status < 400))) throw await this.statusError(res, { repo, revision, path, url: redactUrl(url) });
      const etag = normalizeEtag(linked ?? res.headers.get('etag'));
      return {
        size: intHeader(res.headers.get('x-linked-size')) ?? intHeader(res.headers.get('content-length')),
        etag,
        sha256: etag !== undefined && SHA256_RE.test(etag) ? etag : undefined,
        commit: res.headers.get('x-repo-commit') ?? undefined,
      };
    }
  }

  /** Opens a download of `path` from byte `offset` (a Range request when offset > 0). */
  async download(repo: string, revision: string, path: string, offset: number, signal?: AbortSignal): Promise<HubDownload> {
    const url = this.fileUrl(repo, revision, path);
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await this.request(url, { method: 'GET', headers }, signal, { repo, revision, path });
    if (res.status === 416) {
      await res.body?.cancel();
      // The partial file is at least as long as the file: start over.
      return this.download(repo, revision, path, 0, signal);
    }
    if (!res.ok) throw await this.statusError(res, { repo, revision, path, url: redactUrl(url) });
    if (!res.body) throw new TheoError('hub_failed', `hub ${this.endpoint}: empty response for ${path}`, { url: redactUrl(url) });
    if (offset > 0 && res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== offset) {
        await res.body.cancel();
        throw new TheoError('hub_failed', `hub ${this.endpoint}: asked for ${path} from byte ${offset}, got Content-Range ${JSON.stringify(res.headers.get('content-range'))}`, { url: redactUrl(url), offset });
      }
      return { body: res.body, offset, total: m[3] === '*' ? undefined : Number(m[3]) };
    }
    // A 200 to a Range request: the server sent the whole file.
    return { body: res.body, offset: 0, total: intHeader(res.headers.get('content-length')) };
  }

  private async request(url: string, init: RequestInit, signal: AbortSignal | undefined, what: Record<string, unknown>): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('authorization', `Bearer ${this.token}`);
    else if (this.basic) headers.set('authorization', this.basic);
    headers.set('user-agent', 'theo');
    // The timeout covers the wait for headers only; the body of a large file may take as long as it takes.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    const signals = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    try {
      return await this.fetchFn(url, { ...init, headers, signal: signals });
    } catch (err) {
      if (signal?.aborted) throw new TheoError('cancelled', 'download cancelled', what, { cause: err });
      const reason = timeout.signal.aborted ? `no answer within ${this.timeoutMs} ms` : redactText(networkReason(err));
      throw new TheoError('hub_failed', `cannot reach hub ${this.endpoint}: ${reason}`, { ...what, url: redactUrl(url) }, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private async statusError(res: Response, what: { repo: string; revision?: string | undefined; path?: string; url: string }): Promise<TheoError> {
    const code = res.headers.get('x-error-code') ?? '';
    const serverMessage = (res.headers.get('x-error-message') ?? (await errorText(res))).trim();
    const rev = what.revision ?? 'main';
    const details = { ...what, status: res.status, errorCode: code || undefined };
    const tail = serverMessage ? ` (hub says: ${serverMessage})` : '';
    if (res.status === 401 || res.status === 403) {
      if (code === 'RepoNotFound') return new TheoError('hub_failed', `repository '${what.repo}' not found on ${this.endpoint}, or it is private and needs a token (hub.token, env HF_TOKEN)`, details);
      const gated = code === 'GatedRepo' ? ' The repository is gated: accept its terms on the hub first.' : '';
      const hint = this.token ? 'the configured hub token was refused' : 'it needs a token: set hub.token (env HF_TOKEN or THEO_HUB_TOKEN)';
      return new TheoError('hub_failed', `hub ${this.endpoint} refused access to '${what.repo}' (HTTP ${res.status}): ${hint}.${gated}${tail}`, details);
    }
    if (res.status === 404) {
      if (code === 'RevisionNotFound') return new TheoError('hub_failed', `revision '${rev}' not found in '${what.repo}' on ${this.endpoint}`, details);
      if (code === 'EntryNotFound' || (what.path !== undefined && code !== 'RepoNotFound')) {
        return new TheoError('hub_failed', `file '${what.path ?? '?'}' not found in '${what.repo}' at revision '${rev}' on ${this.endpoint}`, details);
      }
      return new TheoError('hub_failed', `repository '${what.repo}' not found on ${this.endpoint}${what.revision ? ` (or no revision '${what.revision}')` : ''}`, details);
    }
    return new TheoError('hub_failed', `hub ${this.endpoint}: HTTP ${res.status} ${res.statusText} for ${what.url}${tail}`, details);
  }
}

function checkRepo(repo: string): void {
  if (!isValidRepoId(repo)) throw new TheoError('invalid_argument', `'${repo}' is not a hub repository id (expected OWNER/NAME, e.g. onnx-community/whisper-tiny.en)`, { repo });
}

async function errorText(res: Response): Promise<string> {
  try {
    const text = (await res.text()).slice(0, 300);
    try {
      const j = JSON.parse(text) as { error?: unknown };
      if (typeof j.error === 'string') return j.error;
    } catch {
      // not JSON
    }
    return text.replace(/\s+/g, ' ');
  } catch {
    return '';
  }
}

/** The useful part of a fetch failure: undici wraps the system error (ECONNREFUSED, ENOTFOUND) in `cause`. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const c = cause as { code?: unknown; message?: unknown } | undefined;
  if (c && typeof c.code === 'string') return `${c.code}${typeof c.message === 'string' ? ` (${c.message})` : ''}`;
  if (c && typeof c.message === 'string') return c.message;
  return err instanceof Error ? err.message : String(err);
}

function parseModelInfo(body: unknown, repo: string, url: string): HubModelInfo {
  const b = body as { id?: unknown; modelId?: unknown; sha?: unknown; siblings?: unknown } | null;
  if (!b || typeof b !== 'object' || typeof b.sha !== 'string' || !Array.isArray(b.siblings)) {
    throw new TheoError('hub_failed', `hub answer for '${repo}' (${url}) lacks "sha" or "siblings"`, { repo, url });
  }
  const siblings: HubSibling[] = [];
  for (const s of b.siblings as unknown[]) {
    const x = s as { rfilename?: unknown; size?: unknown; lfs?: { sha256?: unknown; size?: unknown } } | null;
    if (!x || typeof x.rfilename !== 'string') continue;
    const sib: HubSibling = { rfilename: x.rfilename };
    if (typeof x.size === 'number') sib.size = x.size;
    if (x.lfs && typeof x.lfs.sha256 === 'string' && typeof x.lfs.size === 'number') sib.lfs = { sha256: x.lfs.sha256, size: x.lfs.size };
    siblings.push(sib);
  }
  const id = typeof b.id === 'string' ? b.id : typeof b.modelId === 'string' ? b.modelId : repo;
  return { id, sha: b.sha, siblings };
}
