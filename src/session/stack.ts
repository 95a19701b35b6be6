// Everything live sessions need in one process, built from the config: the worker manager for the models,
// the shared Silero runner (one ONNX session batching every session's VAD windows), the post-processor,
// RNNoise, metrics, and the Session Manager over them. `theo serve` and `theo transcribe --stream` use it.
import type { TheoConfig } from '../config/index.js';
import { loadDenoiser } from '../audio/stages/denoise.js';
import type { DenoiserFactory } from '../audio/stages/pipeline.js';
import { TheoError } from '../errors/index.js';
import { componentLogger, type Logger } from '../observability/logger.js';
import type { Registry } from '../observability/metrics.js';
import { createPostprocessor } from '../postprocess/pipeline.js';
import { capabilitiesOf } from '../registry/capabilities.js';
import type { ModelEntry } from '../registry/manifest.js';
import { createSileroRunner, type SileroRunner } from '../vad/runner.js';
import { isVadSampleRate } from '../vad/options.js';
import { WorkerManager } from '../workers/manager.js';
import { SessionManager } from './manager.js';
import { createSessionMetrics } from './metrics.js';
import type { SessionVadFactory } from './ports.js';
import { workerLinkFor } from './worker-link.js';

export interface SessionStackOptions {
  config: Readonly<TheoConfig>;
  /** Models to run local workers for (ignored when `workers` is given). */
  models: ModelEntry[];
  logger: Logger;
  registry: Registry;
  /** An existing worker manager (theo serve's); otherwise one is created and started for `models`. */
  workers?: WorkerManager;
  /** RNNoise, when the caller has loaded it already (otherwise loaded here when the config wants it). */
  denoiser?: DenoiserFactory | undefined;
  /** Models sessions may use: name → entry (default: `models`). */
  lookup?: (model: string) => ModelEntry;
  onWarning?: (message: string) => void;
}

export interface SessionStack {
  sessions: SessionManager;
  workers: WorkerManager;
  vad: SileroRunner;
  /** Closes every session, the VAD runner and (when the stack created it) the worker manager. Safe twice. */
  close(): Promise<void>;
}

/** The per-session VAD over a shared runner, with the config's settings. */
/** The per-session VAD over a shared runner, with the session's settings (by default the config's). */
export function vadFactoryFor(runner: SileroRunner, vad: TheoConfig['vad']): SessionVadFactory {
  return (sampleRate, onEvent, v = vad) => {
    if (!isVadSampleRate(sampleRate)) throw new TheoError('invalid_argument', `voice activity detection runs at 8000 or 16000 Hz; this model takes ${sampleRate} Hz`);
    return runner.createStream({ sampleRate, sensitivity: v.sensitivity, minSpeechMs: v.minSpeechMs, minSilenceMs: v.minSilenceMs, maxSegmentMs: v.maxSegmentMs }, onEvent);
  };
}

export async function createSessionStack(opts: SessionStackOptions): Promise<SessionStack> {
  const { config, logger, registry } = opts;
  const log = componentLogger(logger, 'sessions');
  const warn = opts.onWarning ?? ((m: string) => log.warn(m));
  const own = opts.workers === undefined;
  const workers = opts.workers ?? new WorkerManager({ config: config.workers, models: opts.models, logger: componentLogger(logger, 'workers'), registry, requestTimeoutMs: config.api.requestTimeoutMs });
  if (own) await workers.start();
  const byName = new Map(opts.models.map((e) => [e.manifest.name, e]));
  const lookup =
    opts.lookup ??
    ((model: string): ModelEntry => {
      const e = byName.get(model);
      if (!e) throw new TheoError('model_not_found', `model '${model}' is not loaded for sessions`, { model });
      return e;
    });
  const vad = await createSileroRunner({ onError: (err) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'VAD error') });
  const pre = config.preprocess;
  const denoiser = opts.denoiser ?? (pre.enabled && pre.denoise !== false ? await loadDenoiser({ onWarning: warn }) : undefined);
  const sessions = new SessionManager({
    sessions: config.sessions,
    vad: config.vad,
    preprocess: pre,
    itn: config.postprocess.itn,
    link: (model) => {
      const entry = lookup(model);
      // A model whose workers are all down refuses a new session now, saying when it is retried, instead of
      // accepting it and failing it once the session's recovery window has run out.
      const down = workers.down(model);
      if (down) throw down;
      const capabilities = capabilitiesOf(entry.manifest);
      return { link: workerLinkFor(workers, model), capabilities };
    },
    vadFactory: vadFactoryFor(vad, config.vad),
    postprocessor: createPostprocessor({ hotWordThreshold: config.postprocess.hotWordThreshold }),
    metrics: createSessionMetrics(registry),
    denoiser,
    onWarning: warn,
    onListenerError: (event, err) => log.error({ event, err: err instanceof Error ? err.message : String(err) }, 'session listener threw'),
  });
  let closing: Promise<void> | undefined;
  return {
    sessions,
    workers,
    vad,
    close() {
      closing ??= (async () => {
        await sessions.shutdown();
        await vad.close();
        if (own) await workers.stop();
      })();
      return closing;
    },
  };
}
