import { describe, expect, it } from 'vitest';
import { formatTimestamp, formatTranscription, languageName, toSrt, toVtt, WHISPER_LANGUAGES } from '../../../src/api/http/formats.js';
import type { EngineResult, EngineSegment } from '../../../src/engines/engine.js';

function seg(id: number, start: number, end: number, text: string, extra: Partial<EngineSegment> = {}): EngineSegment {
  return { id, start, end, text, tokens: [50364 + id, 2425], temperature: 0, avgLogprob: -0.25, compressionRatio: 1.2, noSpeechProb: 0.01, ...extra };
}

const result: EngineResult = {
  text: ' Hello world. How are you? Fine.',
  language: 'en',
  duration: 3725.4,
  segments: [
    seg(0, 0, 2.5, ' Hello world.', {
      words: [
        { word: ' Hello', start: 0, end: 0.8, probability: 0.9 },
        { word: ' world.', start: 0.9, end: 2.5, probability: 0.8 },
      ],
    }),
    seg(1, 59.9996, 61.0004, '  How are you?'),
    seg(2, 3723.5, 3725.4, ' Fine.', { words: [{ word: ' Fine.', start: 3723.5, end: 3725.4, probability: 0.7 }] }),
  ],
};

describe('formatTimestamp', () => {
  it.each([
    [0, ',', '00:00:00,000'],
    [1.5, '.', '00:00:01.500'],
    [59.9996, ',', '00:01:00,000'], // rounds up across the minute
    [59.9994, ',', '00:00:59,999'],
    [3599.9995, '.', '01:00:00.000'], // and across the hour
    [3723.0456, ',', '01:02:03,046'],
    [36000, ',', '10:00:00,000'],
    [360000.25, ',', '100:00:00,250'],
    [-1, ',', '00:00:00,000'],
    [Number.NaN, '.', '00:00:00.000'],
  ] as const)('%d s with "%s" -> %s', (s, sep, expected) => {
    expect(formatTimestamp(s, sep)).toBe(expected);
  });
});

describe('formatTranscription', () => {
  it('json: text and usage, as OpenAI sends it', () => {
    const out = formatTranscription(result, 'transcribe', 'json', { word: false, segment: true });
    expect(out.contentType).toBe('application/json; charset=utf-8');
    expect(out.body).toEqual({ text: 'Hello world. How are you? Fine.', usage: { type: 'duration', seconds: 3726 } });
  });

  it('json for a translation has no usage (OpenAI Translation is {text})', () => {
    expect(formatTranscription(result, 'translate', 'json', { word: false, segment: true }).body).toEqual({ text: 'Hello world. How are you? Fine.' });
  });

  it('text: plain text and a newline', () => {
    const out = formatTranscription(result, 'transcribe', 'text', { word: false, segment: true });
    expect(out).toEqual({ body: 'Hello world. How are you? Fine.\n', contentType: 'text/plain; charset=utf-8' });
  });

  it('srt: numbered cues, comma milliseconds, trimmed text, a blank line after each cue', () => {
    const out = formatTranscription(result, 'transcribe', 'srt', { word: false, segment: true });
    expect(out.contentType).toBe('text/plain; charset=utf-8');
    expect(out.body).toBe(
      '1\n00:00:00,000 --> 00:00:02,500\nHello world.\n\n' +
        '2\n00:01:00,000 --> 00:01:01,000\nHow are you?\n\n' +
        '3\n01:02:03,500 --> 01:02:05,400\nFine.\n\n',
    );
  });

  it('vtt: WEBVTT header, dot milliseconds, hours always present', () => {
    const out = formatTranscription(result, 'transcribe', 'vtt', { word: false, segment: true });
    expect(out.contentType).toBe('text/vtt; charset=utf-8');
    expect(out.body).toBe(
      'WEBVTT\n\n' +
        '00:00:00.000 --> 00:00:02.500\nHello world.\n\n' +
        '00:01:00.000 --> 00:01:01.000\nHow are you?\n\n' +
        '01:02:03.500 --> 01:02:05.400\nFine.\n\n',
    );
  });

  it('srt and vtt of no segments', () => {
    const empty: EngineResult = { text: '', language: 'en', duration: 1.2, segments: [] };
    expect(formatTranscription(empty, 'transcribe', 'srt', { word: false, segment: true }).body).toBe('');
    expect(formatTranscription(empty, 'transcribe', 'vtt', { word: false, segment: true }).body).toBe('WEBVTT\n\n');
    expect(formatTranscription(empty, 'transcribe', 'text', { word: false, segment: true }).body).toBe('\n');
    expect(formatTranscription(empty, 'transcribe', 'verbose_json', { word: false, segment: true }).body).toEqual({
      task: 'transcribe',
      language: 'english',
      duration: 1.2,
      text: '',
      segments: [],
      usage: { type: 'duration', seconds: 2 },
    });
  });

  it('cue text never contains a blank line, and "-->" cannot start a WebVTT timing line', () => {
    const tricky: EngineResult = { text: 'a b', language: 'en', duration: 1, segments: [seg(0, 0, 1, ' a\n\n b --> c ')] };
    expect(toSrt(tricky.segments)).toBe('1\n00:00:00,000 --> 00:00:01,000\na\nb --> c\n\n');
    expect(toVtt(tricky.segments)).toBe('WEBVTT\n\n00:00:00.000 --> 00:00:01.000\na\nb -> c\n\n');
  });

  it('verbose_json: OpenAI key names, language name, segments with seek', () => {
    const out = formatTranscription(result, 'transcribe', 'verbose_json', { word: false, segment: true });
    expect(out.contentType).toBe('application/json; charset=utf-8');
    const body = out.body as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['task', 'language', 'duration', 'text', 'segments', 'usage']);
    expect(body).toMatchObject({ task: 'transcribe', language: 'english', duration: 3725.4, text: 'Hello world. How are you? Fine.', usage: { type: 'duration', seconds: 3726 } });
    const segments = body.segments as Record<string, unknown>[];
    expect(segments).toHaveLength(3);
    for (const s of segments) expect(Object.keys(s)).toEqual(['id', 'seek', 'start', 'end', 'text', 'tokens', 'temperature', 'avg_logprob', 'compression_ratio', 'no_speech_prob']);
    expect(segments[0]).toEqual({ id: 0, seek: 0, start: 0, end: 2.5, text: ' Hello world.', tokens: [50364, 2425], temperature: 0, avg_logprob: -0.25, compression_ratio: 1.2, no_speech_prob: 0.01 });
    expect(segments.map((s) => s.seek)).toEqual([0, 3000, 372000]);
    expect(body).not.toHaveProperty('words');
  });

  it('verbose_json with word timestamps adds words (trimmed); words alone drop segments', () => {
    const both = formatTranscription(result, 'transcribe', 'verbose_json', { word: true, segment: true }).body as Record<string, unknown>;
    expect(Object.keys(both)).toEqual(['task', 'language', 'duration', 'text', 'segments', 'words', 'usage']);
    expect(both.words).toEqual([
      { word: 'Hello', start: 0, end: 0.8 },
      { word: 'world.', start: 0.9, end: 2.5 },
      { word: 'Fine.', start: 3723.5, end: 3725.4 },
    ]);
    const wordsOnly = formatTranscription(result, 'transcribe', 'verbose_json', { word: true, segment: false }).body as Record<string, unknown>;
    expect(Object.keys(wordsOnly)).toEqual(['task', 'language', 'duration', 'text', 'words', 'usage']);
  });

  it('verbose_json for a translation: task translate, no usage', () => {
    const body = formatTranscription({ ...result, language: 'de' }, 'translate', 'verbose_json', { word: false, segment: true }).body as Record<string, unknown>;
    expect(body.task).toBe('translate');
    expect(body.language).toBe('german');
    expect(body).not.toHaveProperty('usage');
  });
});

describe('languageName', () => {
  it('names every Whisper language and passes unknown codes through', () => {
    expect(Object.keys(WHISPER_LANGUAGES)).toHaveLength(100);
    expect(languageName('en')).toBe('english');
    expect(languageName('EN')).toBe('english');
    expect(languageName('yue')).toBe('cantonese');
    expect(languageName('haw')).toBe('hawaiian');
    expect(languageName('ht')).toBe('haitian creole');
    expect(languageName('jv')).toBe('javanese');
    expect(languageName('nb')).toBe('norwegian');
    expect(languageName('xx')).toBe('xx');
    expect(languageName('constructor')).toBe('constructor');
  });
});
