// A realtime client's model and language, checked against the model catalog when it names them (the URL at
// connect, a configure or session update), so that a wrong name is refused before any audio is taken
// rather than failing the session once speech starts.
import type { EngineCapabilities } from '../../engines/engine.js';
import { errorMessage, isTheoError, isWorkerUnavailableError } from '../../errors/index.js';

/**
 * The capabilities of a model by name; throws TheoError 'model_not_found', 'model_loading', or 'worker_unavailable'
 * (the model is down: its workers keep failing and are retried with backoff).
 */
export type ModelLookup = (name: string) => EngineCapabilities;

export interface ModelProblem {
  code: 'model_not_found' | 'model_loading' | 'worker_unavailable' | 'unsupported_language';
  /** Which of the two is wrong. */
  field: 'model' | 'language';
  message: string;
}

/** Why `model` with `language` cannot be served, or undefined when it can. */
export function checkModel(lookup: ModelLookup, model: string, language: string | undefined): ModelProblem | undefined {
  let caps: EngineCapabilities;
  try {
    caps = lookup(model);
  } catch (err) {
    if (isWorkerUnavailableError(err)) return { code: 'worker_unavailable', field: 'model', message: err.clientMessage() };
    if (isTheoError(err) && err.code === 'model_loading') return { code: 'model_loading', field: 'model', message: err.message };
    const available = isTheoError(err) && Array.isArray(err.details.available) ? (err.details.available as unknown[]).map(String) : undefined;
    if (isTheoError(err) && err.code === 'model_not_found') {
      return { code: 'model_not_found', field: 'model', message: `model '${model}' is not available${available ? ` (available: ${available.join(', ') || 'none'})` : ''}` };
    }
    return { code: 'model_not_found', field: 'model', message: `model '${model}': ${errorMessage(err)}` };
  }
  if (language !== undefined && !caps.languages.includes(language)) {
    return { code: 'unsupported_language', field: 'language', message: `model '${model}' does not know language '${language}' (it knows: ${caps.languages.join(', ')})` };
  }
  return undefined;
}
