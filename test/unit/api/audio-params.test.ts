import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/api/http/api-error.js';
import { checkCapabilities, parseAudioParams } from '../../../src/api/http/audio-params.js';
import type { EngineCapabilities } from '../../../src/engines/engine.js';

const form = (o: Record<string, string | string[]>): Map<string, string[]> => new Map(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

function rejects(fn: () => unknown, param: string, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(400);
    expect(e.param).toBe(param);
    expect(e.message).toMatch(message);
    return;
  }
  throw new Error('expected a rejection');
}

const caps: EngineCapabilities = {
  architecture: 'hmm',
  nativePartials: true,
  languages: ['en'],
  translate: false,
  segmentTimestamps: true,
  wordTimestamps: false,
  hotWords: false,
  languageDetection: false,
  sampleRate: 16000,
};

describe('batch API form fields', () => {
  it('defaults: json, temperature 0, segment timestamps', () => {
    const p = parseAudioParams(form({ model: 'm' }), 'transcribe');
    expect(p).toMatchObject({ model: 'm', responseFormat: 'json', temperature: 0, granularities: { word: false, segment: true }, hotWords: [], itn: undefined, preprocess: undefined, denoise: undefined });
  });

  it('reads every field the OpenAI SDK sends, and Theo extras', () => {
    const p = parseAudioParams(
      form({ model: 'm', language: 'EN', prompt: 'p', response_format: 'verbose_json', temperature: '0.4', 'timestamp_granularities[]': ['word', 'segment'], hot_words: 'Theo, Asterisk', itn: 'true', preprocess: 'false', denoise: 'auto' }),
      'transcribe',
    );
    expect(p).toMatchObject({ language: 'en', prompt: 'p', responseFormat: 'verbose_json', temperature: 0.4, granularities: { word: true, segment: true }, hotWords: ['Theo', 'Asterisk'], itn: true, preprocess: false, denoise: 'auto' });
  });

  it('names the parameter of each bad value', () => {
    rejects(() => parseAudioParams(form({ response_format: 'mp4' }), 'transcribe'), 'response_format', /one of json, verbose_json, text, srt, vtt/);
    rejects(() => parseAudioParams(form({ temperature: '2' }), 'transcribe'), 'temperature', /between 0 and 1/);
    rejects(() => parseAudioParams(form({ temperature: '' }), 'transcribe'), 'temperature', /between 0 and 1/);
    rejects(() => parseAudioParams(form({ language: 'english' }), 'transcribe'), 'language', /ISO-639-1/);
    rejects(() => parseAudioParams(form({ language: 'en' }), 'translate'), 'language', /always English/);
    rejects(() => parseAudioParams(form({ 'timestamp_granularities[]': 'word' }), 'transcribe'), 'timestamp_granularities[]', /verbose_json/);
    rejects(() => parseAudioParams(form({ response_format: 'verbose_json', 'timestamp_granularities[]': 'char' }), 'transcribe'), 'timestamp_granularities[]', /'word' and 'segment'/);
    rejects(() => parseAudioParams(form({ model: ['a', 'b'] }), 'transcribe'), 'model', /given 2 times/);
    rejects(() => parseAudioParams(form({ colour: 'red' }), 'transcribe'), 'colour', /unknown parameter/);
    rejects(() => parseAudioParams(form({ stream: 'true' }), 'transcribe'), 'stream', /realtime/);
    rejects(() => parseAudioParams(form({ itn: 'yes' }), 'transcribe'), 'itn', /'true' or 'false'/);
    rejects(() => parseAudioParams(form({ preprocess: '1' }), 'transcribe'), 'preprocess', /'true' or 'false'/);
    rejects(() => parseAudioParams(form({ denoise: 'on' }), 'transcribe'), 'denoise', /'true', 'false' or 'auto'/);
    rejects(() => parseAudioParams(form({ hot_words: 'x'.repeat(101) }), 'transcribe'), 'hot_words', /at most 100 characters/);
  });

  it('echoes at most a short prefix of a long bad value', () => {
    const long = 'z'.repeat(60_000);
    const fields: Array<[string, Record<string, string | string[]>]> = [
      ['language', { language: long }],
      ['response_format', { response_format: long }],
      ['temperature', { temperature: long }],
      ['timestamp_granularities[]', { response_format: 'verbose_json', 'timestamp_granularities[]': long }],
      ['itn', { itn: long }],
      ['denoise', { denoise: long }],
      [long, { [long]: 'x' }],
    ];
    for (const [param, fieldsOf] of fields) {
      try {
        parseAudioParams(form(fieldsOf), 'transcribe');
        throw new Error(`${param.slice(0, 20)}: expected a rejection`);
      } catch (err) {
        expect(err).toBeInstanceOf(ApiError);
        const e = err as ApiError;
        expect(e.message.length, param.slice(0, 20)).toBeLessThan(300);
        expect(e.message).toContain('(60000 characters)');
        expect((e.param ?? '').length).toBeLessThan(300);
      }
    }
  });

  it('a field without a name (busboy reports name="" as undefined) is a 400 that says so, not a 500', () => {
    for (const name of [undefined, '']) {
      const fields = new Map<string, string[]>([[name as unknown as string, ['x']]]);
      try {
        parseAudioParams(fields, 'transcribe');
        throw new Error('expected a rejection');
      } catch (err) {
        expect(err).toBeInstanceOf(ApiError);
        expect(err).toMatchObject({ status: 400, code: 'unknown_parameter', message: expect.stringMatching(/has no name/) as string });
      }
    }
  });

  it('rejects what the model cannot do', () => {
    const p = (o: Record<string, string | string[]>): ReturnType<typeof parseAudioParams> => parseAudioParams(form(o), 'transcribe');
    rejects(() => checkCapabilities(p({ language: 'fr' }), 'transcribe', 'ps', caps), 'language', /does not know language 'fr'/);
    rejects(() => checkCapabilities(p({}), 'translate', 'ps', caps), 'model', /cannot translate/);
    rejects(() => checkCapabilities(p({ response_format: 'verbose_json', 'timestamp_granularities[]': 'word' }), 'transcribe', 'ps', caps), 'timestamp_granularities[]', /no word timestamps/);
    // hot words are corrected after recognition for every model, so none is rejected for them
    expect(() => checkCapabilities(p({ hot_words: 'Theo' }), 'transcribe', 'ps', caps)).not.toThrow();
    expect(() => checkCapabilities(p({ language: 'en' }), 'transcribe', 'ps', caps)).not.toThrow();
  });
});
