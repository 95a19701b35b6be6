// One inbound RTP stream transcribed as a call session: created on the stream's first audio (its codec
// gives the rate: 8 kHz G.711, 16 kHz slin16), with the telephony defaults (audio quality 'telephony',
// denoise on unless configured off), fed every frame the stream emits — real audio, concealment for lost
// packets and silence for gaps with no packets at all (Asterisk sends none while a bridge is quiet) — so the
// session's clock and the VAD's timing stay true. When the stream ends (hangup, idle timeout, endpoint
// closed) what was said is finalised and the session closes.
import type { Logger } from 'pino';
import { errorMessage } from '../errors/index.js';
import type { AudioFrame, RtpStream } from '../mediaplane/rtp/stream.js';
import type { CallMetadata } from '../session/events.js';
import type { SessionManager } from '../session/manager.js';
import type { Session } from '../session/session.js';
import type { CallHub } from './call-hub.js';

export interface CallSessionOptions {
  sessions: SessionManager;
  hub: CallHub;
  logger: Logger;
  model: string;
  language?: string | undefined;
  hotWords?: readonly string[];
  /** RNNoise on call audio (default true: phone lines are noisy). */
  denoise?: boolean | 'auto';
}

export class RtpCallSession {
  private session: Session | undefined;
  private rate = 0;
  private ended = false;
  /** Sessions this stream had (a codec change to another rate starts a new one). */
  private count = 0;

  constructor(
    private readonly stream: RtpStream,
    private readonly call: CallMetadata,
    private readonly opts: CallSessionOptions,
  ) {
    stream.on('audio', (f) => this.onAudio(f));
    stream.on('close', (reason) => void this.end(reason === 'idle' ? 'rtp_timeout' : 'call_ended'));
  }

  get current(): Session | undefined {
    return this.session;
  }

  /** Finalises and closes the session (the call is over); safe to call twice. */
  async end(reason = 'call_ended'): Promise<void> {
    this.ended = true;
    await this.closeSession(reason);
  }

  private onAudio(f: AudioFrame): void {
    if (this.ended) return;
    if (this.session && f.sampleRate !== this.rate) void this.closeSession('codec_change');
    if (!this.session || this.session.closed) this.session = this.open(f.sampleRate);
    this.session?.push(f.pcm);
  }

  private open(rate: number): Session | undefined {
    try {
      const id = `call_${this.call.callId}${this.count > 0 ? `_${this.count}` : ''}`.replace(/[^\w.:-]/g, '_');
      const session = this.opts.sessions.create({
        id,
        model: this.opts.model,
        inputRate: rate,
        quality: 'telephony',
        ...(this.opts.language ? { language: this.opts.language } : {}),
        hotWords: this.opts.hotWords ?? [],
        realtime: true,
        denoise: this.opts.denoise ?? true,
        call: this.call,
      });
      this.count++;
      this.rate = rate;
      this.opts.hub.add(session);
      return session;
    } catch (err) {
      // No session (the limit, a missing model): the call's audio is dropped, once logged per stream.
      this.ended = true;
      this.opts.logger.warn({ callId: this.call.callId, err: errorMessage(err) }, 'cannot transcribe call');
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
