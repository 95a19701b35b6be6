// G.711 against an independent implementation: sox, on real speech (Asterisk's hello-world prompt,
// Debian package asterisk-core-sounds-en-wav). The test command installs both; without them it fails.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOUNDS } from '../../../helpers/audio.js';
import { alawDecode, alawEncode, mulawDecode, mulawEncode } from '../../../../src/mediaplane/codec/g711.js';

const SPEECH = `${SOUNDS}/hello-world.wav`;


/** The samples of a 16-bit mono PCM WAV: walks the RIFF chunks to 'fmt ' and 'data'. */
function readWav16(path: string): { rate: number; pcm: Int16Array } {
  const buf = readFileSync(path);
  expect(buf.toString('ascii', 0, 4)).toBe('RIFF');
  expect(buf.toString('ascii', 8, 12)).toBe('WAVE');
  let rate = 0;
  for (let at = 12; at + 8 <= buf.length; ) {
    const id = buf.toString('ascii', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      expect(buf.readUInt16LE(body)).toBe(1); // WAVE_FORMAT_PCM
      expect(buf.readUInt16LE(body + 2)).toBe(1); // mono
      expect(buf.readUInt16LE(body + 14)).toBe(16); // bits per sample
      rate = buf.readUInt32LE(body + 4);
    } else if (id === 'data') {
      const pcm = new Int16Array(size >> 1);
      for (let i = 0; i < pcm.length; i++) pcm[i] = buf.readInt16LE(body + 2 * i);
      return { rate, pcm };
    }
    at = body + size + (size & 1); // chunks are padded to even length
  }
  throw new Error(`${path}: no data chunk`);
}

describe('G.711 against sox on real speech', () => {
  let dir = '';
  let speech: Int16Array = new Int16Array(0);
  beforeAll(() => {
    expect(existsSync(SPEECH), `${SPEECH} missing: install asterisk-core-sounds-en-wav`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'theo-g711-sox-'));
    const wav = readWav16(SPEECH);
    expect(wav.rate).toBe(8000);
    speech = wav.pcm;
    expect(speech.length).toBeGreaterThan(8000); // 1.4 s of speech
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    { type: 'ul', encode: mulawEncode, decode: mulawDecode },
    { type: 'al', encode: alawEncode, decode: alawDecode },
  ])('$type: our encoding is byte-identical to sox, and our decoding of sox output is identical PCM', ({ type, encode, decode }) => {
    // -D: going from 16-bit input to 14/13-bit G.711 precision, sox adds TPDF dither by default, seeded
    // anew each run. On this file that moves 540-600 of 11234 mu-law codes (750-800 A-law) to the
    // adjacent level, differently every time; without it sox and we agree on every byte.
    const coded = join(dir, `speech.${type}`);
    execFileSync('sox', ['-D', SPEECH, '-t', type, coded]);
    const soxCodes = new Uint8Array(readFileSync(coded));
    expect(soxCodes.length).toBe(speech.length);
    const ours = new Uint8Array(speech.length);
    expect(encode(speech, ours)).toBe(speech.length);
    let differing = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== soxCodes[i]) differing++;
    expect(differing).toBe(0);

    const raw = join(dir, `back-${type}.raw`);
    execFileSync('sox', ['-t', type, '-r', '8000', '-c', '1', coded, '-t', 's16', '-e', 'signed', '-b', '16', '-L', raw]);
    const soxPcm = readFileSync(raw);
    expect(soxPcm.length).toBe(2 * soxCodes.length);
    const decoded = new Int16Array(soxCodes.length);
    expect(decode(soxCodes, decoded)).toBe(soxCodes.length);
    expect(Buffer.from(decoded.buffer).equals(soxPcm)).toBe(true); // little-endian host, -L above
  });
});
