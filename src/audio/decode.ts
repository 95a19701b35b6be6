// Uploaded audio to mono float. WAV (every PCM width, float, G.711) decodes here in JS, block by block
// from its header; everything else (FLAC, MP3, Ogg, WebM, MP4/M4A, ...) is recognised by its magic bytes
// and decoded by an ffmpeg child process (ffmpeg.ts). openAudio() gives the audio as a stream of blocks at
// the source's rate; decodeAudio() collects it into one array. Every failure is a TheoError 'audio_decode'
// that says what was wrong with the input; the caller's AbortSignal kills ffmpeg.
import { TheoError, WavError, errorMessage } from '../errors/index.js';
import { openFfmpeg } from './ffmpeg.js';
import { resample } from './resample.js';
import { DEFAULT_MAX_SECONDS, abortReason, checkSourceRate, decodeError, downmix, noSamples, tooLong, type AudioSource } from './source.js';
import { concatSamples } from './stages/util.js';
import { parseWav, wavEncoding, wavSampleCount, wavSamplesToFloat, type WavInfo } from './wav.js';

export { MAX_SOURCE_RATE, MIN_SOURCE_RATE, type AudioSource } from './source.js';

export interface OpenAudioOptions {
  /** The ffmpeg binary; default `ffmpeg` on PATH. */
  ffmpegPath?: string | undefined;
  /** Aborting kills ffmpeg; reads reject with signal.reason (or a CancelledError). */
  signal?: AbortSignal | undefined;
  /** Longest decoded audio accepted, in seconds (guards against decompression bombs). Default 4 hours. */
  maxSeconds?: number | undefined;
}

export interface DecodeOptions extends OpenAudioOptions {
  /** Output sample rate (Hz), unless keepSourceRate. */
  targetRate: number;
  /**
   * Leave the audio at the source's own rate (downmixed to mono), for a preprocessing chain that resamples
   * itself; `sampleRate` of the result says which rate that is.
   */
  keepSourceRate?: boolean;
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

/** Frames a WAV source converts per block: small enough that one block never holds the event loop long. */
const WAV_BLOCK_FRAMES = 8192;

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

/**
 * The upload as a stream of mono float blocks at its own rate. Resolves once the format, rate and
 * channels are known (the WAV header read, or ffmpeg's description of the input); rejects with TheoError
 * 'audio_decode' for bad input, a declared duration over maxSeconds, or a missing/failing ffmpeg, and
 * with the signal's reason when aborted. Iteration throws the same for what only shows while decoding.
 */
export async function openAudio(bytes: Uint8Array, opts: OpenAudioOptions = {}): Promise<AudioSource> {
  const { signal } = opts;
  const maxSeconds = opts.maxSeconds ?? DEFAULT_MAX_SECONDS;
  if (signal?.aborted) throw abortReason(signal);
  if (bytes.length === 0) throw decodeError('the audio file is empty (0 bytes)', { reason: 'empty' });
  const container = sniffAudioFormat(bytes);
  if (container === undefined) throw decodeError(describeNonAudio(bytes), { reason: 'not_audio', bytes: bytes.length });
  const wav = container === 'wav' ? parseJsWav(bytes) : undefined;
  if (wav) return new WavSource(wav.info, wav.encoding, maxSeconds, signal);
  return openFfmpeg(bytes, container, { ffmpegPath: opts.ffmpegPath, signal, maxSeconds });
}

/**
 * Decodes an uploaded file to mono float at `opts.targetRate` (or its own rate with keepSourceRate), all
 * in one array. Rejects as openAudio does, and with 'invalid_argument' for a bad targetRate.
 */
export async function decodeAudio(bytes: Uint8Array, opts: DecodeOptions): Promise<DecodedAudio> {
  const { targetRate } = opts;
  if (!Number.isInteger(targetRate) || targetRate < 1000 || targetRate > 384000) {
    throw new TheoError('invalid_argument', `targetRate must be an integer between 1000 and 384000 Hz, got ${targetRate}`);
  }
  const source = await openAudio(bytes, opts);
  const blocks: Float32Array[] = [];
  try {
    for await (const block of source) blocks.push(block);
  } finally {
    source.close();
  }
  const mono = concatSamples(blocks);
  const rate = opts.keepSourceRate ? source.sampleRate : targetRate;
  const samples = opts.keepSourceRate ? mono : resample(mono, source.sampleRate, targetRate);
  return { samples, sampleRate: rate, duration: samples.length / rate, sourceFormat: source.format, sourceRate: source.sampleRate, sourceChannels: source.channels };
}

/** A RIFF/WAVE header for JS decoding; undefined for encodings left to ffmpeg (ADPCM, GSM, MP3-in-WAV, ...). */
function parseJsWav(bytes: Uint8Array): { info: WavInfo; encoding: string } | undefined {
  try {
    const info = parseWav(bytes);
    return { info, encoding: wavEncoding(info) };
  } catch (err) {
    if (err instanceof WavError && err.details.reason === 'unsupported_encoding') return undefined;
    throw decodeError(`invalid WAV file: ${errorMessage(err)}`, { reason: 'invalid_wav', format: 'wav', wav: err instanceof WavError ? err.details : {} }, err);
  }
}

/** A WAV file in memory, converted block by block as it is read. */
class WavSource implements AudioSource {
  readonly format: string;
  readonly sampleRate: number;
  readonly channels: number;
  readonly declaredSeconds: number;
  private closed = false;

  constructor(
    private readonly info: WavInfo,
    encoding: string,
    maxSeconds: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.format = `wav/${encoding}`;
    this.sampleRate = info.sampleRate;
    this.channels = info.channels;
    this.declaredSeconds = Math.floor(wavSampleCount(info) / info.channels) / info.sampleRate;
    checkSourceRate(this.format, info.sampleRate);
    if (this.declaredSeconds > maxSeconds) throw tooLong('wav', maxSeconds);
  }

  *frames(): Generator<Float32Array> {
    const { channels } = this.info;
    const frames = Math.floor(wavSampleCount(this.info) / channels);
    if (frames === 0) throw noSamples(this.format);
    const scratch = new Float32Array(WAV_BLOCK_FRAMES * channels);
    for (let at = 0; at < frames && !this.closed; at += WAV_BLOCK_FRAMES) {
      if (this.signal?.aborted) throw abortReason(this.signal);
      const n = Math.min(WAV_BLOCK_FRAMES, frames - at);
      const interleaved = scratch.subarray(0, n * channels);
      wavSamplesToFloat(this.info, at * channels, n * channels, interleaved);
      // Each block is the caller's to keep: a copy when mono, the downmix otherwise.
      yield channels === 1 ? interleaved.slice() : downmix(interleaved, channels);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Float32Array> {
    const frames = this.frames();
    return {
      next: () => {
        try {
          return Promise.resolve(frames.next());
        } catch (err) {
          return Promise.reject(err instanceof Error ? err : new Error(String(err)));
        }
      },
      return: () => Promise.resolve(frames.return(undefined)),
    };
  }

  close(): void {
    this.closed = true;
  }
}
