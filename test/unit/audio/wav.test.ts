import { describe, expect, it } from 'vitest';
import { downmixToMono, encodeWav, readWav } from '../../../src/audio/wav.js';
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
