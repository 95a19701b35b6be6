// The API's view of the models: the registry's entries (rescanned when a request names one it does not
// have), the manager's worker states, and lazy start of a worker the first time a request names an
// installed model that has none. Messages name models, never the server's folders.
import type { EngineCapabilities } from '../../engines/engine.js';
import { TheoError } from '../../errors/index.js';
import { capabilitiesOf } from '../../registry/capabilities.js';
import type { ModelEntry } from '../../registry/manifest.js';
import type { RegistryModel } from '../../registry/registry.js';
import type { RescanningRegistry } from '../../registry/rescan.js';
import type { WorkerManager } from '../../workers/manager.js';
import type { ModelCatalog } from './audio-routes.js';

export function createCatalog(models: RescanningRegistry, manager: WorkerManager, defaultModel: string): ModelCatalog {
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
      if (entry.state === 'missing') throw new TheoError('model_loading', `model '${wanted}' is not usable: ${unusable(entry)}`, { retryAfter: 60, reason: entry.reason });
      manager.ensure(entry);
      return entry;
    },
    list: () => models.list(),
    capabilities: (entry) => manager.status().find((s) => s.model === entry.manifest.name && s.capabilities)?.capabilities ?? capabilitiesOf(entry.manifest),
    state: (name) => {
      const s = state(name);
      if (s !== 'not_loaded') return s;
      // The last scan's view: describing a model is no reason to rescan the folder.
      const last = models.registry;
      return last.has(name) && last.get(name).state === 'available' ? 'not_loaded' : 'missing';
    },
  };
}

/** Why a model cannot serve, as a client may read it: the log has the files (TheoError details.reason). */
function unusable(entry: RegistryModel): string {
  const pkgs = entry.manifest.debianPackages;
  if (pkgs.length > 0) return `its files are not installed (Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(' ')})`;
  const n = entry.missingFiles.length;
  return `${n} of its files ${n === 1 ? 'is' : 'are'} missing${entry.manifest.source ? ' (`theo pull` fetches them)' : ''}`;
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
