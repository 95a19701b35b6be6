// Packet loss concealment: what a stream plays in place of audio that never arrived.
// - 'pitch' (default): pitch-synchronous waveform substitution after ITU-T G.711 Appendix I. On the first lost
//   sample the pitch period is found in the last 20 ms of audio (normalised cross-correlation over 5–15 ms
//   lags: 66–200 Hz voices); the lost audio repeats the last period (after 10 ms the last two, after 20 ms the
//   last three, which sounds less buzzy), full level for 10 ms, then fading to silence at 60 ms. When audio
//   comes back its first 4 ms (plus 4 ms per further 10 ms lost, at most 10 ms) are cross-faded from the
//   substitute, so the splice does not click.
// - 'fade': the last 20 ms repeated, fading linearly to silence over 60 ms (the former default).
// - 'silence': zeros.
// A pause in the stream (silence on the line, a new talkspurt) forgets the history, so concealment never
// replays speech from before it.

export type ConcealmentMode = 'silence' | 'fade' | 'pitch';

const HISTORY_MS = 50;
const FADE_HISTORY_MS = 20;
/** Concealed audio reaches silence this long into a loss. */
const FADE_MS = 60;
/** Full level this long into a loss, then the linear fade. */
const HOLD_MS = 10;
const CORR_MS = 20;
const PITCH_MIN_MS = 5;
const PITCH_MAX_MS = 15;

export class Concealer {
  private readonly history: Int16Array;
  private historyLen = 0;
  /** Samples concealed in the current loss (0: not in a loss). */
  private run = 0;
  private period = 0;
  private readonly rate: number;

  constructor(
    private readonly mode: ConcealmentMode,
    sampleRate: number,
  ) {
    this.rate = sampleRate;
    const ms = mode === 'pitch' ? HISTORY_MS : mode === 'fade' ? FADE_HISTORY_MS : 0;
    this.history = new Int16Array(Math.ceil((sampleRate * ms) / 1000));
  }

  /** Forgets the past (a pause or a stream reset): nothing from before is replayed. */
  reset(): void {
    this.historyLen = 0;
    this.run = 0;
  }

  /** Real audio arrived: after a loss its start is cross-faded from the substitute (in place); then remembered. */
  good(pcm: Int16Array): void {
    if (this.run > 0 && this.mode === 'pitch' && this.period > 0 && this.run < this.ms(FADE_MS)) {
      const lostMs = (this.run * 1000) / this.rate;
      const len = Math.min(pcm.length, this.ms(Math.min(10, 4 + 4 * Math.max(0, Math.ceil(lostMs / 10) - 1))));
      for (let i = 0; i < len; i++) {
        const w = (i + 1) / (len + 1);
        pcm[i] = Math.round(pcm[i]! * w + this.synth(this.run + i) * (1 - w));
      }
    }
    this.run = 0;
    this.remember(pcm);
  }

  /** Fills `out` with the substitute for the next out.length lost samples. */
  lost(out: Int16Array): void {
    if (this.mode === 'silence' || this.historyLen === 0) {
      out.fill(0);
      this.run += out.length;
      return;
    }
    if (this.run === 0 && this.mode === 'pitch') this.period = this.findPeriod();
    for (let i = 0; i < out.length; i++) out[i] = this.mode === 'pitch' ? this.synth(this.run + i) : this.faded(this.run + i);
    this.run += out.length;
  }

  private ms(ms: number): number {
    return Math.round((this.rate * ms) / 1000);
  }

  private gain(k: number): number {
    const hold = this.ms(HOLD_MS);
    const end = this.ms(FADE_MS);
    if (k < hold) return 1;
    if (k >= end) return 0;
    return 1 - (k - hold) / (end - hold);
  }

  /** The k-th substitute sample of a loss: the last 1, 2 or 3 pitch periods repeated, attenuated. */
  private synth(k: number): number {
    const p = this.period;
    const g = this.gain(k);
    if (p === 0 || g === 0) return 0;
    // Whole periods only, so the phase within the period runs on when more periods join.
    let span = (k < this.ms(HOLD_MS) ? 1 : k < this.ms(2 * HOLD_MS) ? 2 : 3) * p;
    while (span > this.historyLen) span -= p;
    const end = this.history.length;
    return Math.round(this.history[end - span + (k % span)]! * g);
  }

  /** 'fade': the last 20 ms block repeated with a linear fade. */
  private faded(k: number): number {
    const len = this.historyLen;
    const end = this.ms(FADE_MS);
    if (k >= end) return 0;
    return Math.round(this.history[this.history.length - len + (k % len)]! * (1 - k / end));
  }

  /** The pitch period (samples) that best predicts the last 20 ms from itself one period earlier. */
  private findPeriod(): number {
    const h = this.history;
    const n = h.length;
    const corr = this.ms(CORR_MS);
    const min = this.ms(PITCH_MIN_MS);
    const max = Math.min(this.ms(PITCH_MAX_MS), this.historyLen - corr);
    if (max < min) return 0; // too little audio yet to find a period: silence
    let best = min;
    let bestScore = -Infinity;
    for (let lag = min; lag <= max; lag++) {
      let xy = 0;
      let yy = 0;
      for (let i = n - corr; i < n; i++) {
        const y = h[i - lag]!;
        xy += h[i]! * y;
        yy += y * y;
      }
      const score = yy > 0 ? xy / Math.sqrt(yy) : 0;
      if (score > bestScore) {
        bestScore = score;
        best = lag;
      }
    }
    return best;
  }

  private remember(pcm: Int16Array): void {
    const h = this.history;
    const n = pcm.length;
    if (h.length === 0) return;
    if (n >= h.length) {
      h.set(pcm.subarray(n - h.length));
      this.historyLen = h.length;
    } else {
      h.copyWithin(0, n);
      h.set(pcm, h.length - n);
      this.historyLen = Math.min(h.length, this.historyLen + n);
    }
  }
}
