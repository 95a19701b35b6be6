// The Theo realtime protocol on `WS /v1/realtime`: binary frames of audio in, session events out as JSON.
// One connection drives one session at a time. The session is created with the first audio frame (or a
// commit), so `session.configure` may change anything until then; afterwards only hot words change live.
// `session.cancel` drops the session (no more of its events) and the next audio starts a new one;
// `session.close` finalises what was said, waits for the finals, sends `session.closed` and closes (1000);
// a server shutdown does the same with reason 'shutdown' and closes with 1001. A model or language the
// catalog does not have is refused where it is named (the URL, session.configure), before any audio.
// Bad input (malformed JSON, unknown types, wrong fields, odd-length PCM16) gets an `error` event and the
// connection stays open. docs/REALTIME.md documents every message.
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { errorMessage, isTheoError } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import type { Session } from '../../session/session.js';
import type { SessionManager } from '../../session/manager.js';
import { closeConnection, onOpenMessage } from './closing.js';
import { droppable, toWire } from './events.js';
import { FrameDecoder, parseClientEvent, toBuffer } from './frames.js';
import { checkModel, type ModelLookup } from './model-check.js';
import { Outbox } from './outbox.js';
import type { WsMetrics } from './metrics.js';

const settingsSchema = z
  .object({
    model: z.string().min(1).max(200),
    language: z
      .string()
      .min(2)
      .max(16)
      .transform((l) => l.toLowerCase()),
    sample_rate: z.number().int().min(8000).max(48000),
    encoding: z.enum(['pcm16', 'mulaw', 'alaw']),
    hot_words: z.array(z.string().min(1).max(100)).max(200),
    vad_sensitivity: z.enum(['high', 'normal', 'low']),
    timeouts: z
      .object({ init_ms: z.number().int().min(100), silence_ms: z.number().int().min(100), hold_ms: z.number().int().min(100) })
      .partial()
      .strict(),
    itn: z.boolean(),
    partials: z.boolean(),
    local_agreement: z.number().int().min(0).max(10),
  })
  .partial()
  .strict();

export type RealtimeSettings = z.infer<typeof settingsSchema>;

/** Fields that can change after the session started. */
const LIVE_FIELDS = new Set(['hot_words']);

export interface TheoProtocolDeps {
  sessions: SessionManager;
  defaultModel: string;
  models: ModelLookup;
  maxQueuedBytes: number;
  metrics: WsMetrics;
  logger: Logger;
}

/** Why a connection's URL cannot start a session: the error event it gets and the close code. */
export interface QueryRefusal {
  code: string;
  message: string;
  param: string;
  closeCode: number;
}

/** The settings of a connection's URL, its model and language checked against the catalog. */
export function querySettings(query: URLSearchParams, deps: Pick<TheoProtocolDeps, 'models' | 'defaultModel'>): { settings: RealtimeSettings } | QueryRefusal {
  const parsed = settingsFromQuery(query);
  if ('error' in parsed) return { code: 'invalid_argument', message: `query: ${parsed.error}`, param: parsed.param, closeCode: 1008 };
  const problem = checkModel(deps.models, parsed.settings.model ?? deps.defaultModel, parsed.settings.language);
  if (problem) return { code: problem.code, message: problem.message, param: problem.field, closeCode: problem.code === 'model_loading' || problem.code === 'worker_unavailable' ? 1013 : 1008 };
  return parsed;
}

/** Query parameters as settings (`?model=…&sample_rate=8000&encoding=mulaw&hot_words=a,b&itn=false`). */
export function settingsFromQuery(query: URLSearchParams): { settings: RealtimeSettings } | { error: string; param: string } {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of query) {
    if (key === 'intent' || key === 'api_key' || key === 'token') continue;
    if (key === 'sample_rate' || key === 'local_agreement') raw[key] = /^\d+$/.test(value) ? Number(value) : value;
    else if (key === 'itn' || key === 'partials') raw[key] = value === 'true' ? true : value === 'false' ? false : value;
    else if (key === 'hot_words') raw[key] = value.split(',').map((w) => w.trim()).filter((w) => w !== '');
    else raw[key] = value;
  }
  const r = settingsSchema.safeParse(raw);
  if (!r.success) return describe(r.error);
  return { settings: r.data };
}

function describe(err: z.ZodError): { error: string; param: string } {
  const issue = err.issues[0];
  const param = issue?.path.join('.') ?? '';
  if (issue?.code === 'unrecognized_keys') return { error: `unknown field(s): ${issue.keys.join(', ')}`, param: issue.keys[0] ?? '' };
  return { error: `${param || 'message'}: ${issue?.message ?? 'invalid'}`, param };
}

export class TheoRealtimeConnection {
  private settings: RealtimeSettings;
  private session: Session | undefined;
  private sessionId: string;
  /** The connection's session ended by session.close: audio is refused from now on. */
  private ended = false;
  /** The server is shutting down: the session's end closes the socket with 1001. */
  private shuttingDown = false;
  private readonly outbox: Outbox;
  private readonly decoder = new FrameDecoder();

  constructor(
    private readonly ws: WebSocket,
    initial: RealtimeSettings,
    private readonly deps: TheoProtocolDeps,
  ) {
    this.settings = { ...initial };
    this.sessionId = `sess_${randomUUID()}`;
    this.outbox = new Outbox(ws, { maxQueuedBytes: deps.maxQueuedBytes, onDropped: () => deps.metrics.dropped.inc({ protocol: 'theo' }) });
    onOpenMessage(
      ws,
      (data, isBinary) => {
        try {
          if (isBinary) this.onAudio(toBuffer(data));
          else this.onText(toBuffer(data).toString('utf8'));
        } catch (err) {
          // A bug in handling one message must not take the process (or this connection) down.
          deps.logger.error({ err, sessionId: this.sessionId }, 'realtime message failed');
          this.error('internal_error', errorMessage(err), true);
        }
      },
      () => deps.metrics.inputErrors.inc({ protocol: 'theo', code: 'closing' }),
    );
    ws.on('close', () => {
      const s = this.session;
      this.session = undefined;
      if (s && !s.closed) void s.close('client_disconnected');
    });
    this.sendCreated();
  }

  /**
   * Server shutdown: the session ends as on session.close (its finals, then session.closed with reason
   * 'shutdown'), then the socket closes with 1001.
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const s = this.session;
    if (s && !s.closed) {
      this.ended = true;
      await s.close('shutdown');
      return;
    }
    if (!this.ended) this.sendClosed('shutdown');
    this.ended = true;
    this.end();
  }

  /** Closes the socket once the session is over: 1000, or 1001 when the server is shutting down. */
  private end(): void {
    if (this.shuttingDown) closeConnection(this.ws, 1001, 'server shutting down', false);
    else closeConnection(this.ws, 1000, 'session closed', false);
  }

  private sendClosed(reason: string): void {
    this.outbox.send({ type: 'session.closed', session_id: this.sessionId, reason, duration_ms: 0, segments: 0, dropped_samples: 0, recoveries: 0 });
  }

  private sendCreated(): void {
    this.outbox.send({ type: 'session.created', session_id: this.sessionId, config: this.effective() });
  }

  private effective(): Record<string, unknown> {
    const s = this.settings;
    return {
      model: s.model ?? this.deps.defaultModel,
      language: s.language ?? null,
      sample_rate: this.rate(),
      encoding: s.encoding ?? 'pcm16',
      hot_words: s.hot_words ?? [],
      vad_sensitivity: s.vad_sensitivity ?? null,
      timeouts: s.timeouts ?? {},
      itn: s.itn ?? null,
      partials: s.partials ?? true,
      local_agreement: s.local_agreement ?? null,
    };
  }

  private rate(): number {
    const enc = this.settings.encoding ?? 'pcm16';
    return enc === 'pcm16' ? (this.settings.sample_rate ?? 16000) : 8000;
  }

  // ---- client → server ------------------------------------------------------------------------------

  private onText(text: string): void {
    const m = parseClientEvent(text);
    if ('code' in m) {
      this.inputError(m.code, m.message, m.param);
      return;
    }
    const { type, fields } = m;
    switch (type) {
      case 'session.configure':
        this.configure(fields);
        return;
      case 'input_audio_buffer.commit':
        this.commit();
        return;
      case 'session.cancel':
        this.cancel();
        return;
      case 'session.close':
        void this.closeGracefully();
        return;
      default:
        this.inputError('unknown_event', `unknown event type '${type}'`, 'type');
    }
  }

  private configure(fields: Record<string, unknown>): void {
    const r = settingsSchema.safeParse(fields);
    if (!r.success) {
      const d = describe(r.error);
      this.inputError('invalid_event', d.error, d.param);
      return;
    }
    if (!this.session && (r.data.model !== undefined || r.data.language !== undefined)) {
      const next = { ...this.settings, ...r.data };
      const problem = checkModel(this.deps.models, next.model ?? this.deps.defaultModel, next.language);
      if (problem) {
        this.inputError(problem.code, problem.message, problem.field);
        return;
      }
    }
    if (this.session) {
      const fixed = Object.keys(r.data).filter((k) => !LIVE_FIELDS.has(k));
      if (fixed.length > 0) {
        this.inputError('session_started', `${fixed.join(', ')} cannot change once audio has started (only hot_words can); cancel the session to start another`, fixed[0]);
        return;
      }
      if (r.data.hot_words) this.session.setHotWords(r.data.hot_words);
    }
    this.settings = { ...this.settings, ...r.data };
    this.outbox.send({ type: 'session.updated', session_id: this.sessionId, config: this.effective() });
  }

  private commit(): void {
    const s = this.ensureSession();
    if (!s) return;
    const id = s.commit();
    if (id === undefined) this.inputError('nothing_to_commit', 'no speech is open to commit');
    else this.outbox.send({ type: 'input_audio_buffer.committed', session_id: this.sessionId, segment_id: id });
  }

  private cancel(): void {
    const s = this.session;
    if (!s) return;
    // Its remaining events (a late final, session.closed) no longer reach this client: see the listener.
    this.session = undefined;
    void s.close('cancelled');
    this.outbox.send({ type: 'session.cancelled', session_id: this.sessionId });
    this.sessionId = `sess_${randomUUID()}`;
    this.sendCreated();
  }

  private async closeGracefully(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const s = this.session;
    if (!s) {
      this.sendClosed('client_closed');
      this.end();
      return;
    }
    try {
      await s.finish();
    } catch (err) {
      // Called unawaited: a rejection here would be unhandled. The close below still ends the session.
      this.deps.logger.warn({ err, sessionId: this.sessionId }, 'finishing a realtime session failed');
    }
    await s.close('client_closed');
  }

  private onAudio(buf: Buffer): void {
    if (this.ended) {
      this.inputError('no_session', 'audio after session.close: the session is closed');
      return;
    }
    const enc = this.settings.encoding ?? 'pcm16';
    if (buf.length === 0) return;
    if (enc === 'pcm16' && buf.length % 2 !== 0) {
      this.inputError('odd_length', `a PCM16 frame needs an even number of bytes, got ${buf.length}; the frame was dropped`);
      return;
    }
    const s = this.ensureSession();
    if (!s) return;
    s.push(this.decoder.decode(buf, enc));
  }

  private ensureSession(): Session | undefined {
    if (this.session) return this.session;
    if (this.ended) return undefined;
    const s = this.settings;
    try {
      const session = this.deps.sessions.create({
        id: this.sessionId,
        model: s.model ?? this.deps.defaultModel,
        inputRate: this.rate(),
        ...(s.language ? { language: s.language } : {}),
        hotWords: s.hot_words ?? [],
        ...(s.itn !== undefined ? { itn: s.itn } : {}),
        interimResults: s.partials ?? true,
        realtime: true,
        ...(s.vad_sensitivity ? { vad: { sensitivity: s.vad_sensitivity } } : {}),
        ...(s.timeouts
          ? {
              timeouts: {
                ...(s.timeouts.init_ms !== undefined ? { initMs: s.timeouts.init_ms } : {}),
                ...(s.timeouts.silence_ms !== undefined ? { silenceMs: s.timeouts.silence_ms } : {}),
                ...(s.timeouts.hold_ms !== undefined ? { holdMs: s.timeouts.hold_ms } : {}),
              },
            }
          : {}),
        ...(s.local_agreement !== undefined ? { localAgreement: s.local_agreement } : {}),
      });
      session.on('event', (ev) => {
        if (this.session !== session) return;
        const wire = toWire(ev);
        if (wire) this.outbox.send(wire, droppable(wire));
        if (ev.type === 'session.closed') {
          this.session = undefined;
          this.ended = true;
          this.end();
        }
      });
      this.session = session;
      return session;
    } catch (err) {
      const code = isTheoError(err) ? err.code : 'internal_error';
      this.error(code, errorMessage(err), false);
      this.ended = true;
      closeConnection(this.ws, code === 'session_limit' ? 1013 : 1008, code);
      return undefined;
    }
  }

  // ---- server → client -------------------------------------------------------------------------------

  private inputError(code: string, message: string, param?: string): void {
    this.deps.metrics.inputErrors.inc({ protocol: 'theo', code });
    this.error(code, message, true, param);
  }

  private error(code: string, message: string, recoverable: boolean, param?: string): void {
    this.outbox.send({ type: 'error', session_id: this.sessionId, code, message, recoverable, ...(param ? { param } : {}) });
  }
}
