// Gain normalisation: brings quiet speech up to a -3 dBFS peak, causally, without pumping.
//
// The level is the peak of the last WINDOW_MS of input, kept as maxima of 10 ms sub-blocks (a ring) plus
// the running maximum of the sub-block in progress, so it includes the current sample. The target gain is
// TARGET_PEAK / peak, clamped to [1, MAX_GAIN]: the stage boosts, never attenuates, so loud or clipped
// input passes at its own level. Gain changes are smoothed:
//   - attack is instant: whenever the target falls below the current gain (a louder sample arrived), the
//     gain drops to it at that sample, so no sample leaves above -3 dBFS because of the gain;
//   - release is slow: the gain moves toward a higher target with a RELEASE_S time constant, and only
//     after the louder part has left the 500 ms window;
//   - gate: while the window's peak is under GATE_DB the gain holds, so pauses and line noise are not
//     pumped up between words;
//   - start: a stream has no level history, so the gain is unset (unity) until the first sample that opens
//     the gate, and is then set straight to the target for the window so far (from there the attack takes
//     it down as the first word rises). Starting from unity and releasing upward instead would leave the
//     first seconds of every clip at their own level and the rest boosted: a level ramp inside one
//     utterance, which recognisers with their own level normalisation mis-hear.
// The state machine advances sample by sample (sub-block borders counted from the stream start), so any
// split of the input into blocks gives the same output. Output is clamped to [-1, 1].
import type { AudioStage } from './stage.js';

export const TARGET_PEAK_DB = -3;
export const MAX_GAIN_DB = 30;
export const GATE_DB = -50;
export const WINDOW_MS = 500;
export const RELEASE_S = 1;
const SUB_BLOCK_MS = 10;

const fromDb = (db: number): number => 10 ** (db / 20);

export interface GainOptions {
  /** Peak level to bring the signal to, dBFS (default -3). */
  targetDb?: number;
  /** Largest boost, dB (default 30). */
  maxGainDb?: number;
  /** Window peak below which the gain holds, dBFS (default -50). */
  gateDb?: number;
}

export interface GainStage extends AudioStage {
  /** The gain applied to the last sample (linear). */
  readonly currentGain: number;
}

class GainNormalizer implements GainStage {
  readonly name = 'gain';
  readonly outputRate: number;
  private readonly target: number;
  private readonly maxGain: number;
  private readonly gate: number;
  private readonly subLen: number;
  private readonly ring: Float64Array;
  /** 1 - exp(-1 / (RELEASE_S * rate)): per-sample release step toward the target. */
  private readonly release: number;
  private ringPos = 0;
  private ringMax = 0;
  private subMax = 0;
  private subCount = 0;
  private gain = 1;
  /** False until the first sample at or above the gate (see "start" above). */
  private primed = false;
  private out = new Float32Array(0);

  constructor(
    readonly inputRate: number,
    opts: GainOptions = {},
  ) {
    this.outputRate = inputRate;
    this.target = fromDb(opts.targetDb ?? TARGET_PEAK_DB);
    this.maxGain = fromDb(opts.maxGainDb ?? MAX_GAIN_DB);
    this.gate = fromDb(opts.gateDb ?? GATE_DB);
    this.subLen = Math.max(1, Math.round((inputRate * SUB_BLOCK_MS) / 1000));
    this.ring = new Float64Array(Math.max(1, Math.round(WINDOW_MS / SUB_BLOCK_MS) - 1));
    this.release = 1 - Math.exp(-1 / (RELEASE_S * inputRate));
  }

  get currentGain(): number {
    return this.gain;
  }

  process(block: Float32Array): Float32Array {
    const n = block.length;
    if (this.out.length < n) this.out = new Float32Array(Math.max(n, this.out.length * 2));
    const out = this.out;
    const { gate, release, subLen, ring } = this;
    let { gain, subMax, subCount, ringMax, primed } = this;
    let peak = ringMax > subMax ? ringMax : subMax;
    let want = this.targetFor(peak);
    for (let i = 0; i < n; i++) {
      let x = block[i] as number;
      if (x - x !== 0) x = 0;
      const a = x < 0 ? -x : x;
      if (a > subMax) {
        subMax = a;
        if (a > peak) {
          peak = a;
          want = this.targetFor(peak);
        }
      }
      if (peak >= gate) {
        if (!primed) {
          gain = want;
          primed = true;
        } else if (want < gain) gain = want; // attack: instant
        else gain += (want - gain) * release;
      }
      let y = x * gain;
      if (y > 1) y = 1;
      else if (y < -1) y = -1;
      out[i] = y;
      if (++subCount === subLen) {
        // The sub-block enters the ring; the oldest leaves the window.
        ring[this.ringPos] = subMax;
        this.ringPos = this.ringPos + 1 === ring.length ? 0 : this.ringPos + 1;
        subMax = 0;
        subCount = 0;
        ringMax = 0;
        for (let k = 0; k < ring.length; k++) if ((ring[k] as number) > ringMax) ringMax = ring[k] as number;
        peak = ringMax;
        want = this.targetFor(peak);
      }
    }
    this.gain = gain;
    this.primed = primed;
    this.subMax = subMax;
    this.subCount = subCount;
    this.ringMax = ringMax;
    return out.subarray(0, n);
  }

  /** TARGET / peak within [1, maxGain]. */
  private targetFor(peak: number): number {
    if (peak * this.maxGain <= this.target) return this.maxGain;
    const g = this.target / peak;
    return g < 1 ? 1 : g;
  }

  flush(): Float32Array {
    this.reset();
    return new Float32Array(0);
  }

  reset(): void {
    this.ring.fill(0);
    this.ringPos = 0;
    this.ringMax = 0;
    this.subMax = 0;
    this.subCount = 0;
    this.gain = 1;
    this.primed = false;
  }
}

/** A gain-normalisation stage at `rate` Hz. Outputs alias an internal buffer. */
export function createGainNormalizer(rate: number, opts: GainOptions = {}): GainStage {
  return new GainNormalizer(rate, opts);
}
