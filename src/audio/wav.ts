// RIFF/WAVE reading and writing for 16-bit PCM (plus 8-bit, 24/32-bit int, 32-bit float and G.711
// payloads on input, all converted to 16-bit). Every chunk length is checked before it is read.
import { WavError } from '../errors/index.js';
import { alawDecode, mulawDecode } from '../mediaplane/codec/g711.js';

export interface PcmAudio {
  sampleRate: number;
  channels: number;
  /** Interleaved signed 16-bit samples. */
  samples: Int16Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_ALAW = 6;
const WAVE_FORMAT_MULAW = 7;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

export function readWav(buf: Uint8Array): PcmAudio {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number): string => String.fromCharCode(buf[o] ?? 0, buf[o + 1] ?? 0, buf[o + 2] ?? 0, buf[o + 3] ?? 0);
  if (buf.byteLength < 12) throw new WavError(`not a WAV file: ${buf.byteLength} bytes is shorter than the 12-byte RIFF header`);
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new WavError(`not a WAV file: starts with "${tag(0)}"/"${tag(8)}", expected "RIFF"/"WAVE"`);

  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  let off = 12;
  while (off + 8 <= buf.byteLength) {
    const id = tag(off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    // A streamed WAV may carry a data size of 0 or 0xffffffff: take what is there.
    const end = Math.min(body + size, buf.byteLength);
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.byteLength) throw new WavError(`fmt chunk of ${size} bytes is too short (needs 16)`);
      let format = view.getUint16(body, true);
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= buf.byteLength) format = view.getUint16(body + 24, true);
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      data = buf.subarray(body, end);
      if (fmt) break;
    }
    off = body + size + (size & 1);
  }
  if (!fmt) throw new WavError('WAV file has no fmt chunk');
  if (!data) throw new WavError('WAV file has no data chunk');
  if (fmt.channels < 1 || fmt.channels > 32) throw new WavError(`unsupported channel count ${fmt.channels}`);
  if (fmt.sampleRate < 1000 || fmt.sampleRate > 384000) throw new WavError(`unsupported sample rate ${fmt.sampleRate} Hz`);
  return { sampleRate: fmt.sampleRate, channels: fmt.channels, samples: toInt16(fmt.format, fmt.bits, data) };
}

function toInt16(format: number, bits: number, data: Uint8Array): Int16Array {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (format === WAVE_FORMAT_MULAW || format === WAVE_FORMAT_ALAW) {
    const out = new Int16Array(data.byteLength);
    if (format === WAVE_FORMAT_MULAW) mulawDecode(data, out);
    else alawDecode(data, out);
    return out;
  }
  if (format === WAVE_FORMAT_PCM) {
    const bytes = bits / 8;
    if (![1, 2, 3, 4].includes(bytes)) throw new WavError(`unsupported PCM bit depth ${bits}`);
    const n = Math.floor(data.byteLength / bytes);
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * bytes;
      if (bytes === 1) out[i] = ((data[o] ?? 128) - 128) << 8;
      else if (bytes === 2) out[i] = dv.getInt16(o, true);
      else if (bytes === 3) out[i] = dv.getInt16(o + 1, true);
      else out[i] = dv.getInt32(o, true) >> 16;
    }
    return out;
  }
  if (format === WAVE_FORMAT_IEEE_FLOAT && (bits === 32 || bits === 64)) {
    const bytes = bits / 8;
    const n = Math.floor(data.byteLength / bytes);
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const v = bytes === 4 ? dv.getFloat32(i * 4, true) : dv.getFloat64(i * 8, true);
      // NaN becomes silence rather than poisoning the stream.
      const s = Number.isFinite(v) ? Math.round(v * 32767) : 0;
      out[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
    }
    return out;
  }
  throw new WavError(`unsupported WAV encoding: format tag ${format}, ${bits} bits`);
}

/** A 16-bit PCM WAV file for the given interleaved samples. */
export function encodeWav(audio: PcmAudio): Buffer {
  const dataBytes = audio.samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(audio.channels, 22);
  out.writeUInt32LE(audio.sampleRate, 24);
  out.writeUInt32LE(audio.sampleRate * audio.channels * 2, 28);
  out.writeUInt16LE(audio.channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < audio.samples.length; i++) out.writeInt16LE(audio.samples[i] ?? 0, 44 + i * 2);
  return out;
}

/** Average interleaved channels into one. */
export function downmixToMono(audio: PcmAudio): PcmAudio {
  if (audio.channels === 1) return audio;
  const n = Math.floor(audio.samples.length / audio.channels);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < audio.channels; c++) sum += audio.samples[i * audio.channels + c] ?? 0;
    out[i] = Math.round(sum / audio.channels);
  }
  return { sampleRate: audio.sampleRate, channels: 1, samples: out };
}
