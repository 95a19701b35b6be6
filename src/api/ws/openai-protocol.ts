// OpenAI's realtime transcription protocol on `WS /v1/realtime?intent=transcription`, so that OpenAI
// clients (the official `openai` SDK's OpenAIRealtimeWS among them) work against Theo unchanged.
// Client events: `session.update` (GA, session.type 'transcription'), `transcription_session.update`
// (beta), `input_audio_buffer.append` (base64 audio: pcm16 at 24 kHz, g711_ulaw, g711_alaw),
// `input_audio_buffer.commit`, `input_audio_buffer.clear`. Server events: `session.created/updated` (or
// `transcription_session.created/updated` for a client that sent `OpenAI-Beta: realtime=v1`), the item events
// of openai-items.ts, `input_audio_buffer.cleared`, and `error` ({ type, code, message, param, event_id });
// every server event has an `event_id`. A Theo session starts with the first audio; a change of format,
// model, language, turn detection or noise reduction after that ends it (its finals still arrive) and the
// next audio starts another. An update naming a model or language the catalog does not have is refused
// (`error`, settings unchanged) before any audio is taken. Without turn detection (push-to-talk) audio
// streams to the worker as it arrives, so a commit only has to finalise. docs/REALTIME.md describes the mapping.
import { randomBytes, randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { z } from 'zod';
import type { VadConfig } from '../../config/schema.js';
import { errorMessage, isTheoError } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import type { Session } from '../../session/session.js';
import type { SessionManager } from '../../session/manager.js';
import { closeConnection, onOpenMessage } from './closing.js';
import type { WireEvent } from './events.js';
import { FrameDecoder, parseClientEvent, toBuffer } from './frames.js';
import type { WsMetrics } from './metrics.js';
import { checkModel, type ModelLookup } from './model-check.js';
import {
  applyBeta,
  applyGa,
  betaSessionSchema,
  betaView,
  defaultSettings,
  encodingOf,
  gaSessionSchema,
  gaView,
  isOpenAiModelName,
  needsNewSession,
  sessionOptions,
  type OpenAiSettings,
} from './openai-config.js';
import { OpenAiItems } from './openai-items.js';
import { Outbox } from './outbox.js';

export interface OpenAiProtocolDeps {
  sessions: SessionManager;
  defaultModel: string;
  models: ModelLookup;
  vad: VadConfig;
  maxQueuedBytes: number;
  metrics: WsMetrics;
  logger: Logger;
  /** The client asked for the beta event names (`OpenAI-Beta: realtime=v1`). */
  beta: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** OpenAI refuses to commit less than this. */
const MIN_COMMIT_MS = 100;

export class OpenAiRealtimeConnection {
  private settings: OpenAiSettings = defaultSettings();
  private readonly id = `sess_${randomUUID()}`;
  private session: Session | undefined;
  /** Earlier sessions of this connection still delivering their finals. */
  private readonly ending = new Set<Session>();
  private sessionCount = 0;
  /** Audio (ms) of earlier Theo sessions on this connection, and of the current one. */
  private baseMs = 0;
  private sessionMs = 0;
  /** Audio (ms) appended since the last commit, clear or end of speech. */
  private uncommittedMs = 0;
  private readonly items: OpenAiItems;
  private readonly outbox: Outbox;
  private readonly decoder = new FrameDecoder();
  private clientEventId: string | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: OpenAiProtocolDeps,
  ) {
    this.outbox = new Outbox(ws, { maxQueuedBytes: deps.maxQueuedBytes, onDropped: () => deps.metrics.dropped.inc({ protocol: 'openai' }) });
    this.items = new OpenAiItems({ emit: (ev, droppable) => this.send(ev, droppable), audioBaseMs: () => this.baseMs, turnDetection: () => this.settings.turnDetection !== null });
    onOpenMessage(
      ws,
      (data, isBinary) => {
        try {
          if (isBinary) this.inputError('invalid_event', 'binary frames are not part of this protocol: send audio as input_audio_buffer.append with base64 audio');
          else this.onText(toBuffer(data).toString('utf8'));
        } catch (err) {
          deps.logger.error({ err, sessionId: this.id }, 'realtime message failed');
          this.sendError('server_error', 'internal_error', errorMessage(err));
        }
      },
      () => deps.metrics.inputErrors.inc({ protocol: 'openai', code: 'closing' }),
    );
    ws.on('close', () => this.endSession('client_disconnected', false));
    this.sendSession('created', deps.beta);
  }

  /** Server shutdown: the running session and any still ending close (their items complete), then the socket closes with 1001. */
  async shutdown(): Promise<void> {
    const sessions = [...this.ending, ...(this.session ? [this.session] : [])];
    this.session = undefined;
    await Promise.all(sessions.filter((s) => !s.closed).map((s) => s.close('shutdown')));
    closeConnection(this.ws, 1001, 'server shutting down', false);
  }

  // ---- client → server ------------------------------------------------------------------------------

  private onText(text: string): void {
    const m = parseClientEvent(text);
    if ('code' in m) {
      this.inputError(m.code, m.message, m.param);
      return;
    }
    const ev = m.fields;
    this.clientEventId = typeof ev.event_id === 'string' ? ev.event_id.slice(0, 200) : undefined;
    switch (m.type) {
      case 'session.update':
        this.update(ev.session, !isObject(ev.session) || 'type' in ev.session ? 'ga' : 'beta', false);
        return;
      case 'transcription_session.update':
        this.update(ev.session, 'beta', true);
        return;
      case 'input_audio_buffer.append':
        this.append(ev.audio);
        return;
      case 'input_audio_buffer.commit':
        this.commit();
        return;
      case 'input_audio_buffer.clear':
        this.clear();
        return;
      default:
        this.inputError('invalid_event', `unknown or unsupported event type '${m.type}' (this is a transcription session)`, 'type');
    }
  }

  private update(raw: unknown, shape: 'ga' | 'beta', betaName: boolean): void {
    const r = shape === 'ga' ? gaSessionSchema.safeParse(raw) : betaSessionSchema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      const param = ['session', ...(issue?.path ?? [])].join('.');
      if (issue?.code === 'unrecognized_keys') this.inputError('unknown_parameter', `Unknown parameter: '${param}.${issue.keys[0] ?? ''}'.`, `${param}.${issue.keys[0] ?? ''}`);
      else this.inputError('invalid_value', `${param}: ${issue?.message ?? 'invalid'}`, param);
      return;
    }
    const next = shape === 'ga' ? applyGa(this.settings, r.data as z.infer<typeof gaSessionSchema>) : applyBeta(this.settings, r.data);
    if (next.model !== this.settings.model || next.language !== this.settings.language) {
      const problem = checkModel(this.deps.models, isOpenAiModelName(next.model) ? this.deps.defaultModel : next.model, next.language);
      if (problem) {
        const param = shape === 'ga' ? `session.audio.input.transcription.${problem.field}` : `session.input_audio_transcription.${problem.field}`;
        this.inputError(problem.code, problem.message, param);
        return;
      }
    }
    if (this.session && needsNewSession(this.settings, next)) this.endSession('reconfigured');
    else if (this.session && next.keywords.join('\n') !== this.settings.keywords.join('\n')) this.session.setHotWords(next.keywords);
    this.settings = next;
    this.sendSession('updated', betaName);
  }

  private append(audio: unknown): void {
    if (typeof audio !== 'string') {
      this.inputError('invalid_value', 'input_audio_buffer.append needs `audio`: a base64 string', 'audio');
      return;
    }
    if (audio.length % 4 !== 0 || !BASE64.test(audio)) {
      this.inputError('invalid_value', 'audio is not valid base64; the chunk was dropped', 'audio');
      return;
    }
    const buf = Buffer.from(audio, 'base64');
    const { encoding, rate } = encodingOf(this.settings.format);
    if (encoding === 'pcm16' && buf.length % 2 !== 0) {
      this.inputError('invalid_value', `pcm16 audio needs an even number of bytes, got ${buf.length}; the chunk was dropped`, 'audio');
      return;
    }
    if (buf.length === 0) return;
    const s = this.ensureSession();
    if (!s) return;
    const samples = this.decoder.decode(buf, encoding);
    const ms = (samples.length / rate) * 1000;
    this.sessionMs += ms;
    this.uncommittedMs += ms;
    s.push(samples);
  }

  private commit(): void {
    if (this.uncommittedMs < MIN_COMMIT_MS) {
      this.inputError('input_audio_buffer_commit_empty', `Error committing input audio buffer: buffer too small. Expected at least ${MIN_COMMIT_MS}ms of audio, but buffer only has ${this.uncommittedMs.toFixed(2)}ms of audio.`);
      return;
    }
    const seconds = Math.round(this.uncommittedMs) / 1000;
    this.uncommittedMs = 0;
    const s = this.session;
    // Audio without speech in it: an item with an empty transcript, as a recogniser would give it.
    if (!s || !this.items.cutByClient(false, () => s.commit())) this.items.emptyCommit(seconds);
  }

  private clear(): void {
    const s = this.session;
    if (s) this.items.cutByClient(true, () => s.commit(true));
    this.uncommittedMs = 0;
    this.send({ type: 'input_audio_buffer.cleared' });
  }

  // ---- the Theo session ----------------------------------------------------------------------------

  private ensureSession(): Session | undefined {
    if (this.session) return this.session;
    const opts = sessionOptions(this.settings, this.deps.vad, this.deps.defaultModel);
    try {
      const session = this.deps.sessions.create({ id: this.sessionCount === 0 ? this.id : `${this.id}_${this.sessionCount}`, ...opts });
      this.sessionCount++;
      this.baseMs += this.sessionMs;
      this.sessionMs = 0;
      this.items.reset();
      session.on('event', (ev) => {
        this.items.onSessionEvent(ev);
        if (ev.type === 'vad.speech_end') this.uncommittedMs = 0;
        else if (ev.type === 'error') this.sendError(ev.recoverable ? 'invalid_request_error' : 'server_error', ev.code, ev.message);
        else if (ev.type === 'session.backpressure' && ev.state === 'dropping') this.sendError('invalid_request_error', 'input_audio_dropped', `audio arrives faster than real time: ${ev.droppedSamples} samples were dropped`);
        else if (ev.type === 'session.closed' && this.session === session) this.session = undefined;
      });
      this.session = session;
      return session;
    } catch (err) {
      const code = isTheoError(err) ? err.code : 'internal_error';
      this.sendError(code === 'session_limit' ? 'server_error' : 'invalid_request_error', code, errorMessage(err));
      if (code === 'session_limit') closeConnection(this.ws, 1013, code);
      return undefined;
    }
  }

  /** Ends the current Theo session; its finals still reach the client while the socket lives. */
  private endSession(reason: string, finish = true): void {
    const s = this.session;
    this.session = undefined;
    if (!s || s.closed) return;
    if (!finish) {
      void s.close(reason);
      return;
    }
    this.ending.add(s);
    void s
      .finish()
      .catch((err: unknown) => this.deps.logger.warn({ err, sessionId: s.id }, 'finishing a realtime session failed'))
      .then(() => s.close(reason))
      .finally(() => this.ending.delete(s));
  }

  // ---- server → client -------------------------------------------------------------------------------

  private sendSession(what: 'created' | 'updated', beta: boolean): void {
    const view = beta ? betaView(this.id, this.settings, this.deps.vad, this.deps.defaultModel) : gaView(this.id, this.settings, this.deps.vad, this.deps.defaultModel);
    this.send({ type: `${beta ? 'transcription_session' : 'session'}.${what}`, session: view });
  }

  private send(ev: WireEvent, droppable = false): void {
    const { type, ...fields } = ev;
    this.outbox.send({ type, event_id: eventId(), ...fields }, droppable);
  }

  private inputError(code: string, message: string, param?: string): void {
    this.deps.metrics.inputErrors.inc({ protocol: 'openai', code });
    this.sendError('invalid_request_error', code, message, param);
  }

  private sendError(type: string, code: string, message: string, param?: string): void {
    this.send({ type: 'error', error: { type, code, message, param: param ?? null, event_id: this.clientEventId ?? null } });
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const eventId = (): string => `event_${randomBytes(12).toString('base64url')}`;
