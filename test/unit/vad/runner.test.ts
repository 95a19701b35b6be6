import { describe, expect, it } from 'vitest';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import type { VadEvent } from '../../../src/vad/detector.js';
import { SileroRunner } from '../../../src/vad/runner.js';
import { STATE_RESET_WINDOWS, type VadStream, type VadStreamOptions } from '../../../src/vad/stream.js';
import { FakeModel, IDLE_MARK } from './fake-model.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** n samples of the constant `v`. */
const level = (n: number, v: number): Float32Array => new Float32Array(n).fill(v);

/** A runner on a fake model, draining only on flush() unless told otherwise. */
function setup(opts: { maxBatch?: number; schedule?: 'immediate' | 'microtask' | 'manual'; prob?: (tag: number) => number } = {}) {
  const model = new FakeModel(opts.maxBatch ?? 64, opts.prob);
  const errors: unknown[] = [];
  const runner = new SileroRunner(model, { schedule: opts.schedule ?? 'manual', onError: (e) => errors.push(e) });
  return { model, runner, errors };
}

function open(runner: SileroRunner, opts: Partial<VadStreamOptions> & { sampleRate: 8000 | 16000 }) {
  const events: VadEvent[] = [];
  const windows: [number, number, boolean][] = [];
  const stream = runner.createStream({ prefilter: false, ...opts, onWindow: (o, p, s) => windows.push([o, p, s]) }, (e) => events.push(e));
  return { stream, events, windows };
}

describe('VAD stream buffering', () => {
  it('accepts frames of any length and classifies the same windows as one big push', async () => {
    const { runner } = setup();
    const x = new Float32Array(256 * 64);
    for (let i = 0; i < x.length; i++) x[i] = ((i >> 8) % 5) / 5; // a new level every 256 samples
    const whole = open(runner, { sampleRate: 8000 });
    whole.stream.push(x);
    const pieces = open(runner, { sampleRate: 8000 });
    const sizes = [1, 7, 160, 333, 256, 1000, 3];
    for (let off = 0, k = 0; off < x.length; k++) {
      const n = sizes[k % sizes.length]!;
      pieces.stream.push(x.subarray(off, off + n));
      off += n;
    }
    expect(pieces.stream.offset).toBe(x.length);
    expect(pieces.stream.pendingWindows).toBe(x.length / 256);
    await runner.flush();
    expect(pieces.windows).toHaveLength(x.length / 256);
    expect(pieces.windows).toEqual(whole.windows);
    expect(pieces.windows.map((w) => w[0])).toEqual(Array.from({ length: x.length / 256 }, (_, i) => i * 256));
    expect(pieces.stream.pendingWindows).toBe(0);
    await runner.close();
  });

  it('ignores empty frames, sanitises NaN/Inf and clamps to [-1, 1]', async () => {
    const { runner, model } = setup();
    const { stream, windows } = open(runner, { sampleRate: 8000 });
    stream.push(new Float32Array(0));
    expect(stream.offset).toBe(0);
    stream.push(level(256, NaN));
    stream.push(level(256, Infinity));
    stream.push(level(256, -5));
    await runner.flush();
    // Non-finite samples (Infinity too: it has no level to clamp to) become 0.
    expect(model.runs.map((r) => r.rows[0]!.tag)).toEqual([0, 0, -1]);
    expect(windows.map((w) => w[1])).toEqual([0, 0, 1]);
    await runner.close();
  });

  it('rejects what is not a Float32Array, and push after close, with clear errors', async () => {
    const { runner } = setup();
    const { stream } = open(runner, { sampleRate: 16000 });
    expect(() => stream.push(new Int16Array(320) as unknown as Float32Array)).toThrow(/Float32Array/);
    stream.close();
    expect(() => stream.push(level(320, 0))).toThrow(expect.objectContaining({ code: 'closed' }));
    await runner.close();
  });

  it('rejects an unsupported sample rate when the stream is created', async () => {
    const { runner } = setup();
    let err: unknown;
    try {
      runner.createStream({ sampleRate: 44100 as 8000 }, () => undefined);
    } catch (e) {
      err = e;
    }
    expect(isTheoErrorCode(err, 'invalid_argument')).toBe(true);
    expect(String(err)).toMatch(/8000 or 16000 Hz.*44100/);
    expect(runner.stats.streams).toBe(0);
    await runner.close();
  });
});

describe('VAD runner batching', () => {
  it('runs one inference per rate for all streams ready in the same tick, state and context per stream', async () => {
    const { runner, model } = setup();
    const tags8 = [0.11, 0.12, 0.13, 0.14, 0.15];
    const tags16 = [0.21, 0.22, 0.23];
    const s8 = tags8.map((t) => ({ t, ...open(runner, { sampleRate: 8000 }) }));
    const s16 = tags16.map((t) => ({ t, ...open(runner, { sampleRate: 16000 }) }));
    // Three windows each, pushed in 20 ms frames.
    for (let f = 0; f < 3 * 256 / 160 + 1; f++) for (const s of s8) s.stream.push(level(160, s.t));
    for (let f = 0; f < 3 * 512 / 320 + 1; f++) for (const s of s16) s.stream.push(level(320, s.t));
    await runner.flush();
    expect(model.runs.map((r) => [r.rate, r.rows.length])).toEqual([
      [8000, 5],
      [16000, 3],
      [8000, 5],
      [16000, 3],
      [8000, 5],
      [16000, 3],
    ]);
    for (const [k, run] of model.runs.entries()) {
      const round = Math.floor(k / 2);
      const tags = run.rate === 8000 ? tags8 : tags16;
      expect(run.rows.map((r) => r.tag)).toEqual(tags.map((t) => Math.fround(t)));
      // Window k's state has seen k windows of its own stream; its context is the end of its own last window.
      expect(run.rows.map((r) => r.counter)).toEqual(tags.map(() => round));
      expect(run.rows.map((r) => r.context)).toEqual(tags.map((t) => (round === 0 ? 0 : Math.fround(t))));
    }
    expect(runner.stats).toMatchObject({ inferences: 6, windowsInferred: 3 * 8, windowsSkipped: 0, pendingWindows: 0, queuedStreams: 0 });
    for (const s of [...s8, ...s16]) expect(s.windows.map((w) => w[1])).toEqual([0, 0, 0].map(() => Math.fround(s.t)));
    await runner.close();
  });

  it('splits a batch bigger than maxBatch into several runs', async () => {
    const { runner, model } = setup({ maxBatch: 2 });
    const streams = [0.1, 0.2, 0.3, 0.4, 0.5].map((t) => ({ t, ...open(runner, { sampleRate: 8000 }) }));
    for (const s of streams) s.stream.push(level(512, s.t));
    await runner.flush();
    expect(model.runs.map((r) => r.rows.map((x) => Math.round(x.tag * 10)))).toEqual([[1, 2], [3, 4], [5], [1, 2], [3, 4], [5]]);
    expect(model.runs.every((r) => r.rows.every((x) => x.counter === (model.runs.indexOf(r) < 3 ? 0 : 1)))).toBe(true);
    await runner.close();
  });

  it('delivers events in order per stream, never inside push()', async () => {
    const { runner } = setup({ prob: (t) => (t > 0 ? 0.9 : 0) });
    const { stream, events } = open(runner, { sampleRate: 8000 });
    let inPush = false;
    const seen: VadEvent[] = [];
    const s2 = runner.createStream({ sampleRate: 8000, prefilter: false }, (e) => {
      expect(inPush).toBe(false);
      seen.push(e);
    });
    const x = [level(8000, 0), level(8000, 0.5), level(8000, 0), level(4000, 0.5), level(8000, 0)];
    for (const part of x) {
      for (let o = 0; o < part.length; o += 160) {
        inPush = true;
        stream.push(part.subarray(o, o + 160));
        s2.push(part.subarray(o, o + 160));
        inPush = false;
      }
    }
    await runner.flush();
    const brief = events.map((e) => `${e.type}@${e.offset}`);
    // Speech from 8000 to 16000 and from 24000 to 28000, on 256-sample window borders.
    expect(brief).toEqual(['speech_start@8192', 'speech_end@16128', 'speech_start@24064', 'speech_end@28160']);
    expect(seen).toEqual(events);
    expect(stream.stats.events).toEqual({ speech_start: 2, speech_end: 2, forced: 0 });
    expect(runner.stats.events).toEqual({ speech_start: 4, speech_end: 4, forced: 0 });
    await runner.close();
  });

  it("'immediate' drains after the current event-loop turn without flush(); 'microtask' before it", async () => {
    const imm = setup({ schedule: 'immediate' });
    const a = open(imm.runner, { sampleRate: 16000 });
    a.stream.push(level(512, 0.3));
    expect(a.windows).toHaveLength(0);
    await Promise.resolve();
    expect(a.windows).toHaveLength(0);
    for (let i = 0; i < 3 && a.windows.length === 0; i++) await tick();
    expect(a.windows).toEqual([[0, Math.fround(0.3), false]]);
    await imm.runner.close();

    const micro = setup({ schedule: 'microtask' });
    const b = open(micro.runner, { sampleRate: 16000 });
    b.stream.push(level(512, 0.3));
    expect(b.windows).toHaveLength(0);
    // Only microtasks: no event-loop turn passes.
    for (let i = 0; i < 20 && b.windows.length === 0; i++) await Promise.resolve();
    expect(b.windows).toHaveLength(1);
    await micro.runner.close();
  });

  it('pushes made while a batch is running are picked up by the same drain', async () => {
    const { runner, model } = setup();
    const { stream, windows } = open(runner, { sampleRate: 8000 });
    model.hold = true;
    stream.push(level(256, 0.1));
    const drained = runner.flush();
    await tick();
    stream.push(level(256, 0.2));
    model.hold = false;
    model.release();
    await drained;
    expect(windows.map((w) => w[1])).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    await runner.close();
  });
});

describe('VAD pre-filter in the stream', () => {
  it('skips silent windows without inference; they count as probability 0 and in the stats', async () => {
    const { runner, model } = setup();
    const { stream, windows } = open(runner, { sampleRate: 8000, prefilter: {} });
    const loud = new Float32Array(256);
    for (let i = 0; i < 256; i++) loud[i] = i % 2 ? 0.5 : -0.5;
    stream.push(level(256 * 3, 0));
    stream.push(loud);
    stream.push(level(256 * 2, 0));
    await runner.flush();
    expect(windows).toEqual([
      [0, 0, true],
      [256, 0, true],
      [512, 0, true],
      [768, 0.5, false],
      [1024, 0, true],
      [1280, 0, true],
    ]);
    expect(model.runs).toHaveLength(1);
    expect(stream.stats).toMatchObject({ windowsInferred: 1, windowsSkipped: 5 });
    expect(runner.stats).toMatchObject({ windowsInferred: 1, windowsSkipped: 5, inferences: 1 });
    await runner.close();
  });

  it(`keeps the model state through short skipped runs and installs the idle state after ${STATE_RESET_WINDOWS}`, async () => {
    const { runner, model } = setup();
    const { stream } = open(runner, { sampleRate: 8000, prefilter: {} });
    const loud = new Float32Array(256);
    for (let i = 0; i < 256; i++) loud[i] = i % 2 ? 0.5 : -0.5;
    stream.push(loud); // counter 0
    stream.push(loud); // counter 1
    stream.push(level(256 * (STATE_RESET_WINDOWS - 1), 0));
    stream.push(loud); // short run: state kept, counter 2
    stream.push(level(256 * STATE_RESET_WINDOWS, 0));
    stream.push(loud); // long run: idle state
    await runner.flush();
    const rows = model.runs.map((r) => r.rows[0]!);
    expect(rows.map((r) => r.counter)).toEqual([0, 1, 2, 0]);
    expect(rows.map((r) => r.marker)).toEqual([0, 0, 0, IDLE_MARK]);
    // The context is always the real end of the previous window, skipped or not.
    expect(rows.map((r) => r.context)).toEqual([0, -0.5, 0, 0]);
    await runner.close();
  });

  it('a stream that starts in silence resumes from the idle state, not from zeros', async () => {
    const { runner, model } = setup();
    const { stream } = open(runner, { sampleRate: 16000, prefilter: {} });
    const loud = new Float32Array(512);
    for (let i = 0; i < 512; i++) loud[i] = i % 2 ? 0.5 : -0.5;
    stream.push(level(512, 0));
    stream.push(loud);
    await runner.flush();
    expect(model.runs[0]!.rows[0]!.marker).toBe(IDLE_MARK);
    await runner.close();
  });
});

describe('VAD stream end, reset and close', () => {
  it('flush() pads the last partial window, ends the open segment at the end of the audio, then resolves', async () => {
    const { runner } = setup({ prob: (t) => (t > 0 ? 0.9 : 0) });
    const { stream, events, windows } = open(runner, { sampleRate: 8000 });
    stream.push(level(256 * 20 + 100, 0.5));
    const done = stream.flush();
    let resolved = false;
    void done.then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(false);
    await runner.flush();
    await done;
    expect(events.map((e) => `${e.type}@${e.offset}`)).toEqual(['speech_start@0', `speech_end@${256 * 20 + 100}`]);
    expect(windows).toHaveLength(21);
    expect(stream.processedOffset).toBe(256 * 20 + 100);
    expect(stream.speaking).toBe(false);
    // The stream goes on after a flush, from fresh model state; offsets count pushed samples (not the padding).
    stream.push(level(256 * 10, 0.5));
    await runner.flush();
    expect(events.map((e) => e.offset)).toEqual([0, 5220, 5220]);
    expect(stream.offset).toBe(5220 + 2560);
    await runner.close();
  });

  it('flush() with nothing buffered resolves once the runner drains', async () => {
    const { runner } = setup({ schedule: 'immediate' });
    const { stream } = open(runner, { sampleRate: 16000 });
    await stream.flush();
    expect(runner.stats.queuedStreams).toBe(0);
    await runner.close();
  });

  it('pending windows of a closed stream never call back', async () => {
    const { runner, errors } = setup({ prob: () => 0.9 });
    const { stream, events, windows } = open(runner, { sampleRate: 8000 });
    stream.push(level(8000, 0.5));
    const flushed = stream.flush();
    stream.close();
    stream.close();
    await flushed;
    await runner.flush();
    expect(events).toEqual([]);
    expect(windows).toEqual([]);
    expect(stream.closed).toBe(true);
    expect(errors).toEqual([]);
    await runner.close();
  });

  it('a window in flight when its stream closes or resets is dropped on return', async () => {
    const { runner, model } = setup({ prob: () => 0.9 });
    const a = open(runner, { sampleRate: 8000 });
    const b = open(runner, { sampleRate: 8000 });
    const c = open(runner, { sampleRate: 8000 });
    for (const s of [a, b, c]) s.stream.push(level(256, 0.5));
    model.hold = true;
    const drained = runner.flush();
    await tick();
    expect(model.runs).toHaveLength(0);
    a.stream.close();
    b.stream.reset();
    b.stream.push(level(100, 0.5));
    model.hold = false;
    model.release();
    await drained;
    expect(a.windows).toEqual([]);
    expect(b.windows).toEqual([]);
    expect(b.stream.offset).toBe(100);
    expect(c.windows).toHaveLength(1);
    await runner.close();
  });

  it('reset drops buffered audio and state without events; offsets restart at 0', async () => {
    const { runner } = setup({ prob: () => 0.9 });
    const { stream, events } = open(runner, { sampleRate: 8000 });
    stream.push(level(256 * 12, 0.5));
    await runner.flush();
    expect(stream.speaking).toBe(true);
    stream.push(level(256 * 3, 0.5));
    stream.reset();
    expect(stream.speaking).toBe(false);
    expect(stream.offset).toBe(0);
    expect(stream.pendingWindows).toBe(0);
    stream.push(level(256 * 8, 0.5));
    await runner.flush();
    expect(events.map((e) => `${e.type}@${e.offset}`)).toEqual(['speech_start@0', 'speech_start@0']);
    await runner.close();
  });

  it('a listener that throws is reported and the stream carries on', async () => {
    const { runner, errors } = setup({ prob: (t) => (t > 0 ? 0.9 : 0) });
    const got: string[] = [];
    const stream = runner.createStream({ sampleRate: 8000, prefilter: false }, (e) => {
      got.push(e.type);
      throw new Error('listener broke');
    });
    stream.push(level(8000, 0.5));
    stream.push(level(8000, 0));
    stream.push(level(8000, 0.5));
    await Promise.all([stream.flush(), runner.flush()]);
    expect(got).toEqual(['speech_start', 'speech_end', 'speech_start', 'speech_end']);
    expect(errors).toHaveLength(4);
    expect(runner.stats.listenerErrors).toBe(4);
    await runner.close();
  });

  it('a failed inference counts its windows as silence, is reported, and later windows run', async () => {
    const { runner, model, errors } = setup();
    const { stream, windows } = open(runner, { sampleRate: 16000 });
    model.failNext = new Error('onnx exploded');
    stream.push(level(512 * 2, 0.4));
    await runner.flush();
    expect(windows.map((w) => w[1])).toEqual([0, Math.fround(0.4)]);
    expect(errors).toHaveLength(1);
    expect(isTheoErrorCode(errors[0], 'engine_failed')).toBe(true);
    expect(runner.stats).toMatchObject({ modelErrors: 1, windowsFailed: 1, windowsInferred: 1 });
    await runner.close();
  });

  it('closing the runner closes its streams and the model once; both closes are safe to repeat', async () => {
    const { runner, model } = setup();
    const { stream, events } = open(runner, { sampleRate: 8000 });
    stream.push(level(8000, 0.9));
    const first = runner.close();
    expect(runner.close()).toBe(first);
    await first;
    expect(stream.closed).toBe(true);
    expect(events).toEqual([]);
    expect(model.closed).toBe(1);
    expect(() => runner.createStream({ sampleRate: 8000 }, () => undefined)).toThrow(expect.objectContaining({ code: 'closed' }));
    await runner.flush();
    stream.close();
  });

  it('creating and closing 200 streams leaves no streams or pending windows behind', async () => {
    const { runner } = setup({ schedule: 'immediate' });
    const streams: VadStream[] = [];
    for (let i = 0; i < 200; i++) {
      const s = runner.createStream({ sampleRate: i % 2 ? 8000 : 16000, prefilter: i % 3 ? false : {} }, () => undefined);
      s.push(level(1000 + i, 0.3));
      streams.push(s);
      if (i % 4 === 0) s.close();
    }
    // Half drain, half still queued when closed; some closed before the drain ran.
    await tick();
    for (const s of streams) s.close();
    await runner.flush();
    expect(runner.stats).toMatchObject({ streams: 0, queuedStreams: 0, pendingWindows: 0 });
    await runner.close();
  });
});
