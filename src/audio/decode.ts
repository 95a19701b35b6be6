// Uploaded audio to mono float at the engine's rate. WAV (every PCM width, float, G.711) decodes here in
// JS; everything else (FLAC, MP3, Ogg, WebM, MP4/M4A, ...) is recognised by its magic bytes and decoded by
// an ffmpeg child process. Every failure is a TheoError 'audio_decode' that says what was wrong with the
// input; the caller's AbortSignal kills ffmpeg.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledError, TheoError, WavError, errorMessage } from '../errors/index.js';
import { resample } from './resample.js';
import { readWavFloat, type FloatAudio } from './wav.js';

export interface DecodeOptions {
  /** Output sample rate (Hz), unless keepSourceRate. */
  targetRate: number;
  /**
   * Leave the audio at the source's own rate (downmixed to mono), for a preprocessing chain that resamples
   * itself; `sampleRate` of the result says which rate that is.
   */
  keepSourceRate?: boolean;
  /** The ffmpeg binary; default `ffmpeg` on PATH. */
  ffmpegPath?: string;
  /** Aborting kills ffmpeg; the promise rejects with signal.reason (or a CancelledError). */
  signal?: AbortSignal;
  /** Longest decoded audio accepted, in seconds (guards against decompression bombs). Default 4 hours. */
  maxSeconds?: number;
}

export interface DecodedAudio {
  /** Mono float in [-1, 1] at `sampleRate`. */
  samples: Float32Array;
  sampleRate: number;
  /** Seconds. */
  duration: number;
  /** Container, plus the codec where it says more: 'wav/pcm_s24le', 'mp3', 'flac', 'ogg/opus', 'm4a/aac'. */
  sourceFormat: string;
  /** The source's rate and channel count; 0 when ffmpeg did not report them. */
  sourceRate: number;
  sourceChannels: number;
}

export type AudioContainer =
  | 'wav' | 'rf64' | 'rifx' | 'w64' | 'avi' | 'flac' | 'mp3' | 'aac' | 'ogg' | 'webm' | 'matroska'
  | 'mp4' | 'm4a' | 'mov' | '3gp' | 'aiff' | 'caf' | 'amr' | 'au' | 'asf' | 'wavpack';

const DEFAULT_MAX_SECONDS = 4 * 3600;
/** Highest source rate accepted when the audio keeps its own rate. */
export const MAX_SOURCE_RATE = 384_000;
/** Start of ffmpeg's stderr kept to read the input stream's rate and layout. */
const STDERR_HEAD_BYTES = 32 * 1024;
/** End of ffmpeg's stderr kept for error messages. */
const STDERR_TAIL_BYTES = 2 * 1024;
/** MP4/MOV often put the index (moov) after the media, which a pipe cannot seek back to: these go via a file. */
const NEEDS_SEEKABLE_INPUT = new Set<AudioContainer>(['mp4', 'm4a', 'mov', '3gp']);
const LITTLE_ENDIAN = endianness() === 'LE';

function decodeError(message: string, details: Record<string, unknown> = {}, cause?: unknown): TheoError {
  return new TheoError('audio_decode', message, details, cause === undefined ? undefined : { cause });
}

function tooLong(format: string, maxSeconds: number): TheoError {
  return decodeError(`the ${format} audio is longer than the ${maxSeconds} s limit`, { reason: 'too_long', format, maxSeconds });
}

function ascii(b: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < off + len && i < b.length; i++) s += String.fromCharCode(b[i] as number);
  return s;
}

/**
 * An MPEG audio frame header (ISO 11172-3 §2.4.2.3) at offset 0:
 *   AAAAAAAA AAABBCCD EEEEFFGH ...   A sync, B version (01 reserved), C layer (00 reserved),
 *                                    E bitrate index (1111 bad), F sample-rate index (11 reserved)
 */
function isMpegAudioFrame(b: Uint8Array): boolean {
  if (b.length < 4 || b[0] !== 0xff) return false;
  const b1 = b[1] as number;
  const b2 = b[2] as number;
  return (b1 & 0xe0) === 0xe0 && ((b1 >> 3) & 3) !== 1 && ((b1 >> 1) & 3) !== 0 && b2 >> 4 !== 15 && ((b2 >> 2) & 3) !== 3;
}

/** The container, from the first bytes; undefined when they match no audio format we know. */
export function sniffAudioFormat(b: Uint8Array): AudioContainer | undefined {
  const head4 = ascii(b, 0, 4);
  const at8 = ascii(b, 8, 4);
  if (head4 === 'RIFF' && at8 === 'WAVE') return 'wav';
  if (head4 === 'RIFF' && at8 === 'AVI ') return 'avi';
  if (head4 === 'RF64' && at8 === 'WAVE') return 'rf64';
  if (head4 === 'RIFX' && at8 === 'WAVE') return 'rifx';
  if (head4 === 'riff' && b[4] === 0x2e && b[5] === 0x91 && b[6] === 0xcf && b[7] === 0x11) return 'w64';
  if (head4 === 'fLaC') return 'flac';
  if (head4 === 'OggS') return 'ogg';
  if (head4 === 'caff') return 'caf';
  if (head4 === '.snd') return 'au';
  if (head4 === 'wvpk') return 'wavpack';
  if (head4 === 'FORM' && (at8 === 'AIFF' || at8 === 'AIFC')) return 'aiff';
  if (ascii(b, 0, 5) === '#!AMR') return 'amr';
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return ascii(b, 0, 64).includes('webm') ? 'webm' : 'matroska';
  if (b[0] === 0x30 && b[1] === 0x26 && b[2] === 0xb2 && b[3] === 0x75 && b[4] === 0x8e && b[5] === 0x66 && b[6] === 0xcf && b[7] === 0x11) return 'asf';
  if (ascii(b, 4, 4) === 'ftyp') {
    const brand = ascii(b, 8, 4);
    if (brand === 'M4A ' || brand === 'M4B ') return 'm4a';
    if (brand === 'qt  ') return 'mov';
    if (brand.startsWith('3g')) return '3gp';
    return 'mp4';
  }
  if (ascii(b, 0, 3) === 'ID3') return 'mp3';
  // ADTS (ISO 14496-3 §1.A.2.2): 12 sync bits, layer 00.
  if (b[0] === 0xff && b.length > 1 && ((b[1] as number) & 0xf6) === 0xf0) return 'aac';
  if (isMpegAudioFrame(b)) return 'mp3';
  return undefined;
}

/** Why bytes that are not audio were refused, as specifically as their start allows. */
function describeNonAudio(b: Uint8Array): string {
  const known: [string, (b: Uint8Array) => boolean][] = [
    ['a PDF document', (x) => ascii(x, 0, 5) === '%PDF-'],
    ['a PNG image', (x) => x[0] === 0x89 && ascii(x, 1, 3) === 'PNG'],
    ['a JPEG image', (x) => x[0] === 0xff && x[1] === 0xd8 && x[2] === 0xff],
    ['a GIF image', (x) => ascii(x, 0, 4) === 'GIF8'],
    ['a ZIP archive', (x) => ascii(x, 0, 4) === 'PK\x03\x04'],
    ['a gzip archive', (x) => x[0] === 0x1f && x[1] === 0x8b],
  ];
  for (const [what, test] of known) if (test(b)) return `the file looks like ${what}, not audio`;
  const n = Math.min(b.length, 512);
  let text = true;
  for (let i = 0; i < n; i++) {
    const c = b[i] as number;
    // Printable ASCII, tab/CR/LF, or bytes of UTF-8 sequences.
    if (!(c >= 0x20 && c !== 0x7f) && c !== 0x09 && c !== 0x0a && c !== 0x0d) {
      text = false;
      break;
    }
  }
  if (text) return 'the file looks like text, not audio';
  const hex = Array.from(b.subarray(0, 8), (c) => c.toString(16).padStart(2, '0')).join(' ');
  return `unrecognised audio format (first bytes: ${hex}); supported: WAV, FLAC, MP3, Ogg (Opus/Vorbis), WebM, MP4/M4A, AAC, AIFF, CAF, AMR, AU, WMA`;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new CancelledError('audio decoding was cancelled');
}

/**
 * Decodes an uploaded file to mono float at `opts.targetRate`. Rejects with TheoError 'audio_decode' for
 * bad input or a missing/failing ffmpeg, 'invalid_argument' for a bad targetRate, and the signal's reason
 * when aborted.
 */
export async function decodeAudio(bytes: Uint8Array, opts: DecodeOptions): Promise<DecodedAudio> {
  const { targetRate, signal } = opts;
  const maxSeconds = opts.maxSeconds ?? DEFAULT_MAX_SECONDS;
  if (!Number.isInteger(targetRate) || targetRate < 1000 || targetRate > 384000) {
    throw new TheoError('invalid_argument', `targetRate must be an integer between 1000 and 384000 Hz, got ${targetRate}`);
  }
  if (signal?.aborted) throw abortReason(signal);
  if (bytes.length === 0) throw decodeError('the audio file is empty (0 bytes)', { reason: 'empty' });
  const container = sniffAudioFormat(bytes);
  if (container === undefined) throw decodeError(describeNonAudio(bytes), { reason: 'not_audio', bytes: bytes.length });

  let mono: Float32Array;
  let sourceRate: number;
  let sourceChannels: number;
  let sourceFormat: string;
  const wav = container === 'wav' ? decodeWav(bytes) : undefined;
  if (wav) {
    const seconds = wav.samples.length / wav.channels / wav.sampleRate;
    if (seconds > maxSeconds) throw tooLong('wav', maxSeconds);
    const down = downmix(wav.samples, wav.channels);
    mono = opts.keepSourceRate ? down : resample(down, wav.sampleRate, targetRate);
    sourceRate = wav.sampleRate;
    sourceChannels = wav.channels;
    sourceFormat = `wav/${wav.encoding}`;
  } else {
    const out = await decodeWithFfmpeg(bytes, container, opts);
    mono = out.samples;
    sourceRate = out.sourceRate;
    sourceChannels = out.sourceChannels;
    sourceFormat = out.codec && out.codec !== container ? `${container}/${out.codec}` : container;
  }
  if (signal?.aborted) throw abortReason(signal);
  if (mono.length === 0) throw decodeError(`the ${sourceFormat} file holds no audio samples`, { reason: 'no_samples', format: sourceFormat });
  const rate = opts.keepSourceRate ? sourceRate : targetRate;
  return { samples: mono, sampleRate: rate, duration: mono.length / rate, sourceFormat, sourceRate, sourceChannels };
}

/** JS decoding of a RIFF/WAVE file; undefined for encodings left to ffmpeg (ADPCM, GSM, MP3-in-WAV, ...). */
function decodeWav(bytes: Uint8Array): FloatAudio | undefined {
  try {
    return readWavFloat(bytes);
  } catch (err) {
    if (err instanceof WavError && err.details.reason === 'unsupported_encoding') return undefined;
    throw decodeError(`invalid WAV file: ${errorMessage(err)}`, { reason: 'invalid_wav', format: 'wav', wav: err instanceof WavError ? err.details : {} }, err);
  }
}

function downmix(samples: Float32Array, channels: number): Float32Array {
  if (channels === 1) return samples;
  const n = Math.floor(samples.length / channels);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[i * channels + c] as number;
    out[i] = sum / channels;
  }
  return out;
}

interface FfmpegOutput {
  samples: Float32Array;
  sourceRate: number;
  sourceChannels: number;
  codec: string | undefined;
}

async function decodeWithFfmpeg(bytes: Uint8Array, container: AudioContainer, opts: DecodeOptions): Promise<FfmpegOutput> {
  if (!NEEDS_SEEKABLE_INPUT.has(container)) return runFfmpeg(bytes, 'pipe:0', container, opts);
  const dir = await mkdtemp(join(tmpdir(), 'theo-decode-'));
  try {
    const file = join(dir, `input.${container}`);
    await writeFile(file, bytes);
    return await runFfmpeg(undefined, file, container, opts);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runFfmpeg(stdin: Uint8Array | undefined, input: string, container: AudioContainer, opts: DecodeOptions): Promise<FfmpegOutput> {
  const ffmpeg = opts.ffmpegPath ?? 'ffmpeg';
  const { targetRate, signal } = opts;
  const keep = opts.keepSourceRate === true;
  const maxSeconds = opts.maxSeconds ?? DEFAULT_MAX_SECONDS;
  // At the source rate the output rate is known once ffmpeg has printed the input stream; until then the
  // limit assumes the highest rate accepted.
  let limitRate = keep ? MAX_SOURCE_RATE : targetRate;
  // -loglevel info so the input's "Stream #0:0: Audio: ..." line comes out; -nostats drops the progress lines.
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-i', input, '-map', '0:a:0', '-vn', '-sn', '-dn', '-acodec', 'pcm_f32le', '-f', 'f32le', '-ac', '1', ...(keep ? [] : ['-ar', String(targetRate)]), 'pipe:1'];

  return new Promise<FfmpegOutput>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const child = spawn(ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let outBytes = 0;
    let head = '';
    let tail = '';
    let settled = false;

    const finish = (err: Error | undefined, value?: FfmpegOutput): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        chunks.length = 0;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(err);
      } else if (value) {
        resolve(value);
      }
    };
    const onAbort = (): void => finish(signal ? abortReason(signal) : new CancelledError());
    signal?.addEventListener('abort', onAbort, { once: true });

    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        finish(decodeError(`ffmpeg was not found (looked for "${ffmpeg}"): install ffmpeg to decode MP3/FLAC/Ogg/WebM/M4A uploads (this one is ${container}); WAV decodes without it`, { reason: 'ffmpeg_missing', format: container, ffmpeg }, err));
      } else {
        finish(decodeError(`could not start ffmpeg ("${ffmpeg}"): ${err.message}`, { reason: 'ffmpeg_failed', format: container, ffmpeg }, err));
      }
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (settled) return;
      outBytes += chunk.length;
      if (keep && limitRate === MAX_SOURCE_RATE) limitRate = parseInputStream(head).rate || MAX_SOURCE_RATE;
      if (outBytes > Math.ceil(maxSeconds * limitRate) * 4) {
        finish(tooLong(container, maxSeconds));
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (head.length < STDERR_HEAD_BYTES) head += s.slice(0, STDERR_HEAD_BYTES - head.length);
      tail = (tail + s).slice(-STDERR_TAIL_BYTES);
    });
    // ffmpeg closes its stdin when it gives up early; its stderr says why, so EPIPE here is not the story.
    child.stdin.on('error', () => {});
    if (stdin) child.stdin.end(stdin);
    else child.stdin.end();
    child.once('close', (code, sig) => {
      if (settled) return;
      if (code !== 0) {
        finish(ffmpegFailure(container, code, sig, tail));
        return;
      }
      const info = parseInputStream(head);
      if (keep && info.rate === 0) {
        finish(decodeError(`ffmpeg decoded the ${container} file but did not report its sample rate`, { reason: 'unknown_rate', format: container }));
        return;
      }
      finish(undefined, { samples: toFloat32(chunks, outBytes), sourceRate: info.rate, sourceChannels: info.channels, codec: info.codec });
    });
  });
}

function ffmpegFailure(container: AudioContainer, code: number | null, sig: NodeJS.Signals | null, stderr: string): TheoError {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const last = lines.slice(-4).join(' | ');
  const status = code !== null ? `exit code ${code}` : `signal ${sig ?? 'unknown'}`;
  let why = `ffmpeg could not decode the ${container} file (${status})`;
  if (/matches no streams/.test(stderr)) why = `the ${container} file has no audio stream`;
  else if (/Invalid data found when processing input|End of file|could not find codec parameters|Failed to read frame size/i.test(stderr)) {
    why = `the file starts like ${container} but is truncated or not valid ${container} audio (${status})`;
  }
  return decodeError(`${why}: ${last || 'ffmpeg printed nothing'}`, { reason: 'ffmpeg_failed', format: container, exitCode: code, signal: sig, stderr: stderr.slice(-1024) });
}

/** The first input audio stream's codec, rate and channel count from ffmpeg's banner. */
function parseInputStream(stderr: string): { codec: string | undefined; rate: number; channels: number } {
  const inputPart = stderr.split(/\nOutput #0/)[0] ?? '';
  // e.g. "  Stream #0:0(eng): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)"
  const m = /Stream #0:\d+[^:]*: Audio: ([A-Za-z0-9_]+)[^\n]*?, (\d+) Hz, ([^,\n]+)/.exec(inputPart);
  if (!m) return { codec: undefined, rate: 0, channels: 0 };
  return { codec: m[1], rate: Number(m[2]), channels: layoutChannels(m[3] ?? '') };
}

const NAMED_LAYOUTS: Record<string, number> = { mono: 1, stereo: 2, downmix: 2, quad: 4, hexagonal: 6, octagonal: 8, hexadecagonal: 16, '22.2': 24 };

function layoutChannels(layout: string): number {
  const name = layout.trim();
  const count = /^(\d+) channels/.exec(name);
  if (count) return Number(count[1]);
  const base = name.replace(/\(.*\)$/, '');
  const named = NAMED_LAYOUTS[base];
  if (named !== undefined) return named;
  const dotted = /^(\d+)\.(\d+)$/.exec(base);
  return dotted ? Number(dotted[1]) + Number(dotted[2]) : 0;
}

/** ffmpeg's f32le output as one Float32Array (a trailing partial sample, if any, is dropped). */
function toFloat32(chunks: Buffer[], total: number): Float32Array {
  const n = Math.floor(total / 4);
  const bytes = new Uint8Array(n * 4);
  let off = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, bytes.length - off);
    bytes.set(c.subarray(0, take), off);
    off += take;
  }
  if (LITTLE_ENDIAN) return new Float32Array(bytes.buffer, 0, n);
  const dv = new DataView(bytes.buffer);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}
