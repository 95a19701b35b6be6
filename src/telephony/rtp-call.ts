// One inbound RTP stream transcribed as a call session: created on the stream's first audio (its codec
// gives the rate: 8 kHz G.711, 16 kHz slin16), or at once when the caller knows the rate (a fork's source
// admitted on its first packets), with the telephony defaults (audio quality 'telephony',
// RNNoise while the line is noisy unless configured otherwise), fed every frame the stream emits — real audio, concealment for lost
// packets and silence for gaps with no packets at all (Asterisk sends none while a bridge is quiet) — so the
// session's clock and the VAD's timing stay true; while no packets come at all, silence is fed in real
// time on the media clock's ticks (see feedQuiet). When the stream ends (hangup, idle timeout, endpoint
// closed) what was said is finalised and the session closes. A stream that changes codec to another rate
// stays the same session: its frames are resampled to the session's rate.
import type { Logger } from 'pino';
import type { AudioFrame, RtpStream } from '../mediaplane/rtp/stream.js';
import type { CallMetadata } from '../session/events.js';
import type { SessionManager } from '../session/manager.js';
import type { Session } from '../session/session.js';
import type { CallHub } from './call-hub.js';
import { RateAdapter } from './rate-adapter.js';

/** The rate of telephone audio (G.711) when a call has sent no audio yet. */
const DEFAULT_RATE = 8000;

export interface CallSessionOptions {
  sessions: SessionManager;
  hub: CallHub;
  logger: Logger;
  model: string;
  language?: string | undefined;
  hotWords?: readonly string[];
  /** RNNoise on call audio (default true: phone lines are noisy). */
  denoise?: boolean | 'auto';
  /** Called with each final's text (e.g. written back to the PBX). */
  onFinal?: (text: string) => void;
  /**
   * After this long without a frame the line is taken as quiet and silence is fed in real time (default
   * 260 ms: past the jitter buffer's deepest hold, so no late packet is still on its way).
   */
  quietAfterMs?: number;
  /** How many sessions the call had before this stream's (its id gets `_<n>` from then on). */
  index?: number;
  /** The stream's rate when known before its first frame: the session opens at once, at this rate. */
  rate?: number;
  /** Told when no session can be opened (then nothing is logged here); by default that is logged as a warning. */
  onOpenFailed?: (err: unknown) => void;
}

export class RtpCallSession {
  private session: Session | undefined;
  private rate = 0;
  private adapter: RateAdapter | undefined;
  private ended = false;
  /** Sessions this call had (a stream after an earlier one of the call starts a new one). */
  private count: number;
  /** Wall time of the last frame from the stream, and up to when the session has been fed (real or silence). */
  private lastFrameAt = Date.now();
  private fedUntil = Date.now();
  /** Silence fed while no packets came, not yet matched by the stream's own gap frame. */
  private synthesized = 0;
  private zeros = new Int16Array(0);

  constructor(
    private readonly stream: RtpStream,
    private readonly call: CallMetadata,
    private readonly opts: CallSessionOptions,
  ) {
    stream.on('audio', (f) => this.onAudio(f));
    // A digit is reported when it ends (its duration known); telephone-event runs at the audio's clock rate.
    // One that ends while the first audio is still in the jitter buffer opens the session (at the stream's
    // rate, G.711's when no audio came yet) rather than vanish.
    stream.on('dtmf', (ev) => {
      if (ev.type !== 'end' || this.ended) return;
      if (!this.session || this.session.closed) this.session = this.open(stream.sampleRate || DEFAULT_RATE);
      this.session?.dtmf(ev.digit, (ev.duration * 1000) / (this.rate || DEFAULT_RATE));
    });
    stream.on('close', (reason) => void this.end(reason === 'idle' ? 'rtp_timeout' : reason === 'bye' ? 'rtcp_bye' : 'call_ended'));
    // The media clock's tick (every stream's, from one timer): no timer per call.
    stream.onTick(() => this.feedQuiet());
    this.count = opts.index ?? 0;
    if (opts.rate !== undefined) this.session = this.open(opts.rate);
  }

  /** False once the call cannot be transcribed (no session could be opened) or has ended. */
  get live(): boolean {
    return !this.ended;
  }

  get current(): Session | undefined {
    return this.session;
  }

  /** The index the call's next session would get: the `index` of a session for a later stream of the call. */
  get nextIndex(): number {
    return this.count;
  }

  /** Finalises and closes the session (the call is over); safe to call twice. */
  async end(reason = 'call_ended'): Promise<void> {
    this.ended = true;
    await this.closeSession(reason);
  }

  private onAudio(f: AudioFrame): void {
    if (this.ended) return;
    const now = Date.now();
    this.lastFrameAt = now;
    this.fedUntil = now;
    if (!this.session || this.session.closed) {
      this.synthesized = 0;
      this.session = this.open(f.sampleRate);
    }
    let pcm = this.adapter ? this.adapter.convert(f.pcm, f.sampleRate) : f.pcm;
    if (f.kind === 'silence' && this.synthesized > 0) {
      // The stream's fill for a gap we already fed as silence while it lasted: only what is left of it.
      const skip = Math.min(this.synthesized, pcm.length);
      this.synthesized -= skip;
      pcm = pcm.subarray(skip);
    } else if (f.kind !== 'silence') {
      this.synthesized = 0;
    }
    if (pcm.length > 0) this.session?.push(pcm);
  }

  /**
   * No packets flow while a line is quiet (Asterisk sends none): once the quiet is longer than any jitter
   * hold, silence is fed at real-time pace so the VAD hears the pause now (and ends the utterance) rather
   * than when the next packet reveals the gap.
   */
  private feedQuiet(): void {
    const s = this.session;
    if (this.ended || !s || s.closed) return;
    const now = Date.now();
    if (now - this.lastFrameAt < (this.opts.quietAfterMs ?? 260)) return;
    const due = Math.floor(((now - this.fedUntil) * this.rate) / 1000);
    if (due < this.rate / 50) return;
    if (this.zeros.length < due) this.zeros = new Int16Array(due);
    s.push(this.zeros.subarray(0, due));
    this.synthesized += due;
    this.fedUntil += (due * 1000) / this.rate;
  }

  private open(rate: number): Session | undefined {
    try {
      // One call can have a session per direction (speaker) and, after a codec change, a next one.
      const speaker = this.call.speaker && this.call.speaker !== 'mixed' ? `_${this.call.speaker}` : '';
      const id = `call_${this.call.callId}${speaker}${this.count > 0 ? `_${this.count}` : ''}`.replace(/[^\w.:-]/g, '_');
      const session = this.opts.sessions.create({
        id,
        model: this.opts.model,
        inputRate: rate,
        quality: 'telephony',
        ...(this.opts.language ? { language: this.opts.language } : {}),
        hotWords: this.opts.hotWords ?? [],
        realtime: true,
        denoise: this.opts.denoise ?? 'auto',
        call: this.call,
      });
      this.count++;
      this.rate = rate;
      this.adapter = new RateAdapter(rate);
      this.opts.hub.add(session);
      const onFinal = this.opts.onFinal;
      if (onFinal) session.on('event', (ev) => ev.type === 'transcript.final' && onFinal(ev.text));
      return session;
    } catch (err) {
      // No session (the limit, a missing model): the call's audio is dropped, once logged per stream.
      this.ended = true;
      if (this.opts.onOpenFailed) this.opts.onOpenFailed(err);
      else this.opts.logger.warn({ callId: this.call.callId, err }, 'cannot transcribe call');
      return undefined;
    }
  }

  private async closeSession(reason: string): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (!s || s.closed) return;
    try {
      await s.finish();
    } finally {
      await s.close(reason);
    }
  }
}
