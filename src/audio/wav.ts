// RIFF/WAVE reading and writing. Input: 8-bit unsigned, 16/24/32-bit int, 32/64-bit float and G.711
// payloads, plain or WAVE_FORMAT_EXTENSIBLE, read either as 16-bit (readWav) or as full-precision float
// (readWavFloat). Output: 16-bit PCM. Every chunk length is checked before it is read.
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

/** The fields of a parsed WAV file; `data` is a view into the input, not a copy. */
export interface WavInfo {
  /** WAVE format tag (the sub-format for WAVE_FORMAT_EXTENSIBLE). */
  formatTag: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Bytes per sample of one channel as stored (the container size, e.g. 4 for 24-in-32). */
  bytesPerSample: number;
  data: Uint8Array;
}

/** Interleaved float samples in [-1, 1] straight from a WAV file, at full source precision. */
export interface FloatAudio {
  sampleRate: number;
  channels: number;
  samples: Float32Array;
  /** The stored encoding as ffmpeg names it: pcm_s16le, pcm_u8, pcm_f32le, pcm_mulaw, ... */
  encoding: string;
}

/** Parses the RIFF/WAVE structure (fmt and data chunks) without decoding samples. Throws WavError. */
export function parseWav(buf: Uint8Array): WavInfo {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number): string => String.fromCharCode(buf[o] ?? 0, buf[o + 1] ?? 0, buf[o + 2] ?? 0, buf[o + 3] ?? 0);
  if (buf.byteLength < 12) throw new WavError(`not a WAV file: ${buf.byteLength} bytes is shorter than the 12-byte RIFF header`);
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new WavError(`not a WAV file: starts with "${tag(0)}"/"${tag(8)}", expected "RIFF"/"WAVE"`);

  let fmt: { formatTag: number; channels: number; sampleRate: number; bits: number; blockAlign: number } | undefined;
  let data: Uint8Array | undefined;
  let off = 12;
  while (off + 8 <= buf.byteLength) {
    const id = tag(off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    // A streamed WAV may carry a data size of 0 or 0xffffffff: take what is there.
    const end = Math.min(body + size, buf.byteLength);
    if (id === 'fmt ') {
      if (size < 16) throw new WavError(`fmt chunk of ${size} bytes is too short (needs 16)`);
      if (body + 16 > buf.byteLength) throw new WavError(`WAV header is truncated: the fmt chunk needs 16 bytes, ${buf.byteLength - body} present`, { reason: 'truncated' });
      let formatTag = view.getUint16(body, true);
      if (formatTag === WAVE_FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= buf.byteLength) formatTag = view.getUint16(body + 24, true);
      fmt = {
        formatTag,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        blockAlign: view.getUint16(body + 12, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      data = buf.subarray(body, end);
      if (fmt) break;
    }
    off = body + size + (size & 1);
  }
  if (!fmt) throw new WavError(`WAV file has no fmt chunk (${buf.byteLength} bytes)`, { reason: 'truncated' });
  if (!data) throw new WavError(`WAV file has no data chunk (${buf.byteLength} bytes)`, { reason: 'truncated' });
  if (fmt.channels < 1 || fmt.channels > 32) throw new WavError(`unsupported channel count ${fmt.channels}`);
  if (fmt.sampleRate < 1000 || fmt.sampleRate > 384000) throw new WavError(`unsupported sample rate ${fmt.sampleRate} Hz`);
  if (fmt.bits === 0) throw new WavError('the WAV header says 0 bits per sample', { reason: 'bad_header', bitsPerSample: 0 });
  if (fmt.bits > 64) throw new WavError(`the WAV header says ${fmt.bits} bits per sample (at most 64)`, { reason: 'bad_header', bitsPerSample: fmt.bits });
  // The container size comes from the block alignment when it is consistent (12-bit in 16, 24-bit in 32).
  const fromAlign = fmt.blockAlign / fmt.channels;
  const bytesPerSample = Number.isInteger(fromAlign) && fromAlign >= Math.ceil(fmt.bits / 8) && fromAlign <= 8 ? fromAlign : Math.ceil(fmt.bits / 8);
  return { formatTag: fmt.formatTag, channels: fmt.channels, sampleRate: fmt.sampleRate, bitsPerSample: fmt.bits, bytesPerSample, data };
}

export function readWav(buf: Uint8Array): PcmAudio {
  const info = parseWav(buf);
  return { sampleRate: info.sampleRate, channels: info.channels, samples: toInt16(info.formatTag, info.bitsPerSample, info.data) };
}

/**
 * Decodes a WAV file to interleaved float at full precision: PCM of 8 (unsigned), 16, 24 and 32 bits,
 * IEEE float of 32 and 64 bits, mu-law and A-law, plain or WAVE_FORMAT_EXTENSIBLE. Other encodings (ADPCM,
 * GSM, MP3-in-WAV, ...) throw a WavError whose details.reason is 'unsupported_encoding'.
 */
export function readWavFloat(buf: Uint8Array): FloatAudio {
  const info = parseWav(buf);
  const encoding = wavEncoding(info);
  const n = wavSampleCount(info);
  const out = new Float32Array(n);
  wavSamplesToFloat(info, 0, n, out);
  return { sampleRate: info.sampleRate, channels: info.channels, samples: out, encoding };
}

/** Whole interleaved samples in the data chunk (a trailing partial sample is dropped). */
export function wavSampleCount(info: WavInfo): number {
  return Math.floor(info.data.byteLength / info.bytesPerSample);
}

/**
 * The stored encoding as ffmpeg names it (pcm_s16le, pcm_u8, pcm_f32le, pcm_mulaw, ...); throws a WavError
 * with details.reason 'unsupported_encoding' for what wavSamplesToFloat cannot convert.
 */
export function wavEncoding(info: WavInfo): string {
  const { formatTag, bytesPerSample: bytes } = info;
  if ((formatTag === WAVE_FORMAT_MULAW || formatTag === WAVE_FORMAT_ALAW) && bytes === 1) return formatTag === WAVE_FORMAT_MULAW ? 'pcm_mulaw' : 'pcm_alaw';
  if (formatTag === WAVE_FORMAT_PCM && bytes >= 1 && bytes <= 4) return bytes === 1 ? 'pcm_u8' : `pcm_s${bytes * 8}le`;
  if (formatTag === WAVE_FORMAT_IEEE_FLOAT && (bytes === 4 || bytes === 8)) return bytes === 4 ? 'pcm_f32le' : 'pcm_f64le';
  throw unsupported(info);
}

/**
 * Interleaved samples [first, first + count) of the data chunk as float in [-1, 1] into `out`, so a long
 * file converts block by block. The encoding must be one wavEncoding() accepts.
 */
export function wavSamplesToFloat(info: WavInfo, first: number, count: number, out: Float32Array): void {
  const { formatTag, bytesPerSample: bytes } = info;
  const data = info.data.subarray(first * bytes, (first + count) * bytes);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = Math.min(count, Math.floor(data.byteLength / bytes));
  if (formatTag === WAVE_FORMAT_MULAW || formatTag === WAVE_FORMAT_ALAW) {
    const pcm = new Int16Array(n);
    if (formatTag === WAVE_FORMAT_MULAW) mulawDecode(data.subarray(0, n), pcm);
    else alawDecode(data.subarray(0, n), pcm);
    for (let i = 0; i < n; i++) out[i] = (pcm[i] as number) / 32768;
  } else if (formatTag === WAVE_FORMAT_PCM) {
    // Samples are left-justified in their container, so scaling by the container size is exact.
    if (bytes === 1) for (let i = 0; i < n; i++) out[i] = ((data[i] as number) - 128) / 128;
    else if (bytes === 2) for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true) / 32768;
    else if (bytes === 3) for (let i = 0; i < n; i++) out[i] = ((dv.getInt8(i * 3 + 2) << 16) | dv.getUint16(i * 3, true)) / 8388608;
    else for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true) / 2147483648;
  } else {
    for (let i = 0; i < n; i++) {
      const v = bytes === 4 ? dv.getFloat32(i * 4, true) : dv.getFloat64(i * 8, true);
      // NaN and infinities (corrupt samples) become silence; overs are clamped to full scale.
      out[i] = !Number.isFinite(v) ? 0 : v > 1 ? 1 : v < -1 ? -1 : v;
    }
  }
}

function unsupported(info: WavInfo): WavError {
  return new WavError(`unsupported WAV encoding: format tag ${info.formatTag}, ${info.bitsPerSample} bits`, {
    reason: 'unsupported_encoding',
    formatTag: info.formatTag,
    bitsPerSample: info.bitsPerSample,
  });
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
