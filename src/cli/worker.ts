// `theo worker --model NAME`: finds the model's manifest, builds its engine and runs one worker
// process (src/workers/worker-main.ts) until it is stopped. `--engine-module` (hidden) swaps the
// engine factory for a module exporting `createEngine(entry)`: how tests run workers with fake engines.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TheoConfig } from '../config/index.js';
import type { Engine } from '../engines/engine.js';
import { TheoError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import { MANIFEST_FILE, readManifest, type ModelEntry } from '../registry/manifest.js';
import { readTokenLine } from '../workers/auth.js';
import { runWorker } from '../workers/worker-main.js';

export interface WorkerFlags {
  model: string;
  /** The model's folder (with theo.yaml); default: the folder under models.dir whose manifest has that name. */
  modelDir?: string;
  host?: string;
  port?: number;
  engineModule?: string;
  watchStdin?: boolean;
  /** Read the token from the first line of stdin (how `theo serve` hands a spawned worker its own). */
  tokenStdin?: boolean;
}

/** The manifest of `name`: models.dir/NAME/theo.yaml, else any folder of models.dir whose manifest is named so. */
export function findModel(name: string, modelsDir: string, modelDir?: string): ModelEntry {
  const check = (entry: ModelEntry): ModelEntry => {
    if (entry.manifest.name !== name) throw new TheoError('model_invalid', `${join(entry.dir, MANIFEST_FILE)} names model '${entry.manifest.name}', not '${name}'`);
    return entry;
  };
  if (modelDir) return check(readManifest(join(resolve(modelDir), MANIFEST_FILE)));
  const root = resolve(modelsDir);
  const direct = join(root, name, MANIFEST_FILE);
  if (existsSync(direct)) return check(readManifest(direct));
  if (existsSync(root)) {
    for (const d of readdirSync(root, { withFileTypes: true })) {
      const p = join(root, d.name, MANIFEST_FILE);
      if (!d.isDirectory() || !existsSync(p)) continue;
      const entry = readManifest(p);
      if (entry.manifest.name === name) return entry;
    }
  }
  throw new TheoError('model_not_found', `model '${name}' not found in ${root}`, { model: name, dir: root });
}

async function engineFactory(engineModule: string | undefined): Promise<(entry: ModelEntry) => Promise<Engine>> {
  if (!engineModule) return (await import('../engines/factory.js')).createEngineFor;
  const mod = (await import(pathToFileURL(resolve(engineModule)).href)) as { createEngine?: unknown };
  if (typeof mod.createEngine !== 'function') throw new TheoError('invalid_argument', `${engineModule} does not export createEngine(entry)`);
  const create = mod.createEngine as (entry: ModelEntry) => Engine | Promise<Engine>;
  return async (entry) => create(entry);
}

/** The token every call to this worker must carry: from stdin (spawned by a runtime) or workers.token. */
function workerToken(flags: WorkerFlags, config: Readonly<TheoConfig>): string | Promise<string> {
  if (flags.tokenStdin) {
    const line = readTokenLine(process.stdin);
    // Awaited by runWorker; marked handled now so stdin ending while the engine module loads is not an
    // unhandled rejection before that.
    line.catch(() => undefined);
    return line;
  }
  if (config.workers.token) return config.workers.token;
  throw new TheoError('invalid_argument', 'a worker needs a token: set workers.token (env THEO_WORKER_TOKEN) to the secret shared with the runtime that lists this worker in workers.remote');
}

/** Runs the worker; resolves with the exit code once it has stopped. */
export async function workerCommand(flags: WorkerFlags, config: Readonly<TheoConfig>, logger: Logger): Promise<number> {
  const token = workerToken(flags, config);
  const entry = findModel(flags.model, config.models.dir, flags.modelDir);
  const createEngine = await engineFactory(flags.engineModule);
  return runWorker({
    entry,
    createEngine,
    host: flags.host ?? config.workers.host,
    port: flags.port ?? 0,
    logger: logger.child({ component: 'worker' }),
    stopTimeoutMs: config.workers.stopTimeoutMs,
    watchStdin: flags.watchStdin,
    token,
  });
}
