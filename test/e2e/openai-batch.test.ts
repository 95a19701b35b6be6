// The batch API as OpenAI's own SDK sees it: `theo serve` with the real PocketSphinx worker, real
// recorded speech, every response format, and each error case as the SDK's own error class.
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOUNDS } from '../helpers/audio.js';
import { encodeWav, readWav } from '../../src/audio/wav.js';
import { chain, writeTinyWhisper } from '../helpers/tiny-whisper/index.js';
import { serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

// PocketSphinx's US English model hears this telephone-band prompt right ("Thank you for your patience");
// it mishears hello-world.wav, which the Whisper tests below use.
const SPEECH = `${SOUNDS}/queue-thankyou.wav`;
const HELLO = `${SOUNDS}/hello-world.wav`;
const EXPECTED = ['thank', 'you', 'patience'];
const dir = mkdtempSync(join(tmpdir(), 'theo-openai-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const serve = serveTheo;

async function stop(run: TheoRun | undefined): Promise<void> {
  const done = await stopTheo(run);
  if (done) expect(done.code, done.stderr).toBe(0);
}

/** The `param` of an OpenAI-shaped error body. */
function paramOf(e: APIError): unknown {
  const body = e.error as Record<string, unknown> | undefined;
  return body?.param;
}

function words(text: string): string[] {
  return text.toLowerCase().replace(/[^a-z' ]+/g, ' ').split(/\s+/).filter(Boolean);
}

describe('OpenAI SDK against theo serve (PocketSphinx)', () => {
  let run: TheoRun | undefined;
  let client: OpenAI;
  let url = '';

  beforeAll(async () => {
    ({ run, url } = await serve(['--preload', '--rtp-ports', '42100-42119']));
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'not-checked', maxRetries: 0 });
  }, 180_000);
  afterAll(async () => stop(run));

  it('json: the spoken words of a recorded prompt', async () => {
    const r = await client.audio.transcriptions.create({ file: createReadStream(SPEECH), model: 'pocketsphinx-en-us' });
    expect(words(r.text)).toEqual(expect.arrayContaining(EXPECTED));
  });

  it('text, srt and vtt carry the same words, in their formats', async () => {
    const text = await client.audio.transcriptions.create({ file: createReadStream(SPEECH), model: 'pocketsphinx-en-us', response_format: 'text' });
    expect(typeof text).toBe('string');
    expect(words(text)).toEqual(expect.arrayContaining(EXPECTED));

    const srt = await client.audio.transcriptions.create({ file: createReadStream(SPEECH), model: 'pocketsphinx-en-us', response_format: 'srt' });
    expect(srt).toMatch(/^1\r?\n\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}\r?\n/);
    expect(words(srt)).toEqual(expect.arrayContaining(EXPECTED));

    const vtt = await client.audio.transcriptions.create({ file: createReadStream(SPEECH), model: 'pocketsphinx-en-us', response_format: 'vtt' });
    expect(vtt).toMatch(/^WEBVTT\r?\n\r?\n/);
    expect(vtt).toMatch(/\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}/);
    expect(words(vtt)).toEqual(expect.arrayContaining(EXPECTED));
  });

  it('verbose_json: language, duration, segments and word timestamps', async () => {
    const r = await client.audio.transcriptions.create({
      file: createReadStream(SPEECH),
      model: 'pocketsphinx-en-us',
      response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'],
    });
    expect(r.language).toBe('english');
    const seconds = readFileSync(SPEECH).length / 16000; // 8 kHz 16-bit mono, header ignored
    expect(r.duration).toBeGreaterThan(seconds - 0.1);
    expect(r.duration).toBeLessThan(seconds + 0.1);
    expect(r.segments?.length).toBeGreaterThan(0);
    for (const s of r.segments ?? []) {
      expect(s.end).toBeGreaterThanOrEqual(s.start);
      expect(s.end).toBeLessThanOrEqual(r.duration + 0.05);
    }
    const ws = r.words ?? [];
    expect(ws.map((w) => w.word.toLowerCase())).toEqual(expect.arrayContaining(EXPECTED));
    for (let i = 1; i < ws.length; i++) expect(ws[i]!.start).toBeGreaterThanOrEqual(ws[i - 1]!.start);
    // Times are from the start of this file, whatever the worker decoded before it.
    expect(ws[0]!.start).toBeLessThan(0.3);
    for (const w of ws) expect(w.end).toBeGreaterThan(w.start);
    expect(ws.at(-1)!.end).toBeLessThan(r.duration);
  });

  // The conversions (MP3 at 22 kHz, 44.1 kHz stereo) change the signal slightly and PocketSphinx is
  // sensitive to that: "patience" sometimes becomes "case". The opening words survive every path.
  it('decodes MP3 and 44.1 kHz stereo WAV uploads to the spoken words', async () => {
    const mp3 = join(dir, 'thankyou.mp3');
    const wav = join(dir, 'thankyou-44k-stereo.wav');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', SPEECH, '-ar', '22050', '-b:a', '64k', mp3]);
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', SPEECH, '-ar', '44100', '-ac', '2', wav]);
    for (const f of [mp3, wav]) {
      const r = await client.audio.transcriptions.create({ file: await toFile(readFileSync(f), f.split('/').at(-1)), model: 'pocketsphinx-en-us' });
      expect(words(r.text), f).toEqual(expect.arrayContaining(['thank', 'you']));
    }
  });

  it('the default model answers when the request names the configured default', async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toContain('pocketsphinx-en-us');
  });

  it('errors arrive as the SDK error classes with the right status', async () => {
    const file = (): ReturnType<typeof createReadStream> => createReadStream(SPEECH);
    await expect(client.audio.transcriptions.create({ file: file(), model: 'no-such-model' })).rejects.toSatisfy(
      (e: unknown) => e instanceof NotFoundError && e.status === 404 && /no-such-model/.test(e.message),
    );
    await expect(client.audio.transcriptions.create({ file: file(), model: 'pocketsphinx-en-us', response_format: 'mp4' as 'json' })).rejects.toSatisfy(
      (e: unknown) => e instanceof BadRequestError && paramOf(e) === 'response_format',
    );
    await expect(client.audio.transcriptions.create({ file: file(), model: 'pocketsphinx-en-us', temperature: 3 })).rejects.toBeInstanceOf(BadRequestError);
    await expect(client.audio.transcriptions.create({ file: await toFile(Buffer.from('this is not audio at all'), 'notes.txt'), model: 'pocketsphinx-en-us' })).rejects.toSatisfy(
      (e: unknown) => e instanceof BadRequestError && paramOf(e) === 'file',
    );
    await expect(client.audio.translations.create({ file: file(), model: 'pocketsphinx-en-us' })).rejects.toSatisfy(
      (e: unknown) => e instanceof BadRequestError && /cannot translate/.test(e.message),
    );
    // Still serving after all of that.
    const r = await client.audio.transcriptions.create({ file: file(), model: 'pocketsphinx-en-us' });
    expect(words(r.text)).toContain('patience');
  });
});

describe('a worker crash during a request', () => {
  let run: TheoRun | undefined;
  let url = '';
  beforeAll(async () => {
    ({ run, url } = await serve(['--preload', '--rtp-ports', '42160-42179']));
  }, 180_000);
  afterAll(async () => stop(run));

  interface Health {
    components: { workers: { in_flight: Record<string, number>; workers: Array<{ model: string; state: string; pid?: number; restarts: number }> } };
  }
  const health = async (): Promise<Health> => (await (await fetch(`${url}/health`)).json()) as Health;
  const until = async (what: string, ok: (h: Health) => boolean): Promise<Health> => {
    for (let i = 0; i < 600; i++) {
      const h = await health();
      if (ok(h)) return h;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  it('fails the request with a clear 503, restarts the worker, and the next request succeeds', async () => {
    // About 60 s of real speech (consecutive prompts): long enough to be mid-inference when the worker dies.
    const parts = ['queue-thankyou', 'tt-weasels', 'hello-world', 'vm-goodbye', 'queue-thankyou', 'tt-weasels', 'hello-world', 'queue-thankyou'];
    const pcm = parts.flatMap((p) => Array.from(readWav(readFileSync(`${SOUNDS}/${p}.wav`)).samples));
    const long = new Int16Array(60 * 8000);
    for (let at = 0; at < long.length; at += pcm.length) long.set(pcm.slice(0, Math.min(pcm.length, long.length - at)), at);
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: long });

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
    const pending = client.audio.transcriptions.create({ file: await toFile(wav, 'long.wav'), model: 'pocketsphinx-en-us' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const before = await until('the request to reach the worker', (h) => (h.components.workers.in_flight['pocketsphinx-en-us'] ?? 0) > 0);
    const worker = before.components.workers.workers.find((w) => w.model === 'pocketsphinx-en-us')!;
    expect(worker.state).toBe('serving');
    await new Promise((r) => setTimeout(r, 300)); // the audio is on the wire to the worker
    process.kill(worker.pid!, 'SIGKILL');

    const err = await pending;
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(503);
    expect((err as APIError).message).toMatch(/worker/i);

    // A fresh process: it has a pid (a dead child reports none) and it is not the one killed.
    const fresh = (h: Health): Health['components']['workers']['workers'][number] | undefined =>
      h.components.workers.workers.find((w) => w.model === 'pocketsphinx-en-us' && w.state === 'serving' && w.pid !== undefined && w.pid !== worker.pid);
    const after = await until('the worker to serve again', (h) => fresh(h) !== undefined);
    expect(fresh(after)!.restarts).toBeGreaterThanOrEqual(1);
    const r = await client.audio.transcriptions.create({ file: createReadStream(SPEECH), model: 'pocketsphinx-en-us' });
    expect(words(r.text)).toEqual(expect.arrayContaining(['thank', 'you']));
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^theo_worker_restarts_total\{model="pocketsphinx-en-us"\} [1-9]/m);
    expect(metrics).toMatch(/^theo_worker_up\{model="pocketsphinx-en-us"\} 1$/m);
  });
});

describe('limits, keys and unavailable workers', () => {
  let run: TheoRun | undefined;
  let url = '';
  beforeAll(async () => {
    const cfg = join(dir, 'limits.yaml');
    // A remote worker that is never there: its model stays unavailable (503 with Retry-After).
    writeFileSync(
      cfg,
      [
        'api:',
        '  apiKey: sk-theo-test',
        '  maxUploadBytes: 65536',
        'batch:',
        '  modelWaitMs: 1000',
        'workers:',
        '  remote:',
        '    - model: pocketsphinx-en-us',
        '      address: 127.0.0.1:9',
        'rtp:',
        '  portMin: 42120',
        '  portMax: 42139',
        '',
      ].join('\n'),
    );
    ({ run, url } = await serve(['--config', cfg]));
  }, 60_000);
  afterAll(async () => stop(run));

  it('401 without the key or with a wrong one', async () => {
    const wrong = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    await expect(wrong.audio.transcriptions.create({ file: createReadStream(HELLO), model: 'pocketsphinx-en-us' })).rejects.toBeInstanceOf(AuthenticationError);
    const bare = await fetch(`${url}/v1/models`);
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    // /health stays open for probes.
    expect((await fetch(`${url}/health`)).status).toBeLessThan(600);
  });

  it('413 for an upload over the limit, refused while it streams in', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-theo-test', maxRetries: 0 });
    const big = Buffer.alloc(300_000, 0x7f);
    await expect(client.audio.transcriptions.create({ file: await toFile(big, 'big.wav'), model: 'pocketsphinx-en-us' })).rejects.toSatisfy(
      (e: unknown) => e instanceof APIError && e.status === 413 && /limit of 65536 bytes/.test(e.message),
    );
  });

  it('503 with Retry-After while the model has no serving worker', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-theo-test', maxRetries: 0 });
    const err = await client.audio.transcriptions.create({ file: createReadStream(HELLO), model: 'pocketsphinx-en-us' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(APIError);
    const api = err as APIError;
    expect(api.status).toBe(503);
    expect(Number(api.headers?.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('OpenAI SDK against theo serve (Whisper engine, a generated tiny model)', () => {
  let run: TheoRun | undefined;
  let client: OpenAI;
  let url = '';
  beforeAll(async () => {
    const models = join(dir, 'models');
    // The tiny decoder ignores the audio and follows its script: French when asked to detect, English
    // when asked to translate. It exercises the real loading, features, decoding and tokenizer paths.
    await writeTinyWhisper(join(models, 'tiny-whisper'), {
      script: {
        '<|startoftranscript|>': '<|fr|>',
        ...chain('<|transcribe|>', '<|0.00|>', ' bonjour', ' le', ' monde', '<|1.00|>', '<|endoftext|>'),
        ...chain('<|translate|>', '<|0.20|>', ' hello', ' world', '<|0.80|>', '<|endoftext|>'),
      },
    });
    writeFileSync(
      join(models, 'tiny-whisper', 'theo.yaml'),
      [
        'name: tiny-whisper',
        'engine: whisper',
        'architecture: encoder-decoder',
        'files: { model: . }',
        'sampleRate: 16000',
        'languages: [en, fr, de, es]',
        'capabilities: { translate: true, segmentTimestamps: true, languageDetection: true, hotWords: true }',
        'defaults: { options: { dtype: fp32 } }',
        '',
      ].join('\n'),
    );
    const cfg = join(dir, 'whisper.yaml');
    writeFileSync(cfg, `models:\n  dir: ${models}\n  default: tiny-whisper\nrtp:\n  portMin: 42140\n  portMax: 42159\n`);
    ({ run, url } = await serve(['--preload', '--config', cfg]));
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
  }, 180_000);
  afterAll(async () => stop(run));

  it('transcription detects the language and returns verbose_json segments', async () => {
    const r = await client.audio.transcriptions.create({ file: createReadStream(HELLO), model: 'tiny-whisper', response_format: 'verbose_json' });
    expect(r.text).toBe('bonjour le monde');
    expect(r.language).toBe('french');
    expect(r.segments?.map((s) => [s.start, s.end])).toEqual([[0, 1]]);
    const seg = r.segments![0]!;
    expect(seg.avg_logprob).toBeLessThanOrEqual(0);
    expect(seg.compression_ratio).toBeGreaterThan(0);
    expect(seg.no_speech_prob).toBeGreaterThanOrEqual(0);
  });

  it('translation returns English text, in json and srt', async () => {
    const r = await client.audio.translations.create({ file: createReadStream(HELLO), model: 'tiny-whisper' });
    expect(r.text).toBe('hello world');
    const srt = await client.audio.translations.create({ file: createReadStream(HELLO), model: 'tiny-whisper', response_format: 'srt' });
    expect(srt).toBe('1\n00:00:00,200 --> 00:00:00,800\nhello world\n\n');
  });

  it('takes Theo extras (hot_words, itn) next to the OpenAI fields', async () => {
    const form = new FormData();
    form.set('file', new Blob([readFileSync(HELLO)], { type: 'audio/wav' }), 'hello.wav');
    form.set('model', 'tiny-whisper');
    form.set('language', 'fr');
    form.set('hot_words', 'Theo, Asterisk');
    form.set('itn', 'true');
    const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(((await res.json()) as { text: string }).text).toBe('bonjour le monde');
  });

  it('a language the model does not know is a 400 naming the parameter', async () => {
    await expect(client.audio.transcriptions.create({ file: createReadStream(HELLO), model: 'tiny-whisper', language: 'pt' })).rejects.toSatisfy(
      (e: unknown) => e instanceof BadRequestError && paramOf(e) === 'language',
    );
  });
});
