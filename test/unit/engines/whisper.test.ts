// The whisper engine end to end on tiny scripted models generated offline (test/helpers/tiny-whisper):
// real tokenizer, feature extractor and onnxruntime sessions; only the "weights" are a script.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Engine, TranscribeOptions } from '../../../src/engines/engine.js';
import { type WhisperEngine, createWhisperEngine } from '../../../src/engines/whisper/engine.js';
import { DecoderState } from '../../../src/engines/whisper/runtime.js';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import { type TinyWhisperModel, chain, writeTinyWhisper } from '../../helpers/tiny-whisper/index.js';

const SR = 16000;
const silence = (seconds: number): Float32Array => {
  // Faint noise rather than zeros, like a telephone line.
  const a = new Float32Array(Math.round(seconds * SR));
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.05) * 0.01;
  return a;
};
const opts = (o: Partial<TranscribeOptions> = {}): TranscribeOptions => ({ task: 'transcribe', hotWords: [], temperature: 0, wordTimestamps: false, ...o });

/** en: two segments; translate: another text; no language: detects en. */
const MULTI_SCRIPT = {
  '<|startoftranscript|>': '<|en|>',
  ...chain('<|transcribe|>', '<|0.00|>', ' hello', ' world', '<|1.00|>', '<|1.50|>', ' good', ' bye', '<|2.50|>', '<|endoftext|>'),
  ...chain('<|translate|>', '<|0.20|>', ' hi', ' there', '<|0.80|>', '<|endoftext|>'),
};

let root: string;
const engines: WhisperEngine[] = [];
let lastModel: TinyWhisperModel;
async function engineFor(name: string, options: Parameters<typeof writeTinyWhisper>[1]): Promise<WhisperEngine> {
  const m = await writeTinyWhisper(join(root, name), options);
  lastModel = m;
  const engine = createWhisperEngine({ dir: m.dir, threads: 1 });
  engines.push(engine);
  await engine.load();
  return engine;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'theo-whisper-'));
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await rm(root, { recursive: true, force: true });
});

describe('whisper engine on a multilingual tiny model', () => {
  let engine: WhisperEngine;
  let model: TinyWhisperModel;
  beforeAll(async () => {
    engine = await engineFor('multi', { script: MULTI_SCRIPT, words: [' acme', ' widgets'] });
    model = lastModel;
  });

  it('declares its capabilities from the folder', () => {
    expect(engine.name).toBe('whisper');
    expect(engine.capabilities).toEqual({
      architecture: 'encoder-decoder',
      nativePartials: false,
      languages: ['en', 'fr', 'de', 'es'],
      translate: true,
      segmentTimestamps: true,
      wordTimestamps: false,
      hotWords: true,
      languageDetection: true,
      sampleRate: 16000,
    });
    expect('openStream' in (engine as Engine)).toBe(false);
  });

  it('transcribes the scripted text into timestamped segments', async () => {
    const r = await engine.transcribe(silence(5), opts({ language: 'en' }));
    expect(r.text).toBe('hello world good bye');
    expect(r.language).toBe('en');
    expect(r.duration).toBe(5);
    expect(r.segments.map((s) => [s.id, s.start, s.end, s.text])).toEqual([
      [0, 0, 1, ' hello world'],
      [1, 1.5, 2.5, ' good bye'],
    ]);
    for (const s of r.segments) {
      expect(s.tokens.length).toBeGreaterThan(2);
      expect(s.temperature).toBe(0);
      expect(s.avgLogprob).toBeLessThanOrEqual(0);
      expect(s.avgLogprob).toBeGreaterThan(-1);
      expect(s.compressionRatio).toBeGreaterThan(0);
      expect(s.noSpeechProb).toBeGreaterThanOrEqual(0);
      expect(s.noSpeechProb).toBeLessThanOrEqual(1);
      expect(s.words).toBeUndefined();
    }
    expect(r.confidence).toBeGreaterThan(0.9);
  });

  it('selects <|translate|> for the translate task', async () => {
    const r = await engine.transcribe(silence(3), opts({ language: 'en', task: 'translate' }));
    expect(r.text).toBe('hi there');
    expect(r.segments.map((s) => [s.start, s.end])).toEqual([[0.2, 0.8]]);
  });

  it('detects the language when none is given', async () => {
    const r = await engine.transcribe(silence(2), opts());
    expect(r.language).toBe('en');
    expect(r.text).toBe('hello world good bye');
  });

  it('feeds the prompt and hot words as <|startofprev|> context', async () => {
    const step = vi.spyOn(DecoderState.prototype, 'step');
    try {
      const r = await engine.transcribe(silence(3), opts({ language: 'en', prompt: 'acme widgets', hotWords: ['acme'] }));
      expect(r.text).toBe('hello world good bye');
      const id = (t: string): number => model.ids.get(t)!;
      expect(step.mock.calls[0]![0]).toEqual([id('<|startofprev|>'), id(' acme'), id(' widgets'), id(' acme'), id('<|startoftranscript|>'), id('<|en|>'), id('<|transcribe|>')]);
    } finally {
      step.mockRestore();
    }
  });

  it('samples at a temperature above 0', async () => {
    const r = await engine.transcribe(silence(2), opts({ language: 'en', temperature: 0.7 }));
    expect(r.text).toBe('hello world good bye');
    expect(r.segments[0]!.temperature).toBe(0.7);
  });

  it('chunks audio longer than 30 s and times segments across the boundary', async () => {
    const r = await engine.transcribe(silence(45), opts({ language: 'en' }));
    expect(r.duration).toBe(45);
    expect(r.segments.map((s) => [s.start, s.end, s.text])).toEqual([
      [0, 1, ' hello world'],
      [1.5, 2.5, ' good bye'],
      [30, 31, ' hello world'],
      [31.5, 32.5, ' good bye'],
    ]);
    expect(r.segments.map((s) => s.id)).toEqual([0, 1, 2, 3]);
  });

  it('rejects languages and options the model does not have', async () => {
    await expect(engine.transcribe(silence(1), opts({ language: 'ja' }))).rejects.toSatisfy((e) => isTheoErrorCode(e, 'invalid_argument'));
    await expect(engine.transcribe(silence(1), opts({ temperature: -1 }))).rejects.toSatisfy((e) => isTheoErrorCode(e, 'invalid_argument'));
  });

  it('rejects with cancelled when the signal aborts', async () => {
    const before = new AbortController();
    before.abort();
    await expect(engine.transcribe(silence(2), opts({ language: 'en', signal: before.signal }))).rejects.toSatisfy((e) => isTheoErrorCode(e, 'cancelled'));

    const during = new AbortController();
    const pending = engine.transcribe(silence(45), opts({ language: 'en', signal: during.signal }));
    during.abort();
    await expect(pending).rejects.toSatisfy((e) => isTheoErrorCode(e, 'cancelled'));
    // The engine still works afterwards.
    expect((await engine.transcribe(silence(3), opts({ language: 'en' }))).text).toBe('hello world good bye');
  });
});

describe('whisper engine language detection', () => {
  it('returns the scripted language and decodes in it', async () => {
    const engine = await engineFor('fr', {
      script: { '<|startoftranscript|>': '<|fr|>', ...chain('<|transcribe|>', '<|0.00|>', ' bonjour', '<|0.60|>', '<|endoftext|>') },
    });
    const r = await engine.transcribe(silence(2), opts());
    expect(r.language).toBe('fr');
    expect(r.text).toBe('bonjour');
  });
});

describe('whisper engine on an English-only model', () => {
  it('decodes without language or task tokens', async () => {
    const engine = await engineFor('en', { multilingual: false, script: chain('<|startoftranscript|>', '<|0.00|>', ' yes', '<|0.40|>', '<|endoftext|>') });
    expect(engine.capabilities.languages).toEqual(['en']);
    expect(engine.capabilities.translate).toBe(false);
    expect(engine.capabilities.languageDetection).toBe(false);
    const r = await engine.transcribe(silence(1), opts());
    expect(r).toMatchObject({ text: 'yes', language: 'en' });
    await expect(engine.transcribe(silence(1), opts({ task: 'translate' }))).rejects.toSatisfy((e) => isTheoErrorCode(e, 'invalid_argument'));
  });
});

describe('whisper word timestamps', () => {
  it('aligns words with the alignment heads when asked', async () => {
    const engine = await engineFor('words', {
      alignment: true,
      script: { '<|startoftranscript|>': '<|en|>', ...chain('<|transcribe|>', '<|0.00|>', ' one', ' two', ' three', '<|2.00|>', '<|endoftext|>') },
      // Frame (20 ms) each fed token attends to: ' one' is fed after it is spoken, so its peak marks the next word.
      frames: { '<|0.00|>': 10, ' one': 40, ' two': 70, ' three': 95 },
    });
    expect(engine.capabilities.wordTimestamps).toBe(true);
    const r = await engine.transcribe(silence(3), opts({ language: 'en', wordTimestamps: true }));
    const words = r.segments.flatMap((s) => s.words ?? []);
    expect(words.map((w) => w.word)).toEqual([' one', ' two', ' three']);
    for (const w of words) {
      expect(w.start).toBeGreaterThanOrEqual(0);
      expect(w.end).toBeGreaterThanOrEqual(w.start);
      expect(w.end).toBeLessThanOrEqual(2);
      expect(w.probability).toBeGreaterThan(0.9);
    }
    expect(words[0]!.start).toBeLessThanOrEqual(words[1]!.start);
    expect(words[1]!.start).toBeLessThanOrEqual(words[2]!.start);
    const plain = await engine.transcribe(silence(3), opts({ language: 'en' }));
    expect(plain.segments[0]!.words).toBeUndefined();
  });
});

describe('whisper engine errors and lifecycle', () => {
  const script = chain('<|startoftranscript|>', '<|en|>');

  it('rejects a folder with missing files as model_invalid', async () => {
    const m = await writeTinyWhisper(join(root, 'missing'), { script, omit: ['onnx/decoder_model_merged.onnx'] });
    const engine = createWhisperEngine({ dir: m.dir });
    await expect(engine.load()).rejects.toSatisfy((e) => isTheoErrorCode(e, 'model_invalid') && /decoder_model_merged\.onnx/.test((e as Error).message));
    const noTok = await writeTinyWhisper(join(root, 'no-tokenizer'), { script, omit: ['tokenizer.json'] });
    await expect(createWhisperEngine({ dir: noTok.dir }).load()).rejects.toSatisfy((e) => isTheoErrorCode(e, 'model_invalid'));
  });

  it('rejects a bad config as model_invalid', async () => {
    const m = await writeTinyWhisper(join(root, 'bad-config'), { script });
    await writeFile(join(m.dir, 'config.json'), JSON.stringify({ model_type: 'wav2vec2' }));
    await expect(createWhisperEngine({ dir: m.dir }).load()).rejects.toSatisfy((e) => isTheoErrorCode(e, 'model_invalid') && /model_type/.test((e as Error).message));
    await writeFile(join(m.dir, 'config.json'), '{ not json');
    await expect(createWhisperEngine({ dir: m.dir }).load()).rejects.toSatisfy((e) => isTheoErrorCode(e, 'model_invalid'));
  });

  it('rejects a corrupt ONNX file as model_invalid', async () => {
    const m = await writeTinyWhisper(join(root, 'corrupt'), { script });
    await writeFile(join(m.dir, 'onnx/encoder_model.onnx'), 'not a model');
    await expect(createWhisperEngine({ dir: m.dir }).load()).rejects.toSatisfy((e) => isTheoErrorCode(e, 'model_invalid'));
  });

  it('reports a missing folder as model_not_found and bad options as invalid_argument', async () => {
    await expect(createWhisperEngine({ dir: join(root, 'nope') }).load()).rejects.toSatisfy((e) => isTheoErrorCode(e, 'model_not_found'));
    expect(() => createWhisperEngine({ dir: root, dtype: 'fp64' })).toThrow(/dtype/);
    expect(() => createWhisperEngine({ dir: root, device: 'tpu' })).toThrow(/device/);
  });

  it('close is safe twice and rejects later work', async () => {
    const m = await writeTinyWhisper(join(root, 'close'), { script: MULTI_SCRIPT });
    const engine = createWhisperEngine({ dir: m.dir });
    await engine.load();
    await engine.load(); // idempotent
    await engine.close();
    await engine.close();
    await expect(engine.transcribe(silence(1), opts({ language: 'en' }))).rejects.toSatisfy((e) => isTheoErrorCode(e, 'closed'));
  });

  it('close during a transcription rejects it with closed', async () => {
    const m = await writeTinyWhisper(join(root, 'close-busy'), { script: MULTI_SCRIPT });
    const engine = createWhisperEngine({ dir: m.dir });
    await engine.load();
    const pending = engine.transcribe(silence(45), opts({ language: 'en' }));
    const closing = engine.close();
    await expect(pending).rejects.toSatisfy((e) => isTheoErrorCode(e, 'closed'));
    await closing;
  });
});
