// AudioWorklet: the microphone's float samples (at the AudioContext's rate) as 16-bit PCM frames of
// `frameSamples`, posted to the page with the frame's peak level.
class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.size = options.processorOptions.frameSamples;
    this.frame = new Int16Array(this.size);
    this.at = 0;
    this.peak = 0;
  }

  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      const s = Math.max(-1, Math.min(1, ch[i]));
      this.peak = Math.max(this.peak, Math.abs(s));
      this.frame[this.at++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.at === this.size) {
        this.port.postMessage({ pcm: this.frame.buffer, peak: this.peak }, [this.frame.buffer]);
        this.frame = new Int16Array(this.size);
        this.at = 0;
        this.peak = 0;
      }
    }
    return true;
  }
}

registerProcessor('pcm-capture', PcmCapture);
