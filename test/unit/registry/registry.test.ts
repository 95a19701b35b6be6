// The registry scan: good and bad manifests side by side, missing files, detected Whisper folders,
// unknown names and the default model.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isTheoErrorCode, type TheoError } from '../../../src/errors/index.js';
import { ModelRegistry, resolveFiles } from '../../../src/registry/registry.js';
import { whisperRepoFiles } from '../../helpers/hub-server.js';

const ROOT_MODELS = new URL('../../../models', import.meta.url).pathname;

function writeTree(dir: string, files: Record<string, Buffer | string>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'theo-registry-'));
  writeTree(dir, {
    'good/theo.yaml': [
      'name: good-hmm',
      'engine: pocketsphinx',
      'architecture: hmm',
      'files: { hmm: hmm, lm: lm.bin, dict: words.dict }',
      'sampleRate: 16000',
      'languages: [en]',
      'capabilities: { nativePartials: true }',
    ].join('\n'),
    'good/hmm/mdef': 'x'.repeat(100),
    'good/hmm/means': 'y'.repeat(28),
    'good/lm.bin': 'lm',
    'good/words.dict': 'hello HH AH L OW\n',
    'gone/theo.yaml': [
      'name: gone',
      'engine: pocketsphinx',
      'architecture: hmm',
      'files: { hmm: /nonexistent/theo/en-us, lm: /nonexistent/theo/en-us.lm.bin, dict: /nonexistent/theo/cmudict.dict }',
      'sampleRate: 16000',
      'languages: [en]',
      'debianPackages: [pocketsphinx-en-us]',
    ].join('\n'),
    'pulled-gone/theo.yaml': [
      'name: pulled-gone',
      'engine: whisper',
      'architecture: encoder-decoder',
      'files: { model: ., encoder: onnx/encoder_model_quantized.onnx }',
      'sampleRate: 16000',
      'languages: [en]',
      'source: { hub: "http://hub", repo: onnx-community/whisper-tiny.en, revision: abc }',
    ].join('\n'),
    'badyaml/theo.yaml': 'name: [unclosed\n',
    'badschema/theo.yaml': 'name: bad schema\nengine: kaldi\n',
    'z-dup/theo.yaml': 'name: good-hmm\nengine: pocketsphinx\narchitecture: hmm\nfiles: { hmm: . }\nsampleRate: 16000\nlanguages: [en]\n',
    'not-a-model/notes.txt': 'just a folder',
    'loose-file.txt': 'ignored',
  });
  // A pulled Whisper folder whose theo.yaml was never written: described from its files (q8 present).
  const whisper = whisperRepoFiles({ alignment: true, onnxBytes: 256 });
  writeTree(join(dir, 'whisper-small'), {
    'config.json': whisper['config.json']!,
    'generation_config.json': whisper['generation_config.json']!,
    'preprocessor_config.json': whisper['preprocessor_config.json']!,
    'tokenizer.json': whisper['tokenizer.json']!,
    'tokenizer_config.json': whisper['tokenizer_config.json']!,
    'onnx/encoder_model_quantized.onnx': whisper['onnx/encoder_model_quantized.onnx']!,
    'onnx/decoder_model_merged_quantized.onnx': whisper['onnx/decoder_model_merged_quantized.onnx']!,
  });
  writeTree(join(dir, 'bert'), { 'config.json': JSON.stringify({ model_type: 'bert' }) });
});

describe('ModelRegistry.scan', () => {
  it('lists the good models and reports each bad manifest with its path and reason', () => {
    const reg = ModelRegistry.scan(dir, { defaultName: 'good-hmm' });
    expect(reg.names()).toEqual(['gone', 'good-hmm', 'pulled-gone', 'whisper-small']);
    const problems = new Map(reg.problems.map((p) => [p.path, p.reason]));
    expect(problems.get(join(dir, 'badyaml/theo.yaml'))).toMatch(/not valid YAML/);
    expect(problems.get(join(dir, 'badschema/theo.yaml'))).toMatch(/invalid model manifest[\s\S]*name: [\s\S]*engine: /);
    expect(problems.get(join(dir, 'z-dup/theo.yaml'))).toMatch(/'good-hmm' is already used by .*good\/theo\.yaml/);
    expect(reg.problems).toHaveLength(3);
  });

  it('marks a model available when its files exist, and resolves relative paths to its folder', () => {
    const m = ModelRegistry.scan(dir).get('good-hmm');
    expect(m.state).toBe('available');
    expect(m.reason).toBeUndefined();
    expect(m.origin).toBe('manifest');
    expect(m.manifestPath).toBe(join(dir, 'good/theo.yaml'));
    expect(m.files.lm).toBe(join(dir, 'good/lm.bin'));
    const files = resolveFiles(m);
    expect(files.find((f) => f.role === 'hmm')).toEqual({ role: 'hmm', path: join(dir, 'good/hmm'), exists: true, kind: 'directory', size: 128 });
    expect(files.find((f) => f.role === 'lm')).toMatchObject({ exists: true, kind: 'file', size: 2 });
  });

  it('marks a model missing, naming the Debian package or the pull that provides its files', () => {
    const reg = ModelRegistry.scan(dir);
    const gone = reg.get('gone');
    expect(gone.state).toBe('missing');
    expect(gone.missingFiles).toHaveLength(3);
    expect(gone.reason).toMatch(/^missing: install Debian package pocketsphinx-en-us/);
    expect(resolveFiles(gone).every((f) => !f.exists && f.kind === 'missing' && f.size === undefined)).toBe(true);
    const pulled = reg.get('pulled-gone');
    expect(pulled.state).toBe('missing');
    expect(pulled.reason).toMatch(/theo pull onnx-community\/whisper-tiny\.en --as pulled-gone/);
  });

  it('describes a Whisper folder without theo.yaml from its config files', () => {
    const m = ModelRegistry.scan(dir).get('whisper-small');
    expect(m.origin).toBe('detected');
    expect(m.manifestPath).toBeUndefined();
    expect(m.state).toBe('available');
    expect(m.manifest).toMatchObject({ engine: 'whisper', architecture: 'encoder-decoder', sampleRate: 16000, languages: ['en', 'zh', 'de', 'es', 'fr'] });
    expect(m.manifest.capabilities).toMatchObject({ translate: true, languageDetection: true, wordTimestamps: true, nativePartials: false });
    expect(m.manifest.defaults.options).toEqual({ dtype: 'q8' });
    expect(m.files.encoder).toBe(join(dir, 'whisper-small/onnx/encoder_model_quantized.onnx'));
  });

  it('throws model_not_found listing the available names, and points at a bad manifest of that name', () => {
    const reg = ModelRegistry.scan(dir);
    let err: unknown;
    try {
      reg.get('nope');
    } catch (e) {
      err = e;
    }
    expect(isTheoErrorCode(err, 'model_not_found')).toBe(true);
    expect((err as Error).message).toBe("model 'nope' not found (available: gone, good-hmm, pulled-gone, whisper-small)");
    // Where it looked and why a folder of that name was skipped are for the operator, not in the message
    // (it reaches API clients).
    expect((err as TheoError).details).toMatchObject({ model: 'nope', dir, available: ['gone', 'good-hmm', 'pulled-gone', 'whisper-small'] });
    let bad: unknown;
    try {
      reg.get('badyaml');
    } catch (e) {
      bad = e;
    }
    expect((bad as Error).message).not.toContain(dir);
    expect((bad as TheoError).details.problem).toMatchObject({ path: join(dir, 'badyaml/theo.yaml'), reason: expect.stringMatching(/^not valid YAML/) as unknown });
  });

  it('echoes at most a short prefix of a long requested name', () => {
    const name = 'x'.repeat(60_000);
    let err: unknown;
    try {
      ModelRegistry.scan(dir).get(name);
    } catch (e) {
      err = e;
    }
    expect(isTheoErrorCode(err, 'model_not_found')).toBe(true);
    const message = (err as Error).message;
    expect(message.length).toBeLessThan(300);
    expect(message).toContain('(60000 characters)');
  });

  it('gives the default model, or model_not_found when it is not there', () => {
    expect(ModelRegistry.scan(dir, { defaultName: 'good-hmm' }).defaultModel().name).toBe('good-hmm');
    expect(() => ModelRegistry.scan(dir, { defaultName: 'absent' }).defaultModel()).toThrow(/model 'absent' not found/);
    expect(() => ModelRegistry.scan(dir).defaultModel()).toThrow(/no default model/);
  });

  it('reports a models folder that does not exist as a problem, with no models', () => {
    const reg = ModelRegistry.scan(join(dir, 'absent'));
    expect(reg.list()).toEqual([]);
    expect(reg.problems[0]?.reason).toMatch(/cannot read the models folder/);
  });

  it("reads the project's own models folder: the PocketSphinx default", () => {
    const reg = ModelRegistry.scan(ROOT_MODELS, { defaultName: 'pocketsphinx-en-us' });
    const m = reg.defaultModel();
    expect(m.manifest.engine).toBe('pocketsphinx');
    expect(m.manifest.debianPackages).toEqual(['pocketsphinx-en-us']);
    if (m.state === 'missing') expect(m.reason).toMatch(/install Debian package pocketsphinx-en-us/);
    else expect(m.missingFiles).toEqual([]);
  });
});
