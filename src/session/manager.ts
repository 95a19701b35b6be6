// The Session Manager: creates, finds, lists and closes sessions, enforces the maximum, and drives every
// session's timeouts from one shared timer (thousands of per-session timers would cost more than the work).
// It owns what sessions share: the WAL, the VAD runner (through the factory it is given), the
// post-processor and the metrics.
import { randomUUID } from 'node:crypto';
import type { EngineCapabilities } from '../engines/engine.js';
import { TheoError } from '../errors/index.js';
import type { DenoiserFactory } from '../audio/stages/pipeline.js';
import type { AudioQuality } from '../audio/stages/stage.js';
import type { PreprocessConfig, SessionsConfig, VadConfig } from '../config/schema.js';
import type { Postprocessor } from '../postprocess/pipeline.js';
import type { CallMetadata } from './events.js';
import type { SessionMetrics } from './metrics.js';
import type { SessionVadFactory, WorkerLink } from './ports.js';
import { Session } from './session.js';
import { SessionWal } from './wal.js';

export interface SessionManagerOptions {
  sessions: SessionsConfig;
  vad: VadConfig;
  preprocess: PreprocessConfig;
  /** Default for sessions that do not say. */
  itn: boolean;
  /** The workers of a model, with its capabilities; throws model_not_found for an unknown model. */
  link(model: string): { link: WorkerLink; capabilities: EngineCapabilities };
  /** A VAD per session (the caller binds it to the shared Silero runner and the VAD config). */
  vadFactory: SessionVadFactory;
  postprocessor: Postprocessor;
  metrics?: SessionMetrics | undefined;
  denoiser?: DenoiserFactory | undefined;
  now?: () => number;
  /** Interval of the shared timeout tick, ms (default 100). */
  tickMs?: number;
  onWarning?: (message: string) => void;
  onListenerError?: (event: string, err: unknown) => void;
}

export interface CreateSessionOptions {
  id?: string;
  model: string;
  inputRate: number;
  quality?: AudioQuality;
  language?: string;
  hotWords?: readonly string[];
  itn?: boolean;
  interimResults?: boolean;
  realtime?: boolean;
  /** The client's commits end utterances: audio streams to the worker as it arrives (see SessionOptions). */
  pushToTalk?: boolean;
  preprocess?: boolean;
  gain?: boolean;
  denoise?: boolean | 'auto';
  /** This session's VAD settings over the config's. */
  vad?: Partial<VadConfig>;
  /** This session's state timeouts over the config's. */
  timeouts?: Partial<SessionsConfig['timeouts']>;
  /** LocalAgreement passes for engines without native partials (0 = finals only); default the config's. */
  localAgreement?: number;
  /** The phone call the session transcribes (stamped on its events). */
  call?: CallMetadata;
}

export class SessionManager {
  readonly wal = new SessionWal();
  private readonly sessions = new Map<string, Session>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: SessionManagerOptions) {}

  get size(): number {
    return this.sessions.size;
  }

  /** True when create() would be refused for the session limit. */
  get full(): boolean {
    return this.sessions.size >= this.opts.sessions.max;
  }

  create(o: CreateSessionOptions): Session {
    if (this.closed) throw new TheoError('closed', 'the session manager is shut down');
    if (this.full) {
      throw new TheoError('session_limit', `too many sessions: the limit is ${this.opts.sessions.max}`, { limit: this.opts.sessions.max });
    }
    const id = o.id ?? `sess_${randomUUID()}`;
    if (this.sessions.has(id)) throw new TheoError('invalid_argument', `session '${id}' already exists`, { sessionId: id });
    const { link, capabilities } = this.opts.link(o.model);
    const p = this.opts.preprocess;
    const session = new Session(
      {
        id,
        model: o.model,
        capabilities,
        inputRate: o.inputRate,
        ...(o.quality ? { quality: o.quality } : {}),
        language: o.language,
        hotWords: o.hotWords ?? [],
        itn: o.itn ?? this.opts.itn,
        interimResults: o.interimResults ?? true,
        realtime: o.realtime ?? true,
        ...(o.pushToTalk ? { pushToTalk: true } : {}),
        preprocess: { enabled: o.preprocess ?? p.enabled, dc: p.dc, gain: o.gain ?? p.gain, denoise: o.denoise ?? p.denoise },
        vad: { ...this.opts.vad, ...o.vad },
        call: o.call,
        sessions: {
          ...this.opts.sessions,
          timeouts: { ...this.opts.sessions.timeouts, ...o.timeouts },
          ...(o.localAgreement !== undefined ? { localAgreement: o.localAgreement } : {}),
        },
      },
      {
        link,
        vad: this.opts.vadFactory,
        wal: this.wal,
        postprocessor: this.opts.postprocessor,
        metrics: this.opts.metrics,
        denoiser: this.opts.denoiser,
        ...(this.opts.now ? { now: this.opts.now } : {}),
        ...(this.opts.onWarning ? { onWarning: this.opts.onWarning } : {}),
        ...(this.opts.onListenerError ? { onListenerError: this.opts.onListenerError } : {}),
      },
    );
    this.sessions.set(id, session);
    session.on('event', (ev) => {
      if (ev.type === 'session.closed') {
        this.sessions.delete(id);
        if (this.sessions.size === 0) this.stopTimer();
      }
    });
    this.startTimer();
    return session;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }

  /** Closes one session; false when there is none with that id. */
  async close(id: string, reason = 'closed'): Promise<boolean> {
    const s = this.sessions.get(id);
    if (!s) return false;
    await s.close(reason);
    return true;
  }

  /** Closes every session and refuses new ones. Safe twice. */
  async shutdown(reason = 'shutdown'): Promise<void> {
    this.closed = true;
    await Promise.all(this.list().map((s) => s.close(reason)));
    this.stopTimer();
  }

  /** One tick of every session's timeouts (the shared timer calls it; tests call it with a fake clock). */
  tick(now?: number): void {
    for (const s of [...this.sessions.values()]) {
      try {
        s.tick(now);
      } catch (err) {
        this.opts.onListenerError?.('tick', err);
      }
    }
  }

  private startTimer(): void {
    if (this.timer || this.opts.tickMs === 0) return;
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 100);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
