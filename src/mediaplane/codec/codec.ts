// The audio codec contract of the media plane, and the codecs Theo speaks on the wire: PCMU and PCMA
// (G.711, RFC 3551 §4.5.14) and L16 (RFC 3551 §4.5.11) at any clock rate.
import { TheoError } from '../../errors/index.js';
import { alawEncode, mulawEncode } from './g711.js';
import { alawDecodeSimd, mulawDecodeSimd } from './g711-simd.js';
import { l16Decode, l16Encode } from './l16.js';

export interface AudioCodec {
  readonly name: 'PCMU' | 'PCMA' | 'L16';
  /** SDP encoding name (RFC 3551 §6, Table 4). */
  readonly encodingName: string;
  readonly clockRate: number;
  readonly bytesPerSample: 1 | 2;
  /** Whole samples in a payload of `bytes` bytes. */
  samplesIn(bytes: number): number;
  bytesFor(samples: number): number;
  /** Decodes into dst at dstOffset; returns samples written. */
  decode(src: Uint8Array, dst: Int16Array, dstOffset?: number): number;
  /** Encodes into dst at dstOffset; returns bytes written. */
  encode(src: Int16Array, dst: Uint8Array, dstOffset?: number): number;
}

/** G.711 is defined at 8000 samples per second (RFC 3551 §4.5.14). */
const G711_CLOCK_RATE = 8000;

function g711(name: 'PCMU' | 'PCMA', decode: AudioCodec['decode'], encode: AudioCodec['encode']): AudioCodec {
  return Object.freeze({
    name,
    encodingName: name,
    clockRate: G711_CLOCK_RATE,
    bytesPerSample: 1 as const,
    samplesIn: (bytes: number) => bytes,
    bytesFor: (samples: number) => samples,
    decode,
    encode,
  });
}

// Decoding runs in WebAssembly SIMD where the engine has it and falls back to the table decode otherwise
// (g711-simd.ts); the output is the same either way.
export const PCMU: AudioCodec = g711('PCMU', mulawDecodeSimd, mulawEncode);
export const PCMA: AudioCodec = g711('PCMA', alawDecodeSimd, alawEncode);

const l16ByRate = new Map<number, AudioCodec>();

/** L16 mono at the given clock rate; one shared instance per rate, so codecs compare by identity. */
export function l16(clockRate: number): AudioCodec {
  let c = l16ByRate.get(clockRate);
  if (!c) {
    if (!Number.isSafeInteger(clockRate) || clockRate <= 0) {
      throw new TheoError('invalid_argument', `L16 clock rate must be a positive integer, got ${clockRate}`, { clockRate });
    }
    c = Object.freeze({
      name: 'L16' as const,
      encodingName: 'L16',
      clockRate,
      bytesPerSample: 2 as const,
      samplesIn: (bytes: number) => bytes >> 1,
      bytesFor: (samples: number) => samples * 2,
      decode: l16Decode,
      encode: l16Encode,
    });
    l16ByRate.set(clockRate, c);
  }
  return c;
}

function atRate(codec: AudioCodec, clockRate: number | undefined): AudioCodec | undefined {
  return clockRate === undefined || clockRate === codec.clockRate ? codec : undefined;
}

/**
 * Codec by a user-facing name, case-insensitive: pcmu/ulaw/mulaw, pcma/alaw, l16 (at clockRate, default
 * 8000), slin (Asterisk: L16/8000), slin16 (L16/16000). A clockRate that a fixed-rate name contradicts
 * (pcmu at 16000) finds nothing.
 */
export function codecByName(name: string, clockRate?: number): AudioCodec | undefined {
  switch (name.toLowerCase()) {
    case 'pcmu':
    case 'ulaw':
    case 'mulaw':
    case 'g711u':
      return atRate(PCMU, clockRate);
    case 'pcma':
    case 'alaw':
    case 'g711a':
      return atRate(PCMA, clockRate);
    case 'l16':
      return l16(clockRate ?? 8000);
    case 'slin':
      return atRate(l16(8000), clockRate);
    case 'slin16':
      return atRate(l16(16000), clockRate);
    default:
      return undefined;
  }
}
