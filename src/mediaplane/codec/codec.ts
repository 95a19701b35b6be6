// The audio codec contract of the media plane, and the codecs Theo speaks on the wire.
import { alawDecode, alawEncode, mulawDecode, mulawEncode } from './g711.js';
import { l16Decode, l16Encode } from './l16.js';

export interface AudioCodec {
  readonly name: 'PCMU' | 'PCMA' | 'L16';
  /** SDP encoding name (RFC 3551 §6). */
  readonly encodingName: string;
  readonly clockRate: number;
  readonly bytesPerSample: 1 | 2;
  samplesIn(bytes: number): number;
  bytesFor(samples: number): number;
  /** Decodes into dst at dstOffset; returns samples written. */
  decode(src: Uint8Array, dst: Int16Array, dstOffset?: number): number;
  /** Encodes into dst at dstOffset; returns bytes written. */
  encode(src: Int16Array, dst: Uint8Array, dstOffset?: number): number;
}

function g711(name: 'PCMU' | 'PCMA', decode: AudioCodec['decode'], encode: AudioCodec['encode']): AudioCodec {
  return Object.freeze({
    name,
    encodingName: name,
    clockRate: 8000,
    bytesPerSample: 1 as const,
    samplesIn: (bytes: number) => bytes,
    bytesFor: (samples: number) => samples,
    decode,
    encode,
  });
}

export const PCMU: AudioCodec = g711('PCMU', mulawDecode, mulawEncode);
export const PCMA: AudioCodec = g711('PCMA', alawDecode, alawEncode);

const l16ByRate = new Map<number, AudioCodec>();

/** L16 mono at the given clock rate (one shared instance per rate). */
export function l16(clockRate: number): AudioCodec {
  let c = l16ByRate.get(clockRate);
  if (!c) {
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

/** Codec by a user-facing name: pcmu/ulaw/mulaw, pcma/alaw, l16 (at clockRate, default 8000), slin, slin16. */
export function codecByName(name: string, clockRate?: number): AudioCodec | undefined {
  switch (name.toLowerCase()) {
    case 'pcmu':
    case 'ulaw':
    case 'mulaw':
    case 'g711u':
      return PCMU;
    case 'pcma':
    case 'alaw':
    case 'g711a':
      return PCMA;
    case 'l16':
      return l16(clockRate ?? 8000);
    case 'slin':
      return l16(8000);
    case 'slin16':
      return l16(16000);
    default:
      return undefined;
  }
}
