// POST /v1/audio/transcriptions and /v1/audio/translations (the OpenAI batch contract) and GET /v1/models.
// Upload → form checks → decode to the model's rate → scheduler → worker → response format.
import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { EngineCapabilities, EngineResult, Task } from '../../engines/engine.js';
import type { Logger } from '../../observability/logger.js';
import type { ModelEntry } from '../../registry/manifest.js';
import type { Scheduler } from '../../scheduler/scheduler.js';
import type { FileTranscriptionResult } from '../../workers/types.js';
import { ApiError, badParam } from './api-error.js';
import { checkCapabilities, parseAudioParams, type AudioParams, type ResponseFormat } from './audio-params.js';
import { parseMultipart } from './multipart.js';

/** The models the API can name. */
export interface ModelCatalog {
  /** The entry for a name (undefined = the default model); throws TheoError 'model_not_found'. */
  resolve(name: string | undefined): ModelEntry;
  list(): ModelEntry[];
  capabilities(entry: ModelEntry): EngineCapabilities;
  /** 'serving' | 'loading' | 'failed' | 'stopped' | 'not_loaded' | 'missing' */
  state(name: string): string;
}

export interface DecodedAudio {
  samples: Float32Array;
  sampleRate: number;
  duration: number;
}

export interface FormattedResponse {
  body: string | object;
  contentType: string;
}

export interface AudioRoutesDeps {
  catalog: ModelCatalog;
  scheduler: Scheduler;
  decode(bytes: Uint8Array, targetRate: number, signal: AbortSignal): Promise<DecodedAudio>;
  format(result: EngineResult, task: Task, format: ResponseFormat, granularities: AudioParams['granularities']): FormattedResponse;
  /** Post-processing of final text (inverse text normalisation), applied when the request asks for it. */
  itn?(text: string, language: string): string;
  maxUploadBytes: number;
  requestTimeoutMs: number;
  registry: Registry;
  logger: Logger;
}

export function mountAudioRoutes(router: Router, deps: AudioRoutesDeps): void {
  const audioSeconds = new Counter({ name: 'theo_audio_seconds_total', help: 'seconds of audio transcribed or translated by the batch API', labelNames: ['model', 'task'], registers: [deps.registry] });
  const inference = new Histogram({
    name: 'theo_inference_duration_seconds',
    help: 'time a worker spent in the engine per batch request',
    labelNames: ['model', 'task'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180],
    registers: [deps.registry],
  });
  const requests = new Counter({ name: 'theo_transcription_requests_total', help: 'batch transcription/translation requests by model, task and outcome', labelNames: ['model', 'task', 'outcome'], registers: [deps.registry] });

  const handle = (task: Task) => async (ctx: Context): Promise<void> => {
    const requestId = String(ctx.state.requestId ?? randomUUID());
    const form = await parseMultipart(ctx.req, { maxBytes: deps.maxUploadBytes });
    const params = parseAudioParams(form.fields, task);
    const entry = deps.catalog.resolve(params.model);
    const model = entry.manifest.name;
    const caps = deps.catalog.capabilities(entry);
    checkCapabilities(params, task, model, caps);
    if (!form.file) throw badParam('file', "a 'file' field with the audio is required", 'missing_file');
    if (form.file.bytes.length === 0) throw badParam('file', 'the uploaded file is empty', 'empty_file');

    // The request ends when the client goes away or the time limit passes: decoding and the worker stop too.
    const ac = new AbortController();
    const onClose = (): void => {
      if (!ctx.res.writableEnded) ac.abort(new ApiError(499, 'client closed the request', { code: 'cancelled' }));
    };
    ctx.req.socket.once('close', onClose);
    const timer = setTimeout(() => ac.abort(new ApiError(504, `the request took longer than ${deps.requestTimeoutMs} ms`, { code: 'timeout' })), deps.requestTimeoutMs);
    try {
      const audio = await deps.decode(form.file.bytes, caps.sampleRate, ac.signal);
      let result: FileTranscriptionResult;
      try {
        result = await deps.scheduler.submit({
          model,
          signal: ac.signal,
          request: {
            requestId,
            audio: audio.samples,
            sampleRate: audio.sampleRate,
            language: params.language ?? entry.manifest.defaults.language,
            task,
            prompt: params.prompt,
            hotWords: params.hotWords,
            temperature: params.temperature,
            wordTimestamps: params.granularities.word,
            priority: 0,
          },
        });
      } catch (err) {
        if (ac.signal.aborted && ac.signal.reason instanceof ApiError) throw ac.signal.reason;
        throw err;
      }
      if (params.itn && deps.itn) {
        const lang = result.language;
        const itn = (t: string): string => deps.itn?.(t, lang) ?? t;
        result = { ...result, text: itn(result.text), segments: result.segments.map((s) => ({ ...s, text: itn(s.text) })) };
      }
      audioSeconds.inc({ model, task }, audio.duration);
      inference.observe({ model, task }, result.inferenceSeconds);
      requests.inc({ model, task, outcome: 'ok' });
      const out = deps.format(result, task, params.responseFormat, params.granularities);
      ctx.type = out.contentType;
      ctx.body = out.body;
      deps.logger.debug({ requestId, model, task, audio_s: audio.duration, inference_s: result.inferenceSeconds }, 'transcribed');
    } catch (err) {
      requests.inc({ model, task, outcome: err instanceof ApiError ? String(err.status) : 'error' });
      throw err;
    } finally {
      clearTimeout(timer);
      ctx.req.socket.off('close', onClose);
    }
  };

  router.post('/v1/audio/transcriptions', handle('transcribe'));
  router.post('/v1/audio/translations', handle('translate'));

  const modelObject = (e: ModelEntry): Record<string, unknown> => ({
    id: e.manifest.name,
    object: 'model',
    created: 0,
    owned_by: 'theo',
    engine: e.manifest.engine,
    architecture: e.manifest.architecture,
    languages: e.manifest.languages,
    capabilities: deps.catalog.capabilities(e),
    state: deps.catalog.state(e.manifest.name),
  });
  router.get('/v1/models', (ctx) => {
    ctx.body = { object: 'list', data: deps.catalog.list().map(modelObject) };
  });
  router.get('/v1/models/:id', (ctx) => {
    ctx.body = modelObject(deps.catalog.resolve(ctx.params.id));
  });
}
