import { describe, expect, it } from 'vitest';
import { downmixToMono, encodeWav, parseWav, readWav, readWavFloat } from '../../../src/audio/wav.js';
import { WavError } from '../../../src/errors/index.js';

describe('WAV', () => {
  it('round-trips 16-bit PCM', () => {
    const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    const buf = encodeWav({ sampleRate: 8000, channels: 1, samples });
    expect(buf.byteLength).toBe(44 + 12);
    expect(buf.toString('ascii', 0, 4)).toBe('RIFF');
    const back = readWav(buf);
    expect(back.sampleRate).toBe(8000);
    expect(back.channels).toBe(1);
    expect([...back.samples]).toEqual([...samples]);
  });

  it('skips unknown chunks and downmixes stereo', () => {
    const stereo = encodeWav({ sampleRate: 16000, channels: 2, samples: Int16Array.from([100, 300, -100, -300]) });
    // insert a LIST chunk between fmt and data
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from([1, 2, 3, 0])]);
    const withList = Buffer.concat([stereo.subarray(0, 36), list, stereo.subarray(36)]);
    const mono = downmixToMono(readWav(withList));
    expect(mono.channels).toBe(1);
    expect([...mono.samples]).toEqual([200, -200]);
  });

  it('rejects garbage with specific messages', () => {
    expect(() => readWav(Buffer.from('RIFF'))).toThrow(/12-byte RIFF header/);
    expect(() => readWav(Buffer.from('RIFX\0\0\0\0WAVEdata'))).toThrow(WavError);
    const noData = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(0) }).subarray(0, 36);
    expect(() => readWav(noData)).toThrow(/no data chunk/);
    const badRate = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(2) });
    badRate.writeUInt32LE(10, 24);
    expect(() => readWav(badRate)).toThrow(/unsupported sample rate 10 Hz/);
  });
});

/** A WAV file from a fmt chunk body and data bytes. */
function wavBytes(fmt: Buffer, data: Buffer): Buffer {
  const chunk = (id: string, body: Buffer): Buffer => {
    const h = Buffer.alloc(8);
    h.write(id, 0, 'ascii');
    h.writeUInt32LE(body.length, 4);
    return Buffer.concat([h, body, body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  };
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), chunk('data', data)]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** A fmt chunk body; `extensible` wraps the tag in WAVE_FORMAT_EXTENSIBLE (40 bytes, sub-format GUID). */
function fmtBody(tag: number, channels: number, rate: number, bits: number, opts: { container?: number; extensible?: boolean } = {}): Buffer {
  const bytes = opts.container ?? bits / 8;
  const f = Buffer.alloc(opts.extensible ? 40 : 16);
  f.writeUInt16LE(opts.extensible ? 0xfffe : tag, 0);
  f.writeUInt16LE(channels, 2);
  f.writeUInt32LE(rate, 4);
  f.writeUInt32LE(rate * channels * bytes, 8);
  f.writeUInt16LE(channels * bytes, 12);
  f.writeUInt16LE(opts.container ? opts.container * 8 : bits, 14);
  if (opts.extensible) {
    f.writeUInt16LE(22, 16); // cbSize
    f.writeUInt16LE(bits, 18); // valid bits
    f.writeUInt32LE(channels === 2 ? 3 : 4, 20); // channel mask
    f.writeUInt16LE(tag, 24); // first two bytes of the KSDATAFORMAT_SUBTYPE GUID
    Buffer.from([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]).copy(f, 26);
  }
  return f;
}

describe('readWavFloat', () => {
  it('8-bit unsigned', () => {
    const a = readWavFloat(wavBytes(fmtBody(1, 1, 8000, 8), Buffer.from([0, 128, 255, 64])));
    expect(a).toMatchObject({ sampleRate: 8000, channels: 1, encoding: 'pcm_u8' });
    expect([...a.samples]).toEqual([-1, 0, 127 / 128, -0.5]);
  });

  it('16-bit, and 24-bit with its full precision', () => {
    const s16 = Buffer.alloc(4);
    s16.writeInt16LE(-32768, 0);
    s16.writeInt16LE(16384, 2);
    expect([...readWavFloat(wavBytes(fmtBody(1, 1, 16000, 16), s16)).samples]).toEqual([-1, 0.5]);
    const s24 = Buffer.alloc(9);
    s24.writeIntLE(-8388608, 0, 3);
    s24.writeIntLE(1, 3, 3); // below 16-bit resolution: readWav would drop it
    s24.writeIntLE(4194304, 6, 3);
    const a = readWavFloat(wavBytes(fmtBody(1, 1, 48000, 24), s24));
    expect(a.encoding).toBe('pcm_s24le');
    expect([...a.samples]).toEqual([-1, Math.fround(1 / 8388608), 0.5]);
  });

  it('32-bit int, and 24 valid bits in a 32-bit container (WAVE_FORMAT_EXTENSIBLE)', () => {
    const d = Buffer.alloc(8);
    d.writeInt32LE(-2147483648, 0);
    d.writeInt32LE(0x40000000, 4);
    expect([...readWavFloat(wavBytes(fmtBody(1, 1, 8000, 32), d)).samples]).toEqual([-1, 0.5]);
    const ext = readWavFloat(wavBytes(fmtBody(1, 2, 8000, 24, { container: 4, extensible: true }), d));
    expect(ext).toMatchObject({ channels: 2, encoding: 'pcm_s32le' });
    expect([...ext.samples]).toEqual([-1, 0.5]);
  });

  it('32- and 64-bit float, plain and extensible, with NaN and infinities silenced and overs clamped', () => {
    const f32 = Buffer.alloc(16);
    [0.25, -0.75, Number.NaN, 3].forEach((v, i) => f32.writeFloatLE(v, i * 4));
    expect([...readWavFloat(wavBytes(fmtBody(3, 1, 8000, 32), f32)).samples]).toEqual([0.25, -0.75, 0, 1]);
    expect(readWavFloat(wavBytes(fmtBody(3, 1, 8000, 32, { extensible: true }), f32)).encoding).toBe('pcm_f32le');
    const f64 = Buffer.alloc(16);
    f64.writeDoubleLE(0.125, 0);
    f64.writeDoubleLE(-Infinity, 8);
    const a = readWavFloat(wavBytes(fmtBody(3, 1, 8000, 64), f64));
    expect(a.encoding).toBe('pcm_f64le');
    expect([...a.samples]).toEqual([0.125, 0]);
  });

  it('mu-law (tag 7) and A-law (tag 6)', () => {
    // 0xff / 0x7f are mu-law zero; 0x00 is mu-law -32124; 0xd5 is A-law +8.
    expect([...readWavFloat(wavBytes(fmtBody(7, 1, 8000, 8), Buffer.from([0xff, 0x7f, 0x00]))).samples]).toEqual([0, 0, -32124 / 32768]);
    const alaw = readWavFloat(wavBytes(fmtBody(6, 1, 8000, 8), Buffer.from([0xd5])));
    expect(alaw.encoding).toBe('pcm_alaw');
    expect([...alaw.samples]).toEqual([8 / 32768]);
  });

  it('drops a trailing partial sample and agrees with readWav on 16-bit', () => {
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: Int16Array.from([100, -200, 300]) });
    expect(readWavFloat(wav.subarray(0, wav.length - 1)).samples.length).toBe(2);
    expect([...readWavFloat(wav).samples].map((v) => v * 32768)).toEqual([...readWav(wav).samples]);
  });

  it('names other encodings as unsupported (for a fallback decoder)', () => {
    try {
      readWavFloat(wavBytes(fmtBody(2, 1, 8000, 4, { container: 1 }), Buffer.alloc(16))); // MS ADPCM
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(WavError);
      expect((err as WavError).details).toMatchObject({ reason: 'unsupported_encoding', formatTag: 2 });
      expect((err as WavError).message).toBe('unsupported WAV encoding: format tag 2, 8 bits');
    }
  });

  it('a header with 0 or more than 64 bits per sample gets a message that says so', () => {
    expect(() => readWavFloat(wavBytes(fmtBody(1, 1, 8000, 0), Buffer.alloc(16)))).toThrow(WavError);
    expect(() => readWavFloat(wavBytes(fmtBody(1, 1, 8000, 0), Buffer.alloc(16)))).toThrow('the WAV header says 0 bits per sample');
    expect(() => readWavFloat(wavBytes(fmtBody(3, 2, 8000, 0, { extensible: true }), Buffer.alloc(16)))).toThrow('the WAV header says 0 bits per sample');
    expect(() => readWav(wavBytes(fmtBody(1, 1, 8000, 0), Buffer.alloc(16)))).toThrow('the WAV header says 0 bits per sample');
    const wide = fmtBody(1, 1, 8000, 8);
    wide.writeUInt16LE(72, 14);
    expect(() => readWavFloat(wavBytes(wide, Buffer.alloc(18)))).toThrow('the WAV header says 72 bits per sample (at most 64)');
  });

  it('parseWav reports a truncated header', () => {
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(4) });
    expect(() => parseWav(wav.subarray(0, 24))).toThrow('WAV header is truncated: the fmt chunk needs 16 bytes, 4 present');
    expect(parseWav(wav)).toMatchObject({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 16, bytesPerSample: 2 });
  });
});
