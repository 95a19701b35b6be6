import { describe, expect, it } from 'vitest';
import { SpeechDetector, type VadEvent } from '../../../src/vad/detector.js';
import { HYSTERESIS, SENSITIVITY, resolveVadOptions, type VadOptions } from '../../../src/vad/options.js';

const RATE = 16000;
const WIN = 512; // 32 ms at 16 kHz

/** Probability runs as [p, windows] pairs, flattened. */
function seq(...runs: [number, number][]): number[] {
  const out: number[] = [];
  for (const [p, n] of runs) for (let i = 0; i < n; i++) out.push(p);
  return out;
}

function detect(probs: readonly number[], opts: Partial<VadOptions> = {}, flush = true): { events: VadEvent[]; det: SpeechDetector } {
  const events: VadEvent[] = [];
  const det = new SpeechDetector(resolveVadOptions({ sampleRate: RATE, ...opts }), (e) => events.push(e));
  for (const p of probs) det.push(p, WIN);
  if (flush) det.flush();
  return { events, det };
}

const brief = (events: readonly VadEvent[]): string[] => events.map((e) => `${e.type}@${e.offset}${e.forced ? '!' : ''}`);

describe('speech detector', () => {
  it('emits speech_start at the first window of the run and speech_end where the silence began', () => {
    const { events, det } = detect(seq([0, 10], [0.9, 20], [0, 20]), {}, false);
    expect(brief(events)).toEqual([`speech_start@${10 * WIN}`, `speech_end@${30 * WIN}`]);
    expect(events[0]!.probability).toBeCloseTo(0.9);
    expect(det.speaking).toBe(false);
    expect(det.offset).toBe(50 * WIN);
    expect(det.counts).toEqual({ speech_start: 1, speech_end: 1, forced: 0 });
  });

  it('ignores a 200 ms blip (min speech 250 ms) and accepts a 256 ms run', () => {
    expect(detect(seq([0, 10], [0.95, 6], [0, 30])).events).toEqual([]); // 192 ms
    expect(detect(seq([0, 10], [0.95, 7], [0, 30])).events).toEqual([]); // 224 ms
    expect(brief(detect(seq([0, 10], [0.95, 8], [0, 30])).events)).toEqual([`speech_start@${10 * WIN}`, `speech_end@${18 * WIN}`]);
  });

  it('emits speech_start only once the run has lasted min speech, back-dated to where it began', () => {
    const events: VadEvent[] = [];
    const det = new SpeechDetector(resolveVadOptions({ sampleRate: RATE }), (e) => events.push(e));
    for (let i = 0; i < 7; i++) det.push(0.9, WIN);
    expect(events).toEqual([]);
    expect(det.speaking).toBe(false);
    det.push(0.9, WIN); // 8 windows = 256 ms >= 250 ms
    expect(brief(events)).toEqual(['speech_start@0']);
    expect(det.speaking).toBe(true);
  });

  it('a 250 ms pause does not split a segment; a 320 ms pause does (min silence 300 ms)', () => {
    const kept = detect(seq([0, 5], [0.9, 20], [0.05, 8], [0.9, 20], [0, 20])).events; // 256 ms pause
    expect(brief(kept)).toEqual([`speech_start@${5 * WIN}`, `speech_end@${53 * WIN}`]);
    const split = detect(seq([0, 5], [0.9, 20], [0.05, 10], [0.9, 20], [0, 20])).events; // 320 ms pause
    expect(brief(split)).toEqual([`speech_start@${5 * WIN}`, `speech_end@${25 * WIN}`, `speech_start@${35 * WIN}`, `speech_end@${55 * WIN}`]);
  });

  it('a short dip inside a candidate does not restart it (min speech counts from where it began)', () => {
    // 4 windows of speech, a 2-window dip, 4 more: the run began at window 2 and spans 320 ms.
    const { events } = detect(seq([0, 2], [0.9, 4], [0.1, 2], [0.9, 4], [0, 20]));
    expect(brief(events)).toEqual([`speech_start@${2 * WIN}`, `speech_end@${12 * WIN}`]);
    // The same blips with a pause of min silence between them are two blips, both ignored.
    expect(detect(seq([0, 2], [0.9, 4], [0.1, 10], [0.9, 4], [0, 20])).events).toEqual([]);
  });

  it('splits a segment at max segment length: forced end and start at the same window border', () => {
    // 1000 ms = 16 000 samples: a segment holds at most 31 windows (15 872 samples).
    const { events } = detect(seq([0.9, 100]), { maxSegmentMs: 1000 });
    const b = 31 * WIN;
    expect(brief(events)).toEqual([
      'speech_start@0',
      `speech_end@${b}!`,
      `speech_start@${b}!`,
      `speech_end@${2 * b}!`,
      `speech_start@${2 * b}!`,
      `speech_end@${3 * b}!`,
      `speech_start@${3 * b}!`,
      `speech_end@${100 * WIN}`,
    ]);
    for (let i = 0; i + 1 < events.length; i += 2) expect(events[i + 1]!.offset - events[i]!.offset).toBeLessThanOrEqual(16000);
  });

  it('the default max segment is 30 s', () => {
    const { events, det } = detect(seq([0.9, 1000]));
    const b = Math.floor(30 * RATE / WIN) * WIN; // 937 windows = 29.984 s
    expect(brief(events).slice(0, 3)).toEqual(['speech_start@0', `speech_end@${b}!`, `speech_start@${b}!`]);
    expect(det.counts.forced).toBe(1);
  });

  it('at max segment length with silence already begun, ends where the silence began and does not restart', () => {
    // Speech for 29 windows, then silence from window 29: the split check at window 30 finds it pending.
    const { events } = detect(seq([0.9, 29], [0.1, 5], [0.9, 10], [0, 20]), { maxSegmentMs: 1000 });
    expect(brief(events)).toEqual(['speech_start@0', `speech_end@${29 * WIN}!`, `speech_start@${34 * WIN}`, `speech_end@${44 * WIN}`]);
  });

  it('hysteresis: enters at >= threshold, stays while >= threshold - 0.15, leaves below it', () => {
    expect(detect(seq([0.45, 40])).events).toEqual([]); // never reaches 0.5
    const { events } = detect(seq([0, 2], [0.6, 10], [0.4, 30], [0.3, 20]));
    // 0.4 is in the band (0.35 .. 0.5): the segment holds through it; the first 0.3 window is where silence began.
    expect(brief(events)).toEqual([`speech_start@${2 * WIN}`, `speech_end@${42 * WIN}`]);
    // A window in the band does not cancel silence that began; one at >= threshold does.
    const band = detect(seq([0.9, 10], [0.2, 5], [0.4, 5], [0.2, 5], [0, 20])).events;
    expect(brief(band)).toEqual(['speech_start@0', `speech_end@${10 * WIN}`]);
    const back = detect(seq([0.9, 10], [0.2, 5], [0.6, 1], [0.2, 9], [0, 20])).events;
    expect(brief(back)).toEqual(['speech_start@0', `speech_end@${16 * WIN}`]);
  });

  it('sensitivity levels map to thresholds 0.3 / 0.5 / 0.7 with hysteresis 0.15 and lower floors when more sensitive', () => {
    const t = (s: 'high' | 'normal' | 'low') => resolveVadOptions({ sampleRate: RATE, sensitivity: s });
    expect([t('high').threshold, t('normal').threshold, t('low').threshold]).toEqual([0.3, 0.5, 0.7]);
    expect(t('normal').negThreshold).toBeCloseTo(0.5 - HYSTERESIS);
    expect(SENSITIVITY.high.prefilter.floorDb).toBeLessThan(SENSITIVITY.normal.prefilter.floorDb);
    expect(SENSITIVITY.normal.prefilter.floorDb).toBeLessThan(SENSITIVITY.low.prefilter.floorDb);
    const weak = seq([0, 5], [0.4, 20], [0, 20]);
    expect(detect(weak, { sensitivity: 'high' }).events).toHaveLength(2);
    expect(detect(weak, { sensitivity: 'normal' }).events).toHaveLength(0);
    const medium = seq([0, 5], [0.6, 20], [0, 20]);
    expect(detect(medium, { sensitivity: 'normal' }).events).toHaveLength(2);
    expect(detect(medium, { sensitivity: 'low' }).events).toHaveLength(0);
    expect(detect(medium, { sensitivity: 'low', threshold: 0.55 }).events).toHaveLength(2);
  });

  it('uses the configured min speech, min silence and max segment', () => {
    const { events } = detect(seq([0.9, 4], [0, 4], [0.9, 4], [0, 10]), { minSpeechMs: 100, minSilenceMs: 100 });
    expect(brief(events)).toEqual(['speech_start@0', `speech_end@${4 * WIN}`, `speech_start@${8 * WIN}`, `speech_end@${12 * WIN}`]);
  });

  it('flush ends an open segment at the end offset, or where silence began', () => {
    const open = detect(seq([0.9, 20]), {}, false);
    open.det.flush();
    expect(brief(open.events)).toEqual(['speech_start@0', `speech_end@${20 * WIN}`]);
    const pausing = detect(seq([0.9, 20], [0, 3]), {}, false);
    pausing.det.flush();
    expect(brief(pausing.events)).toEqual(['speech_start@0', `speech_end@${20 * WIN}`]);
    expect(pausing.events[1]!.forced).toBeUndefined();
    // Nothing open: no event; a candidate shorter than min speech is dropped.
    const blip = detect(seq([0, 3], [0.9, 3]), {}, false);
    blip.det.flush();
    expect(blip.events).toEqual([]);
  });

  it('counts samples, not windows: a short last window moves the end offset exactly', () => {
    const events: VadEvent[] = [];
    const det = new SpeechDetector(resolveVadOptions({ sampleRate: RATE }), (e) => events.push(e));
    for (let i = 0; i < 10; i++) det.push(0.9, WIN);
    det.push(0.9, 100);
    det.flush();
    expect(brief(events)).toEqual(['speech_start@0', `speech_end@${10 * WIN + 100}`]);
  });

  it('treats NaN and out-of-range probabilities as 0 and 1', () => {
    const { events } = detect([...seq([NaN, 5], [7, 10]), ...seq([-1, 20])]);
    expect(brief(events)).toEqual([`speech_start@${5 * WIN}`, `speech_end@${15 * WIN}`]);
    expect(events[0]!.probability).toBe(1);
  });

  it('reset returns to offset 0 without events', () => {
    const { events, det } = detect(seq([0.9, 12]), {}, false);
    expect(det.speaking).toBe(true);
    det.reset();
    expect(det.speaking).toBe(false);
    expect(det.offset).toBe(0);
    det.flush();
    expect(brief(events)).toEqual(['speech_start@0']);
  });
});

describe('VAD options', () => {
  it('rejects unsupported sample rates with a clear error', () => {
    expect(() => resolveVadOptions({ sampleRate: 44100 as 8000 })).toThrow(/8000 or 16000 Hz.*44100/);
    expect(() => resolveVadOptions({ sampleRate: 44100 as 8000 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('rejects bad thresholds, durations and sensitivities', () => {
    expect(() => resolveVadOptions({ sampleRate: 8000, threshold: 1.5 })).toThrow(/threshold/);
    expect(() => resolveVadOptions({ sampleRate: 8000, threshold: NaN })).toThrow(/threshold/);
    expect(() => resolveVadOptions({ sampleRate: 8000, minSpeechMs: -1 })).toThrow(/minSpeechMs/);
    expect(() => resolveVadOptions({ sampleRate: 8000, minSilenceMs: Infinity })).toThrow(/minSilenceMs/);
    expect(() => resolveVadOptions({ sampleRate: 8000, maxSegmentMs: 40 })).toThrow(/maxSegmentMs/);
    expect(() => resolveVadOptions({ sampleRate: 8000, sensitivity: 'max' as 'high' })).toThrow(/sensitivity/);
    expect(() => resolveVadOptions({ sampleRate: 8000, prefilter: { floorDb: NaN } })).toThrow(/floorDb/);
  });

  it('converts milliseconds to samples at the stream rate', () => {
    const o = resolveVadOptions({ sampleRate: 8000 });
    expect(o).toMatchObject({ windowSamples: 256, contextSamples: 32, minSpeechSamples: 2000, minSilenceSamples: 2400, maxSegmentSamples: 240000 });
    expect(resolveVadOptions({ sampleRate: 16000, prefilter: false }).prefilter).toBeNull();
  });
});
