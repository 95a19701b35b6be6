// Compressed uploads (FLAC, MP3, Ogg, WebM, MP4/M4A, ...) decoded by an ffmpeg child process into an
// AudioSource: ffmpeg downmixes to mono float at the source's rate and the blocks are read off its stdout
// as the caller asks for them, so the pipe's backpressure bounds what is held. The input's rate, channels,
// codec and declared duration come from ffmpeg's banner, read before the first block; the duration limit
// is checked against that declaration at once and against the samples as they arrive. ffmpeg runs at a
// lower CPU priority than the runtime, and spawns (a fork of the runtime each) get a turn of the loop each.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { endianness, getPriority, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { TheoError } from '../errors/index.js';
import { abortReason, checkSourceRate, decodeError, noSamples, tooLong, type AudioSource } from './source.js';

export interface FfmpegOptions {
  /** The ffmpeg binary; default `ffmpeg` on PATH. */
  ffmpegPath?: string | undefined;
  /** Aborting kills ffmpeg; reads then reject with signal.reason (or a CancelledError). */
  signal?: AbortSignal | undefined;
  maxSeconds: number;
}

/** Start of ffmpeg's stderr searched for the input stream's description. */
const STDERR_HEAD_BYTES = 256 * 1024;
/** End of ffmpeg's stderr kept for error messages. */
const STDERR_TAIL_BYTES = 2 * 1024;
/** MP4/MOV often put the index (moov) after the media, which a pipe cannot seek back to: these go via a file. */
const NEEDS_SEEKABLE_INPUT = new Set(['mp4', 'm4a', 'mov', '3gp']);
const LITTLE_ENDIAN = endianness() === 'LE';
/** ffmpeg prints this once it has described the input and before it writes any output. */
const BANNER_END = /\nStream mapping:|\nOutput #0/;
/** How much lower ffmpeg's CPU priority is than the runtime's (nice steps): decoding yields to live calls. */
const FFMPEG_NICE = 10;
/** How long output without a banner waits for one (only a stand-in binary writes no banner). */
const BANNER_GRACE_MS = 500;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface InputStream {
  codec: string | undefined;
  rate: number;
  channels: number;
  /** The container's duration; undefined when absent or estimated from the bitrate. */
  seconds: number | undefined;
}

/**
 * Starts ffmpeg on `bytes` and resolves once it has described the input (or rejects with what it said
 * instead). Iterating the source reads the decoded blocks; close() kills ffmpeg.
 */
export async function openFfmpeg(bytes: Uint8Array, container: string, opts: FfmpegOptions): Promise<AudioSource> {
  const { signal } = opts;
  if (signal?.aborted) throw abortReason(signal);
  let dir: string | undefined;
  let input = 'pipe:0';
  if (NEEDS_SEEKABLE_INPUT.has(container)) {
    dir = await mkdtemp(join(tmpdir(), 'theo-decode-'));
    input = join(dir, `input.${container}`);
    try {
      await writeFile(input, bytes);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw decodeError(`could not stage the ${container} upload for ffmpeg: ${(err as Error).message}`, { reason: 'ffmpeg_failed', format: container }, err);
    }
  }
  await spawnTurn();
  const source = new FfmpegSource(container, input, dir, opts);
  try {
    await source.start(dir ? undefined : bytes);
  } catch (err) {
    source.close();
    throw err;
  }
  return source;
}

/** This process's nice value (0 if it cannot be read). */
function getPriorityOrZero(): number {
  try {
    return getPriority();
  } catch {
    return 0;
  }
}

let spawns: Promise<void> = Promise.resolve();

/**
 * Resolves on a turn of the event loop of its own: spawn() forks the runtime, which blocks it for
 * milliseconds (tens on a loaded host), and a burst of uploads would otherwise fork back to back in one turn.
 */
function spawnTurn(): Promise<void> {
  const turn = spawns.then(() => nextTurn());
  spawns = turn;
  return turn;
}

class FfmpegSource implements AudioSource {
  format: string;
  sampleRate = 0;
  channels = 0;
  declaredSeconds: number | undefined;

  private readonly ffmpeg: string;
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly exited: Promise<Exit>;
  private spawnError: NodeJS.ErrnoException | undefined;
  private readonly spawnFailed: Promise<void>;
  private head = '';
  private tail = '';
  private closed = false;
  private readonly onAbort = (): void => this.kill();

  constructor(
    private readonly container: string,
    private readonly input: string,
    private readonly dir: string | undefined,
    private readonly opts: FfmpegOptions,
  ) {
    this.format = container;
    this.ffmpeg = opts.ffmpegPath ?? 'ffmpeg';
    // -loglevel info so the input's "Stream #0:0: Audio: ..." line comes out; -nostats drops the progress lines.
    const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-i', input, '-map', '0:a:0', '-vn', '-sn', '-dn', '-acodec', 'pcm_f32le', '-f', 'f32le', '-ac', '1', 'pipe:1'];
    this.child = spawn(this.ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    if (this.child.pid !== undefined) {
      try {
        setPriority(this.child.pid, Math.min(19, FFMPEG_NICE + getPriorityOrZero()));
      } catch {
        // Not allowed here (or already gone): it runs at the runtime's priority.
      }
    }
    this.exited = new Promise<Exit>((resolve) => this.child.once('close', (code, sig) => resolve({ code, signal: sig })));
    this.spawnFailed = new Promise<void>((resolve) =>
      this.child.on('error', (err) => {
        this.spawnError ??= err;
        resolve();
      }),
    );
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s: string) => {
      if (this.head.length < STDERR_HEAD_BYTES) this.head += s.slice(0, STDERR_HEAD_BYTES - this.head.length);
      this.tail = (this.tail + s).slice(-STDERR_TAIL_BYTES);
    });
    this.child.stderr.on('error', () => undefined);
    // ffmpeg closes its stdin when it gives up early; its stderr says why, so EPIPE here is not the story.
    this.child.stdin.on('error', () => undefined);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Feeds the input and waits for the banner (or ffmpeg's end); throws what went wrong. */
  async start(stdin: Uint8Array | undefined): Promise<void> {
    const { signal } = this.opts;
    if (stdin) this.child.stdin.end(stdin);
    else this.child.stdin.end();
    const banner = new Promise<void>((resolve) => {
      const check = (): void => {
        if (BANNER_END.test(this.head) || this.head.length >= STDERR_HEAD_BYTES) resolve();
      };
      this.child.stderr.on('data', check);
      this.child.stdout.once('readable', () => setTimeout(resolve, BANNER_GRACE_MS));
    });
    const aborted = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    const first = await Promise.race([banner.then(() => 'banner' as const), this.exited.then(() => 'exit' as const), this.spawnFailed.then(() => 'spawn' as const), aborted.then(() => 'abort' as const)]);
    if (this.spawnError) throw this.spawnFailure(this.spawnError);
    if (signal?.aborted) throw abortReason(signal);
    if (first === 'exit') {
      const exit = await this.exited;
      if (exit.code !== 0) throw this.failure(exit);
    }
    const info = parseInputStream(this.head);
    this.channels = info.channels;
    this.declaredSeconds = info.seconds;
    if (info.codec && info.codec !== this.container) this.format = `${this.container}/${info.codec}`;
    if (info.rate === 0) {
      // No rate, no way to use the samples: say whether there were any (reading on, so ffmpeg can finish).
      let output = this.child.stdout.readableLength;
      this.child.stdout.on('data', (b: Buffer) => (output += b.length));
      this.child.stdout.on('error', () => undefined);
      const exit = await this.exited;
      if (exit.code !== 0) throw this.failure(exit);
      throw output > 0 ? decodeError(`ffmpeg decoded the ${this.container} file but did not report its sample rate`, { reason: 'unknown_rate', format: this.container }) : noSamples(this.format);
    }
    checkSourceRate(this.format, info.rate);
    this.sampleRate = info.rate;
    if (info.seconds !== undefined && info.seconds > this.opts.maxSeconds) throw tooLong(this.container, this.opts.maxSeconds);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Float32Array> {
    const limit = Math.ceil(this.opts.maxSeconds * this.sampleRate);
    let carry: Buffer | undefined;
    let total = 0;
    try {
      for await (const chunk of this.child.stdout as AsyncIterable<Buffer>) {
        if (this.opts.signal?.aborted) throw abortReason(this.opts.signal);
        const bytes = carry ? Buffer.concat([carry, chunk]) : chunk;
        const n = Math.floor(bytes.length / 4);
        carry = bytes.length > n * 4 ? bytes.subarray(n * 4) : undefined;
        if (n === 0) continue;
        total += n;
        if (total > limit) throw tooLong(this.container, this.opts.maxSeconds);
        yield toFloat32(bytes, n);
      }
      const exit = await this.exited;
      if (this.opts.signal?.aborted) throw abortReason(this.opts.signal);
      if (this.closed) return;
      if (exit.code !== 0) throw this.failure(exit);
      if (total === 0) throw noSamples(this.format);
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.kill();
    if (this.dir) {
      const dir = this.dir;
      // The file goes once ffmpeg has let go of it.
      void this.exited.then(() => rm(dir, { recursive: true, force: true })).catch(() => undefined);
    }
  }

  private kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private spawnFailure(err: NodeJS.ErrnoException): TheoError {
    const { container, ffmpeg } = this;
    if (err.code === 'ENOENT') {
      return decodeError(`ffmpeg was not found (looked for "${ffmpeg}"): install ffmpeg to decode MP3/FLAC/Ogg/WebM/M4A uploads (this one is ${container}); WAV decodes without it`, { reason: 'ffmpeg_missing', format: container, ffmpeg }, err);
    }
    return decodeError(`could not start ffmpeg ("${ffmpeg}"): ${err.message}`, { reason: 'ffmpeg_failed', format: container, ffmpeg }, err);
  }

  /**
   * ffmpeg's words as a client may read them: the staged input's path (a server folder) and the demuxer's memory
   * address (`[mov,mp4,m4a @ 0x55d0c8f2a6c0]`) are the server's business.
   */
  private forClient(text: string): string {
    return text.replaceAll(this.input, 'the upload').replace(/ @ 0x[0-9a-f]+\]/g, ']');
  }

  private failure(exit: Exit): TheoError {
    const { container } = this;
    const stderr = this.tail;
    const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    const last = this.forClient(lines.slice(-4).join(' | '));
    const status = exit.code !== null ? `exit code ${exit.code}` : `signal ${exit.signal ?? 'unknown'}`;
    let why = `ffmpeg could not decode the ${container} file (${status})`;
    const all = this.head + stderr;
    if (/matches no streams/.test(all)) why = `the ${container} file has no audio stream`;
    else if (/Invalid data found when processing input|End of file|could not find codec parameters|Failed to read frame size/i.test(all)) {
      why = `the file starts like ${container} but is truncated or not valid ${container} audio (${status})`;
    }
    return decodeError(`${why}: ${last || 'ffmpeg printed nothing'}`, { reason: 'ffmpeg_failed', format: container, exitCode: exit.code, signal: exit.signal, stderr: stderr.slice(-1024) });
  }
}

/** The first `n` little-endian float32 samples of `bytes`: a view when aligned (each read is a fresh buffer), else a copy. */
function toFloat32(bytes: Buffer, n: number): Float32Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes.subarray(0, n * 4));
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** The first input audio stream's codec, rate, channel count and declared duration from ffmpeg's banner. */
export function parseInputStream(stderr: string): InputStream {
  const inputPart = stderr.split(/\nOutput #0/)[0] ?? '';
  // e.g. "  Duration: 01:00:00.00, start: 0.000000, bitrate: 1 kb/s"; a duration guessed from the bitrate
  // (ffmpeg warns "Estimating duration from bitrate") may be far off, so it declares nothing.
  const d = /Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(inputPart);
  const seconds = d && !/Estimating duration from bitrate/.test(inputPart) ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : undefined;
  // e.g. "  Stream #0:0(eng): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)"
  const m = /Stream #0:\d+[^:]*: Audio: ([A-Za-z0-9_]+)[^\n]*?, (\d+) Hz, ([^,\n]+)/.exec(inputPart);
  if (!m) return { codec: undefined, rate: 0, channels: 0, seconds };
  return { codec: m[1], rate: Number(m[2]), channels: layoutChannels(m[3] ?? ''), seconds };
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
