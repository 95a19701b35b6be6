// `theo pull`: fetches a Whisper model (onnx-community export layout) from a hub into
// {models.dir}/{name}/ and writes its theo.yaml. Only the files the chosen dtype needs are fetched, all
// from the one commit the revision resolves to. Each file streams into `{file}.part`; a later run resumes a
// partial file with an HTTP Range request. A file becomes final (atomic rename) only after its size and,
// for LFS files, its sha256 match what the hub declared. `.theo-pull.json` remembers the finished files of
// a commit, so a re-run neither refetches nor rehashes them.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage, TheoError } from '../errors/index.js';
import type { HubClient, HubFileMeta } from './hub.js';
import { MANIFEST_FILE, parseManifest, readManifest } from './manifest.js';
import { availableDtypes, DEFAULT_PULL_DTYPE, PULL_STATE_FILE, isWhisperConfig, manifestYaml, whisperFilesFor, whisperManifest, type PullDtype } from './whisper-folder.js';

export { PULL_STATE_FILE };
const LOCK_FILE = '.theo-pull.lock';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface PullOptions {
  /** Hub repository id, e.g. onnx-community/whisper-tiny.en. */
  repo: string;
  /** Registry name and folder name; default: the repository's name. */
  name?: string | undefined;
  /** Branch, tag or commit; default: the main branch. */
  revision?: string | undefined;
  dtype?: PullDtype | undefined;
  modelsDir: string;
  hub: HubClient;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: PullEvent) => void) | undefined;
}

export type PullEvent =
  | { type: 'resolved'; repo: string; revision: string; commit: string; dir: string; files: string[] }
  | { type: 'file-skip'; path: string; size: number }
  | { type: 'file-start'; path: string; size: number | undefined; offset: number }
  | { type: 'file-progress'; path: string; bytes: number; size: number | undefined }
  | { type: 'file-done'; path: string; size: number; verified: 'sha256' | 'size' };

export interface PulledFile {
  path: string;
  size: number;
  /** False when an earlier run had already finished it. */
  downloaded: boolean;
}

export interface PullResult {
  name: string;
  dir: string;
  manifestPath: string;
  repo: string;
  revision: string;
  commit: string;
  dtype: PullDtype;
  files: PulledFile[];
  /** Bytes received in this run. */
  bytesDownloaded: number;
}

interface PullState {
  hub: string;
  repo: string;
  commit: string;
  dtype: PullDtype;
  files: Record<string, { size: number; sha256?: string | undefined; etag?: string | undefined }>;
}

/** The registry name a repository gets by default: its last path segment. */
export function defaultModelName(repo: string): string {
  return repo.split('/').pop() ?? repo;
}

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const { repo, hub, signal } = options;
  const emit = (e: PullEvent): void => {
    try {
      options.onEvent?.(e);
    } catch {
      // A failing progress display must not fail the download.
    }
  };
  const name = options.name ?? defaultModelName(repo);
  if (!NAME_RE.test(name)) throw new TheoError('invalid_argument', `'${name}' is not a valid model name (letters, digits, ".", "_" and "-"); choose one with --as`, { name });
  const dtype = options.dtype ?? DEFAULT_PULL_DTYPE;
  const dir = resolve(options.modelsDir, name);

  const info = await hub.modelInfo(repo, options.revision, signal);
  const revision = options.revision ?? 'main';
  const wanted = whisperFilesFor(dtype);
  const listed = new Set(info.siblings.map((s) => s.rfilename));
  const absent = wanted.filter((f) => !listed.has(f));
  if (absent.length > 0) {
    const dtypes = availableDtypes(listed);
    const hint = listed.has('config.json') && dtypes.length > 0 ? `; dtypes this repository has: ${dtypes.join(', ')} (--dtype)` : '; is it an onnx-community Whisper export?';
    throw new TheoError('hub_failed', `'${repo}' at ${revision} lacks ${absent.join(', ')}${hint}`, { repo, revision, absent, dtypes });
  }

  await checkTarget(dir, repo);
  await mkdir(dir, { recursive: true });
  const unlock = await lock(dir);
  try {
    emit({ type: 'resolved', repo, revision, commit: info.sha, dir, files: wanted });
    const state = await readState(dir, { hub: hub.endpoint, repo, commit: info.sha, dtype, files: {} });
    const lfs = new Map(info.siblings.filter((s) => s.lfs).map((s) => [s.rfilename, s.lfs]));
    const files: PulledFile[] = [];
    let bytesDownloaded = 0;
    for (const path of wanted) {
      if (signal?.aborted) throw new TheoError('cancelled', 'pull cancelled');
      const dest = join(dir, path);
      const done = state.files[path];
      if (done && (await sizeOf(dest)) === done.size) {
        emit({ type: 'file-skip', path, size: done.size });
        files.push({ path, size: done.size, downloaded: false });
      } else {
        const meta = await hub.fileMeta(repo, info.sha, path, signal);
        const fromListing = lfs.get(path);
        const expected: HubFileMeta = { ...meta, size: meta.size ?? fromListing?.size, sha256: meta.sha256 ?? fromListing?.sha256 };
        const got = await fetchFile(options, info.sha, path, dest, expected, emit);
        bytesDownloaded += got.received;
        state.files[path] = { size: got.size, sha256: expected.sha256, etag: expected.etag };
        await writeAtomic(join(dir, PULL_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
        files.push({ path, size: got.size, downloaded: true });
      }
      if (path === 'config.json') await checkWhisperConfig(dest, repo);
    }

    const manifestPath = join(dir, MANIFEST_FILE);
    const config = await readJson(join(dir, 'config.json'));
    const generationConfig = await readJson(join(dir, 'generation_config.json'));
    const manifest = whisperManifest({
      name,
      config,
      generationConfig,
      dtype,
      description: `Whisper ${repo} (${dtype}) from ${hub.endpoint}`,
      source: { hub: hub.endpoint, repo, revision: info.sha },
    });
    const text = manifestYaml(manifest, `Written by \`theo pull ${repo}\` (revision ${revision} = ${info.sha}, dtype ${dtype}).`);
    parseManifest(text, manifestPath); // never leave a manifest the registry would reject
    await writeAtomic(manifestPath, text);
    return { name, dir, manifestPath, repo, revision, commit: info.sha, dtype, files, bytesDownloaded };
  } finally {
    await unlock();
  }
}

/** Refuses to write into a folder that holds another model (one not pulled from this repository). */
async function checkTarget(dir: string, repo: string): Promise<void> {
  const manifestPath = join(dir, MANIFEST_FILE);
  if ((await sizeOf(manifestPath)) === undefined) return;
  let source: string | undefined;
  try {
    source = readManifest(manifestPath).manifest.source?.repo;
  } catch {
    source = undefined;
  }
  if (source !== repo) {
    throw new TheoError('invalid_argument', `${dir} already holds a model that was not pulled from '${repo}'; choose another name with --as`, { dir, repo, source });
  }
}

async function fetchFile(
  options: PullOptions,
  commit: string,
  path: string,
  dest: string,
  expected: HubFileMeta,
  emit: (e: PullEvent) => void,
): Promise<{ size: number; received: number }> {
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  let offset = (await sizeOf(part)) ?? 0;
  if (expected.size !== undefined && offset > expected.size) offset = 0;
  const hash = createHash('sha256');
  // The bytes already on disk count towards the checksum: hash them before appending.
  if (offset > 0) await hashFile(part, offset, hash);
  if (offset > 0 && offset === expected.size) {
    // A run that died between the last byte and the rename: nothing left to fetch.
    const problem = verify(offset, hash.digest('hex'), expected);
    if (!problem) {
      await rename(part, dest);
      emit({ type: 'file-done', path, size: offset, verified: expected.sha256 ? 'sha256' : 'size' });
      return { size: offset, received: 0 };
    }
    await rm(part, { force: true });
    return fetchFile(options, commit, path, dest, expected, emit);
  }

  const dl = await options.hub.download(options.repo, commit, path, offset, options.signal);
  // The server may ignore the Range request and send the whole file: then the part file starts over.
  const restart = dl.offset !== offset;
  return writeBody(part, dest, path, dl.body, dl.offset, restart ? createHash('sha256') : hash, expected, emit);
}

async function writeBody(
  part: string,
  dest: string,
  path: string,
  body: ReadableStream<Uint8Array>,
  offset: number,
  hash: Hash,
  expected: HubFileMeta,
  emit: (e: PullEvent) => void,
): Promise<{ size: number; received: number }> {
  emit({ type: 'file-start', path, size: expected.size, offset });
  let bytes = offset;
  const source = Readable.fromWeb(body);
  try {
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          bytes += chunk.length;
          emit({ type: 'file-progress', path, bytes, size: expected.size });
          yield chunk;
        }
      },
      createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' }),
    );
  } catch (err) {
    // The last chunks may not have reached the disk: report what a resume will start from.
    bytes = (await sizeOf(part)) ?? offset;
    throw new TheoError('hub_failed', `download of ${path} was interrupted after ${bytes} of ${expected.size ?? '?'} bytes (${errorMessage(err)}); run the same command again to resume`, { path, bytes }, { cause: err });
  }
  const received = bytes - offset;
  const problem = verify(bytes, hash.digest('hex'), expected);
  if (problem) {
    await rm(part, { force: true });
    throw new TheoError('hub_failed', `${path}: ${problem}; the download was discarded, run the command again to fetch it anew`, { path, expected });
  }
  await rename(part, dest);
  emit({ type: 'file-done', path, size: bytes, verified: expected.sha256 ? 'sha256' : 'size' });
  return { size: bytes, received };
}

function verify(size: number, sha256: string, expected: HubFileMeta): string | undefined {
  if (expected.size !== undefined && size !== expected.size) return `size mismatch: expected ${expected.size} bytes, got ${size}`;
  if (expected.sha256 !== undefined && sha256 !== expected.sha256) return `checksum mismatch: expected sha256 ${expected.sha256}, got ${sha256}`;
  return undefined;
}

async function hashFile(path: string, length: number, hash: Hash): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new TheoError('model_invalid', `${path}: not valid JSON: ${errorMessage(err)}`, { path }, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TheoError('model_invalid', `${path}: expected a JSON object`, { path });
  return parsed as Record<string, unknown>;
}

async function checkWhisperConfig(path: string, repo: string): Promise<void> {
  const config = await readJson(path);
  if (!isWhisperConfig(config)) {
    throw new TheoError('hub_failed', `'${repo}' is not a Whisper model: config.json has model_type ${JSON.stringify(config.model_type)}; theo pull fetches onnx-community Whisper exports`, { repo });
  }
}

async function readState(dir: string, fresh: PullState): Promise<PullState> {
  try {
    const s = JSON.parse(await readFile(join(dir, PULL_STATE_FILE), 'utf8')) as Partial<PullState>;
    // Finished files of another commit may differ: they are fetched again (the .part files of the old commit too).
    if (s.repo === fresh.repo && s.commit === fresh.commit && typeof s.files === 'object' && s.files !== null) return { ...fresh, files: s.files };
    if (s.repo !== undefined) await clearParts(dir);
  } catch {
    // no state yet (or unreadable): everything is fetched
  }
  return fresh;
}

async function clearParts(dir: string): Promise<void> {
  for (const p of whisperFilesFor('fp32').concat(whisperFilesFor('fp16'), whisperFilesFor('q8'), whisperFilesFor('q4'))) {
    await rm(join(dir, `${p}.part`), { force: true });
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** One pull per folder at a time; a lock left by a dead process is taken over. */
async function lock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new TheoError('invalid_argument', `another theo pull (pid ${pid}) is writing ${dir}; wait for it to finish`, { dir, pid });
      }
      await rm(path, { force: true });
    }
  }
  throw new TheoError('invalid_argument', `cannot lock ${dir} for pulling`, { dir });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
