// `theo rtp send`: streams a WAV file in real time as RTP, optionally through network impairments.
import { readFile } from 'node:fs/promises';
import { downmixToMono, readWav } from '../audio/wav.js';
import { errorMessage, TheoError } from '../errors/index.js';
import { MediaClock } from '../mediaplane/clock.js';
import { codecByName, type AudioCodec } from '../mediaplane/codec/codec.js';
import { ImpairedLink, type ImpairmentOptions, type ImpairmentStats } from '../mediaplane/rtp/impairment.js';
import { bindUdp } from '../mediaplane/rtp/port-pool.js';
import { RtpSendStream } from '../mediaplane/rtp/send-stream.js';

export interface SendOptions {
  file: string;
  host: string;
  port: number;
  codec: 'pcmu' | 'pcma' | 'l16';
  payloadType?: number | undefined;
  ptimeMs: number;
  fromPort: number;
  impairment: ImpairmentOptions;
  ssrc?: number | undefined;
}

export interface SendSummary extends ImpairmentStats {
  to: string;
  codec: string;
  payload_type: number;
  sample_rate: number;
  samples: number;
  packets: number;
  ssrc: string;
  first_sequence: number;
  first_timestamp: number;
  local_port: number;
}

/** Static payload types of RFC 3551 §6, and Asterisk's slin16 default for L16 at 16 kHz. */
function defaultPayloadType(codec: AudioCodec): number {
  if (codec.name === 'PCMU') return 0;
  if (codec.name === 'PCMA') return 8;
  return codec.clockRate === 44100 ? 11 : 118;
}

export async function sendRtp(opts: SendOptions, signal?: AbortSignal): Promise<SendSummary> {
  const audio = downmixToMono(readWav(await readFile(opts.file)));
  const codec = opts.codec === 'l16' ? codecByName('l16', audio.sampleRate) : codecByName(opts.codec);
  if (!codec) throw new TheoError('codec_unsupported', `unknown codec ${opts.codec}`);
  if (codec.clockRate !== audio.sampleRate) {
    throw new TheoError('invalid_argument', `${opts.file} is ${audio.sampleRate} Hz but ${codec.name} runs at ${codec.clockRate} Hz: convert it first (e.g. sox in.wav -r ${codec.clockRate} out.wav)`);
  }
  if (codec.name === 'L16' && opts.payloadType === undefined && codec.clockRate !== 16000 && codec.clockRate !== 44100) {
    // Only L16/16000 (118, Asterisk slin16) and L16/44100 (11) have payload types a receiver knows by default.
    throw new TheoError('invalid_argument', `${opts.file} is ${audio.sampleRate} Hz: L16 is sent at 16000 Hz (payload type 118) or 44100 Hz (11) by default; convert the file, or pass --payload-type N and configure the receiver with N=L16/${audio.sampleRate}`);
  }
  const payloadType = opts.payloadType ?? defaultPayloadType(codec);
  const socket = await bindUdp(opts.host.includes(':') ? '::' : '0.0.0.0', opts.fromPort);
  // A send that fails (a host that does not resolve, no route) ends the stream with that reason.
  let sendError: Error | undefined;
  const clock = new MediaClock(2);
  const link = new ImpairedLink(opts.impairment, clock, (d) => socket.send(d, opts.port, opts.host));
  const sender = new RtpSendStream({ codec, payloadType, ptimeMs: opts.ptimeMs, ssrc: opts.ssrc, clock, transmit: (d, due) => link.offer(d, due) });
  const firstSeq = sender.packetizer.nextSequenceNumber;
  const firstTs = sender.packetizer.nextTimestamp;
  const localPort = socket.address().port;
  socket.on('error', (err) => {
    sendError ??= err;
    sender.close();
  });

  await new Promise<void>((resolve) => {
    const onAbort = (): void => sender.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    sender.once('close', () => {
      signal?.removeEventListener('abort', onAbort);
      // Let delayed (jittered, reordered) datagrams leave before the socket closes.
      const waitLink = (): void => {
        if (link.pending === 0 || signal?.aborted) resolve();
        else setTimeout(waitLink, 5);
      };
      waitLink();
    });
    sender.write(audio.samples);
    sender.end();
  });
  clock.stop();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  if (sendError) throw new TheoError('rtp_send_failed', `cannot send RTP to ${opts.host}:${opts.port}: ${errorMessage(sendError)}`, { host: opts.host, port: opts.port }, { cause: sendError });
  return {
    ...link.stats,
    to: `${opts.host}:${opts.port}`,
    codec: codec.name,
    payload_type: payloadType,
    sample_rate: codec.clockRate,
    samples: audio.samples.length,
    packets: sender.packetsSent,
    ssrc: `0x${sender.packetizer.ssrc.toString(16).padStart(8, '0')}`,
    first_sequence: firstSeq,
    first_timestamp: firstTs,
    local_port: localPort,
  };
}
