// `theo list`, `theo inspect NAME` and `theo pull REPO`: the registry and the hub client as a user sees
// them. Tables and progress go to the terminal; `--json` gives the same facts to scripts.
import cliProgress from 'cli-progress';
import type { TheoConfig } from '../config/index.js';
import { capabilitiesOf } from '../registry/capabilities.js';
import { HubClient } from '../registry/hub.js';
import { pullModel, type PullEvent, type PullResult } from '../registry/pull.js';
import { ModelRegistry, resolveFiles, type RegistryModel } from '../registry/registry.js';
import type { PullDtype } from '../registry/whisper-folder.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr });

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

function languagesCell(langs: readonly string[]): string {
  return langs.length <= 4 ? langs.join(',') : `${langs.slice(0, 3).join(',')} +${langs.length - 3}`;
}

function scan(config: Readonly<TheoConfig>): ModelRegistry {
  return ModelRegistry.scan(config.models.dir, { defaultName: config.models.default });
}

function modelSummary(registry: ModelRegistry, m: RegistryModel): Record<string, unknown> {
  return {
    name: m.name,
    engine: m.manifest.engine,
    architecture: m.manifest.architecture,
    languages: m.manifest.languages,
    state: m.state,
    default: registry.isDefault(m.name),
    reason: m.reason,
    dir: m.dir,
    manifest: m.manifestPath ?? null,
    origin: m.origin,
    source: m.manifest.source ?? null,
  };
}

/** `theo list`; returns the exit code. */
export function listModels(config: Readonly<TheoConfig>, flags: { json?: boolean }, io: CliIo = processIo()): number {
  const registry = scan(config);
  const models = registry.list();
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ dir: registry.dir, default: registry.defaultName ?? null, models: models.map((m) => modelSummary(registry, m)), problems: registry.problems }, null, 2)}\n`);
    return 0;
  }
  if (models.length === 0) {
    io.stdout.write(`no models in ${registry.dir}\n`);
  } else {
    const rows = [['NAME', 'ENGINE', 'ARCHITECTURE', 'LANGUAGES', 'STATE', 'DEFAULT']];
    for (const m of models) rows.push([m.name, m.manifest.engine, m.manifest.architecture, languagesCell(m.manifest.languages), m.state, registry.isDefault(m.name) ? '*' : '']);
    io.stdout.write(`${table(rows)}\n`);
    for (const m of models) if (m.reason) io.stdout.write(`${m.name}: ${m.reason}\n`);
  }
  if (registry.defaultName !== undefined && !registry.has(registry.defaultName)) io.stderr.write(`theo: the default model '${registry.defaultName}' (models.default) is not in ${registry.dir}\n`);
  for (const p of registry.problems) io.stderr.write(`theo: skipped ${p.path}: ${p.reason.replace(/\n/g, '\n    ')}\n`);
  return 0;
}

/** `theo inspect NAME`; throws TheoError 'model_not_found' for an unknown name. */
export function inspectModel(name: string, config: Readonly<TheoConfig>, flags: { json?: boolean }, io: CliIo = processIo()): number {
  const registry = scan(config);
  const m = registry.get(name);
  const files = resolveFiles(m);
  const capabilities = capabilitiesOf(m.manifest);
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ ...modelSummary(registry, m), manifestData: m.manifest, files, capabilities }, null, 2)}\n`);
    return 0;
  }
  const man = m.manifest;
  const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
  const lines: string[][] = [
    ['name', `${man.name}${registry.isDefault(man.name) ? ' (default)' : ''}`],
    ['engine', man.engine],
    ['architecture', man.architecture],
    ['description', man.description || '-'],
    ['state', m.reason ?? m.state],
    ['folder', m.dir],
    ['manifest', m.manifestPath ?? '(none: derived from the folder; `theo pull` writes one)'],
    ['sample rate', `${man.sampleRate} Hz`],
    ['languages', man.languages.join(', ')],
  ];
  const caps = man.capabilities;
  lines.push(['capabilities', `native partials ${yesNo(caps.nativePartials)}, translate ${yesNo(caps.translate)}, segment timestamps ${yesNo(caps.segmentTimestamps)}, word timestamps ${yesNo(caps.wordTimestamps)}, hot words ${yesNo(caps.hotWords)}, language detection ${yesNo(caps.languageDetection)}`]);
  const defaults = [
    ...(man.defaults.language ? [`language=${man.defaults.language}`] : []),
    ...(man.defaults.temperature !== undefined ? [`temperature=${man.defaults.temperature}`] : []),
    ...Object.entries(man.defaults.options ?? {}).map(([k, v]) => `${k}=${String(v)}`),
  ];
  if (defaults.length > 0) lines.push(['defaults', defaults.join(', ')]);
  if (man.debianPackages.length > 0) lines.push(['debian', man.debianPackages.join(', ')]);
  if (man.source) lines.push(['source', `${man.source.hub}/${man.source.repo} @ ${man.source.revision}`]);
  io.stdout.write(`${table(lines.map(([k, v]) => [`${k}:`, v ?? '']))}\n`);
  io.stdout.write('files:\n');
  const fileRows = files.map((f) => ['  ' + f.role, f.path, f.kind === 'missing' ? 'MISSING' : f.kind === 'directory' ? 'dir' : 'file', f.exists ? formatBytes(f.size) : '-']);
  io.stdout.write(`${table(fileRows)}\n`);
  return 0;
}

export interface PullFlags {
  as?: string;
  revision?: string;
  dtype?: PullDtype;
  json?: boolean;
}

/** `theo pull REPO`; rejects with TheoError 'hub_failed' (or 'invalid_argument') on failure. */
export async function pullCommand(repo: string, config: Readonly<TheoConfig>, flags: PullFlags, signal?: AbortSignal, io: CliIo = processIo()): Promise<number> {
  const hub = new HubClient({ endpoint: config.hub.endpoint, token: config.hub.token });
  const progress = io.stderr.isTTY ? barReporter(io) : lineReporter(io);
  let result: PullResult;
  try {
    result = await pullModel({ repo, name: flags.as, revision: flags.revision, dtype: flags.dtype, modelsDir: config.models.dir, hub, signal, onEvent: progress.onEvent });
  } finally {
    progress.stop();
  }
  if (flags.json) {
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const total = result.files.reduce((s, f) => s + f.size, 0);
    io.stdout.write(`pulled ${result.repo}@${result.commit.slice(0, 12)} (${result.dtype}) as '${result.name}' into ${result.dir}: ${result.files.length} files, ${formatBytes(total)} (${formatBytes(result.bytesDownloaded)} fetched now)\n`);
  }
  return 0;
}

interface Reporter {
  onEvent: (e: PullEvent) => void;
  stop: () => void;
}

/** Non-TTY progress: a line when a file starts and ends, and every 10% of a large file. */
function lineReporter(io: CliIo): Reporter {
  let lastDecile = -1;
  const out = (s: string): void => void io.stderr.write(`${s}\n`);
  return {
    onEvent(e) {
      switch (e.type) {
        case 'resolved':
          out(`${e.repo} @ ${e.revision} = ${e.commit}: ${e.files.length} files into ${e.dir}`);
          break;
        case 'file-skip':
          out(`have ${e.path} (${formatBytes(e.size)}, fetched earlier)`);
          break;
        case 'file-start':
          lastDecile = e.size ? Math.floor((10 * e.offset) / e.size) : -1;
          out(e.offset > 0 ? `resuming ${e.path} at ${formatBytes(e.offset)} of ${formatBytes(e.size)}` : `fetching ${e.path} (${formatBytes(e.size)})`);
          break;
        case 'file-progress': {
          if (!e.size || e.size < 10 * 1024 * 1024) break;
          const decile = Math.floor((10 * e.bytes) / e.size);
          if (decile > lastDecile && decile < 10) {
            lastDecile = decile;
            out(`  ${e.path}: ${decile * 10}% (${formatBytes(e.bytes)})`);
          }
          break;
        }
        case 'file-done':
          out(`done ${e.path} (${formatBytes(e.size)}, ${e.verified} verified)`);
          break;
      }
    },
    stop() {},
  };
}

/** TTY progress: one cli-progress bar per file. */
function barReporter(io: CliIo): Reporter {
  let bar: cliProgress.SingleBar | undefined;
  const stopBar = (): void => {
    bar?.stop();
    bar = undefined;
  };
  return {
    onEvent(e) {
      switch (e.type) {
        case 'resolved':
          io.stderr.write(`${e.repo} @ ${e.revision} = ${e.commit}\n`);
          break;
        case 'file-skip':
          io.stderr.write(`have ${e.path} (${formatBytes(e.size)})\n`);
          break;
        case 'file-start':
          stopBar();
          bar = new cliProgress.SingleBar(
            {
              stream: io.stderr,
              format: `{file} |{bar}| {percentage}% {done}/{size} {eta_formatted}`,
              hideCursor: true,
              clearOnComplete: false,
              etaBuffer: 50,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.size ?? 0, e.offset, { file: e.path, done: formatBytes(e.offset), size: formatBytes(e.size) });
          break;
        case 'file-progress':
          bar?.update(e.bytes, { done: formatBytes(e.bytes) });
          break;
        case 'file-done':
          bar?.update(e.size, { done: formatBytes(e.size) });
          stopBar();
          break;
      }
    },
    stop: stopBar,
  };
}
