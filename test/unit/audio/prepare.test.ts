// The streaming batch input (openPreparedAudio) against the whole-file path it replaced, on real speech
// files made by sox and ffmpeg; and its bounds on long and lying inputs, with real ffmpeg.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../../src/audio/decode.js';
import { openPreparedAudio, prepareAudio, type PrepareStreamOptions, type PreparedStream } from '../../../src/audio/prepare.js';
import { float32ToInt16 } from '../../../src/audio/resample.js';
import { loadDenoiser, type DenoiserFactory } from '../../../src/audio/stages/denoise.js';
import { preprocessFile } from '../../../src/audio/stages/pipeline.js';
import { detectAudioQuality } from '../../../src/audio/stages/telephony.js';
import { encodeWav } from '../../../src/audio/wav.js';
import { TheoError } from '../../../src/errors/index.js';
import { SOUNDS, callAudio, readSpeech } from '../../helpers/audio.js';

const denoiser = (await loadDenoiser()) as DenoiserFactory;
const dir = mkdtempSync(join(tmpdir(), 'theo-prepare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ffmpeg(out: string, ...args: string[]): Buffer {
  const path = join(dir, out);
  execFileSync('ffmpeg', ['-y', '-hide_banner', '-loglevel', 'error', ...args, path], { stdio: 'pipe' });
  return readFileSync(path);
}

const base: PrepareStreamOptions = { targetRate: 16000, preprocess: true, dc: 'auto', gain: false, denoise: 'auto', denoiser };

/** The batch input as it was made before streaming: the whole file decoded, tagged and preprocessed at once. */
async function wholeFile(bytes: Uint8Array, opts: PrepareStreamOptions): Promise<{ pcm: Int16Array; quality: string; stages: string[] }> {
  const d = await decodeAudio(bytes, { targetRate: opts.targetRate, keepSourceRate: true });
  const quality = /mulaw|alaw/.test(d.sourceFormat) ? 'telephony' : detectAudioQuality(d.sampleRate, d.samples, d.sampleRate);
  const pre = preprocessFile(d.samples, d.sampleRate, { outputRate: opts.targetRate, quality, dc: opts.dc, gain: opts.gain, denoise: opts.denoise, denoiser });
  return { pcm: float32ToInt16(pre.samples), quality, stages: pre.stages };
}

async function collect(s: PreparedStream): Promise<{ pcm: Int16Array; offsets: number[]; lengths: number[] }> {
  const parts: Int16Array[] = [];
  const offsets: number[] = [];
  for await (const p of s.pieces) {
    offsets.push(p.offset);
    parts.push(p.samples);
  }
  const pcm = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    pcm.set(p, at);
    at += p.length;
  }
  return { pcm, offsets, lengths: parts.map((p) => p.length) };
}

function maxDiff(a: Int16Array, b: Int16Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('openPreparedAudio: short files come out as the whole-file path made them', () => {
  const speech = `${SOUNDS}/queue-thankyou.wav`;
  const cases: Array<[string, () => Buffer, Partial<PrepareStreamOptions>]> = [
    ['8 kHz WAV (telephony, denoised)', () => readFileSync(speech), {}],
    ['8 kHz WAV with gain', () => readFileSync(speech), { gain: true }],
    ['44.1 kHz stereo MP3', () => ffmpeg('t.mp3', '-i', speech, '-ar', '44100', '-ac', '2', '-b:a', '96k'), {}],
    ['48 kHz FLAC of wideband noise', () => ffmpeg('w.flac', '-f', 'lavfi', '-i', 'anoisesrc=r=48000:a=0.05:d=3'), {}],
    ['mu-law WAV, preprocessing off', () => ffmpeg('u.wav', '-i', speech, '-acodec', 'pcm_mulaw'), { preprocess: false }],
  ];
  it.each(cases)('%s', async (_name, make, extra) => {
    const bytes = make();
    const opts = { ...base, ...extra };
    const before = await wholeFile(bytes, opts);
    const s = await openPreparedAudio(bytes, opts);
    expect(s.quality).toBe(before.quality);
    expect(s.stages).toEqual(opts.preprocess ? before.stages : ['resample']);
    const after = await collect(s);
    const summary = await s.done;
    expect(after.offsets).toEqual([0]);
    expect(after.pcm.length).toBe(before.pcm.length);
    expect(summary.duration).toBeCloseTo(before.pcm.length / 16000, 9);
    // Block by block the float stages agree to ~1e-7; a sample on a rounding edge may land one step away.
    expect(maxDiff(after.pcm, before.pcm)).toBeLessThanOrEqual(1);
  });
});

describe('openPreparedAudio: long files', () => {
  it('cuts 2 minutes of a call into pieces of at most 30 s at pauses, tiling the audio exactly', async () => {
    const prompts = ['queue-thankyou', 'tt-weasels', 'hello-world', 'vm-goodbye', 'tt-monkeys'].map(readSpeech);
    const call = callAudio([...prompts, ...prompts, ...prompts, ...prompts]);
    const bytes = encodeWav({ sampleRate: 8000, channels: 1, samples: call });
    const before = await wholeFile(bytes, base);
    const s = await openPreparedAudio(bytes, base);
    const after = await collect(s);
    expect(after.lengths.length).toBeGreaterThanOrEqual(Math.ceil(call.length / 8000 / 30));
    for (const n of after.lengths) expect(n).toBeLessThanOrEqual(30 * 16000);
    let at = 0;
    after.offsets.forEach((o, i) => {
      expect(o).toBe(at);
      at += after.lengths[i]!;
    });
    expect(at).toBe(before.pcm.length);
    expect(maxDiff(after.pcm, before.pcm)).toBeLessThanOrEqual(1);
    // Each cut falls in a pause: the 20 ms around it is near silence.
    for (const o of after.offsets.slice(1)) {
      let e = 0;
      for (let i = o - 160; i < o + 160; i++) e = Math.max(e, Math.abs(after.pcm[i]!));
      expect(e).toBeLessThan(2000);
    }
  });

  it('an hour of 48 kHz FLAC streams through with bounded memory', async () => {
    const bytes = ffmpeg('hour.flac', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', '3600', '-c:a', 'flac');
    expect(bytes.length).toBeLessThan(1_000_000);
    const s = await openPreparedAudio(bytes, base);
    expect(s.declaredSeconds).toBe(3600);
    let pieces = 0;
    let peak = 0;
    for await (const p of s.pieces) {
      pieces++;
      expect(p.samples.length).toBeLessThanOrEqual(30 * 16000);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    expect((await s.done).duration).toBeCloseTo(3600, 6);
    // Digital silence is equally quiet everywhere: each cut lands at the start of its search window.
    expect(pieces).toBeGreaterThanOrEqual(120);
    // A consumer that keeps up holds a piece or two: far from the 230 MB of float at 16 kHz, or 690 MB at 48.
    expect(peak).toBeLessThan(120 * 1024 * 1024);
  }, 120_000);

  it('runs at most a couple of pieces ahead of a consumer that waits: memory does not grow with the file', async () => {
    const bytes = ffmpeg('ten.flac', '-f', 'lavfi', '-i', 'anoisesrc=r=16000:a=0.01', '-t', '600', '-c:a', 'flac');
    const s = await openPreparedAudio(bytes, base);
    await new Promise((r) => setTimeout(r, 1500));
    // Two 30 s pieces queued and the third one being cut: far from the 600 s of the file.
    expect(s.seconds).toBeLessThan(95);
    expect(s.finished).toBe(false);
    let n = 0;
    for await (const p of s.pieces) n += p.samples.length;
    expect(s.finished).toBe(true);
    expect(n).toBe(600 * 16000);
    s.close();
  }, 60_000);

  it('close() stops a paused decoder: its pieces end with a CancelledError', async () => {
    const bytes = ffmpeg('ten2.flac', '-f', 'lavfi', '-i', 'anoisesrc=r=16000:a=0.01', '-t', '600', '-c:a', 'flac');
    const s = await openPreparedAudio(bytes, base);
    await new Promise((r) => setTimeout(r, 300));
    s.close();
    await expect(s.done).rejects.toMatchObject({ code: 'cancelled' });
    const it = s.pieces[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toMatchObject({ code: 'cancelled' });
  }, 60_000);

  it('a file that declares its length is refused at once when that is over the limit', async () => {
    const bytes = ffmpeg('long.flac', '-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '7200', '-c:a', 'flac');
    const err = await openPreparedAudio(bytes, { ...base, maxSeconds: 3600 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TheoError);
    expect((err as TheoError).details).toMatchObject({ reason: 'too_long', maxSeconds: 3600 });
  });

  it('a file that declares nothing is stopped by the limit as its audio arrives', async () => {
    // Ogg read from a pipe has no duration up front: only the samples tell.
    const bytes = ffmpeg('long.ogg', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', '600', '-c:a', 'libvorbis', '-q:a', '0');
    const s = await openPreparedAudio(bytes, { ...base, maxSeconds: 120 });
    expect(s.declaredSeconds).toBeUndefined();
    let seen = 0;
    const err = await (async () => {
      for await (const p of s.pieces) seen += p.samples.length;
    })().then(() => undefined, (e: unknown) => e);
    expect((err as TheoError).details).toMatchObject({ reason: 'too_long', maxSeconds: 120 });
    await expect(s.done).rejects.toBe(err);
    expect(seen / 16000).toBeLessThanOrEqual(120);
  }, 60_000);
});

describe('prepareAudio (the CLI path)', () => {
  it('gives the streamed samples as one array', async () => {
    const bytes = readFileSync(`${SOUNDS}/queue-thankyou.wav`);
    const whole = await prepareAudio(bytes, base);
    const streamed = await collect(await openPreparedAudio(bytes, base));
    expect(float32ToInt16(whole.samples)).toEqual(streamed.pcm);
    expect(whole.quality).toBe('telephony');
    expect(whole.sourceFormat).toBe('wav/pcm_s16le');
  });
});
