// The API's view of the models: the registry's entries, the manager's worker states, and lazy start of
// a worker the first time a request names an installed model that has none.
import type { EngineCapabilities } from '../../engines/engine.js';
import { TheoError } from '../../errors/index.js';
import { capabilitiesOf } from '../../registry/capabilities.js';
import type { ModelEntry } from '../../registry/manifest.js';
import type { ModelRegistry } from '../../registry/registry.js';
import type { WorkerManager } from '../../workers/manager.js';
import type { ModelCatalog } from './audio-routes.js';

export function createCatalog(models: ModelRegistry, manager: WorkerManager, defaultModel: string): ModelCatalog {
  const state = (name: string): string => {
    const ws = manager.status().filter((s) => s.model === name);
    if (ws.some((w) => w.state === 'serving')) return 'serving';
    if (ws.length > 0) return ws[0]?.state ?? 'stopped';
    return 'not_loaded';
  };
  return {
    resolve(name) {
      const wanted = name ?? defaultModel;
      if (manager.has(wanted)) {
        try {
          return models.get(wanted);
        } catch (err) {
          // A remote worker may host a model this runtime has no folder for: describe it from its health.
          const remote = manager.status().find((s) => s.model === wanted && s.kind === 'remote');
          if (!remote?.capabilities) throw err;
          return remoteEntry(wanted, remote.engine, remote.capabilities);
        }
      }
      const entry = models.get(wanted);
      const why = entry.state === 'missing' ? (entry.reason ?? 'its files are missing') : undefined;
      if (why) throw new TheoError('model_loading', `model '${wanted}' is not usable: ${why}`, { retryAfter: 60 });
      manager.ensure(entry);
      return entry;
    },
    list: () => models.list(),
    capabilities: (entry) => manager.status().find((s) => s.model === entry.manifest.name && s.capabilities)?.capabilities ?? capabilitiesOf(entry.manifest),
    state: (name) => {
      const s = state(name);
      if (s !== 'not_loaded') return s;
      try {
        return models.get(name).state === 'missing' ? 'missing' : 'not_loaded';
      } catch {
        return 'missing';
      }
    },
  };
}

function remoteEntry(name: string, engine: string, caps: EngineCapabilities): ModelEntry {
  return {
    dir: '',
    files: {},
    manifest: {
      name,
      engine: engine === 'pocketsphinx' ? 'pocketsphinx' : 'whisper',
      architecture: caps.architecture,
      description: 'remote worker',
      files: {},
      sampleRate: caps.sampleRate,
      languages: caps.languages,
      capabilities: {
        nativePartials: caps.nativePartials,
        translate: caps.translate,
        segmentTimestamps: caps.segmentTimestamps,
        wordTimestamps: caps.wordTimestamps,
        hotWords: caps.hotWords,
        languageDetection: caps.languageDetection,
      },
      defaults: {},
      debianPackages: [],
    },
  };
}
