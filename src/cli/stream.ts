// `theo transcribe --stream FILE`: the file goes through a live session as a caller's audio would, in 20 ms
// frames at real-time pace (or as fast as the session takes them with --fast), with the model in a worker
// process as under `theo serve`. Partials are shown in place on a terminal, finals one per line; --json
// prints every session event as one JSON line, in the form the WebSocket API sends (snake_case).
import { readFile } from 'node:fs/promises';
import type { TheoConfig } from '../config/index.js';
import { toWireAll } from '../api/ws/events.js';
import { decodeAudio } from '../audio/decode.js';
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import { createRegistry } from '../observability/metrics.js';
import type { ModelEntry } from '../registry/manifest.js';
import type { SessionEvent } from '../session/events.js';
import { createSessionStack } from '../session/stack.js';

export interface StreamCliOptions {
  file: string;
  language?: string | undefined;
  hotWords: string[];
  itn: boolean;
  preprocess: boolean;
  gain: boolean;
  denoise: boolean | 'auto';
  /** Feed as fast as the session takes it, not at real-time pace. */
  fast: boolean;
  json: boolean;
  /** Frame length, ms (default 20). */
  frameMs?: number;
}

export interface StreamCliResult {
  finals: number;
  errors: number;
}

const fmtTime = (ms: number): string => {
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${(s - m * 60).toFixed(2).padStart(5, '0')}`;
};

export async function streamCommand(
  config: Readonly<TheoConfig>,
  entry: ModelEntry,
  opts: StreamCliOptions,
  logger: Logger,
  signal: AbortSignal,
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Promise<StreamCliResult> {
  const bytes = await readFile(opts.file);
  const audio = await decodeAudio(bytes, { targetRate: entry.manifest.sampleRate, keepSourceRate: true });
  const stack = await createSessionStack({ config, models: [entry], logger, registry: createRegistry({ defaultMetrics: false }), onWarning: (m) => logger.warn(m) });
  const tty = out.isTTY === true && !opts.json;
  let partialShown = false;
  const result: StreamCliResult = { finals: 0, errors: 0 };
  try {
    await stack.workers.whenServing(entry.manifest.name, config.workers.startTimeoutMs);
    const session = stack.sessions.create({
      model: entry.manifest.name,
      inputRate: audio.sampleRate,
      ...(audio.sourceFormat && /mulaw|alaw/.test(audio.sourceFormat) ? { quality: 'telephony' as const } : {}),
      ...(opts.language ? { language: opts.language } : {}),
      hotWords: opts.hotWords,
      itn: opts.itn,
      interimResults: true,
      realtime: !opts.fast,
      preprocess: opts.preprocess,
      gain: opts.gain,
      denoise: opts.denoise,
    });
    const closed = new Promise<void>((resolve) => {
      session.on('event', (ev: SessionEvent) => {
        if (ev.type === 'transcript.final') result.finals++;
        if (ev.type === 'error') result.errors++;
        if (opts.json) out.write(`${JSON.stringify(toWireAll(ev))}\n`);
        else if (ev.type === 'transcript.partial' && tty) {
          out.write(`\r\x1b[K\x1b[2m${ev.text}\x1b[0m`);
          partialShown = true;
        } else if (ev.type === 'transcript.final') {
          out.write(`${partialShown ? '\r\x1b[K' : ''}[${fmtTime(ev.startMs)} - ${fmtTime(ev.endMs)}] ${ev.text}\n`);
          partialShown = false;
        } else if (ev.type === 'error') {
          process.stderr.write(`theo: ${ev.code}: ${ev.message}\n`);
        }
        if (ev.type === 'session.closed') resolve();
      });
    });

    const frame = Math.max(1, Math.round(((opts.frameMs ?? 20) / 1000) * audio.sampleRate));
    const frameMs = (frame / audio.sampleRate) * 1000;
    const t0 = performance.now();
    for (let i = 0, k = 0; i < audio.samples.length && !signal.aborted; i += frame, k++) {
      const ok = session.push(audio.samples.subarray(i, Math.min(audio.samples.length, i + frame)));
      if (opts.fast) {
        if (!ok || k % 50 === 49) {
          await session.whenReady();
          // And the VAD caught up (it drains a window per event-loop turn): ahead of it, the ring would fill
          // with audio nothing was decided about yet, and drop what comes past its size.
          await stack.vad.flush();
        }
      } else {
        const wait = t0 + (k + 1) * frameMs - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
    }
    if (!signal.aborted) await session.finish();
    await session.close(signal.aborted ? 'interrupted' : 'end of file');
    await closed;
    if (partialShown) out.write('\r\x1b[K');
  } catch (err) {
    throw new Error(`streaming ${opts.file}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await stack.close();
  }
  return result;
}
