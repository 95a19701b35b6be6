// Preprocessing and post-processing through the batch API, against `theo serve` with the real PocketSphinx
// worker: uploads at 44.1 kHz and 8 kHz with the chain on, the per-request toggles, the telephony tag,
// hot word correction and ITN of finals, the metrics, and the awkward inputs (silence, clipping, NaN
// samples, 4 kHz and 192 kHz, six channels) each handled with a clear answer.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/audio/wav.js';
import { inverseNormalize } from '../../src/postprocess/itn.js';
import { SOUNDS, readSpeech } from '../helpers/audio.js';
import { serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const SPEECH = `${SOUNDS}/queue-thankyou.wav`;
const dir = mkdtempSync(join(tmpdir(), 'theo-pre-'));

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

function words(text: unknown): string[] {
  return String(text).toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').split(/\s+/).filter(Boolean);
}

/** A float32 WAV (format tag 3) of the given mono samples, NaN and Infinity included as they are. */
function floatWav(samples: Float32Array, rate: number): Buffer {
  const out = Buffer.alloc(44 + samples.length * 4);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + samples.length * 4, 4);
  out.write('WAVEfmt ', 8, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(3, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 4, 28);
  out.writeUInt16LE(4, 32);
  out.writeUInt16LE(32, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(samples.length * 4, 40);
  for (let i = 0; i < samples.length; i++) out.writeFloatLE(samples[i]!, 44 + i * 4);
  return out;
}

/** The prompt through sox at another rate / channel count. */
function converted(name: string, args: string[]): Buffer {
  const out = join(dir, name);
  execFileSync('sox', [SPEECH, ...args, out]);
  return readFileSync(out);
}

describe('preprocessing and post-processing through the batch API', () => {
  let run: TheoRun | undefined;
  let url = '';

  async function transcribe(bytes: Buffer, fields: Record<string, string> = {}, name = 'audio.wav'): Promise<Answer> {
    const form = new FormData();
    form.append('file', new Blob([bytes]), name);
    form.append('model', 'pocketsphinx-en-us');
    form.append('response_format', 'verbose_json');
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    ({ run, url } = await serveTheo(['--preload', '--rtp-ports', '42140-42159']));
  }, 180_000);
  afterAll(async () => {
    const done = await stopTheo(run);
    rmSync(dir, { recursive: true, force: true });
    if (done) expect(done.code, done.stderr).toBe(0);
  });

  it('an 8 kHz telephone file: tagged telephony, the default chain runs (gain only on request), the words come out', async () => {
    const r = await transcribe(readFileSync(SPEECH));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.audio_quality).toBe('telephony');
    expect(r.headers.get('x-theo-audio-quality')).toBe('telephony');
    expect(r.headers.get('x-theo-preprocessing')?.split(',')).toEqual(['dc', 'resample', 'denoise']);
    expect(words(r.body.text)).toEqual(expect.arrayContaining(['thank', 'you']));
    const gained = await transcribe(readFileSync(SPEECH), { gain: 'true' });
    expect(gained.status, JSON.stringify(gained.body)).toBe(200);
    expect(gained.headers.get('x-theo-preprocessing')?.split(',')).toEqual(['dc', 'resample', 'denoise', 'gain']);
    expect(words(gained.body.text)).toContain('thank');
  });

  it('a 44.1 kHz stereo upload of the same call: resampled by the chain, recognised as band-limited telephone audio', async () => {
    const r = await transcribe(converted('44k.wav', ['-r', '44100', '-c', '2']));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.headers.get('x-theo-preprocessing')?.split(',')).toEqual(['dc', 'resample', 'denoise']);
    expect(r.body.audio_quality).toBe('telephony');
    expect(words(r.body.text)).toEqual(expect.arrayContaining(['thank', 'you']));
  });

  it('wideband content is tagged wideband and gets no denoising by default', async () => {
    // 2 s of full-band noise at 16 kHz: energy well above 4 kHz.
    let seed = 7;
    const noise = new Int16Array(32000).map(() => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return ((seed >>> 16) % 2000) - 1000;
    });
    const r = await transcribe(encodeWav({ sampleRate: 16000, channels: 1, samples: noise }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.audio_quality).toBe('wideband');
    expect(r.headers.get('x-theo-preprocessing')?.split(',')).not.toContain('denoise');
  });

  it('preprocess=false leaves only the resampler; the request still transcribes', async () => {
    const r = await transcribe(readFileSync(SPEECH), { preprocess: 'false' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-theo-preprocessing')).toBe('resample');
    expect(words(r.body.text)).toEqual(expect.arrayContaining(['thank', 'you']));
  });

  it('a bad toggle is a 400 that names the parameter', async () => {
    const r = await transcribe(readFileSync(SPEECH), { denoise: 'loud' });
    expect(r.status).toBe(400);
    expect((r.body.error as Record<string, unknown>).param).toBe('denoise');
    const g = await transcribe(readFileSync(SPEECH), { gain: 'loud' });
    expect(g.status).toBe(400);
    expect((g.body.error as Record<string, unknown>).param).toBe('gain');
  });

  it('hot words correct the final text for a model without native hot words', async () => {
    // A compound name the recogniser splits ("thank you") and a near miss (one letter off "patience").
    const plain = await transcribe(readFileSync(SPEECH));
    expect(words(plain.body.text)).toEqual(expect.arrayContaining(['thank', 'you', 'patience']));
    const r = await transcribe(readFileSync(SPEECH), { hot_words: 'ThankYou, Pacience' });
    expect(r.status).toBe(200);
    expect(String(r.body.text)).toMatch(/\bThankYou\b.*\bPacience\b/);
  });

  it('ITN writes the numbers of a spoken amount in the final text, exactly as `theo itn` would', async () => {
    // "twenty five dollars" from the prompts' own number recordings; PocketSphinx's general language model
    // hears numbers loosely, so the test compares with ITN of the raw words rather than a fixed string.
    const amount = join(dir, 'amount.wav');
    execFileSync('sox', [`${SOUNDS}/digits/20.wav`, `${SOUNDS}/digits/5.wav`, `${SOUNDS}/digits/dollars.wav`, amount]);
    const raw = await transcribe(readFileSync(amount), { itn: 'false' });
    expect(raw.status).toBe(200);
    const spoken = String(raw.body.text);
    expect(spoken).toMatch(/\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)\b/);
    const written = await transcribe(readFileSync(amount));
    expect(written.body.text).toBe(inverseNormalize(spoken, 'en'));
    expect(written.body.text).toMatch(/\d/);
    for (const s of written.body.segments as Array<{ text: string }>) expect(s.text).not.toMatch(/\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)\b/);
  });

  it('awkward inputs each get a clear answer and the server stays up', async () => {
    const speech = readSpeech('queue-thankyou');
    // silence: transcribes to nothing
    const silent = await transcribe(encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(16000) }));
    expect(silent.status).toBe(200);
    expect(String(silent.body.text).trim()).toBe('');
    // clipped: ten times too loud, still speech
    const clipped = await transcribe(encodeWav({ sampleRate: 8000, channels: 1, samples: speech.map((s) => Math.max(-32768, Math.min(32767, s * 10))) }));
    expect(clipped.status).toBe(200);
    // NaN and Infinity samples in a float WAV are read as silence, not propagated into the engine
    const f = new Float32Array(speech.length);
    for (let i = 0; i < f.length; i++) f[i] = speech[i]! / 32768;
    for (let i = 0; i < 400; i++) f[i] = i % 2 === 0 ? Number.NaN : Number.POSITIVE_INFINITY; // the lead-in pause
    const nan = await transcribe(floatWav(f, 8000));
    expect(nan.status, JSON.stringify(nan.body)).toBe(200);
    expect(words(nan.body.text)).toContain('thank');
    // extreme rates and six channels
    for (const [name, args] of [['4k.wav', ['-r', '4000']], ['192k.wav', ['-r', '192000']], ['6ch.wav', ['-c', '6']]] as const) {
      const r = await transcribe(converted(name, [...args]));
      expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(200);
      if (name !== '4k.wav') expect(words(r.body.text), name).toContain('thank');
    }
    // a WAV header with no samples is a 400 that says so
    const empty = await transcribe(encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(0) }));
    expect(empty.status).toBe(400);
    expect(String((empty.body.error as Record<string, unknown>).message)).toMatch(/no audio samples/);
    const again = await transcribe(readFileSync(SPEECH));
    expect(again.status).toBe(200);
  });

  it('exports preprocessing and post-processing durations per stage', async () => {
    await transcribe(readFileSync(SPEECH), { hot_words: 'Theo', gain: 'true' });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const stage of ['decode', 'dc', 'resample', 'denoise', 'gain']) expect(metrics).toMatch(new RegExp(`theo_preprocessing_duration_seconds_count\\{stage="${stage}"\\} [1-9]`));
    for (const stage of ['hot_words', 'itn', 'entities']) expect(metrics).toMatch(new RegExp(`theo_postprocessing_duration_seconds_count\\{stage="${stage}"\\} [1-9]`));
  });
});
