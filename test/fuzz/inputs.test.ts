// What makes a fuzz finding reproducible and the mutations meaningful: every target's input `i` is the same
// bytes whatever was generated before it (so `--replay i` sends what the run sent), seeds differ, the Ogg CRC
// fix-up is the real checksum (an ffmpeg file comes out unchanged), and deep JSON expands to parseable text.
import { describe, expect, it } from 'vitest';
import { corpusAvailable } from '../helpers/corpus.js';
import { audioSeeds, fixOggCrc } from './audio-seeds.js';
import { deep, toText } from './json-mutate.js';
import { inputPrng, mutate } from './mutate.js';
import { ariInput } from './targets/ari.js';
import { audioInput } from './targets/audio.js';
import { httpInput } from './targets/multipart.js';
import { rtpInput } from './targets/rtp.js';
import { sdpInput } from './targets/sdp.js';
import { wsScript } from './targets/ws.js';

const bytesOf: Record<string, (seed: number, i: number) => Uint8Array> = {
  rtp: (s, i) => rtpInput(s, i).bytes,
  ws: (s, i) => {
    const w = wsScript(s, i, 'k');
    return Buffer.concat([Buffer.from(w.request), ...w.frames]);
  },
  sdp: (s, i) => Buffer.from(sdpInput(s, i).text),
  ari: (s, i) => Buffer.from(ariInput(s, i).data),
};

describe('fuzz inputs', () => {
  it.each(Object.keys(bytesOf))('%s: input i is the same alone or after others, and another seed gives others', (name) => {
    const gen = bytesOf[name]!;
    const n = name === 'ws' ? 40 : 200;
    const inOrder = Array.from({ length: n }, (_, i) => Buffer.from(gen(3, i)).toString('hex'));
    for (const i of [n - 1, 0, 17, 33]) expect(Buffer.from(gen(3, i)).toString('hex')).toBe(inOrder[i]);
    const other = Array.from({ length: n }, (_, i) => Buffer.from(gen(4, i)).toString('hex'));
    expect(other.filter((x, i) => x === inOrder[i]).length).toBeLessThan(n / 5);
  });

  it.skipIf(!corpusAvailable())('audio and multipart inputs replay alike; the Ogg CRC fix-up leaves a real Ogg file as it is', () => {
    for (const i of [5, 0, 99]) {
      expect(Buffer.from(audioInput(1, i).bytes).equals(Buffer.from(audioInput(1, i).bytes))).toBe(true);
      expect(Buffer.from(httpInput(1, i, 'k').bytes).equals(Buffer.from(httpInput(1, i, 'k').bytes))).toBe(true);
    }
    const oggs = audioSeeds().filter((s) => s.container === 'ogg');
    expect(oggs.length).toBe(2);
    for (const s of oggs) {
      expect(Buffer.from(fixOggCrc(s.bytes)).equals(Buffer.from(s.bytes))).toBe(true);
      const broken = Uint8Array.from(s.bytes);
      broken[40] = broken[40]! ^ 0xff;
      expect(Buffer.from(fixOggCrc(broken)).equals(Buffer.from(broken))).toBe(false);
    }
  });

  it('mutations stay within maxLength and deep JSON expands to text JSON.parse takes', () => {
    const seed = new Uint8Array(300).fill(7);
    for (let i = 0; i < 2000; i++) expect(mutate(inputPrng(9, 'm', i), seed, { maxLength: 400, region: 16 }).length).toBeLessThanOrEqual(400);
    const text = toText({ type: 'x', a: deep(20_000) });
    expect(text.length).toBeGreaterThan(40_000);
    expect(() => JSON.parse(text) as unknown).not.toThrow();
  });
});
