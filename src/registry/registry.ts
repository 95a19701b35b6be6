// The model registry: one scan of the models folder. Each subfolder with a theo.yaml is a model; a
// Whisper folder without one (config.json says model_type whisper) is described from its files. A bad
// manifest becomes a reported problem (its path and why), never a reason to hide the good ones. A model
// is available when the files its manifest names exist.
import { existsSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, excerpt, TheoError } from '../errors/index.js';
import { MANIFEST_FILE, readManifest, type ModelEntry, type ModelManifest } from './manifest.js';
import { detectWhisperFolder } from './whisper-folder.js';

export type ModelState = 'available' | 'missing';

/** A model the registry found, with where it came from and whether its files are there. */
export interface RegistryModel extends ModelEntry {
  name: string;
  /** The theo.yaml it was read from; undefined when the manifest was derived from the folder's files. */
  manifestPath: string | undefined;
  origin: 'manifest' | 'detected';
  state: ModelState;
  /** Absolute paths of the named files that do not exist (or are empty). */
  missingFiles: string[];
  /** Why the model is missing and what to do, e.g. "missing: install Debian package pocketsphinx-en-us". */
  reason: string | undefined;
}

/** A folder the scan could not use, and why. */
export interface RegistryProblem {
  path: string;
  reason: string;
}

export interface ResolvedFile {
  role: string;
  path: string;
  exists: boolean;
  kind: 'file' | 'directory' | 'missing';
  /** Bytes; for a directory, the total of the files under it. */
  size: number | undefined;
}

export interface ScanOptions {
  /** The model used when a request names none (config models.default). */
  defaultName?: string;
  /**
   * An earlier scan of the same folder: a theo.yaml whose size and modification time have not changed is not
   * parsed again (parsing is most of a scan's cost; files are still checked).
   */
  previous?: ModelRegistry;
}

/** A parsed theo.yaml (or why it could not be used), valid while the file's stamp is the same. */
interface ParsedManifest {
  stamp: string;
  result: ModelEntry | { problem: string };
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Names listed in a model_not_found message. */
const MAX_NAMES_SHOWN = 20;

export class ModelRegistry {
  readonly dir: string;
  readonly defaultName: string | undefined;
  readonly problems: readonly RegistryProblem[];
  private readonly models: ReadonlyMap<string, RegistryModel>;
  /** By theo.yaml path, for the next scan. */
  private readonly parsed: ReadonlyMap<string, ParsedManifest>;

  private constructor(dir: string, defaultName: string | undefined, models: Map<string, RegistryModel>, problems: RegistryProblem[], parsed: Map<string, ParsedManifest>) {
    this.dir = dir;
    this.defaultName = defaultName;
    this.models = models;
    this.problems = problems;
    this.parsed = parsed;
  }

  /** Scans `dir` (relative to the working directory) once; the result does not change afterwards. */
  static scan(dir: string, options: ScanOptions = {}): ModelRegistry {
    const root = resolve(dir);
    const models = new Map<string, RegistryModel>();
    const problems: RegistryProblem[] = [];
    const earlier = options.previous?.dir === root ? options.previous.parsed : undefined;
    const parsed = new Map<string, ParsedManifest>();
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(root, { withFileTypes: true });
    } catch (err) {
      problems.push({ path: root, reason: `cannot read the models folder: ${errorMessage(err)}` });
    }
    for (const d of entries.filter((e) => e.isDirectory() || e.isSymbolicLink()).sort((a, b) => a.name.localeCompare(b.name))) {
      const folder = join(root, d.name);
      if (!isDirectory(folder)) continue;
      const model = loadFolder(folder, d.name, problems, earlier, parsed);
      if (!model) continue;
      const prior = models.get(model.name);
      if (prior) {
        // The folder named like the model wins (where `theo worker` looks first); otherwise the first in name order.
        const [kept, dropped] = d.name === model.name ? [model, prior] : [prior, model];
        problems.push({ path: dropped.manifestPath ?? dropped.dir, reason: `model name '${model.name}' is already used by ${kept.manifestPath ?? kept.dir}; ignored` });
        models.set(model.name, kept);
        continue;
      }
      models.set(model.name, model);
    }
    return new ModelRegistry(root, options.defaultName, models, problems, parsed);
  }

  /** Every model, sorted by name. */
  list(): RegistryModel[] {
    return [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  names(): string[] {
    return this.list().map((m) => m.name);
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  /**
   * The model called `name`; throws TheoError 'model_not_found' naming the models there are. The message
   * reaches API clients: the folder and a skipped manifest of that name (`problem`) are in its details.
   */
  get(name: string): RegistryModel {
    const model = this.models.get(name);
    if (model) return model;
    const problem = this.problems.find((p) => p.path === join(this.dir, name, MANIFEST_FILE) || p.path === join(this.dir, name));
    const names = this.names();
    const shown = names.length > MAX_NAMES_SHOWN ? `${names.slice(0, MAX_NAMES_SHOWN).join(', ')} and ${names.length - MAX_NAMES_SHOWN} more` : names.join(', ');
    const available = names.length > 0 ? `available: ${shown}` : 'no models installed';
    throw new TheoError('model_not_found', `model '${excerpt(name)}' not found (${available})`, { model: name, dir: this.dir, available: names, problem });
  }

  /** The configured default model; throws 'model_not_found' when no default is set or it is not there. */
  defaultModel(): RegistryModel {
    if (this.defaultName === undefined) throw new TheoError('model_not_found', 'no default model is configured (models.default)', { dir: this.dir });
    return this.get(this.defaultName);
  }

  isDefault(name: string): boolean {
    return this.defaultName === name;
  }
}

/** Convenience for `ModelRegistry.scan`. */
export function scanModels(dir: string, options: ScanOptions = {}): ModelRegistry {
  return ModelRegistry.scan(dir, options);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function loadFolder(folder: string, folderName: string, problems: RegistryProblem[], earlier: ReadonlyMap<string, ParsedManifest> | undefined, parsed: Map<string, ParsedManifest>): RegistryModel | undefined {
  const manifestPath = join(folder, MANIFEST_FILE);
  const stamp = fileStamp(manifestPath);
  if (stamp !== undefined) {
    const known = earlier?.get(manifestPath);
    const manifest = known?.stamp === stamp ? known : { stamp, result: parseFile(manifestPath) };
    parsed.set(manifestPath, manifest);
    if ('problem' in manifest.result) {
      problems.push({ path: manifestPath, reason: manifest.result.problem });
      return undefined;
    }
    return withState(manifest.result, manifestPath, 'manifest');
  }
  if (!existsSync(join(folder, 'config.json'))) return undefined; // not a model folder (e.g. a README's assets)
  if (!NAME_RE.test(folderName)) {
    problems.push({ path: folder, reason: `folder name '${folderName}' is not a valid model name` });
    return undefined;
  }
  let manifest: ModelManifest | undefined;
  try {
    manifest = detectWhisperFolder(folder, folderName);
  } catch (err) {
    problems.push({ path: folder, reason: errorMessage(err) });
    return undefined;
  }
  if (!manifest) return undefined;
  const files: Record<string, string> = {};
  for (const [role, p] of Object.entries(manifest.files)) files[role] = resolve(folder, p);
  return withState({ manifest, dir: folder, files }, undefined, 'detected');
}

/** What identifies one version of a file (undefined: no such file). */
function fileStamp(path: string): string | undefined {
  try {
    const s = statSync(path);
    return s.isFile() ? `${s.ino}:${s.size}:${s.mtimeMs}` : undefined;
  } catch {
    return undefined;
  }
}

function parseFile(manifestPath: string): ParsedManifest['result'] {
  try {
    return readManifest(manifestPath);
  } catch (err) {
    return { problem: problemReason(err, manifestPath) };
  }
}

/** parseManifest prefixes its messages with the path; the problem list carries the path on its own. */
function problemReason(err: unknown, path: string): string {
  const msg = errorMessage(err);
  return msg.startsWith(`${path}: `) ? msg.slice(path.length + 2) : msg;
}

function withState(entry: ModelEntry, manifestPath: string | undefined, origin: RegistryModel['origin']): RegistryModel {
  const missingFiles = Object.values(entry.files).filter((p) => !usable(p));
  const state: ModelState = missingFiles.length === 0 ? 'available' : 'missing';
  return { ...entry, name: entry.manifest.name, manifestPath, origin, state, missingFiles, reason: state === 'missing' ? missingReason(entry, missingFiles) : undefined };
}

/** A named file is usable when it is a directory or a non-empty file. */
function usable(p: string): boolean {
  try {
    const s = statSync(p);
    return s.isDirectory() || (s.isFile() && s.size > 0);
  } catch {
    return false;
  }
}

function missingReason(entry: ModelEntry, missing: string[]): string {
  const m = entry.manifest;
  const pkgs = m.debianPackages;
  if (pkgs.length > 0) return `missing: install Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(' ')} (apt-get install ${pkgs.join(' ')})`;
  const what = `${missing.length} file${missing.length > 1 ? 's' : ''} missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''})`;
  if (m.source) return `missing: ${what}; run \`theo pull ${m.source.repo} --as ${m.name}\` to fetch them`;
  return `missing: ${what}`;
}

/** The files a model names, with their kind and size (a directory's size is the total under it). */
export function resolveFiles(entry: ModelEntry): ResolvedFile[] {
  return Object.entries(entry.files).map(([role, path]) => {
    try {
      const s = statSync(path);
      if (s.isDirectory()) return { role, path, exists: true, kind: 'directory', size: directorySize(path) };
      return { role, path, exists: true, kind: 'file', size: s.size };
    } catch {
      return { role, path, exists: false, kind: 'missing', size: undefined };
    }
  });
}

function directorySize(dir: string, depth = 0): number {
  if (depth > 8) return 0;
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += directorySize(p, depth + 1);
    else if (e.isFile()) {
      try {
        total += statSync(p).size;
      } catch {
        // vanished while we looked
      }
    }
  }
  return total;
}
