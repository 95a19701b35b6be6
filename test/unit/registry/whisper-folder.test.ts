// The manifest a Whisper export implies: files per dtype, languages from lang_to_id, capabilities.
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/registry/manifest.js';
import { availableDtypes, manifestYaml, whisperFilesFor, whisperLanguages, whisperManifest } from '../../../src/registry/whisper-folder.js';

describe('whisper folder', () => {
  it('names the files of each dtype with the transformers.js suffixes', () => {
    expect(whisperFilesFor('q8').slice(-2)).toEqual(['onnx/encoder_model_quantized.onnx', 'onnx/decoder_model_merged_quantized.onnx']);
    expect(whisperFilesFor('fp16').slice(-2)).toEqual(['onnx/encoder_model_fp16.onnx', 'onnx/decoder_model_merged_fp16.onnx']);
    expect(whisperFilesFor('q4').slice(-2)).toEqual(['onnx/encoder_model_q4.onnx', 'onnx/decoder_model_merged_q4.onnx']);
    expect(whisperFilesFor('fp32').slice(-2)).toEqual(['onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx']);
    expect(whisperFilesFor('fp32').slice(0, 5)).toEqual(['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(availableDtypes(['onnx/encoder_model_fp16.onnx', 'onnx/decoder_model_merged_fp16.onnx', 'onnx/encoder_model_q4.onnx'])).toEqual(['fp16']);
  });

  it('reads languages in token order; an English-only model has en', () => {
    expect(whisperLanguages({ is_multilingual: true, lang_to_id: { '<|fr|>': 50265, '<|en|>': 50259, '<|haw|>': 50351, junk: 1 } })).toEqual(['en', 'fr', 'haw']);
    expect(whisperLanguages({ is_multilingual: false })).toEqual(['en']);
    expect(whisperLanguages({})).toEqual(['en']);
  });

  it('declares translate/detection for multilingual models and word timestamps with alignment heads', () => {
    const multi = whisperManifest({ name: 'w', config: { model_type: 'whisper' }, generationConfig: { is_multilingual: true, lang_to_id: { '<|en|>': 1, '<|de|>': 2 }, alignment_heads: [[1, 0]] }, dtype: 'q8' });
    expect(multi.capabilities).toEqual({ nativePartials: false, translate: true, segmentTimestamps: true, wordTimestamps: true, hotWords: true, languageDetection: true });
    expect(multi.defaults).toEqual({ options: { dtype: 'q8' } });
    const en = whisperManifest({ name: 'w.en', config: { model_type: 'whisper' }, generationConfig: { is_multilingual: false }, dtype: 'fp16', source: { hub: 'http://h', repo: 'o/w.en', revision: 'abc' } });
    expect(en.capabilities).toMatchObject({ translate: false, languageDetection: false, wordTimestamps: false });
    expect(en.defaults).toEqual({ language: 'en', options: { dtype: 'fp16' } });
    expect(en.files.encoder).toBe('onnx/encoder_model_fp16.onnx');
    // The YAML round-trips through the manifest parser.
    const entry = parseManifest(manifestYaml(en, 'header\nsecond line'), '/models/w.en/theo.yaml');
    expect(entry.manifest).toEqual(en);
    expect(entry.files.model).toBe('/models/w.en');
  });
});
