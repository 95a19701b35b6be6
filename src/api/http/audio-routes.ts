// POST /v1/audio/transcriptions and /v1/audio/translations (the OpenAI batch contract) and GET /v1/models.
// Admission (429 before the body is read) → upload → form checks → streaming decode and preprocessing
// (resample to the model's rate, DC, denoise, gain) into pieces of at most ~30 s → scheduler → worker, piece
// by piece → the pieces' results joined → post-process the final text (hot words, ITN, entities) → format.
import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { EngineCapabilities, EngineResult, Task } from '../../engines/engine.js';
import type { Logger } from '../../observability/logger.js';
import type { ModelEntry } from '../../registry/manifest.js';
import type { JobResult, Scheduler } from '../../scheduler/scheduler.js';
import type { PreparedStream } from '../../audio/prepare.js';
import { createPostprocessor, postprocessResult } from '../../postprocess/pipeline.js';
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

/** What a request asks of preprocessing; undefined fields take the server's defaults. */
export interface PrepareRequest {
  preprocess: boolean | undefined;
  gain: boolean | undefined;
  denoise: boolean | 'auto' | undefined;
}

export interface FormattedResponse {
  body: string | object;
  contentType: string;
}

export interface AudioRoutesDeps {
  catalog: ModelCatalog;
  scheduler: Scheduler;
  /** Starts decoding and preprocessing an upload into pieces at targetRate; resolves once its format is known. */
  prepare(bytes: Uint8Array, targetRate: number, request: PrepareRequest, signal: AbortSignal): Promise<PreparedStream>;
  format(result: EngineResult, task: Task, format: ResponseFormat, granularities: AudioParams['granularities']): FormattedResponse;
  /** Inverse text normalisation and entity formatting unless the request says itn=false. */
  itnByDefault: boolean;
  /** Hot word similarity threshold (0..1); undefined = the stage's default. */
  hotWordThreshold?: number | undefined;
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
  const preTime = new Histogram({
    name: 'theo_preprocessing_duration_seconds',
    help: 'CPU time of each audio preprocessing stage per batch request (decode is stage "decode")',
    labelNames: ['stage'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [deps.registry],
  });
  const postTime = new Histogram({
    name: 'theo_postprocessing_duration_seconds',
    help: 'time of each text post-processing stage per final transcript text',
    labelNames: ['stage'],
    buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05],
    registers: [deps.registry],
  });
  const postprocessor = createPostprocessor({
    hotWordThreshold: deps.hotWordThreshold,
    onStage: (stage, seconds) => postTime.observe({ stage }, seconds),
    onError: (stage, err) => deps.logger.error({ err, stage }, 'post-processing stage failed; text kept as it was'),
  });
  const requests = new Counter({ name: 'theo_transcription_requests_total', help: 'batch transcription/translation requests by model, task and outcome', labelNames: ['model', 'task', 'outcome'], registers: [deps.registry] });

  const handle = (task: Task) => async (ctx: Context): Promise<void> => {
    const requestId = String(ctx.state.requestId ?? randomUUID());
    // Decided before the body is read: a refused upload costs no decoding (Node drains what is left of it).
    const ticket = deps.scheduler.admit();
    let audio: PreparedStream | undefined;
    let cleanup = (): void => undefined;
    let model = 'unknown';
    try {
      const form = await parseMultipart(ctx.req, { maxBytes: deps.maxUploadBytes });
      const params = parseAudioParams(form.fields, task);
      const entry = deps.catalog.resolve(params.model);
      model = entry.manifest.name;
      const caps = deps.catalog.capabilities(entry);
      checkCapabilities(params, task, model, caps);
      if (!form.file) throw badParam('file', "a 'file' field with the audio is required", 'missing_file');
      if (form.file.bytes.length === 0) throw badParam('file', 'the uploaded file is empty', 'empty_file');

      // The request ends when the client goes away, the time limit passes or the audio turns out bad:
      // decoding, the queue and the worker stop too.
      const ac = new AbortController();
      const onClose = (): void => {
        if (!ctx.res.writableEnded) ac.abort(new ApiError(499, 'client closed the request', { code: 'cancelled' }));
      };
      ctx.req.socket.once('close', onClose);
      const timer = setTimeout(() => ac.abort(new ApiError(504, `the request took longer than ${deps.requestTimeoutMs} ms`, { code: 'timeout' })), deps.requestTimeoutMs);
      cleanup = () => {
        clearTimeout(timer);
        ctx.req.socket.off('close', onClose);
      };
      const prepared = await deps.prepare(form.file.bytes, caps.sampleRate, { preprocess: params.preprocess, gain: params.gain, denoise: params.denoise }, ac.signal);
      audio = prepared;
      ac.signal.addEventListener('abort', () => prepared.close(), { once: true });
      // Bad audio past the first seconds fails the job at once, queued or running.
      prepared.done.catch((err: unknown) => ac.abort(err));
      // Until it is all decoded, the length the file declares (if any) is the best estimate of the work.
      const length = (): { seconds: number; final: boolean } =>
        prepared.finished || prepared.declaredSeconds === undefined ? { seconds: prepared.seconds, final: prepared.finished } : { seconds: prepared.declaredSeconds, final: true };
      ticket.attach(model, length);
      let result: JobResult = await deps.scheduler.run(
        {
          id: requestId,
          model,
          priority: 0,
          sampleRate: prepared.sampleRate,
          options: {
            language: params.language ?? entry.manifest.defaults.language,
            task,
            prompt: params.prompt,
            hotWords: caps.hotWords ? params.hotWords : [],
            temperature: params.temperature,
            wordTimestamps: params.granularities.word,
          },
          parts: prepared.pieces,
          audioSeconds: length,
          signal: ac.signal,
        },
        ticket,
      );
      const summary = await prepared.done;
      preTime.observe({ stage: 'decode' }, summary.decodeSeconds);
      for (const [stage, seconds] of Object.entries(summary.timings)) preTime.observe({ stage }, seconds);
      const post = { itn: params.itn ?? deps.itnByDefault, hotWords: params.hotWords, language: result.language };
      result = postprocessResult(postprocessor, result, post);
      audioSeconds.inc({ model, task }, summary.duration);
      inference.observe({ model, task }, result.inferenceSeconds);
      requests.inc({ model, task, outcome: 'ok' });
      const out = deps.format(result, task, params.responseFormat, params.granularities);
      ctx.type = out.contentType;
      ctx.set('X-Theo-Audio-Quality', prepared.quality);
      ctx.set('X-Theo-Preprocessing', prepared.stages.join(',') || 'none');
      ctx.body = params.responseFormat === 'verbose_json' && typeof out.body === 'object' ? { ...out.body, audio_quality: prepared.quality } : out.body;
      deps.logger.debug({ requestId, model, task, audio_s: summary.duration, parts: result.parts, quality: prepared.quality, stages: prepared.stages, inference_s: result.inferenceSeconds }, 'transcribed');
    } catch (err) {
      requests.inc({ model, task, outcome: err instanceof ApiError ? String(err.status) : 'error' });
      throw err;
    } finally {
      cleanup();
      audio?.close();
      ticket.release();
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
