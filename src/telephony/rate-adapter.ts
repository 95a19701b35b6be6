// A call's audio at the rate of its session: a call keeps one session for its life, so frames at another
// rate (the stream switched codec mid-call, e.g. PCMU at 8 kHz to L16 at 16 kHz) are resampled to the
// session's rate, one streaming resampler per foreign rate, kept while the call lasts.
import { float32ToInt16, int16ToFloat32 } from '../audio/resample.js';
import { createResampler, type ResamplerStage } from '../audio/stages/resample.js';

export class RateAdapter {
  private readonly resamplers = new Map<number, ResamplerStage>();
  private floats = new Float32Array(0);
  private ints = new Int16Array(0);

  constructor(readonly rate: number) {}

  /** `pcm` at `fromRate` as samples at this adapter's rate: `pcm` itself when the rates agree, else a view valid until the next call. */
  convert(pcm: Int16Array, fromRate: number): Int16Array {
    if (fromRate === this.rate) return pcm;
    let r = this.resamplers.get(fromRate);
    if (!r) {
      r = createResampler(fromRate, this.rate);
      this.resamplers.set(fromRate, r);
    }
    if (this.floats.length < pcm.length) this.floats = new Float32Array(pcm.length);
    const out = r.process(int16ToFloat32(pcm, this.floats).subarray(0, pcm.length));
    if (this.ints.length < out.length) this.ints = new Int16Array(out.length);
    return float32ToInt16(out, this.ints).subarray(0, out.length);
  }
}
