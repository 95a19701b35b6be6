// `theo pull` against a local hub (test/helpers/hub-server.ts): a full download of only the files the dtype
// needs, resume after a cut connection without refetching finished files, checksum failure, 404 and 401;
// then `theo list` and `theo inspect` through the real CLI on what was pulled.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTheoErrorCode } from '../../src/errors/index.js';
import { HubClient } from '../../src/registry/hub.js';
import { parseManifest } from '../../src/registry/manifest.js';
import { PULL_STATE_FILE, pullModel, type PullEvent } from '../../src/registry/pull.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { FakeHub, type FakeHubRepo, whisperRepoFiles } from '../helpers/hub-server.js';
import { runTheo } from '../helpers/theo.js';

const REPO = 'onnx-community/whisper-fake';
const Q8 = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/encoder_model_quantized.onnx', 'onnx/decoder_model_merged_quantized.onnx'];
const ENCODER = 'onnx/encoder_model_quantized.onnx';
const DECODER = 'onnx/decoder_model_merged_quantized.onnx';

let hub: FakeHub;
let repo: FakeHubRepo;

beforeAll(async () => {
  hub = await FakeHub.start();
  repo = hub.addRepo(REPO, whisperRepoFiles({ alignment: true, onnxBytes: 200_000 }));
  hub.addRepo('onnx-community/whisper-tiny.en', whisperRepoFiles({ multilingual: false, onnxBytes: 5000, seed: 7 }));
  hub.addRepo('someone/bert', { ...whisperRepoFiles({ onnxBytes: 100 }), 'config.json': JSON.stringify({ model_type: 'bert' }) });
});

afterAll(async () => {
  await hub.close();
});

function tempModels(): string {
  return mkdtempSync(join(tmpdir(), 'theo-pull-'));
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** Hub env for the CLI: nothing inherited from the developer's environment. */
function cliEnv(modelsDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { THEO_MODELS_DIR: modelsDir, THEO_HUB_ENDPOINT: hub.url, HF_ENDPOINT: '', HF_TOKEN: '', THEO_HUB_TOKEN: '', THEO_CONFIG: '', ...extra };
}

describe('pullModel', () => {
  it('fetches only the files of the dtype, verifies them, and writes a theo.yaml the registry accepts', async () => {
    const dir = tempModels();
    hub.clearLog();
    const events: PullEvent[] = [];
    const result = await pullModel({ repo: REPO, modelsDir: dir, hub: new HubClient({ endpoint: hub.url }), onEvent: (e) => events.push(e) });
    expect(result.name).toBe('whisper-fake');
    expect(result.commit).toBe(repo.sha);
    expect(result.files.map((f) => f.path)).toEqual(Q8);
    expect(result.files.every((f) => f.downloaded)).toBe(true);
    for (const path of Q8) {
      const dest = join(dir, 'whisper-fake', path);
      expect(readFileSync(dest).equals(repo.files.get(path)!.content)).toBe(true);
      expect(existsSync(`${dest}.part`)).toBe(false);
    }
    // README, the other dtypes' weights: never requested.
    const fetched = new Set(hub.requests.filter((r) => r.file !== undefined).map((r) => r.file));
    expect([...fetched].sort()).toEqual([...Q8].sort());
    // Files come from the resolved commit, not from a moving branch.
    expect(hub.requests.filter((r) => r.url.includes('/resolve/')).every((r) => r.url.includes(`/resolve/${repo.sha}/`))).toBe(true);
    expect(events.filter((e) => e.type === 'file-done').map((e) => (e as { verified: string }).verified)).toEqual(['size', 'size', 'size', 'size', 'size', 'sha256', 'sha256']);

    const entry = parseManifest(readFileSync(result.manifestPath, 'utf8'), result.manifestPath);
    expect(entry.manifest).toMatchObject({
      name: 'whisper-fake',
      engine: 'whisper',
      architecture: 'encoder-decoder',
      sampleRate: 16000,
      languages: ['en', 'zh', 'de', 'es', 'fr'],
      capabilities: { translate: true, languageDetection: true, wordTimestamps: true, nativePartials: false },
      defaults: { options: { dtype: 'q8' } },
      source: { hub: hub.url, repo: REPO, revision: repo.sha },
    });
    expect(entry.files.model).toBe(join(dir, 'whisper-fake'));
    const model = ModelRegistry.scan(dir).get('whisper-fake');
    expect(model.state).toBe('available');
    expect(model.origin).toBe('manifest');
  });

  it('resumes a cut download with a Range request and does not refetch finished files', async () => {
    const dir = tempModels();
    const client = new HubClient({ endpoint: hub.url });
    const size = repo.files.get(ENCODER)!.content.length;
    hub.cutAfter(ENCODER, 70_000);
    hub.clearLog();
    const first = await rejection(pullModel({ repo: REPO, name: 'resumed', modelsDir: dir, hub: client }));
    expect(isTheoErrorCode(first, 'hub_failed')).toBe(true);
    expect(first.message).toMatch(/download of onnx\/encoder_model_quantized\.onnx was interrupted after \d+ of 200000 bytes.*run the same command again to resume/);
    const model = join(dir, 'resumed');
    // What reached the disk before the cut (the last chunk may race the connection error).
    const kept = statSync(join(model, `${ENCODER}.part`)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(70_000);
    expect(existsSync(join(model, ENCODER))).toBe(false);
    expect(existsSync(join(model, 'theo.yaml'))).toBe(false);
    expect(existsSync(join(model, 'config.json'))).toBe(true);
    // Meanwhile the registry shows the half-pulled folder as missing, with the command that completes it.
    const partial = ModelRegistry.scan(dir).get('resumed');
    expect(partial).toMatchObject({ origin: 'detected', state: 'missing' });
    expect(partial.reason).toMatch(/theo pull onnx-community\/whisper-fake --as resumed/);

    hub.clearLog();
    const second = await pullModel({ repo: REPO, name: 'resumed', modelsDir: dir, hub: client });
    expect(second.files.filter((f) => !f.downloaded).map((f) => f.path)).toEqual(Q8.slice(0, 5));
    for (const path of Q8.slice(0, 5)) expect(hub.requests.filter((r) => r.file === path)).toEqual([]);
    const encoderGets = hub.fileGets(ENCODER);
    expect(encoderGets).toHaveLength(1);
    expect(encoderGets[0]!.range).toBe(`bytes=${kept}-`);
    expect(encoderGets[0]!.bytes).toBe(size - kept);
    expect(second.bytesDownloaded).toBe(size - kept + repo.files.get(DECODER)!.content.length);
    expect(sha256(join(model, ENCODER))).toBe(repo.files.get(ENCODER)!.sha256);
    expect(existsSync(join(model, `${ENCODER}.part`))).toBe(false);

    // A third run has nothing left to fetch.
    hub.clearLog();
    const third = await pullModel({ repo: REPO, name: 'resumed', modelsDir: dir, hub: client });
    expect(third.bytesDownloaded).toBe(0);
    expect(hub.bytesServed()).toBe(0);
    expect(JSON.parse(readFileSync(join(model, PULL_STATE_FILE), 'utf8'))).toMatchObject({ hub: hub.url, repo: REPO, commit: repo.sha, dtype: 'q8' });
  });

  it('finishes a complete .part file left by a run that died before the rename, without fetching it', async () => {
    const dir = tempModels();
    const client = new HubClient({ endpoint: hub.url });
    await pullModel({ repo: REPO, name: 'renamed', modelsDir: dir, hub: client });
    const model = join(dir, 'renamed');
    renameSync(join(model, ENCODER), join(model, `${ENCODER}.part`));
    rmSync(join(model, PULL_STATE_FILE));
    hub.clearLog();
    const again = await pullModel({ repo: REPO, name: 'renamed', modelsDir: dir, hub: client });
    expect(again.files.find((f) => f.path === ENCODER)).toEqual({ path: ENCODER, size: 200_000, downloaded: true });
    expect(hub.fileGets(ENCODER)).toEqual([]);
    expect(sha256(join(model, ENCODER))).toBe(repo.files.get(ENCODER)!.sha256);
  });

  it('discards a file whose sha256 does not match its LFS etag, leaving no finished file', async () => {
    const dir = tempModels();
    const client = new HubClient({ endpoint: hub.url });
    hub.corrupt(DECODER);
    const err = await rejection(pullModel({ repo: REPO, name: 'corrupt', modelsDir: dir, hub: client }));
    expect(isTheoErrorCode(err, 'hub_failed')).toBe(true);
    expect(err.message).toMatch(new RegExp(`onnx/decoder_model_merged_quantized\\.onnx: checksum mismatch: expected sha256 ${repo.files.get(DECODER)!.sha256}, got [0-9a-f]{64}; the download was discarded`));
    const model = join(dir, 'corrupt');
    expect(existsSync(join(model, DECODER))).toBe(false);
    expect(existsSync(join(model, `${DECODER}.part`))).toBe(false);
    expect(existsSync(join(model, 'theo.yaml'))).toBe(false);
    expect(ModelRegistry.scan(dir).get('corrupt').state).toBe('missing');
    // The next run fetches it anew (and only it).
    hub.clearLog();
    const again = await pullModel({ repo: REPO, name: 'corrupt', modelsDir: dir, hub: client });
    expect(again.files.filter((f) => f.downloaded).map((f) => f.path)).toEqual([DECODER]);
    expect(sha256(join(model, DECODER))).toBe(repo.files.get(DECODER)!.sha256);
  });

  it('fails clearly for an unknown repository, revision, dtype, or a model that is not Whisper', async () => {
    const dir = tempModels();
    const client = new HubClient({ endpoint: hub.url });
    const missing = await rejection(pullModel({ repo: 'nobody/nothing', modelsDir: dir, hub: client }));
    expect(isTheoErrorCode(missing, 'hub_failed')).toBe(true);
    expect(missing.message).toMatch(/repository 'nobody\/nothing' not found/);
    expect(existsSync(join(dir, 'nothing'))).toBe(false);
    expect((await rejection(pullModel({ repo: REPO, revision: 'v2', modelsDir: dir, hub: client }))).message).toMatch(/revision 'v2' not found/);
    hub.addRepo('someone/fp16-only', Object.fromEntries(Object.entries(whisperRepoFiles({ onnxBytes: 10 })).filter(([p]) => !p.startsWith('onnx/') || p.includes('_fp16'))));
    expect((await rejection(pullModel({ repo: 'someone/fp16-only', modelsDir: dir, hub: client }))).message).toMatch(/lacks onnx\/encoder_model_quantized\.onnx, onnx\/decoder_model_merged_quantized\.onnx; dtypes this repository has: fp16/);
    hub.clearLog();
    expect((await rejection(pullModel({ repo: 'someone/bert', modelsDir: dir, hub: client }))).message).toMatch(/'someone\/bert' is not a Whisper model: config.json has model_type "bert"/);
    expect(hub.fileGets(ENCODER)).toEqual([]);
  });

  it('needs a token when the hub does, and sends it', async () => {
    const dir = tempModels();
    hub.requireToken('hf_token_1');
    try {
      const err = await rejection(pullModel({ repo: REPO, modelsDir: dir, hub: new HubClient({ endpoint: hub.url }) }));
      expect(isTheoErrorCode(err, 'hub_failed')).toBe(true);
      expect(err.message).toMatch(/HTTP 401.*set hub\.token/);
      hub.clearLog();
      const ok = await pullModel({ repo: REPO, modelsDir: dir, hub: new HubClient({ endpoint: hub.url, token: 'hf_token_1' }) });
      expect(ok.files).toHaveLength(7);
      // Every hub request carried the token (the CDN redirects need none).
      expect(hub.requests.filter((r) => !r.url.startsWith('/lfs-cdn/')).every((r) => r.authorization === 'Bearer hf_token_1')).toBe(true);
    } finally {
      hub.requireToken(undefined);
    }
  });

  it('refuses to overwrite a folder that holds another model', async () => {
    const dir = tempModels();
    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken/theo.yaml'), 'name: taken\nengine: pocketsphinx\narchitecture: hmm\nfiles: { hmm: . }\nsampleRate: 16000\nlanguages: [en]\n');
    const err = await rejection(pullModel({ repo: REPO, name: 'taken', modelsDir: dir, hub: new HubClient({ endpoint: hub.url }) }));
    expect(err.message).toMatch(/already holds a model that was not pulled from 'onnx-community\/whisper-fake'; choose another name with --as/);
    expect((await rejection(pullModel({ repo: REPO, name: 'bad name', modelsDir: dir, hub: new HubClient({ endpoint: hub.url }) }))).message).toMatch(/not a valid model name/);
  });
});

describe('theo pull / list / inspect (CLI)', () => {
  it('pulls through the CLI with plain progress lines, then lists and inspects the model', async () => {
    const dir = tempModels();
    const pull = await runTheo(['pull', 'onnx-community/whisper-tiny.en', '--as', 'tiny-en', '--dtype', 'fp16'], cliEnv(dir)).done;
    expect(pull.stderr).toMatch(/fetching onnx\/encoder_model_fp16\.onnx \(4\.9 KiB\)/);
    expect(pull.stderr).toMatch(/done onnx\/decoder_model_merged_fp16\.onnx \(5\.9 KiB, sha256 verified\)/);
    expect(pull.stdout).toMatch(/^pulled onnx-community\/whisper-tiny\.en@[0-9a-f]{12} \(fp16\) as 'tiny-en' into .*tiny-en: 7 files/);
    expect(pull.code).toBe(0);

    const list = await runTheo(['list'], cliEnv(dir, { THEO_DEFAULT_MODEL: 'tiny-en' })).done;
    expect(list.code).toBe(0);
    const [header, row] = list.stdout.trim().split('\n');
    expect(header).toMatch(/^NAME\s+ENGINE\s+ARCHITECTURE\s+LANGUAGES\s+STATE\s+DEFAULT$/);
    expect(row).toMatch(/^tiny-en\s+whisper\s+encoder-decoder\s+en\s+available\s+\*$/);

    const json = await runTheo(['list', '--json'], cliEnv(dir)).done;
    const listed = JSON.parse(json.stdout) as { models: Array<{ name: string; state: string; default: boolean; source: { repo: string } }>; problems: unknown[] };
    expect(listed.models).toMatchObject([{ name: 'tiny-en', state: 'available', default: false, source: { repo: 'onnx-community/whisper-tiny.en' } }]);
    expect(listed.problems).toEqual([]);

    const inspect = await runTheo(['inspect', 'tiny-en', '--json'], cliEnv(dir)).done;
    expect(inspect.code).toBe(0);
    const info = JSON.parse(inspect.stdout) as { files: Array<{ role: string; exists: boolean; size: number }>; capabilities: Record<string, unknown>; manifestData: { defaults: unknown } };
    expect(info.files.find((f) => f.role === 'encoder')).toMatchObject({ exists: true, size: 5000 });
    expect(info.capabilities).toMatchObject({ architecture: 'encoder-decoder', languages: ['en'], translate: false, sampleRate: 16000 });
    expect(info.manifestData.defaults).toEqual({ language: 'en', options: { dtype: 'fp16' } });

    const human = await runTheo(['inspect', 'tiny-en'], cliEnv(dir)).done;
    expect(human.stdout).toMatch(/^name:\s+tiny-en$/m);
    expect(human.stdout).toMatch(/^source:\s+http:\/\/127\.0\.0\.1:\d+\/onnx-community\/whisper-tiny\.en @ [0-9a-f]{40}$/m);
    expect(human.stdout).toMatch(/^\s+encoder\s+\S+encoder_model_fp16\.onnx\s+file\s+4\.9 KiB$/m);
  });

  it('exits non-zero with the available names for an unknown model, and reports bad manifests', async () => {
    const dir = tempModels();
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken/theo.yaml'), 'name: broken\nengine: nope\n');
    mkdirSync(join(dir, 'ok'));
    writeFileSync(join(dir, 'ok/theo.yaml'), 'name: ok\nengine: pocketsphinx\narchitecture: hmm\nfiles: { hmm: /nonexistent/hmm }\nsampleRate: 16000\nlanguages: [en]\ndebianPackages: [pocketsphinx-en-us]\n');
    const inspect = await runTheo(['inspect', 'nope'], cliEnv(dir)).done;
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toMatch(/^theo: model 'nope' not found \(available: ok\) in models.dir \/\S+/);
    const list = await runTheo(['list'], cliEnv(dir)).done;
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ok\s+pocketsphinx\s+hmm\s+en\s+missing$/m);
    expect(list.stdout).toMatch(/^ok: missing: install Debian package pocketsphinx-en-us/m);
    expect(list.stderr).toMatch(/theo: skipped .*broken\/theo\.yaml: invalid model manifest/);
  });

  it('lists the shipped default model from the project models folder', async () => {
    const list = await runTheo(['list', '--json'], { THEO_MODELS_DIR: '', THEO_DEFAULT_MODEL: '', THEO_CONFIG: '' }).done;
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { default: string; models: Array<{ name: string; default: boolean; state: string; reason?: string }> };
    expect(listed.default).toBe('pocketsphinx-en-us');
    const ps = listed.models.find((m) => m.name === 'pocketsphinx-en-us');
    expect(ps?.default).toBe(true);
    if (ps?.state === 'missing') expect(ps.reason).toMatch(/install Debian package pocketsphinx-en-us/);
  });

  it('reports 401 and 404 through the CLI, and succeeds with THEO_HUB_TOKEN', async () => {
    const dir = tempModels();
    const notFound = await runTheo(['pull', 'nobody/nothing'], cliEnv(dir)).done;
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toMatch(/^theo: repository 'nobody\/nothing' not found/m);
    hub.requireToken('hf_cli');
    try {
      const denied = await runTheo(['pull', REPO], cliEnv(dir)).done;
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^theo: hub .* refused access to 'onnx-community\/whisper-fake' \(HTTP 401\)/m);
      const ok = await runTheo(['pull', REPO, '--json'], cliEnv(dir, { THEO_HUB_TOKEN: 'hf_cli' })).done;
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ name: 'whisper-fake', repo: REPO, commit: repo.sha, dtype: 'q8' });
    } finally {
      hub.requireToken(undefined);
    }
  });
});
