// The live session orchestrator over fakes (test/unit/session/fakes.ts): which frames reach the worker and
// when, the events and their times, crash recovery, ring buffer commits, backpressure, timeouts, close,
// LocalAgreement partials and hot words. Offsets are model-rate samples; with preprocessing off and a
// 16 kHz input the ring holds the input samples exactly, so frames are checked sample by sample.
import { Registry, type Histogram } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import type { EngineCapabilities, EngineWord } from '../../../src/engines/engine.js';
import { TheoError } from '../../../src/errors/index.js';
import { createPostprocessor } from '../../../src/postprocess/pipeline.js';
import type { SessionEvent } from '../../../src/session/events.js';
import { createSessionMetrics } from '../../../src/session/metrics.js';
import type { PassResult } from '../../../src/session/ports.js';
import { Session } from '../../../src/session/session.js';
import { SessionWal } from '../../../src/session/wal.js';
import { ENCDEC_CAPS, FakeClock, FakeVadFactory, FakeWorkerLink, HMM_CAPS, crash, settle, type FakeVadStream } from './fakes.js';

const T0 = 1_700_000_000_000;
const RATE = 16000;
/** speechPadMs (200 ms) at 16 kHz. */
const PAD = 3200;
/**
 * What an open utterance holds back from the worker: (minSilenceMs 300 - speechPadMs 200) at 16 kHz. Until
 * the speech end, only audio up to the decided offset minus this is sent (the session's liveLimit()): it
 * belongs to the utterance however the VAD's batching is timed; the rest goes with the speech end.
 */
const HOLD = 1600;
/** What commitSilence() keeps between utterances: speechPadMs 200 + minSpeechMs 250 + a 250 ms margin. */
const KEEP = 11200;
const POST = createPostprocessor();

type EventOf<K extends SessionEvent['type']> = Extract<SessionEvent, { type: K }>;

/** Input sample k of the test signal: tells its own offset (mod a prime) so misplaced audio shows. */
const sampleAt = (k: number): number => (k % 32749) - 16384;

function ramp(from: number, n: number): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = sampleAt(from + i);
  return out;
}

/** The event without the fields every event has (sessionId, at). */
function plain(ev: SessionEvent): Record<string, unknown> {
  const { sessionId: _sessionId, at: _at, ...rest } = ev;
  return rest;
}

interface SetupOptions {
  sessions?: Record<string, unknown>;
  vad?: Record<string, unknown>;
  caps?: EngineCapabilities;
  inputRate?: number;
  realtime?: boolean;
  pushToTalk?: boolean;
  itn?: boolean;
  interimResults?: boolean;
  hotWords?: string[];
  language?: string;
  /** Input samples per push (default 400: 25 ms at 16 kHz). */
  frame?: number;
  /** feed() moves the clock with the audio (default true): each frame arrives when its last sample was captured. */
  pace?: boolean;
  onListenerError?: (event: string, err: unknown) => void;
  /** link.transcribe (the session looks for it when it is created). */
  transcribe?: FakeWorkerLink['transcribe'];
  /** Preprocessing (default: off). */
  preprocess?: { enabled: boolean; dc: boolean | 'auto'; gain: boolean; denoise: boolean | 'auto' };
}

function setup(o: SetupOptions = {}) {
  const config = configSchema.parse({ sessions: o.sessions ?? {}, vad: o.vad ?? {} });
  const clock = new FakeClock(T0);
  const vads = new FakeVadFactory();
  const link = new FakeWorkerLink();
  if (o.transcribe) link.transcribe = o.transcribe;
  const wal = new SessionWal();
  const registry = new Registry();
  const metrics = createSessionMetrics(registry);
  const listenerErrors: Array<[string, unknown]> = [];
  const warnings: string[] = [];
  const inputRate = o.inputRate ?? RATE;
  const session = new Session(
    {
      id: 's1',
      model: 'm',
      capabilities: o.caps ?? HMM_CAPS,
      inputRate,
      ...(o.language ? { language: o.language } : {}),
      hotWords: o.hotWords ?? [],
      itn: o.itn ?? true,
      interimResults: o.interimResults ?? true,
      realtime: o.realtime ?? true,
      ...(o.pushToTalk ? { pushToTalk: true } : {}),
      preprocess: o.preprocess ?? { enabled: false, dc: false, gain: false, denoise: false },
      vad: config.vad,
      sessions: config.sessions,
    },
    {
      link,
      vad: vads.create,
      wal,
      postprocessor: POST,
      metrics,
      now: clock.now,
      onWarning: (m) => warnings.push(m),
      onListenerError:
        o.onListenerError ??
        ((event, err) => {
          listenerErrors.push([event, err]);
        }),
    },
  );
  const events: SessionEvent[] = [];
  session.on('event', (ev) => events.push(ev));
  const frame = o.frame ?? 400;
  const pace = o.pace ?? true;
  const h = {
    session,
    config,
    clock,
    vad: vads.last,
    link,
    wal,
    registry,
    metrics: metrics,
    events,
    listenerErrors,
    warnings,
    /** Input samples pushed so far. */
    fed: 0,
    /** Pushes the test signal in frames until `to` input samples have gone in; returns each push's answer. */
    feed(to: number): boolean[] {
      const answers: boolean[] = [];
      while (h.fed < to) {
        const n = Math.min(frame, to - h.fed);
        if (pace) clock.advance((n / inputRate) * 1000);
        answers.push(session.push(ramp(h.fed, n)));
        h.fed += n;
      }
      return answers;
    },
    of<K extends SessionEvent['type']>(type: K): EventOf<K>[] {
      return events.filter((e): e is EventOf<K> => e.type === type);
    },
    types(): string[] {
      return events.map((e) => e.type);
    },
    /** session.state events as "FROM>TO reason". */
    states(): string[] {
      return h.of('session.state').map((e) => `${e.from}>${e.to} ${e.reason}`);
    },
    async metric(name: string): Promise<number> {
      const m = registry.getSingleMetric(name);
      if (!m) throw new Error(`no metric ${name}`);
      return (await m.get()).values.reduce((s, v) => s + v.value, 0);
    },
    /** A histogram's observation count and sum. */
    async histogram(name: string): Promise<{ count: number; sum: number }> {
      const m = registry.getSingleMetric(name) as Histogram | undefined;
      if (!m) throw new Error(`no metric ${name}`);
      const values = (await m.get()).values;
      const of = (suffix: string): number => values.find((v) => v.metricName === `${name}${suffix}`)?.value ?? Number.NaN;
      return { count: of('_count'), sum: of('_sum') };
    },
  };
  return h;
}

type Harness = ReturnType<typeof setup>;

/** Speech over [start, end) as the detector reports it: the start after min speech (250 ms), the end once the pad is in. */
function speech(vad: FakeVadStream, start: number, end: number): void {
  vad.at('speech_start', start, { firesAt: start + 4000 }).at('speech_end', end, { firesAt: end + PAD });
}

function expectSamples(actual: Int16Array, from: number): void {
  for (let i = 0; i < actual.length; i++) if (actual[i] !== sampleAt(from + i)) expect.fail(`sample at offset ${from + i} is ${actual[i]}, wanted ${sampleAt(from + i)}`);
}

function finalsBySegment(h: Harness): Map<number, number> {
  const m = new Map<number, number>();
  for (const f of h.of('transcript.final')) m.set(f.segmentId, (m.get(f.segmentId) ?? 0) + 1);
  return m;
}

describe('session: two utterances', () => {
  it('emits the events in order, passes partials through raw and post-processes finals with padded times', async () => {
    const h = setup({ language: 'en' });
    speech(h.vad, 16000, 40000);
    speech(h.vad, 64000, 80000);
    const words: EngineWord[] = [{ word: 'two', start: 1, end: 1.2, probability: 0.9 }];

    h.feed(19600);
    expect(h.link.opens).toHaveLength(0);
    expect(h.session.state).toBe('INIT');
    h.feed(20000);
    expect(h.link.opens).toEqual([{ sessionId: 's1', sampleRate: 16000, language: 'en', prompt: '', hotWords: [], interimResults: true, task: 'transcribe', firstSegmentId: 0, audioQuality: 'wideband' }]);
    const w = h.link.last;
    expect(w.timeline()).toEqual([`12800-${20000 - HOLD}`]);

    h.feed(32000);
    w.partial(0, 'two thousand five hundred');
    await settle();
    h.feed(48000);
    // After the speech end, before the final: still news (the worker lags the audio, by the hold at least).
    w.partial(0, 'two thousand five hundred dollars');
    w.final(0, 'two thousand five hundred dollars', { confidence: 0.8, words });
    await settle();
    expect(h.wal.last('s1')).toEqual({ sessionId: 's1', segmentId: 0, offset: 43200, timestamp: T0 + 3000 });
    h.feed(72000);
    w.partial(1, 'hello');
    await settle();
    h.feed(96000);
    w.final(1, 'hello world');
    await settle();
    expect(h.wal.last('s1')).toEqual({ sessionId: 's1', segmentId: 1, offset: 83200, timestamp: T0 + 6000 });

    expect(h.events.map(plain)).toEqual([
      { type: 'session.created', model: 'm', inputRate: 16000, sampleRate: 16000 },
      { type: 'session.state', from: 'INIT', to: 'ACTIVE', reason: 'speech_start' },
      { type: 'vad.speech_start', segmentId: 0, startMs: 1000 },
      // A partial covers the audio the worker has: the ring (32000) less the hold.
      { type: 'transcript.partial', segmentId: 0, text: 'two thousand five hundred', stable: '', startMs: 800, endMs: 1900 },
      { type: 'session.state', from: 'ACTIVE', to: 'SILENCE', reason: 'speech_end' },
      { type: 'vad.speech_end', segmentId: 0, endMs: 2500, forced: false },
      { type: 'transcript.partial', segmentId: 0, text: 'two thousand five hundred dollars', stable: '', startMs: 800, endMs: 2700 },
      { type: 'transcript.final', segmentId: 0, text: '$2,500.00', rawText: 'two thousand five hundred dollars', startMs: 800, endMs: 2700, language: 'en', confidence: 0.8, words },
      { type: 'session.state', from: 'SILENCE', to: 'ACTIVE', reason: 'speech_start' },
      { type: 'vad.speech_start', segmentId: 1, startMs: 4000 },
      { type: 'transcript.partial', segmentId: 1, text: 'hello', stable: '', startMs: 3800, endMs: 4400 },
      { type: 'session.state', from: 'ACTIVE', to: 'SILENCE', reason: 'speech_end' },
      { type: 'vad.speech_end', segmentId: 1, endMs: 5000, forced: false },
      { type: 'transcript.final', segmentId: 1, text: 'hello world', rawText: 'hello world', startMs: 3800, endMs: 5200, language: 'en', confidence: 0.9, words: [] },
    ]);
    expect(h.events.every((e) => e.sessionId === 's1')).toBe(true);
    // `at` is the clock when each event left: the speech start at 1.25 s, the first final at 3 s.
    expect(h.of('vad.speech_start')[0]?.at).toBe(T0 + 1250);
    expect(h.of('transcript.final').map((e) => e.at)).toEqual([T0 + 3000, T0 + 6000]);

    // The worker got each utterance from 200 ms before its start to its padded end, then is_last; nothing
    // of the silence between them; offsets continuous; chunks of at most 500 ms. The first frame is the
    // audio from the padded start to the hold (12800 to 20000 - HOLD), the largest one here.
    expect(w.timeline()).toEqual(['12800-43200', 'last@43200', '60800-83200', 'last@83200']);
    expect(w.frames[0]).toMatchObject({ offsetSamples: 12800, isLast: false });
    expect(w.frames[0]?.pcm.length).toBe(20000 - HOLD - 12800);
    expect(Math.max(...w.frames.map((f) => f.pcm.length))).toBe(20000 - HOLD - 12800);
    expect(w.frames.filter((f) => f.isLast).map((f) => f.pcm.length)).toEqual([0, 0]);
    expectSamples(w.samples(12800, 43200), 12800);
    expectSamples(w.samples(60800, 83200), 60800);
    expect(h.session.stats()).toMatchObject({ state: 'SILENCE', inputSamples: 96000, droppedSamples: 0, segments: 2, recoveries: 0, duplicatesDropped: 0 });
    expect(h.vad.pushed).toBe(96000);
    expect(await h.metric('theo_vad_events_total')).toBe(4);
    const confidence = await h.histogram('theo_final_confidence_ratio');
    expect(confidence.count).toBe(2);
    expect(confidence.sum / confidence.count).toBeCloseTo(0.85, 10);
  });

  it('never starts an utterance before the end of the previous one', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    // The pad would reach back to 41800, into the first utterance (which ends at 43200).
    h.vad.at('speech_start', 45000, { firesAt: 49000 }).at('speech_end', 56000, { firesAt: 56000 });
    h.feed(60000);
    const w = h.link.last;
    expect(w.timeline()).toEqual(['12800-43200', 'last@43200', '43200-56000', 'last@56000']);
    expect(h.of('vad.speech_start').map((e) => e.startMs)).toEqual([1000, 2813]);
    w.final(0, 'one');
    w.final(1, 'two');
    await settle();
    expect(h.of('transcript.final').map((e) => [e.segmentId, e.startMs, e.endMs])).toEqual([
      [0, 800, 2700],
      [1, 2700, 3500],
    ]);
  });

  it('gives an utterance the same audio when its speech end comes late as when it comes at once', async () => {
    const late = setup();
    // Reported min silence (300 ms) after the end, as the detector decides it: the 200 ms pad is already past.
    late.vad.at('speech_start', 16000, { firesAt: 20000 }).at('speech_end', 40000, { firesAt: 44800 });
    late.feed(44400);
    // Nothing past the end to come (40000 + pad) went out while the end was undecided.
    expect(late.link.last.timeline()).toEqual([`12800-${44400 - HOLD}`]);
    late.feed(48000);
    expect(late.link.last.timeline()).toEqual(['12800-43200', 'last@43200']);
    expect(late.of('vad.speech_end')[0]).toMatchObject({ endMs: 2500 });
    late.link.last.final(0, 'x');
    await settle();
    expect(late.of('transcript.final')[0]).toMatchObject({ startMs: 800, endMs: 2700 });

    const prompt = setup();
    prompt.vad.at('speech_start', 16000, { firesAt: 20000 }).at('speech_end', 40000, { firesAt: 43200 });
    prompt.feed(48000);
    expect(prompt.link.last.timeline()).toEqual(late.link.last.timeline());
    expect(Array.from(late.link.last.samples(12800, 43200))).toEqual(Array.from(prompt.link.last.samples(12800, 43200)));
  });

  it('drops partials once the segment is final, and all partials when interim results are off', async () => {
    const on = setup();
    speech(on.vad, 16000, 40000);
    on.feed(48000);
    on.link.last.final(0, 'hello world');
    on.link.last.partial(0, 'hello world again');
    await settle();
    expect(on.of('transcript.final')).toHaveLength(1);
    expect(on.of('transcript.partial')).toEqual([]);

    const h = setup({ interimResults: false });
    h.vad.at('speech_start', 16000, { firesAt: 20000 });
    h.feed(24000);
    expect(h.link.last.config.interimResults).toBe(false);
    h.link.last.partial(0, 'hello');
    await settle();
    expect(h.of('transcript.partial')).toEqual([]);
  });

  it('hands every frame its own samples (the worker client sends views, not copies)', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.link.serving = 'manual';
    h.feed(20000);
    h.link.last.fail();
    await settle();
    h.feed(40000);
    h.link.allowServing();
    await settle();
    h.feed(48000);
    // The resend went out as several chunks in one go, then frames as they came.
    expect(h.link.stream(1).frames.filter((f) => f.pcm.length === 8000)).toHaveLength(3);
    const frames = [...h.link.stream(0).frames, ...h.link.stream(1).frames];
    for (const f of frames) expect(Array.from(f.original)).toEqual(Array.from(f.pcm));
  });

  it('commit() ends the open utterance where the audio is and goes on with the next; nothing open: undefined', async () => {
    const h = setup();
    expect(h.session.commit()).toBeUndefined();
    h.vad.at('speech_start', 16000, { firesAt: 20000 });
    h.feed(32000);
    expect(h.session.commit()).toBe(0);
    const w = h.link.last;
    expect(w.timeline()).toEqual(['12800-32000', 'last@32000']);
    expect(h.of('vad.speech_end')[0]).toMatchObject({ segmentId: 0, endMs: 2000, forced: true });
    expect(h.of('vad.speech_start')[1]).toMatchObject({ segmentId: 1, startMs: 2000 });
    expect(h.session.state).toBe('ACTIVE');
    w.final(0, 'first part');
    await settle();
    expect(h.of('transcript.final')[0]).toMatchObject({ segmentId: 0, text: 'first part' });
    // The VAD's own end closes the continuing utterance (which had been sent up to the live limit, 48000 - hold).
    h.feed(48000);
    h.vad.emit('speech_end', 40000);
    expect(w.timeline()).toEqual(['12800-32000', 'last@32000', `32000-${48000 - HOLD}`, `last@${48000 - HOLD}`]);
  });

  it('push-to-talk: the open utterance streams as the VAD decides it (no hold for a 10 s pause), so a commit only finalises', () => {
    for (const pushToTalk of [false, true]) {
      const h = setup({ pushToTalk, vad: { minSilenceMs: 10_000 } });
      h.vad.at('speech_start', 16000, { firesAt: 20000 });
      h.feed(8 * RATE);
      const w = h.link.last;
      // Held back (minSilence 10 s - pad 0.2 s) without push-to-talk: nothing past the start went out.
      expect(w.timeline()).toEqual(pushToTalk ? [`12800-${8 * RATE}`] : []);
      expect(h.session.commit()).toBe(0);
      expect(w.timeline()).toEqual([`12800-${8 * RATE}`, `last@${8 * RATE}`]);
    }
  });

  it('commit(discard): the cut utterance gives no partial, no final and no context; the next one is untouched', async () => {
    const h = setup({ caps: ENCDEC_CAPS, sessions: { localAgreement: 0 } });
    h.vad.at('speech_start', 16000, { firesAt: 20000 });
    h.feed(32000);
    expect(h.session.commit(true)).toBe(0);
    const w = h.link.last;
    w.partial(0, 'cleared words');
    w.final(0, 'cleared words');
    await settle();
    expect(h.of('transcript.partial')).toEqual([]);
    expect(h.of('transcript.final')).toEqual([]);
    h.feed(48000);
    expect(h.session.commit()).toBe(1);
    w.final(1, 'kept words');
    await settle();
    expect(h.of('transcript.final').map((f) => [f.segmentId, f.text])).toEqual([[1, 'kept words']]);
    // The cleared text never became context: the prompt after the kept final holds only the kept words.
    expect(w.prompts.at(-1)?.prompt).toBe('kept words');
    await h.session.close();
    expect(h.of('session.closed')[0]).toMatchObject({ segments: 1 });
  });

  it('works at 8 kHz input: the VAD, the ring and the worker stream all run at 8 kHz (the worker resamples)', async () => {
    const h = setup({ inputRate: 8000, frame: 160 });
    // Offsets are 8 kHz samples throughout: speech 8000..20000, the pad is 1600, the live hold 800.
    h.vad.at('speech_start', 8000, { firesAt: 10000 }).at('speech_end', 20000, { firesAt: 21760 });
    h.feed(160 * 150);
    expect(h.events[0]).toMatchObject({ type: 'session.created', inputRate: 8000, sampleRate: 16000 });
    expect(h.session.quality).toBe('telephony');
    expect(h.session.audioRate).toBe(8000);
    expect(h.vad.sampleRate).toBe(8000);
    expect(h.vad.pushed).toBe(160 * 150);
    // The VAD got the input itself (no stage here), not upsampled audio.
    expect(Array.from(h.vad.int16(0, 24000))).toEqual(Array.from(ramp(0, 24000)));
    expect(h.session.stats().inputSamples).toBe(24000);
    // 60 s of 8 kHz Int16 (plus scratch): half the memory of a ring at the model's rate.
    expect(h.session.stats().memoryBytes).toBeLessThan(60 * 16000 * 2);
    const w = h.link.last;
    expect(w.config.sampleRate).toBe(8000);
    expect(w.config.audioQuality).toBe('telephony');
    // Speech start seen after frame 63 (ring at 10080, sent up to the hold), end after frame 136 (ring at
    // 21760, end = 20000 + pad).
    expect(w.timeline()).toEqual(['6400-21600', 'last@21600']);
    expect(w.frames[0]?.pcm.length).toBe(10080 - HOLD / 2 - 6400);
    // The worker gets the call's own samples.
    expect(Array.from(w.samples(6400, 21600))).toEqual(Array.from(ramp(6400, 15200)));
    w.final(0, 'hello');
    await settle();
    expect(h.of('vad.speech_start')[0]).toMatchObject({ segmentId: 0, startMs: 1000 });
    expect(h.of('vad.speech_end')[0]).toMatchObject({ segmentId: 0, endMs: 2500 });
    expect(h.of('transcript.final')[0]).toMatchObject({ startMs: 800, endMs: 2700 });
  });

  it('writes Int16 frames that preprocessing left as they were to the ring as they came; others rounded and clamped', () => {
    // DC removal 'auto' on a line without offset leaves the frames untouched: the worker gets the input itself.
    const sine = Int16Array.from({ length: 48000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)));
    const differing = (dc: boolean | 'auto'): number => {
      const h = setup({ preprocess: { enabled: true, dc, gain: false, denoise: false } });
      speech(h.vad, 16000, 40000);
      for (let at = 0; at < sine.length; at += 400) {
        h.clock.advance(25);
        h.session.push(sine.subarray(at, at + 400));
      }
      const got = h.link.last.samples(12800, 43200);
      return got.filter((v, i) => v !== sine[12800 + i]).length;
    };
    expect(differing('auto')).toBe(0);
    // DC removal always on changes them (the high-pass shifts the phase of even a 440 Hz tone a little).
    expect(differing(true)).toBeGreaterThan(1000);
    // Float frames: rounded half up like Math.round, clamped to Int16, NaN as 0.
    const f = setup();
    speech(f.vad, 0, 400);
    const values = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 32766.6, 40000, -32768.4, -40000, Number.NaN];
    const frame = new Float32Array(400);
    values.forEach((v, i) => (frame[i] = v / 32768));
    f.clock.advance(25);
    f.session.push(frame);
    for (let at = 400; at < 8000; at += 400) {
      f.clock.advance(25);
      f.session.push(new Float32Array(400));
    }
    expect(Array.from(f.link.last.samples(0, values.length))).toEqual([1, 0, 2, -1, 3, -2, 32767, 32767, -32768, -32768, 0]);
  });

  it('the VAD hears the audio before gain (and denoise); the ring and the worker get it after', () => {
    const h = setup({ inputRate: 8000, frame: 160, preprocess: { enabled: true, dc: false, gain: true, denoise: false } });
    speech(h.vad, 4000, 20000);
    h.feed(160 * 150);
    expect(Array.from(h.vad.int16(0, 24000))).toEqual(Array.from(ramp(0, 24000)));
    const w = h.link.last;
    const sent = w.samples(3200, 21600);
    expect(sent.filter((v, i) => v !== sampleAt(3200 + i)).length).toBeGreaterThan(1000);
  });

  it('keeps audio at the model rate when the input is above it or not a rate Silero takes', () => {
    const h = setup({ inputRate: 44100, frame: 882 });
    expect(h.session.audioRate).toBe(16000);
    expect(h.vad.sampleRate).toBe(16000);
    expect(setup({ inputRate: 16000 }).session.audioRate).toBe(16000);
    expect(setup({ inputRate: 11025, frame: 220 }).session.audioRate).toBe(16000);
    const slow = setup({ inputRate: 16000, caps: { ...HMM_CAPS, sampleRate: 8000 } });
    expect(slow.session.audioRate).toBe(8000);
    expect(slow.vad.sampleRate).toBe(8000);
  });

  it('delivers session.created to listeners attached right after construction, before any other event', async () => {
    const h = setup();
    // setup() attached its recorder after `new Session`: it still got session.created, once, first.
    await settle();
    expect(h.types()).toEqual(['session.created']);
    speech(h.vad, 16000, 40000);
    h.feed(24000);
    expect(h.types().filter((t) => t === 'session.created')).toHaveLength(1);
    expect(h.types()[0]).toBe('session.created');
  });

  it('takes events from a detector that reports after push() returned', async () => {
    const h = setup();
    h.vad.at('speech_start', 16000, { firesAt: 20000, later: true }).at('speech_end', 40000, { firesAt: 43200, later: true });
    h.feed(20000);
    expect(h.link.opens).toHaveLength(0);
    await settle();
    expect(h.link.last.timeline()).toEqual([`12800-${20000 - HOLD}`]);
    h.feed(43200);
    await settle();
    h.feed(44000);
    // The end came once the ring was at 43200: the pad is in, nothing after it.
    expect(h.link.last.timeline()).toEqual(['12800-43200', 'last@43200']);
  });
});

describe('session: crash recovery', () => {
  it('resends the open utterance to a new stream after a break mid-utterance', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.feed(30000);
    const w0 = h.link.last;
    expect(w0.timeline()).toEqual([`12800-${30000 - HOLD}`]);
    h.link.serving = 'manual';
    w0.fail(crash('worker crashed'));
    await settle();
    expect(w0.cancelled).toBe(true);
    expect(h.of('session.recovering').map(plain)).toEqual([{ type: 'session.recovering', reason: 'worker crashed', nextSegmentId: 0, resentSamples: 0 }]);
    expect(h.link.servingCalls).toEqual([30000]);
    expect(h.session.stats().recoveries).toBe(1);
    // While no worker serves, audio goes to the ring only.
    h.feed(36000);
    expect(h.link.streams).toHaveLength(1);
    expect(w0.timeline()).toEqual([`12800-${30000 - HOLD}`]);

    h.link.allowServing();
    await settle();
    const w1 = h.link.last;
    expect(w1.config.firstSegmentId).toBe(0);
    // Resent up to the hold of the ring now (36000).
    expect(w1.timeline()).toEqual([`12800-${36000 - HOLD}`]);
    expect(w1.frames.map((f) => f.pcm.length)).toEqual([8000, 8000, 36000 - HOLD - 12800 - 16000]);
    expect(h.of('session.recovered').map(plain)).toEqual([{ type: 'session.recovered', reason: 'worker crashed', nextSegmentId: 0, resentSamples: 36000 - HOLD - 12800 }]);
    expect(Array.from(w1.samples(12800, 30000 - HOLD))).toEqual(Array.from(w0.samples(12800, 30000 - HOLD)));
    expectSamples(w1.samples(12800, 36000 - HOLD), 12800);

    h.feed(48000);
    expect(w1.timeline()).toEqual(['12800-43200', 'last@43200']);
    w1.final(0, 'hello');
    w1.final(0, 'hello'); // repeated: dropped
    w0.final(0, 'stale stream'); // the old stream is gone
    await settle();
    expect(h.of('transcript.final').map((e) => [e.segmentId, e.text])).toEqual([[0, 'hello']]);
    expect(h.session.stats().duplicatesDropped).toBe(1);
    expect(h.wal.last('s1')).toMatchObject({ segmentId: 0, offset: 43200 });
    expect(await h.metric('theo_session_recoveries_total')).toBe(1);
  });

  it('resends an ended utterance with is_last after a break before its final', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.feed(48000);
    const w0 = h.link.last;
    expect(w0.timeline()).toEqual(['12800-43200', 'last@43200']);
    w0.fail();
    await settle();
    const w1 = h.link.last;
    expect(w1).not.toBe(w0);
    expect(w1.timeline()).toEqual(['12800-43200', 'last@43200']);
    expect(Array.from(w1.samples(12800, 43200))).toEqual(Array.from(w0.samples(12800, 43200)));
    expect(h.of('session.recovered')[0]).toMatchObject({ nextSegmentId: 0, resentSamples: 30400 });
    // Audio after the end (silence) is not part of any utterance: not resent, not sent.
    h.feed(56000);
    expect(w1.timeline()).toEqual(['12800-43200', 'last@43200']);
    w1.final(0, 'hello');
    await settle();
    expect(h.of('transcript.final')).toHaveLength(1);
    expect(h.wal.last('s1')).toMatchObject({ segmentId: 0, offset: 43200 });
  });

  it('recovers two pending utterances, drops a replayed final and goes on with the next ids', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    speech(h.vad, 64000, 80000);
    h.feed(72000);
    const w0 = h.link.last;
    expect(w0.timeline()).toEqual(['12800-43200', 'last@43200', `60800-${72000 - HOLD}`]);
    w0.fail();
    await settle();
    const w1 = h.link.last;
    expect(w1.config.firstSegmentId).toBe(0);
    expect(w1.timeline()).toEqual(['12800-43200', 'last@43200', `60800-${72000 - HOLD}`]);
    expect(h.of('session.recovered')[0]).toMatchObject({ nextSegmentId: 0, resentSamples: 30400 + 9600 });

    w1.final(0, 'first');
    await settle();
    expect(h.wal.last('s1')).toMatchObject({ segmentId: 0, offset: 43200 });
    h.feed(88000);
    expect(w1.timeline()).toEqual(['12800-43200', 'last@43200', '60800-83200', 'last@83200']);

    // A second crash: only segment 1 is uncommitted.
    w1.fail(crash('worker crashed again'));
    await settle();
    const w2 = h.link.last;
    expect(h.link.streams).toHaveLength(3);
    expect(w2.config.firstSegmentId).toBe(1);
    expect(w2.timeline()).toEqual(['60800-83200', 'last@83200']);
    expectSamples(w2.samples(60800, 83200), 60800);
    expect(h.of('session.recovering').map((e) => [e.reason, e.nextSegmentId])).toEqual([
      ['worker crashed', 0],
      ['worker crashed again', 1],
    ]);
    expect(h.of('session.recovered').map((e) => [e.nextSegmentId, e.resentSamples])).toEqual([
      [0, 30400 + 9600],
      [1, 22400],
    ]);

    w2.final(0, 'first, replayed');
    w2.final(1, 'second');
    await settle();
    expect(h.of('transcript.final').map((e) => [e.segmentId, e.text])).toEqual([
      [0, 'first'],
      [1, 'second'],
    ]);
    expect(h.session.stats()).toMatchObject({ duplicatesDropped: 1, recoveries: 2, segments: 2 });
    expect(h.wal.last('s1')).toMatchObject({ segmentId: 1, offset: 83200 });
    expect(h.wal.history('s1').map((r) => [r.segmentId, r.offset])).toEqual([
      [0, 43200],
      [1, 83200],
    ]);

    // The next utterance takes id 2 on the same stream.
    speech(h.vad, 96000, 104000);
    h.feed(112000);
    w2.final(2, 'third');
    await settle();
    expect([...finalsBySegment(h)]).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
  });

  it('survives three crashes in a row, resending the same audio each time', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.feed(28000);
    for (let i = 0; i < 3; i++) {
      h.link.last.fail();
      await settle();
      h.feed(28000 + (i + 1) * 400);
    }
    expect(h.link.streams).toHaveLength(4);
    const w3 = h.link.last;
    expect(h.link.streams.map((s) => s.config.firstSegmentId)).toEqual([0, 0, 0, 0]);
    // Each stream got the audio up to the hold at the time: the same prefix, resent from the start each time.
    expect(h.link.streams.map((s) => s.timeline())).toEqual([['12800-26400'], ['12800-26800'], ['12800-27200'], ['12800-27600']]);
    for (const s of h.link.streams.slice(1)) expect(Array.from(s.samples(12800, 26400))).toEqual(Array.from(h.link.stream(0).samples(12800, 26400)));
    expect(h.types().filter((t) => t.startsWith('session.recover'))).toEqual([
      'session.recovering',
      'session.recovered',
      'session.recovering',
      'session.recovered',
      'session.recovering',
      'session.recovered',
    ]);
    expect(h.link.streams.slice(0, 3).every((s) => s.cancelled)).toBe(true);
    h.feed(48000);
    w3.final(0, 'done');
    await settle();
    expect(h.of('transcript.final')).toHaveLength(1);
    expect(h.session.stats().recoveries).toBe(3);
    expect(await h.metric('theo_session_recoveries_total')).toBe(3);
  });

  it('recovers when the stream opened for recovery breaks at once', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.feed(30000);
    h.link.onOpen = (s) => {
      if (s.index === 1) s.fail(crash('died again at once'));
    };
    h.link.last.fail();
    await settle();
    await settle();
    expect(h.link.streams).toHaveLength(3);
    expect(h.link.last.timeline()).toEqual([`12800-${30000 - HOLD}`]);
    expect(h.session.stats().recoveries).toBe(2);
    h.feed(48000);
    h.link.last.final(0, 'ok');
    await settle();
    expect(h.of('transcript.final')).toHaveLength(1);
  });

  it('treats a stream the worker ended as broken', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.feed(30000);
    h.link.last.finish();
    await settle();
    expect(h.of('session.recovering')[0]).toMatchObject({ reason: 'the worker ended the stream', nextSegmentId: 0 });
    expect(h.link.streams).toHaveLength(2);
    expect(h.link.last.timeline()).toEqual([`12800-${30000 - HOLD}`]);
  });

  it('waits for a worker when none serves at the first speech (not counted as a recovery)', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.link.openFailures = 1;
    h.feed(24000);
    await settle();
    expect(h.link.opens).toHaveLength(2);
    expect(h.of('session.recovering')[0]).toMatchObject({ reason: "first speech: no worker serves 'm' now", nextSegmentId: 0 });
    expect(h.of('session.recovered')[0]).toMatchObject({ nextSegmentId: 0, resentSamples: 24000 - HOLD - 12800 });
    expect(h.link.last.timeline()).toEqual([`12800-${24000 - HOLD}`]);
    expect(h.session.stats().recoveries).toBe(0);
  });

  it('fails and closes when no worker serves within recoveryTimeoutMs', async () => {
    const h = setup({ sessions: { recoveryTimeoutMs: 200, timeouts: { closingMs: 100 } } });
    h.link.serving = 'timeout';
    h.link.clock = h.clock;
    speech(h.vad, 16000, 40000);
    h.feed(30000);
    h.link.last.fail();
    await vi.waitFor(() => expect(h.session.closed).toBe(true), { timeout: 1500, interval: 10 });
    expect(h.link.servingCalls).toEqual([200]);
    const errors = h.of('error').map(plain);
    expect(errors).toEqual([
      { type: 'error', code: 'worker_unavailable', message: "no worker for 'm' within 200 ms: no worker for 'm' within 200 ms", recoverable: false },
      { type: 'error', code: 'final_missing', message: 'session closed before the finals of segment(s) 0 arrived', recoverable: false },
    ]);
    expect(h.states().slice(-2)).toEqual(['ACTIVE>CLOSING error: error: worker_unavailable', 'CLOSING>CLOSED error: error: worker_unavailable']);
    expect(h.of('session.closed').map(plain)).toEqual([
      { type: 'session.closed', reason: 'error: worker_unavailable', durationMs: 1875 + 200, segments: 0, droppedSamples: 0, recoveries: 1 },
    ]);
    expect(h.link.streams).toHaveLength(1);
  });

  it('fails at once with the reason when the model is down, not when the recovery window runs out', async () => {
    const h = setup({ sessions: { recoveryTimeoutMs: 600_000, timeouts: { closingMs: 100 } } });
    speech(h.vad, 16000, 40000);
    h.feed(30000);
    h.link.serving = 'down';
    h.link.last.fail();
    await vi.waitFor(() => expect(h.session.closed).toBe(true), { timeout: 1500, interval: 10 });
    expect(h.link.servingCalls).toEqual([600_000]);
    expect(h.of('error')[0]).toMatchObject({ code: 'worker_unavailable', message: "model 'm' is down: its worker went down 6 times within 60 s; next retry in 5 s", recoverable: false });
    expect(h.link.streams).toHaveLength(1);
  });

  it('closes at once on an invalid_argument error from the worker', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.feed(48000);
    h.link.last.fail(new TheoError('invalid_argument', 'bad sample rate'));
    await vi.waitFor(() => expect(h.session.closed).toBe(true), { timeout: 1500, interval: 10 });
    expect(h.of('error')[0]).toMatchObject({ code: 'invalid_argument', message: 'bad sample rate', recoverable: false });
    expect(h.of('session.recovering')).toEqual([]);
  });
});

describe('session: ring buffer commits', () => {
  it('commits through the final, then keeps only what a late speech start could claim', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    const cap = 60 * RATE;
    h.feed(19600);
    // Silence: all but the last 700 ms (pad + min speech + a margin for the VAD's windows) is committed.
    expect(h.session.stats().bufferFill).toBe(KEEP / cap);
    h.feed(48000);
    // The utterance [12800, 43200) waits for its final: held from its start.
    expect(h.session.stats().bufferFill).toBe((48000 - 12800) / cap);
    h.link.last.final(0, 'hello');
    await settle();
    expect(h.session.stats().bufferFill).toBe((48000 - 43200) / cap);
    h.feed(60000);
    expect(h.session.stats().bufferFill).toBe(KEEP / cap);
  });

  it('keeps the fill low through a long silence', () => {
    const h = setup({ realtime: false });
    let most = 0;
    for (let t = 400; t <= 30 * RATE; t += 400) {
      h.feed(t);
      most = Math.max(most, h.session.stats().bufferFill);
    }
    expect(most).toBe(KEEP / (60 * RATE));
    expect(h.link.opens).toHaveLength(0);
    expect(h.wal.last('s1')).toBeUndefined();
    expect(h.session.stats().droppedSamples).toBe(0);
  });

  it('force-commits an utterance that never ends when the worker never answers', async () => {
    const h = setup({ sessions: { bufferSeconds: 5 } });
    h.vad.at('speech_start', 16000, { firesAt: 20000 });
    // Capacity 80000, force commit at 72000 uncommitted; committed up to 19600 - KEEP = 8400 before the
    // speech, so the frame written from 80000 is the first that would reach 72000.
    h.feed(80000);
    expect(h.of('vad.speech_end')).toEqual([]);
    expect(h.session.stats().bufferFill).toBe((80000 - (19600 - KEEP)) / 80000);
    h.feed(80400);
    expect(h.of('vad.speech_end').map(plain)).toEqual([{ type: 'vad.speech_end', segmentId: 0, endMs: 5000, forced: true }]);
    expect(h.of('vad.speech_start').map(plain)).toEqual([
      { type: 'vad.speech_start', segmentId: 0, startMs: 1000 },
      { type: 'vad.speech_start', segmentId: 1, startMs: 5000 },
    ]);
    expect(h.states()).toEqual(['INIT>ACTIVE speech_start', 'ACTIVE>SILENCE speech_end: segment cut', 'SILENCE>ACTIVE speech_start: speech continues']);
    const w0 = h.link.last;
    // A forced end has no pad: the held-back audio goes with it, up to the cut; the next utterance has
    // nothing past its hold yet (80400 - HOLD < 80000).
    expect(w0.timeline()).toEqual(['12800-80000', 'last@80000']);
    expect(h.session.stats().bufferFill).toBe(400 / 80000);
    expect(await h.metric('theo_segments_force_committed_total')).toBe(1);

    // Speech goes on: the next cut comes 71600 samples later (before the frame that would reach 72000);
    // nothing is ever dropped.
    h.feed(151600);
    expect(await h.metric('theo_segments_force_committed_total')).toBe(1);
    h.feed(152000);
    expect(await h.metric('theo_segments_force_committed_total')).toBe(2);
    h.feed(153600);
    expect(w0.timeline()).toEqual(['12800-80000', 'last@80000', '80000-151600', 'last@151600', `151600-${153600 - HOLD}`]);
    expect(h.session.stats().droppedSamples).toBe(0);

    // A crash now: the force-committed utterances cannot be resent; the open one is.
    w0.fail();
    await settle();
    const w1 = h.link.last;
    expect(w1.config.firstSegmentId).toBe(2);
    expect(w1.timeline()).toEqual([`151600-${153600 - HOLD}`]);
    expect(h.of('session.recovering')[0]?.nextSegmentId).toBe(2);

    // Segment 2's final gives up on 0 and 1 (their finals were on the broken stream).
    h.vad.emit('speech_end', 153600);
    h.feed(154000);
    w1.final(2, 'three');
    await settle();
    expect(h.of('error').map((e) => e.message)).toEqual(['segment 0 got no final', 'segment 1 got no final']);
    expect(h.of('error').every((e) => e.code === 'final_missing' && e.recoverable)).toBe(true);
    expect(h.of('transcript.final').map((e) => e.segmentId)).toEqual([2]);
    expect(h.wal.last('s1')).toMatchObject({ segmentId: 2 });
  });

  it('emits the late final of a force-committed utterance', async () => {
    const h = setup({ sessions: { bufferSeconds: 5 } });
    h.vad.at('speech_start', 16000, { firesAt: 20000 });
    // Cut at 80000 (see above), before the frame written from there.
    h.feed(80400);
    expect(h.of('vad.speech_end')).toMatchObject([{ segmentId: 0, endMs: 5000, forced: true }]);
    h.link.last.final(0, 'long one');
    await settle();
    expect(h.of('transcript.final').map((e) => [e.segmentId, e.startMs, e.endMs])).toEqual([[0, 800, 5000]]);
    expect(h.wal.last('s1')).toMatchObject({ segmentId: 0, offset: 80000 });
  });
});

describe('session: backpressure', () => {
  it('rate-limits input ahead of real time, drops past twice the bound, and clears when the clock catches up', async () => {
    const h = setup({ sessions: { maxBacklogMs: 1000 }, frame: 320, pace: false });
    const answers = h.feed(320 * 100);
    // 20 ms frames on a frozen clock: frame 51 is 1020 ms ahead.
    expect(answers.slice(0, 50).every(Boolean)).toBe(true);
    expect(answers.slice(50).some(Boolean)).toBe(false);
    expect(h.of('session.backpressure').map(plain)).toEqual([{ type: 'session.backpressure', state: 'rate_limited', backlogMs: 1020, droppedSamples: 0 }]);
    expect(h.session.stats().droppedSamples).toBe(0);

    expect(h.feed(320 * 103)).toEqual([false, false, false]);
    expect(h.of('session.backpressure').map(plain)[1]).toEqual({ type: 'session.backpressure', state: 'dropping', backlogMs: 2020, droppedSamples: 320 });
    expect(h.of('session.backpressure')).toHaveLength(2);
    expect(h.session.stats()).toMatchObject({ inputSamples: 32000, droppedSamples: 960 });
    expect(h.vad.pushed).toBe(32000);
    expect(await h.metric('theo_session_dropped_samples_total')).toBe(960);

    h.clock.advance(1000);
    expect(h.session.push(ramp(0, 320))).toBe(false);
    expect(plain(h.events[h.events.length - 1] as SessionEvent)).toEqual({ type: 'session.backpressure', state: 'rate_limited', backlogMs: 1020, droppedSamples: 960 });
    h.clock.advance(600);
    expect(h.session.push(ramp(0, 320))).toBe(true);
    expect(plain(h.events[h.events.length - 1] as SessionEvent)).toEqual({ type: 'session.backpressure', state: 'ok', backlogMs: 440, droppedSamples: 960 });
    expect(h.session.stats()).toMatchObject({ inputSamples: 32640, droppedSamples: 960 });
    // whenReady() of a real-time session does not wait: pacing is push()'s answer.
    await expect(h.session.whenReady()).resolves.toBeUndefined();
  });

  it('a fast session waits in whenReady() while four ended utterances lack finals', async () => {
    const h = setup({ realtime: false });
    for (let i = 0; i < 4; i++) speech(h.vad, 16000 + i * 32000, 24000 + i * 32000);
    h.feed(112000);
    expect(h.of('vad.speech_end')).toHaveLength(3);
    await h.session.whenReady();
    h.feed(144000);
    expect(h.of('vad.speech_end')).toHaveLength(4);
    let ready = false;
    void h.session.whenReady().then(() => {
      ready = true;
    });
    await settle();
    expect(ready).toBe(false);
    h.link.last.final(0, 'one');
    await settle();
    expect(ready).toBe(true);
    expect(h.feed(144400)).toEqual([true]);
  });

  it('a fast session does not wait in whenReady() on a long open utterance (nothing would release it)', async () => {
    const h = setup({ realtime: false, sessions: { bufferSeconds: 5 } });
    h.vad.at('speech_start', 16000, { firesAt: 20000 });
    h.feed(16000 + 3 * RATE);
    expect(h.session.stats().bufferFill).toBeGreaterThan(0.5);
    let ready = false;
    void h.session.whenReady().then(() => {
      ready = true;
    });
    await settle();
    expect(ready).toBe(true);
  });
});

describe('session: timeouts', () => {
  it('closes a session that never hears speech after initMs', async () => {
    const h = setup({ sessions: { timeouts: { initMs: 1000 } } });
    h.clock.advance(999);
    h.session.tick();
    expect(h.session.state).toBe('INIT');
    h.clock.advance(1);
    h.session.tick();
    expect(h.session.state).toBe('CLOSING');
    await h.session.close();
    expect(h.states()).toEqual(['INIT>CLOSING init_timeout', 'CLOSING>CLOSED drained: init_timeout']);
    expect(h.of('session.closed').map(plain)).toEqual([{ type: 'session.closed', reason: 'init_timeout', durationMs: 1000, segments: 0, droppedSamples: 0, recoveries: 0 }]);
    expect(h.session.closed).toBe(true);
  });

  it('goes SILENCE -> HOLD -> CLOSING -> CLOSED on the silence and hold timeouts', async () => {
    const h = setup({ sessions: { timeouts: { silenceMs: 1000, holdMs: 2000 } } });
    speech(h.vad, 16000, 40000);
    h.feed(43200); // speech end seen at T0 + 2700
    h.link.last.final(0, 'hello');
    await settle();
    expect(h.session.state).toBe('SILENCE');
    h.feed(58400); // T0 + 3650
    h.session.tick();
    expect(h.session.state).toBe('SILENCE');
    h.feed(59200); // T0 + 3700
    h.session.tick();
    expect(h.session.state).toBe('HOLD');
    expect(h.of('session.hold').map(plain)).toEqual([{ type: 'session.hold', reason: 'silence_timeout' }]);
    h.clock.advance(1999);
    h.session.tick();
    expect(h.session.state).toBe('HOLD');
    h.clock.advance(1);
    h.session.tick();
    await h.session.close();
    expect(h.states()).toEqual([
      'INIT>ACTIVE speech_start',
      'ACTIVE>SILENCE speech_end',
      'SILENCE>HOLD silence_timeout',
      'HOLD>CLOSING hold_timeout',
      'CLOSING>CLOSED drained: hold_timeout',
    ]);
    expect(h.of('session.closed')[0]).toMatchObject({ reason: 'hold_timeout', segments: 1 });
    expect(h.of('error')).toEqual([]);
  });

  it('cancels the silence timeout when speech starts again', () => {
    const h = setup({ sessions: { timeouts: { silenceMs: 1000 } } });
    speech(h.vad, 16000, 40000);
    h.vad.at('speech_start', 52000, { firesAt: 56000 });
    h.feed(56000); // SILENCE from T0 + 2700, speech again at T0 + 3500
    h.clock.advance(10_000);
    h.session.tick();
    expect(h.session.state).toBe('ACTIVE');
    expect(h.states()).toEqual(['INIT>ACTIVE speech_start', 'ACTIVE>SILENCE speech_end', 'SILENCE>ACTIVE speech_start']);
  });

  it('hold() while ACTIVE: speech goes on streaming, its end leaves HOLD alone, a new start resumes', () => {
    const h = setup({ sessions: { timeouts: { holdMs: 5000 } } });
    speech(h.vad, 16000, 40000);
    h.vad.at('speech_start', 64000, { firesAt: 68000 });
    h.feed(24000);
    h.session.hold('on hold by caller');
    expect(h.session.state).toBe('HOLD');
    expect(h.of('session.hold').map(plain)).toEqual([{ type: 'session.hold', reason: 'on hold by caller' }]);
    h.feed(48000);
    expect(h.of('vad.speech_end')).toHaveLength(1);
    expect(h.session.state).toBe('HOLD');
    expect(h.link.last.timeline()).toEqual(['12800-43200', 'last@43200']);
    h.session.hold('again'); // already held: nothing
    h.session.tick();
    h.feed(68000);
    expect(h.states()).toEqual(['INIT>ACTIVE speech_start', 'ACTIVE>HOLD hold_requested: on hold by caller', 'HOLD>ACTIVE speech_start']);
    expect(h.of('session.hold')).toHaveLength(1);
  });

  it('closing waits for a pending final', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.feed(48000);
    let done = false;
    const closing = h.session.close('hangup').then(() => {
      done = true;
    });
    await settle();
    expect(h.session.state).toBe('CLOSING');
    expect(done).toBe(false);
    expect(h.session.push(ramp(0, 400))).toBe(false);
    h.link.last.final(0, 'bye');
    await closing;
    expect(h.types().slice(-4)).toEqual(['session.state', 'transcript.final', 'session.state', 'session.closed']);
    expect(h.states().slice(-2)).toEqual(['SILENCE>CLOSING close_requested: hangup', 'CLOSING>CLOSED drained: hangup']);
    expect(h.of('error')).toEqual([]);
  });

  it('closing gives up on a missing final at the CLOSING timeout (clock tick)', async () => {
    const h = setup({ sessions: { timeouts: { closingMs: 1000 } } });
    speech(h.vad, 16000, 40000);
    h.feed(48000);
    const closing = h.session.close();
    await settle();
    h.clock.advance(999);
    h.session.tick();
    expect(h.session.closed).toBe(false);
    h.clock.advance(1);
    h.session.tick();
    expect(h.session.closed).toBe(true);
    await closing;
    expect(h.types().slice(-3)).toEqual(['session.state', 'error', 'session.closed']);
    expect(h.states().slice(-1)).toEqual(['CLOSING>CLOSED closing_timeout']);
    expect(plain(h.of('error')[0] as SessionEvent)).toEqual({ type: 'error', code: 'final_missing', message: 'session closed before the finals of segment(s) 0 arrived', recoverable: false });
  });

  it('closing gives up on a missing final after closingMs without a ticker', async () => {
    const h = setup({ sessions: { timeouts: { closingMs: 100 } } });
    speech(h.vad, 16000, 40000);
    speech(h.vad, 52000, 60000);
    h.feed(66000);
    await h.session.close();
    expect(h.of('error').map((e) => e.message)).toEqual(['session closed before the finals of segment(s) 0, 1 arrived']);
    expect(h.states().slice(-1)).toEqual(['CLOSING>CLOSED closing_timeout: closed']);
    expect(h.of('session.closed')).toHaveLength(1);
  });
});

describe('session: close and finish', () => {
  it('close() is safe twice, refuses frames, emits session.closed once and releases everything', async () => {
    const h = setup();
    speech(h.vad, 16000, 40000);
    h.feed(30000);
    const w = h.link.last;
    const a = h.session.close('bye');
    const b = h.session.close('again');
    expect(b).toBe(a);
    expect(h.session.push(ramp(0, 400))).toBe(false);
    // The open utterance is ended (is_last) and its final awaited.
    await settle();
    expect(w.timeline()).toEqual(['12800-30000', 'last@30000']);
    expect(h.of('vad.speech_end').map(plain)).toEqual([{ type: 'vad.speech_end', segmentId: 0, endMs: 1875, forced: false }]);
    w.final(0, 'bye now');
    await a;
    await h.session.close();
    expect(h.session.close()).toBe(a);
    expect(h.of('session.closed').map(plain)).toEqual([{ type: 'session.closed', reason: 'bye', durationMs: 1875, segments: 1, droppedSamples: 0, recoveries: 0 }]);
    expect(h.session.closed).toBe(true);
    expect(h.session.state).toBe('CLOSED');
    expect(h.session.listenerCount('event')).toBe(0);
    expect(h.vad.closes).toBe(1);
    expect(w.ended).toBe(true);
    expect(h.session.push(ramp(0, 400))).toBe(false);
    expect(h.wal.last('s1')).toBeUndefined();
    expect(await h.metric('theo_sessions_active')).toBe(0);
    h.session.tick(h.clock.advance(3_600_000));
    expect(h.session.state).toBe('CLOSED');
    await expect(h.session.whenIdle()).resolves.toBeUndefined();
    await expect(h.session.finish()).resolves.toBeUndefined();
  });

  it('a close with no speech and no worker stream', async () => {
    const h = setup();
    h.feed(8000);
    await h.session.close();
    expect(h.link.opens).toEqual([]);
    expect(h.states()).toEqual(['INIT>CLOSING close_requested: closed', 'CLOSING>CLOSED drained: closed']);
    expect(h.vad.closes).toBe(1);
  });

  it('finish() resolves after the last final (the detector ends the open segment on flush)', async () => {
    const h = setup();
    h.vad.at('speech_start', 16000, { firesAt: 20000 });
    h.feed(30000);
    let finished = false;
    void h.session.finish().then(() => {
      finished = true;
    });
    await settle();
    expect(h.vad.flushes).toBe(1);
    expect(h.link.last.timeline()).toEqual(['12800-30000', 'last@30000']);
    expect(finished).toBe(false);
    h.link.last.final(0, 'the end');
    await settle();
    expect(finished).toBe(true);
    expect(h.session.closed).toBe(false);
    expect(h.session.state).toBe('SILENCE');
  });

  it('finish() ends an utterance the detector left open', async () => {
    const h = setup();
    h.vad.endOnFlush = false;
    h.vad.at('speech_start', 16000, { firesAt: 20000 });
    h.feed(30000);
    const finishing = h.session.finish();
    await settle();
    expect(h.of('vad.speech_end').map(plain)).toEqual([{ type: 'vad.speech_end', segmentId: 0, endMs: 1875, forced: false }]);
    h.link.last.final(0, 'x');
    await finishing;
    expect(h.of('transcript.final')).toHaveLength(1);
  });
});

describe('session: LocalAgreement partials', () => {
  it('re-decodes the open utterance every partialIntervalMs; the stable prefix only grows; the final replaces it', async () => {
    const hyps = ['hello', 'hello world', 'hello world how', 'hello word how are'];
    const calls: Array<{ pcm: Int16Array; prompt: string | undefined; language: string | undefined; signal: AbortSignal }> = [];
    const held: Array<(r: PassResult) => void> = [];
    const h = setup({
      caps: ENCDEC_CAPS,
      realtime: false,
      pace: false,
      language: 'en',
      transcribe: (pcm, options) => {
        calls.push({ pcm, prompt: options.prompt, language: options.language, signal: options.signal });
        const text = hyps[calls.length - 1];
        if (text === undefined) return new Promise<PassResult>((resolve) => held.push(resolve));
        return Promise.resolve({ text, words: [] });
      },
    });
    h.vad.at('speech_start', 16000, { firesAt: 20000 }).at('speech_end', 80000, { firesAt: 83200 });
    const partials = (): Array<EventOf<'transcript.partial'>> => h.of('transcript.partial');

    h.feed(16000);
    h.clock.advance(5000);
    h.session.tick();
    expect(calls).toEqual([]); // no utterance open
    h.feed(24000); // speech start seen at 20000 (clock T0 + 5000)
    expect(h.link.last.config.interimResults).toBe(false);
    h.clock.advance(999);
    h.session.tick();
    expect(calls).toEqual([]);
    h.clock.advance(1);
    h.session.tick();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.pcm.length).toBe(24000 - 12800);
    expectSamples(calls[0]?.pcm as Int16Array, 12800);
    expect(calls[0]).toMatchObject({ prompt: '', language: 'en' });
    h.session.tick(); // one pass at a time, and not before the interval
    expect(calls).toHaveLength(1);
    await settle();
    for (const to of [32000, 40000, 48000]) {
      h.feed(to);
      h.clock.advance(1000);
      h.session.tick();
      await settle();
    }
    expect(calls).toHaveLength(4);
    expect(partials().map((p) => [p.segmentId, p.text, p.stable, p.startMs, p.endMs])).toEqual([
      [0, 'hello', '', 800, 1500],
      [0, 'hello world', 'hello', 800, 2000],
      [0, 'hello world how', 'hello world', 800, 2500],
      [0, 'hello world how are', 'hello world how', 800, 3000],
    ]);
    const stables = partials().map((p) => p.stable);
    for (let i = 1; i < stables.length; i++) expect((stables[i] as string).startsWith(stables[i - 1] as string)).toBe(true);

    // A pass in flight when the utterance ends is aborted and its answer dropped.
    h.feed(56000);
    h.clock.advance(1000);
    h.session.tick();
    expect(calls).toHaveLength(5);
    h.feed(84000);
    expect(calls[4]?.signal.aborted).toBe(true);
    held[0]?.({ text: 'hello world how are you', words: [] });
    await settle();
    expect(partials()).toHaveLength(4);
    h.clock.advance(5000);
    h.session.tick();
    expect(calls).toHaveLength(5); // SILENCE: no pass

    h.link.last.final(0, 'Hello world, how are you?');
    await settle();
    expect(h.of('transcript.final').map((e) => e.text)).toEqual(['Hello world, how are you?']);
    // Encoder-decoder: the next utterance's prompt carries the final.
    expect(h.link.last.prompts).toEqual([{ prompt: 'Hello world, how are you?', hotWords: [] }]);

    // The next utterance starts over: nothing stable yet.
    h.vad.at('speech_start', 96000, { firesAt: 100000 });
    h.feed(108000);
    h.clock.advance(1000);
    h.session.tick();
    expect(calls).toHaveLength(6);
    expect(calls[5]?.prompt).toBe('Hello world, how are you?');
    expect(calls[5]?.pcm.length).toBe(108000 - 92800);
    held[1]?.({ text: 'again', words: [] });
    await settle();
    expect(partials().map((p) => [p.segmentId, p.text, p.stable]).slice(-1)).toEqual([[1, 'again', '']]);
  });

  it('gives no partials without link.transcribe, with interim results off, or with localAgreement 0', async () => {
    for (const o of [{}, { interimResults: false }, { sessions: { localAgreement: 0 } }] as SetupOptions[]) {
      let passes = 0;
      const transcribe = (): Promise<PassResult> => {
        passes++;
        return Promise.resolve({ text: 'x', words: [] });
      };
      const h = setup({ caps: ENCDEC_CAPS, realtime: false, pace: false, ...o, ...('sessions' in o || 'interimResults' in o ? { transcribe } : {}) });
      h.vad.at('speech_start', 16000, { firesAt: 20000 });
      h.feed(40000);
      h.clock.advance(2000);
      h.session.tick();
      await settle();
      expect(passes).toBe(0);
      expect(h.of('transcript.partial')).toEqual([]);
    }
  });
});

describe('session: hot words', () => {
  it('puts hot words in the prompt (glossary) for an engine that does not bias natively', async () => {
    const h = setup({ caps: ENCDEC_CAPS, interimResults: false, hotWords: ['Theo', 'Acme Corp'], itn: false });
    speech(h.vad, 16000, 40000);
    h.feed(48000);
    const w = h.link.last;
    expect(w.config).toMatchObject({ prompt: 'Glossary: Theo, Acme Corp.', hotWords: [], interimResults: false });
    w.final(0, 'hello theo');
    await settle();
    // Hot word correction runs on the final; the raw text joins the context.
    expect(h.of('transcript.final')[0]).toMatchObject({ text: 'hello Theo', rawText: 'hello theo' });
    expect(w.prompts).toEqual([{ prompt: 'Glossary: Theo, Acme Corp. hello theo', hotWords: [] }]);
    h.session.setHotWords(['Zed']);
    expect(w.prompts.slice(-1)).toEqual([{ prompt: 'Glossary: Zed. hello theo', hotWords: [] }]);
  });

  it('passes hot words natively for an engine that biases', async () => {
    const h = setup({ caps: { ...ENCDEC_CAPS, hotWords: true }, hotWords: ['Theo', 'Acme Corp'], itn: false });
    speech(h.vad, 16000, 40000);
    h.feed(48000);
    const w = h.link.last;
    expect(w.config).toMatchObject({ prompt: '', hotWords: ['Theo', 'Acme Corp'] });
    h.session.setHotWords(['Zed']);
    expect(w.prompts).toEqual([{ prompt: '', hotWords: ['Zed'] }]);
    w.final(0, 'hello zed');
    await settle();
    expect(h.of('transcript.final')[0]).toMatchObject({ text: 'hello Zed' });
    expect(w.prompts.slice(-1)).toEqual([{ prompt: 'hello zed', hotWords: ['Zed'] }]);
  });

  it('hot words set before the first speech go in the first stream config; an hmm engine gets no prompt updates after finals', async () => {
    const h = setup({ itn: false });
    h.session.setHotWords(['Theo']);
    speech(h.vad, 16000, 40000);
    h.feed(48000);
    const w = h.link.last;
    expect(w.config).toMatchObject({ prompt: 'Glossary: Theo.', hotWords: [] });
    w.final(0, 'hello theo');
    await settle();
    expect(w.prompts).toEqual([]);
  });
});

describe('session: listeners that throw', () => {
  it('a listener that throws on every event does not stop commits', async () => {
    const h = setup({ itn: false });
    h.session.on('event', () => {
      throw new Error('bad listener');
    });
    speech(h.vad, 16000, 40000);
    speech(h.vad, 64000, 80000);
    h.feed(96000);
    h.link.last.final(0, 'one');
    h.link.last.final(1, 'two');
    await settle();
    expect(h.of('transcript.final').map((e) => e.text)).toEqual(['one', 'two']);
    expect(h.session.stats().segments).toBe(2);
    expect(h.wal.last('s1')).toMatchObject({ segmentId: 1, offset: 83200 });
    expect(h.link.streams).toHaveLength(1);
    // Every event, session.created included (it goes out once the listeners attached after construction are in).
    expect(h.listenerErrors.length).toBe(h.events.length);
    expect(h.listenerErrors.every(([event, err]) => event === 'event' && (err as Error).message === 'bad listener')).toBe(true);
    await h.session.close();
    expect(h.of('session.closed')).toHaveLength(1);
  });

  it('an error reporter that throws as well does not stop commits either', async () => {
    const h = setup({
      onListenerError: () => {
        throw new Error('bad reporter');
      },
    });
    h.session.on('event', () => {
      throw new Error('bad listener');
    });
    speech(h.vad, 16000, 40000);
    h.feed(48000);
    h.link.last.final(0, 'one');
    await settle();
    expect(h.of('transcript.final')).toHaveLength(1);
    expect(h.wal.last('s1')).toMatchObject({ segmentId: 0, offset: 43200 });
    expect(h.link.streams).toHaveLength(1);
    expect(h.of('session.recovering')).toEqual([]);
  });
});
