// The registry of a running server: a model pulled or copied into the models folder while it serves is
// found without a restart. A request that names a model the last scan did not have (or had without its
// files) rescans the folder, at most once per interval however many requests miss, so garbage names cost
// no more than one scan per interval; a rescan parses only the manifests that changed.
import { ModelRegistry, type RegistryModel, type RegistryProblem } from './registry.js';

/** What one rescan found, for logs and metrics. */
export interface RescanReport {
  /** Models in the folder now. */
  models: number;
  added: string[];
  removed: string[];
  /** Problems the previous scan did not have. */
  problems: RegistryProblem[];
  seconds: number;
}

export interface RescanOptions {
  /** Least time between two rescans (ms). */
  minIntervalMs: number;
  /** The clock (ms); default performance.now. */
  now?: () => number;
  onRescan?: (report: RescanReport) => void;
}

export class RescanningRegistry {
  private current: ModelRegistry;
  /** The first miss after the start rescans at once. */
  private lastRescan = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(
    initial: ModelRegistry,
    private readonly opts: RescanOptions,
  ) {
    this.current = initial;
    this.now = opts.now ?? (() => performance.now());
  }

  /** The last scan. */
  get registry(): ModelRegistry {
    return this.current;
  }

  /**
   * The model called `name`; a name the last scan did not have, or had with files missing, rescans first
   * (when the interval allows). Throws TheoError 'model_not_found' as ModelRegistry.get does.
   */
  get(name: string): RegistryModel {
    if (this.current.has(name)) {
      const model = this.current.get(name);
      if (model.state === 'available' || !this.rescan()) return model;
    } else {
      this.rescan();
    }
    return this.current.get(name);
  }

  /** Every model, sorted by name, from a fresh scan when the interval allows. */
  list(): RegistryModel[] {
    this.rescan();
    return this.current.list();
  }

  /** Scans the folder again unless the last rescan was less than the interval ago; whether it did. */
  private rescan(): boolean {
    const t = this.now();
    if (t - this.lastRescan < this.opts.minIntervalMs) return false;
    this.lastRescan = t;
    const before = this.current;
    const started = performance.now();
    const after = ModelRegistry.scan(before.dir, { previous: before, ...(before.defaultName === undefined ? {} : { defaultName: before.defaultName }) });
    const seconds = (performance.now() - started) / 1000;
    this.current = after;
    const known = new Set(before.problems.map((p) => `${p.path}\n${p.reason}`));
    this.opts.onRescan?.({
      models: after.names().length,
      added: after.names().filter((n) => !before.has(n)),
      removed: before.names().filter((n) => !after.has(n)),
      problems: after.problems.filter((p) => !known.has(`${p.path}\n${p.reason}`)),
      seconds,
    });
    return true;
  }
}
