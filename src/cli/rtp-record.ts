// `theo rtp record`: receives one RTP stream on a port through the jitter buffer and writes a WAV.
import { writeFile } from 'node:fs/promises';
import type { RtpConfig } from '../config/index.js';
import { encodeWav } from '../audio/wav.js';
import { RtpListener } from '../mediaplane/rtp/listener.js';
import type { RtpStream } from '../mediaplane/rtp/stream.js';
import type { Logger } from '../observability/logger.js';

export interface RecordOptions {
  port: number;
  out: string;
  /** Stop after this much audio (seconds of stream time). */
  durationS?: number | undefined;
  /** Stop when no packet came for this long after the first one. */
  idleS: number;
  /** Give up if no stream starts within this time. */
  waitS: number;
  /** Accept packets only from this address (and port, if given). */
  from?: { address: string; port?: number | undefined } | undefined;
  /** Called once the port is bound. */
  onListening?: (port: number) => void;
}

export interface RecordSummary {
  out: string;
  sample_rate: number;
  samples: number;
  duration_s: number;
  packets_received: number;
  packets_expected: number;
  packets_lost: number;
  late: number;
  duplicate: number;
  malformed: number;
  foreign_source: number;
  jitter_ms: number;
  concealed_samples: number;
  gap_samples: number;
  ssrc: string;
  stopped_by: 'duration' | 'idle' | 'signal' | 'no_stream';
}

export async function recordRtp(opts: RecordOptions, rtpConfig: RtpConfig, logger: Logger, signal?: AbortSignal): Promise<RecordSummary> {
  const listener = new RtpListener({ config: { ...rtpConfig, idleTimeoutMs: Math.round(opts.idleS * 1000) }, logger });
  const ep = await listener.open({ port: opts.port, expectedPeer: opts.from });
  // One line as soon as the port is bound, so a script can start its sender (the summary is the last line).
  opts.onListening?.(ep.port);
  const chunks: Int16Array[] = [];
  let samples = 0;
  let sampleRate = 0;
  let stream: RtpStream | undefined;
  let stoppedBy: RecordSummary['stopped_by'] = 'no_stream';
  let stats: ReturnType<RtpStream['receiverStats']>;
  const limit = opts.durationS !== undefined ? () => Math.round(opts.durationS! * sampleRate) : () => Infinity;

  await new Promise<void>((resolve) => {
    let done = false;
    const finish = (why: RecordSummary['stopped_by']): void => {
      if (done) return;
      done = true;
      stoppedBy = why;
      stats = stream?.receiverStats();
      clearTimeout(waitTimer);
      signal?.removeEventListener('abort', onAbort);
      listener.close(); // flushes the jitter buffer into the file
      resolve();
    };
    const onAbort = (): void => finish('signal');
    const waitTimer = setTimeout(() => {
      if (!stream) finish('no_stream');
    }, opts.waitS * 1000);
    signal?.addEventListener('abort', onAbort);

    ep.on('stream', (s) => {
      if (stream) return;
      stream = s;
      logger.info({ source: `${s.source.address}:${s.source.port}` }, 'recording');
      s.on('audio', (f) => {
        sampleRate = f.sampleRate;
        const room = limit() - samples;
        if (room <= 0) return;
        const take = Math.min(room, f.pcm.length);
        chunks.push(f.pcm.slice(0, take));
        samples += take;
        if (samples >= limit()) setImmediate(() => finish('duration'));
      });
      s.once('close', (reason) => {
        if (reason === 'idle') finish('idle');
      });
    });
  });

  const pcm = new Int16Array(samples);
  let off = 0;
  for (const c of chunks) {
    pcm.set(c, off);
    off += c.length;
  }
  await writeFile(opts.out, encodeWav({ sampleRate: sampleRate || 8000, channels: 1, samples: pcm }));
  const c = listener.counters;
  return {
    out: opts.out,
    sample_rate: sampleRate,
    samples,
    duration_s: sampleRate ? samples / sampleRate : 0,
    packets_received: stats?.received ?? 0,
    packets_expected: stats?.expected ?? 0,
    packets_lost: c.lostPackets,
    late: c.outcome.late,
    duplicate: c.outcome.duplicate,
    malformed: c.outcome.malformed,
    foreign_source: c.outcome.foreign_source,
    jitter_ms: (stats?.jitterSeconds ?? 0) * 1000,
    concealed_samples: c.concealedSamples,
    gap_samples: c.gapSamples,
    ssrc: stream ? `0x${stream.ssrc.toString(16).padStart(8, '0')}` : '',
    stopped_by: stoppedBy,
  };
}
