// The Session Manager: creates, finds, lists and closes sessions, enforces the maximum and the shares of it
// that phone calls may hold, and drives every session's timeouts from one shared timer (thousands of
// per-session timers would cost more than the work).
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

/** Why the pool has no place for a session: all of it is taken, or the caller's share of it. */
export type PoolRefusal = 'session_limit' | 'calls_share' | 'fork_share';

/** The call source whose sessions count against `sessions.shares.fork`. */
export const FORK_SOURCE = 'rtp-fork';

export class SessionManager {
  readonly wal = new SessionWal();
  private readonly sessions = new Map<string, Session>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Places calls and fork calls may hold (the shares of max, at least 1 unless the share is 0). */
  private readonly callsMax: number;
  private readonly forkMax: number;
  private calls = 0;
  private forkCalls = 0;

  constructor(private readonly opts: SessionManagerOptions) {
    const { max, shares } = opts.sessions;
    this.callsMax = shareOf(max, shares.calls);
    this.forkMax = shareOf(max, shares.fork);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** True when create() would be refused for the session limit. */
  get full(): boolean {
    return this.sessions.size >= this.opts.sessions.max;
  }

  /**
   * Why a session would be refused now (undefined: it would get a place): for an API session pass no source,
   * for a call its CallMetadata.source.
   */
  refusal(callSource?: string): PoolRefusal | undefined {
    if (this.full) return 'session_limit';
    if (callSource === undefined) return undefined;
    if (this.calls >= this.callsMax) return 'calls_share';
    if (callSource === FORK_SOURCE && this.forkCalls >= this.forkMax) return 'fork_share';
    return undefined;
  }

  create(o: CreateSessionOptions): Session {
    if (this.closed) throw new TheoError('closed', 'the session manager is shut down');
    const refused = this.refusal(o.call?.source);
    if (refused) throw this.limitError(refused);
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
    const call = o.call !== undefined;
    const fork = o.call?.source === FORK_SOURCE;
    if (call) this.calls++;
    if (fork) this.forkCalls++;
    session.on('event', (ev) => {
      if (ev.type === 'session.closed') {
        this.sessions.delete(id);
        if (call) this.calls--;
        if (fork) this.forkCalls--;
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

  private limitError(refused: PoolRefusal): TheoError {
    const max = this.opts.sessions.max;
    if (refused === 'session_limit') return new TheoError('session_limit', `too many sessions: the limit is ${max}`, { limit: max });
    const [what, limit, key] = refused === 'calls_share' ? ['calls', this.callsMax, 'calls'] : ['RTP fork calls', this.forkMax, 'fork'];
    return new TheoError('session_limit', `too many ${what}: they may hold ${limit} of the ${max} sessions (sessions.shares.${key})`, { limit, share: key });
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

function shareOf(max: number, share: number): number {
  return share > 0 ? Math.max(1, Math.floor(max * share)) : 0;
}
