// Real audio files to mutate: one Asterisk prompt encoded by ffmpeg as WAV (PCM 8/16/24-bit, float, G.711,
// WAVE_FORMAT_EXTENSIBLE, MS ADPCM), FLAC, Ogg (Opus, Vorbis) and MP3, each with the offsets of its length
// and format fields (RIFF chunk sizes and fmt fields, FLAC metadata block lengths and STREAMINFO, Ogg page
// headers, the ID3v2 size) for the length mutation. Built once per machine into a cache folder.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Prng } from '../../src/util/prng.js';
import { SOUNDS } from '../helpers/audio.js';
import { mutate, type LengthField } from './mutate.js';

export interface AudioSeed {
  name: string;
  container: 'wav' | 'flac' | 'ogg' | 'mp3';
  bytes: Uint8Array;
  fields: LengthField[];
  /** Header bytes: where most mutations land. */
  region: number;
}

const SOURCE = `${SOUNDS}/digits/1.wav`;
const CACHE = join(tmpdir(), 'theo-fuzz-seeds-v1');

const VARIANTS: Array<[string, AudioSeed['container'], string[]]> = [
  ['pcm_s16le-8k.wav', 'wav', ['-c:a', 'pcm_s16le']],
  ['pcm_u8.wav', 'wav', ['-c:a', 'pcm_u8']],
  ['pcm_s24le-stereo-16k.wav', 'wav', ['-ar', '16000', '-ac', '2', '-c:a', 'pcm_s24le']],
  ['pcm_f32le.wav', 'wav', ['-c:a', 'pcm_f32le']],
  ['pcm_mulaw.wav', 'wav', ['-c:a', 'pcm_mulaw']],
  ['pcm_alaw.wav', 'wav', ['-c:a', 'pcm_alaw']],
  ['pcm_s16le-3ch-extensible.wav', 'wav', ['-ac', '3', '-c:a', 'pcm_s16le']],
  ['adpcm_ms.wav', 'wav', ['-c:a', 'adpcm_ms']],
  ['audio.flac', 'flac', ['-c:a', 'flac']],
  ['opus.ogg', 'ogg', ['-ar', '16000', '-c:a', 'libopus', '-b:a', '16k']],
  ['vorbis.ogg', 'ogg', ['-ar', '16000', '-c:a', 'libvorbis', '-q:a', '1']],
  ['audio.mp3', 'mp3', ['-ar', '16000', '-c:a', 'libmp3lame', '-b:a', '32k']],
];

let cached: AudioSeed[] | undefined;

export function audioSeeds(): AudioSeed[] {
  if (cached) return cached;
  mkdirSync(CACHE, { recursive: true });
  cached = VARIANTS.map(([name, container, args]) => {
    const file = join(CACHE, name);
    if (!existsSync(file)) {
      const tmp = `${file}.${process.pid}.tmp`;
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', SOURCE, '-bitexact', ...args, '-f', container === 'mp3' ? 'mp3' : container, tmp]);
      renameSync(tmp, file);
    }
    const bytes = new Uint8Array(readFileSync(file));
    return { name, container, bytes, fields: fieldsOf(container, bytes), region: container === 'ogg' ? 512 : 256 };
  });
  return cached;
}

function fieldsOf(container: AudioSeed['container'], b: Uint8Array): LengthField[] {
  if (container === 'wav') return wavFields(b);
  if (container === 'flac') return flacFields(b);
  if (container === 'ogg') return oggFields(b);
  return [{ offset: 6, size: 4 }, { offset: 3, size: 2 }];
}

/** RIFF size, every chunk's size, and the fmt fields (tag, channels, rate, byte rate, align, bits, cbSize). */
function wavFields(b: Uint8Array): LengthField[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: LengthField[] = [{ offset: 4, size: 4, littleEndian: true }];
  for (let o = 12; o + 8 <= b.length; ) {
    const size = dv.getUint32(o + 4, true);
    out.push({ offset: o + 4, size: 4, littleEndian: true });
    if (String.fromCharCode(...b.subarray(o, o + 4)) === 'fmt ') {
      for (const [rel, sz] of [[0, 2], [2, 2], [4, 4], [8, 4], [12, 2], [14, 2], [16, 2], [18, 2], [20, 4]] as const) out.push({ offset: o + 8 + rel, size: sz, littleEndian: true });
    }
    o += 8 + size + (size & 1);
  }
  return out;
}

/** Every metadata block's 24-bit length, and STREAMINFO's block/frame sizes, rate/channels/bits and sample count. */
function flacFields(b: Uint8Array): LengthField[] {
  const out: LengthField[] = [{ offset: 8, size: 2 }, { offset: 10, size: 2 }, { offset: 12, size: 3 }, { offset: 15, size: 3 }, { offset: 18, size: 4 }, { offset: 22, size: 4 }];
  for (let o = 4; o + 4 <= b.length; ) {
    out.push({ offset: o + 1, size: 3 });
    const last = ((b[o] as number) & 0x80) !== 0;
    o += 4 + (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number));
    if (last) break;
  }
  return out;
}

/** The first pages' headers: version, type, granule, serial, sequence, segment count, and segment lengths. */
function oggFields(b: Uint8Array): LengthField[] {
  const out: LengthField[] = [];
  let o = 0;
  for (let page = 0; page < 4 && o + 27 <= b.length; page++) {
    for (const [rel, sz] of [[5, 1], [6, 4], [10, 4], [14, 4], [18, 4], [26, 1]] as const) out.push({ offset: o + rel, size: sz, littleEndian: true });
    const nsegs = b[o + 26] as number;
    let body = 0;
    for (let k = 0; k < nsegs; k++) {
      out.push({ offset: o + 27 + k, size: 1 });
      body += b[o + 27 + k] as number;
    }
    o += 27 + nsegs + body;
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/**
 * Recomputes the CRC of every Ogg page found by its capture pattern, so that a mutated page is parsed
 * rather than skipped for its checksum (RFC 3533 §6: CRC-32, polynomial 0x04c11db7, over the page with the
 * CRC field zeroed).
 */
export function fixOggCrc(b: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  for (let o = out.indexOf(0x4f); o >= 0 && o + 27 <= out.length; o = out.indexOf(0x4f, o + 1)) {
    if (out[o + 1] !== 0x67 || out[o + 2] !== 0x67 || out[o + 3] !== 0x53) continue;
    const nsegs = out[o + 26] as number;
    let end = o + 27 + nsegs;
    for (let k = 0; k < nsegs; k++) end += out[o + 27 + k] ?? 0;
    end = Math.min(end, out.length);
    out.fill(0, o + 22, o + 26);
    let crc = 0;
    for (let i = o; i < end; i++) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ (out[i] as number)) & 0xff] as number)) >>> 0;
    new DataView(out.buffer).setUint32(o + 22, crc, true);
  }
  return out;
}

/** A mutated copy of one seed, header-focused; Ogg pages get their CRC fixed half of the time. */
export function mutateAudio(prng: Prng, seed: AudioSeed, others: readonly AudioSeed[]): Uint8Array {
  const other = others[prng.int(others.length)]!.bytes;
  const m = mutate(prng, seed.bytes, { region: seed.region, fields: seed.fields, other, maxLength: seed.bytes.length * 2 + 4096 });
  return seed.container === 'ogg' && prng.chance(0.5) ? fixOggCrc(m) : m;
}
