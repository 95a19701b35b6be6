// decodeAudio on real files made by sox and ffmpeg from real speech, and on broken input.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio, sniffAudioFormat, type DecodedAudio } from '../../../src/audio/decode.js';
import { resample } from '../../../src/audio/resample.js';
import { encodeWav } from '../../../src/audio/wav.js';
import { TheoError } from '../../../src/errors/index.js';
import { SOUNDS, bestLag, readSpeech } from '../../helpers/audio.js';

const SOURCE = `${SOUNDS}/hello-world.wav`;
const has = (cmd: string, arg: string): boolean => spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
const haveTools = has('sox', '--version') && has('ffmpeg', '-version');

const dir = mkdtempSync(join(tmpdir(), 'theo-decode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const original = readSpeech('hello-world'); // 8 kHz 16-bit mono
const originalSeconds = original.length / 8000;

function sox(name: string, ...args: string[]): string {
  const out = join(dir, name);
  execFileSync('sox', [SOURCE, ...args.slice(0, args.indexOf('--')), out, ...args.slice(args.indexOf('--') + 1)], { stdio: 'pipe' });
  return out;
}
function ffmpeg(name: string, ...args: string[]): string {
  const out = join(dir, name);
  execFileSync('ffmpeg', ['-y', '-hide_banner', '-loglevel', 'error', '-i', SOURCE, ...args, out], { stdio: 'pipe' });
  return out;
}

/** Rejection of decodeAudio as a TheoError (fails the test if it resolves). */
async function decodeFailure(bytes: Uint8Array, opts: Partial<Parameters<typeof decodeAudio>[1]> = {}): Promise<TheoError> {
  try {
    await decodeAudio(bytes, { targetRate: 16000, ...opts });
  } catch (err) {
    expect(err).toBeInstanceOf(TheoError);
    return err as TheoError;
  }
  throw new Error('decodeAudio resolved; expected a rejection');
}

/** Best correlation with the original speech after resampling back to 8 kHz, over +-10 ms of lag. */
function correlationWithOriginal(d: DecodedAudio): number {
  const back = resample(d.samples, d.sampleRate, 8000);
  return bestLag(original, back, 80).corr;
}

it('sox and ffmpeg are installed (the test command installs them)', () => {
  expect(haveTools).toBe(true);
});

describe('decodeAudio: real files from sox and ffmpeg', () => {
  const files: Record<string, string> = {};
  beforeAll(() => {
    files.s16 = sox('s16.wav', '--');
    files.u8 = sox('u8.wav', '-b', '8', '-e', 'unsigned-integer', '--');
    files.s24 = sox('s24.wav', '-b', '24', '--');
    files.s32 = sox('s32.wav', '-b', '32', '-e', 'signed-integer', '--');
    files.f32 = sox('f32.wav', '-b', '32', '-e', 'floating-point', '--');
    files.f64 = sox('f64.wav', '-b', '64', '-e', 'floating-point', '--');
    files.stereo = sox('stereo.wav', '-c', '2', '--');
    files.r44 = sox('r44.wav', '-r', '44100', '--');
    files.mc = sox('mc48k24.wav', '-b', '24', '-r', '48000', '--', 'remix', '1', '1', '1', '1', '1', '1');
    files.mulaw = sox('mulaw.wav', '-e', 'u-law', '--');
    files.alaw = sox('alaw.wav', '-e', 'a-law', '--');
    files.adpcm = ffmpeg('adpcm.wav', '-c:a', 'adpcm_ms');
    files.flac = sox('hw.flac', '--');
    files.mp3 = ffmpeg('hw.mp3', '-ar', '44100', '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '96k');
    files.opus = ffmpeg('hw.opus', '-c:a', 'libopus', '-b:a', '24k', '-f', 'ogg');
    files.vorbis = ffmpeg('hw.ogg', '-ar', '22050', '-c:a', 'libvorbis');
    files.webm = ffmpeg('hw.webm', '-c:a', 'libopus');
    files.m4a = ffmpeg('hw.m4a', '-ar', '16000', '-c:a', 'aac'); // moov after mdat: decoded from a file, not a pipe
  });

  it.each([
    ['s16', 'wav/pcm_s16le', 8000, 1, 0.99],
    ['u8', 'wav/pcm_u8', 8000, 1, 0.97],
    ['s24', 'wav/pcm_s24le', 8000, 1, 0.99],
    ['s32', 'wav/pcm_s32le', 8000, 1, 0.99],
    ['f32', 'wav/pcm_f32le', 8000, 1, 0.99],
    ['f64', 'wav/pcm_f64le', 8000, 1, 0.99],
    ['stereo', 'wav/pcm_s16le', 8000, 2, 0.99],
    ['r44', 'wav/pcm_s16le', 44100, 1, 0.99],
    ['mc', 'wav/pcm_s24le', 48000, 6, 0.99],
    ['mulaw', 'wav/pcm_mulaw', 8000, 1, 0.99],
    ['alaw', 'wav/pcm_alaw', 8000, 1, 0.99],
    ['adpcm', 'wav/adpcm_ms', 8000, 1, 0.95],
    ['flac', 'flac', 8000, 1, 0.99],
    ['mp3', 'mp3', 44100, 2, 0.95],
    ['opus', 'ogg/opus', 48000, 1, 0.95],
    ['vorbis', 'ogg/vorbis', 22050, 1, 0.95],
    ['webm', 'webm/opus', 48000, 1, 0.95],
    ['m4a', 'm4a/aac', 16000, 1, 0.95],
  ] as const)('%s decodes to 16 kHz mono as %s with the right duration and content', async (key, format, rate, channels, minCorr) => {
    const bytes = readFileSync(files[key]!);
    const d = await decodeAudio(bytes, { targetRate: 16000 });
    expect(d.sampleRate).toBe(16000);
    expect(d.sourceFormat).toBe(format);
    expect(d.sourceRate).toBe(rate);
    expect(d.sourceChannels).toBe(channels);
    expect(d.duration).toBeCloseTo(d.samples.length / 16000, 9);
    // MS ADPCM pads its last block (2036 samples here) and ffmpeg decodes the padding.
    const extra = key === 'adpcm' ? 2036 / 8000 : 0;
    expect(Math.abs(d.duration - originalSeconds) / originalSeconds).toBeLessThan(0.02 + extra / originalSeconds);
    let peak = 0;
    for (const v of d.samples) peak = Math.max(peak, Math.abs(v));
    expect(peak).toBeGreaterThan(0.05);
    expect(peak).toBeLessThanOrEqual(1.01);
    expect(correlationWithOriginal(d)).toBeGreaterThanOrEqual(minCorr);
  });

  it('decodes 16-bit WAV at its own rate sample-exactly', async () => {
    const d = await decodeAudio(readFileSync(files.s16!), { targetRate: 8000 });
    expect(d.samples.length).toBe(original.length);
    for (let i = 0; i < original.length; i += 97) expect(d.samples[i]).toBe(original[i]! / 32768);
  });

  it('decodes WAV without ffmpeg, and says to install it for other formats', async () => {
    const noFfmpeg = join(dir, 'no-such-dir', 'ffmpeg');
    const wav = await decodeAudio(readFileSync(files.s24!), { targetRate: 16000, ffmpegPath: noFfmpeg });
    expect(wav.sourceFormat).toBe('wav/pcm_s24le');
    const err = await decodeFailure(readFileSync(files.mp3!), { ffmpegPath: noFfmpeg });
    expect(err.code).toBe('audio_decode');
    expect(err.details.reason).toBe('ffmpeg_missing');
    expect(err.message).toMatch(/ffmpeg was not found .*install ffmpeg to decode MP3\/FLAC\/Ogg/);
  });

  it('refuses audio longer than maxSeconds', async () => {
    const err = await decodeFailure(readFileSync(files.flac!), { maxSeconds: 0.5 });
    expect(err.details.reason).toBe('too_long');
    expect(err.message).toBe('the flac audio is longer than the 0.5 s limit');
    const wavErr = await decodeFailure(readFileSync(files.s16!), { maxSeconds: 1 });
    expect(wavErr.message).toBe('the wav audio is longer than the 1 s limit');
  });

  it('reports a container with no audio stream', async () => {
    const video = join(dir, 'video.mp4');
    execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=5', '-t', '1', '-c:v', 'mpeg4', video]);
    const err = await decodeFailure(readFileSync(video));
    expect(err.message).toMatch(/the mp4 file has no audio stream/);
  });

  it('reports ffmpeg failures with the end of its stderr', async () => {
    const fakeFlac = Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(2000, 0x5a)]);
    const err = await decodeFailure(fakeFlac);
    expect(err.code).toBe('audio_decode');
    expect(err.details.reason).toBe('ffmpeg_failed');
    expect(err.message).toMatch(/^the file starts like flac but is truncated or not valid flac audio \(exit code \d+\): the upload: /);
  });

  it("a broken M4A's error names neither the server's staging folder nor the demuxer's memory address", async () => {
    const m4a = readFileSync(files.m4a!);
    const err = await decodeFailure(Buffer.concat([m4a.subarray(0, 40), Buffer.alloc(4000, 0x33)]));
    expect(err.code).toBe('audio_decode');
    expect(err.message).toMatch(/m4a/);
    expect(err.message).not.toMatch(/theo-decode-|\/tmp|input\.m4a| @ 0x/);
  });

  it('rejects a truncated MP3 (a header and no frames)', async () => {
    const mp3 = readFileSync(files.mp3!);
    const err = await decodeFailure(mp3.subarray(0, 10));
    expect(err.code).toBe('audio_decode');
    expect(err.message).toMatch(/mp3/);
  });
});

describe('decodeAudio: broken input', () => {
  it('rejects an empty file', async () => {
    const err = await decodeFailure(new Uint8Array(0));
    expect(err.code).toBe('audio_decode');
    expect(err.message).toBe('the audio file is empty (0 bytes)');
  });

  it('rejects garbage bytes without starting ffmpeg', async () => {
    let seed = 12345;
    const garbage = Uint8Array.from({ length: 4096 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24) & 0x7f);
    garbage[0] = 0x03; // no magic can match
    const err = await decodeFailure(garbage, { ffmpegPath: '/nonexistent/ffmpeg' });
    expect(err.code).toBe('audio_decode');
    expect(err.details.reason).toBe('not_audio');
    expect(err.message).toMatch(/^unrecognised audio format \(first bytes: 03 [0-9a-f ]+\); supported: WAV, FLAC, MP3/);
  });

  it('rejects a text file and common non-audio files by name', async () => {
    expect((await decodeFailure(Buffer.from('hello,world\nthis is a CSV file\n'))).message).toBe('the file looks like text, not audio');
    expect((await decodeFailure(Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'))).message).toBe('the file looks like a PDF document, not audio');
    expect((await decodeFailure(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).message).toBe('the file looks like a PNG image, not audio');
  });

  it('rejects a truncated WAV header', async () => {
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(100) });
    const err = await decodeFailure(wav.subarray(0, 30));
    expect(err.code).toBe('audio_decode');
    expect(err.details.reason).toBe('invalid_wav');
    expect(err.message).toBe('invalid WAV file: WAV header is truncated: the fmt chunk needs 16 bytes, 10 present');
    expect((await decodeFailure(wav.subarray(0, 14))).message).toBe('invalid WAV file: WAV file has no fmt chunk (14 bytes)');
    expect((await decodeFailure(wav.subarray(0, 36))).message).toBe('invalid WAV file: WAV file has no data chunk (36 bytes)');
  });

  it('a WAV header with 0 bits per sample is refused with a message that says so', async () => {
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(100) });
    wav.writeUInt16LE(0, 32); // block align
    wav.writeUInt16LE(0, 34); // bits per sample
    const err = await decodeFailure(wav);
    expect(err.details.reason).toBe('invalid_wav');
    expect(err.message).toBe('invalid WAV file: the WAV header says 0 bits per sample');
  });

  it('rejects a WAV with zero samples', async () => {
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(0) });
    const err = await decodeFailure(wav);
    expect(err.details.reason).toBe('no_samples');
    expect(err.message).toBe('the wav/pcm_s16le file holds no audio samples');
  });

  it('decodes a WAV truncated inside its data (what is there)', async () => {
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(800).fill(1000) });
    const d = await decodeAudio(wav.subarray(0, 44 + 401), { targetRate: 8000 });
    expect(d.samples.length).toBe(200);
    expect(d.samples[10]).toBe(1000 / 32768);
  });

  it('rejects a bad target rate', async () => {
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(10) });
    await expect(decodeAudio(wav, { targetRate: 0 })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('rejects at once when the signal is already aborted, with its reason', async () => {
    const ac = new AbortController();
    const reason = new Error('client went away');
    ac.abort(reason);
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(10) });
    await expect(decodeAudio(wav, { targetRate: 16000, signal: ac.signal })).rejects.toBe(reason);
  });
});

describe('decodeAudio: the ffmpeg process', () => {
  /** A stand-in for ffmpeg: a shell script. */
  function fakeFfmpeg(name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }
  const flacBytes = Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(64)]);

  it('is killed when the signal aborts', async () => {
    const pidFile = join(dir, 'sleeper.pid');
    const sleeper = fakeFfmpeg('sleeper', `echo $$ > ${pidFile}\nexec sleep 30`);
    const ac = new AbortController();
    const started = Date.now();
    const p = decodeAudio(flacBytes, { targetRate: 16000, ffmpegPath: sleeper, signal: ac.signal });
    let pid = 0;
    for (let i = 0; i < 200 && pid === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        pid = Number(readFileSync(pidFile, 'utf8'));
      } catch {
        // not started yet
      }
    }
    expect(pid).toBeGreaterThan(0);
    ac.abort(new Error('request timed out'));
    await expect(p).rejects.toThrow('request timed out');
    expect(Date.now() - started).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 100));
    expect(() => process.kill(pid, 0)).toThrow(); // ESRCH: gone
  });

  it('keeps only the end of a huge stderr', async () => {
    const noisy = fakeFfmpeg('noisy', `cat > /dev/null\nyes 'some very chatty ffmpeg warning line' | head -c 5000000 >&2\necho 'the real error at the end' >&2\nexit 3`);
    const err = await decodeFailure(flacBytes, { ffmpegPath: noisy });
    expect(err.details.reason).toBe('ffmpeg_failed');
    expect(err.details.exitCode).toBe(3);
    expect(err.message).toMatch(/\(exit code 3\): .*the real error at the end$/);
    expect(err.message.length).toBeLessThan(600);
    expect(String(err.details.stderr).length).toBeLessThanOrEqual(1024);
  });

  it('rejects a successful run that produced no samples', async () => {
    const silent = fakeFfmpeg('silent', 'cat > /dev/null\nexit 0');
    const err = await decodeFailure(flacBytes, { ffmpegPath: silent });
    expect(err.details.reason).toBe('no_samples');
    expect(err.message).toBe('the flac file holds no audio samples');
  });
});

describe('sniffAudioFormat', () => {
  const b = (...parts: (string | number[])[]): Uint8Array => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
  it.each([
    ['wav', b('RIFF', [0, 0, 0, 0], 'WAVEfmt ')],
    ['rf64', b('RF64', [0xff, 0xff, 0xff, 0xff], 'WAVE')],
    ['flac', b('fLaC', [0, 0, 0, 34])],
    ['ogg', b('OggS', [0, 2])],
    ['mp3', b('ID3', [4, 0, 0])],
    ['mp3', b([0xff, 0xfb, 0x90, 0x64])], // MPEG-1 layer III, 128 kb/s, 44.1 kHz
    ['aac', b([0xff, 0xf1, 0x50, 0x80])], // ADTS
    ['webm', b([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81], 'webm')],
    ['matroska', b([0x1a, 0x45, 0xdf, 0xa3, 0x9f], 'matroska')],
    ['m4a', b([0, 0, 0, 0x1c], 'ftypM4A ')],
    ['mp4', b([0, 0, 0, 0x1c], 'ftypisom')],
    ['aiff', b('FORM', [0, 0, 0, 0], 'AIFF')],
    ['caf', b('caff', [0, 1])],
    ['amr', b('#!AMR\n')],
  ] as const)('%s', (name, bytes) => {
    expect(sniffAudioFormat(bytes)).toBe(name);
  });

  it('matches nothing for non-audio and near misses', () => {
    expect(sniffAudioFormat(b('RIFF', [0, 0, 0, 0], 'WEBP'))).toBeUndefined();
    expect(sniffAudioFormat(b([0xff, 0xd8, 0xff, 0xe0]))).toBeUndefined(); // JPEG
    expect(sniffAudioFormat(b([0xff, 0xff, 0xff, 0xff]))).toBeUndefined(); // bad bitrate index
    expect(sniffAudioFormat(b('hello'))).toBeUndefined();
    expect(sniffAudioFormat(new Uint8Array(0))).toBeUndefined();
  });
});
