// The hub client against the local hub: model info, file metadata (direct and LFS via redirect), ranged
// downloads, and the errors a user sees for 404, 401 and an unreachable hub.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import { HubClient, isValidRepoId, normalizeEtag } from '../../../src/registry/hub.js';
import { FakeHub, type FakeHubRepo, whisperRepoFiles } from '../../helpers/hub-server.js';

let hub: FakeHub;
let repo: FakeHubRepo;
const REPO = 'onnx-community/whisper-fake';

beforeAll(async () => {
  hub = await FakeHub.start();
  repo = hub.addRepo(REPO, whisperRepoFiles({ onnxBytes: 4096 }));
});

afterAll(async () => {
  await hub.close();
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

async function text(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(body).arrayBuffer());
}

describe('normalizeEtag / isValidRepoId', () => {
  it('strips quotes and the weak prefix', () => {
    expect(normalizeEtag('"abc"')).toBe('abc');
    expect(normalizeEtag('W/"abc"')).toBe('abc');
    expect(normalizeEtag('abc')).toBe('abc');
    expect(normalizeEtag('""')).toBeUndefined();
    expect(normalizeEtag(null)).toBeUndefined();
  });

  it('accepts OWNER/NAME ids and rejects paths', () => {
    expect(isValidRepoId('onnx-community/whisper-tiny.en')).toBe(true);
    expect(isValidRepoId('gpt2')).toBe(true);
    expect(isValidRepoId('../etc/passwd')).toBe(false);
    expect(isValidRepoId('a/b/c')).toBe(false);
    expect(isValidRepoId('a/..')).toBe(false);
  });
});

describe('HubClient', () => {
  it('reads the file list and commit of the main branch and of an explicit revision', async () => {
    const client = new HubClient({ endpoint: `${hub.url}/` });
    const info = await client.modelInfo(REPO);
    expect(info.sha).toBe(repo.sha);
    expect(info.id).toBe(REPO);
    expect(info.siblings.map((s) => s.rfilename)).toContain('onnx/encoder_model_quantized.onnx');
    expect((await client.modelInfo(REPO, repo.sha)).sha).toBe(repo.sha);
    expect(hub.requests.some((r) => r.url === `/api/models/${REPO}/revision/${repo.sha}`)).toBe(true);
  });

  it('gives the sha256 and size of an LFS file from the redirect, without following it', async () => {
    const client = new HubClient({ endpoint: hub.url });
    hub.clearLog();
    const meta = await client.fileMeta(REPO, 'main', 'onnx/encoder_model_quantized.onnx');
    const file = repo.files.get('onnx/encoder_model_quantized.onnx')!;
    expect(meta).toEqual({ size: 4096, etag: file.sha256, sha256: file.sha256, commit: repo.sha });
    expect(hub.requests.map((r) => `${r.method} ${r.url.split('/')[1]}`)).toEqual(['HEAD onnx-community']);
  });

  it('gives the size and git etag of a small file (no sha256)', async () => {
    const meta = await new HubClient({ endpoint: hub.url }).fileMeta(REPO, 'main', 'config.json');
    const file = repo.files.get('config.json')!;
    expect(meta).toEqual({ size: file.content.length, etag: file.gitSha1, sha256: undefined, commit: repo.sha });
  });

  it('downloads from an offset with a Range request (206), following the CDN redirect', async () => {
    const client = new HubClient({ endpoint: hub.url });
    const file = repo.files.get('onnx/decoder_model_merged_quantized.onnx')!;
    const whole = await client.download(REPO, repo.sha, file.path, 0);
    expect(whole.offset).toBe(0);
    expect(whole.total).toBe(file.content.length);
    expect((await text(whole.body)).equals(file.content)).toBe(true);
    const tail = await client.download(REPO, repo.sha, file.path, 1000);
    expect(tail.offset).toBe(1000);
    expect(tail.total).toBe(file.content.length);
    expect((await text(tail.body)).equals(file.content.subarray(1000))).toBe(true);
  });

  it('names a missing repository, revision and file', async () => {
    const client = new HubClient({ endpoint: hub.url });
    const noRepo = await rejection(client.modelInfo('nobody/nothing'));
    expect(isTheoErrorCode(noRepo, 'hub_failed')).toBe(true);
    expect(noRepo.message).toMatch(/repository 'nobody\/nothing' not found on http:\/\/127\.0\.0\.1:\d+/);
    expect((await rejection(client.modelInfo(REPO, 'v9'))).message).toMatch(/revision 'v9' not found in 'onnx-community\/whisper-fake'/);
    expect((await rejection(client.fileMeta(REPO, 'main', 'onnx/nope.onnx'))).message).toMatch(/file 'onnx\/nope\.onnx' not found in 'onnx-community\/whisper-fake' at revision 'main'/);
  });

  it('sends the token as a bearer token, and says what to do on 401', async () => {
    hub.requireToken('hf_secret');
    try {
      const anonymous = await rejection(new HubClient({ endpoint: hub.url }).modelInfo(REPO));
      expect(isTheoErrorCode(anonymous, 'hub_failed')).toBe(true);
      expect(anonymous.message).toMatch(/refused access to 'onnx-community\/whisper-fake' \(HTTP 401\): it needs a token: set hub\.token \(env HF_TOKEN/);
      const wrong = await rejection(new HubClient({ endpoint: hub.url, token: 'hf_wrong' }).modelInfo(REPO));
      expect(wrong.message).toMatch(/the configured hub token was refused/);
      hub.clearLog();
      const info = await new HubClient({ endpoint: hub.url, token: 'hf_secret' }).modelInfo(REPO);
      expect(info.sha).toBe(repo.sha);
      expect(hub.requests[0]?.authorization).toBe('Bearer hf_secret');
    } finally {
      hub.requireToken(undefined);
    }
  });

  it('reports an unreachable hub as hub_failed with the system error', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await rejection(new HubClient({ endpoint: `http://127.0.0.1:${port}` }).modelInfo(REPO));
    expect(isTheoErrorCode(err, 'hub_failed')).toBe(true);
    expect(err.message).toMatch(new RegExp(`cannot reach hub http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  });

  it('keeps user:password in the endpoint out of request URLs (sent as Basic auth) and out of every error', async () => {
    const endpoint = hub.url.replace('http://', 'http://mirror:m1rr0rpass@');
    const info = await new HubClient({ endpoint }).modelInfo(REPO);
    expect(info.sha).toBe(repo.sha);
    expect(hub.requests.at(-1)!.authorization).toBe(`Basic ${Buffer.from('mirror:m1rr0rpass').toString('base64')}`);
    const missing = await rejection(new HubClient({ endpoint }).modelInfo('someone/missing'));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const down = await rejection(new HubClient({ endpoint: `http://mirror:m1rr0rpass@127.0.0.1:${port}` }).modelInfo(REPO));
    expect(down.message).toMatch(new RegExp(`cannot reach hub http://\\*\\*\\*@127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    for (const err of [missing, down]) {
      expect(isTheoErrorCode(err, 'hub_failed')).toBe(true);
      expect(`${err.message} ${JSON.stringify((err as { details?: unknown }).details)}`).not.toContain('m1rr0rpass');
    }
  });

  it('rejects a malformed repository id before any request', async () => {
    const err = await rejection(new HubClient({ endpoint: hub.url }).modelInfo('../../etc'));
    expect(isTheoErrorCode(err, 'invalid_argument')).toBe(true);
  });
});
