// Audio headers, in-process: mutated WAV / FLAC / Ogg / MP3 files (audio-seeds.ts) through the runtime's
// own decodeAudio — the format sniffer, the JS WAV reader, and real ffmpeg for the rest — as an upload
// would be decoded. Each input must decode to finite samples at the target rate or fail with a TheoError
// 'audio_decode' that names a reason; anything else (another exception, NaN samples, an audio longer than
// the limit) is a finding. Over HTTP the same mutations go through the multipart target.
import { decodeAudio } from '../../../src/audio/decode.js';
import { isTheoError } from '../../../src/errors/index.js';
import { audioSeeds, mutateAudio } from '../audio-seeds.js';
import { runInProcess, type Verdict } from '../in-process.js';
import { inputPrng, pick } from '../mutate.js';
import type { Prng } from '../../../src/util/prng.js';
import type { FuzzTarget } from '../target.js';

const TARGET_RATE = 16000;
const MAX_SECONDS = 60;

export function audioInput(seed: number, index: number): { seedName: string; bytes: Uint8Array } {
  const seeds = audioSeeds();
  const prng = inputPrng(seed, 'audio', index);
  if (prng.chance(0.03)) return { seedName: 'pcm_f32le.wav with NaN and ±Infinity samples', bytes: nonFinite(prng, seeds.find((x) => x.name === 'pcm_f32le.wav')!.bytes) };
  // WAV decodes in-process (fast); the others spawn ffmpeg.
  const s = prng.chance(0.6) ? pick(prng, seeds.filter((x) => x.container === 'wav')) : pick(prng, seeds.filter((x) => x.container !== 'wav'));
  return { seedName: s.name, bytes: prng.chance(0.05) ? s.bytes : mutateAudio(prng, s, seeds) };
}

/** A float WAV whose samples include NaN and ±Infinity (data the header check cannot catch). */
function nonFinite(prng: Prng, wav: Uint8Array): Uint8Array {
  const b = Uint8Array.from(wav);
  const dv = new DataView(b.buffer);
  let o = 12;
  while (o + 8 <= b.length && String.fromCharCode(...b.subarray(o, o + 4)) !== 'data') o += 8 + dv.getUint32(o + 4, true);
  const n = Math.floor((b.length - o - 8) / 4);
  for (let k = 0; k < 1 + prng.int(50); k++) dv.setFloat32(o + 8 + 4 * prng.int(n), pick(prng, [NaN, Infinity, -Infinity, 3.4e38, -1e30]), true);
  return b;
}

/** Decodes one input; the outcome label, or a thrown finding description. */
export async function decodeOne(bytes: Uint8Array): Promise<Verdict> {
  try {
    const out = await decodeAudio(bytes, { targetRate: TARGET_RATE, maxSeconds: MAX_SECONDS });
    let bad = 0;
    for (let i = 0; i < out.samples.length; i++) if (!Number.isFinite(out.samples[i])) bad++;
    if (bad > 0) return { outcome: `decoded ${out.sourceFormat} with non-finite samples`, problem: `${bad} of ${out.samples.length} decoded samples are NaN or ±Infinity (${out.sourceFormat})` };
    if (out.sampleRate !== TARGET_RATE || out.duration > MAX_SECONDS) return { outcome: 'decoded out of bounds', problem: `decoded to ${out.sampleRate} Hz, ${out.duration} s` };
    return { outcome: `decoded ${out.sourceFormat}` };
  } catch (err) {
    if (isTheoError(err) && err.code === 'audio_decode') return { outcome: `audio_decode: ${typeof err.details.reason === 'string' ? err.details.reason : 'no reason'}` };
    return { outcome: `unexpected ${err instanceof Error ? err.name : typeof err}`, problem: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined };
  }
}

export const audioTarget: FuzzTarget = {
  name: 'audio',
  needsServer: false,
  run: (ctx) =>
    runInProcess(ctx, {
      target: 'audio',
      input: audioInput,
      kind: (x) => x.seedName,
      bytes: (x) => x.bytes,
      check: (x) => decodeOne(x.bytes),
      contract: "every input decoded to finite samples, or refused with TheoError 'audio_decode'",
    }),
  async one(ctx, index) {
    const input = audioInput(ctx.seed, index);
    const r = await decodeOne(input.bytes);
    ctx.log(`audio input ${index} (${input.seedName}): ${r.outcome}${r.problem ? `: ${r.problem}` : ''}`);
    return input.bytes;
  },
};
