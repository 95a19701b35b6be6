// Builds the one configuration of a process from defaults < file < environment < flags, validates
// it once and freezes it. This is the only module that reads process.env. Relative paths become absolute
// here: a config file's from the file's folder, the environment's and flags' from the working directory.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../errors/index.js';
import { configSchema, type TheoConfig } from './schema.js';

type Plain = Record<string, unknown>;

export interface LoadConfigOptions {
  /** Path of a YAML or JSON config file. */
  file?: string | undefined;
  /** Environment to read THEO_* variables from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, as a partial config tree; undefined leaves are ignored. */
  overrides?: Plain;
}

/** THEO_* variables and where each lands in the config tree, with its type. */
const ENV_MAP: ReadonlyArray<readonly [string, readonly string[], 'string' | 'int' | 'bool' | 'ports']> = [
  ['THEO_HOST', ['server', 'host'], 'string'],
  ['THEO_PORT', ['server', 'port'], 'int'],
  ['THEO_TLS_CERT', ['server', 'tlsCert'], 'string'],
  ['THEO_TLS_KEY', ['server', 'tlsKey'], 'string'],
  ['THEO_LOG_LEVEL', ['log', 'level'], 'string'],
  ['THEO_RTP_HOST', ['rtp', 'host'], 'string'],
  ['THEO_RTP_PORT_MIN', ['rtp', 'portMin'], 'int'],
  ['THEO_RTP_PORT_MAX', ['rtp', 'portMax'], 'int'],
  ['THEO_RTP_PAYLOAD_TYPES', ['rtp', 'payloadTypes'], 'string'],
  ['THEO_RTP_JITTER_MODE', ['rtp', 'jitter', 'mode'], 'string'],
  ['THEO_RTP_JITTER_DEPTH_MS', ['rtp', 'jitter', 'depthMs'], 'int'],
  ['THEO_MODELS_DIR', ['models', 'dir'], 'string'],
  ['THEO_DEFAULT_MODEL', ['models', 'default'], 'string'],
  ['THEO_WORKER_REPLICAS', ['workers', 'replicas'], 'int'],
  ['THEO_WORKER_TOKEN', ['workers', 'token'], 'string'],
  ['THEO_API_KEY', ['api', 'apiKey'], 'string'],
  ['THEO_MAX_UPLOAD_BYTES', ['api', 'maxUploadBytes'], 'int'],
  ['THEO_PREPROCESS', ['preprocess', 'enabled'], 'bool'],
  ['THEO_ITN', ['postprocess', 'itn'], 'bool'],
  ['THEO_VAD_SENSITIVITY', ['vad', 'sensitivity'], 'string'],
  ['THEO_MAX_SESSIONS', ['sessions', 'max'], 'int'],
  ['THEO_RTP_FORK_PORTS', ['telephony', 'fork', 'ports'], 'ports'],
  ['THEO_ARI_URL', ['telephony', 'ari', 'url'], 'string'],
  ['THEO_ARI_USER', ['telephony', 'ari', 'user'], 'string'],
  ['THEO_ARI_PASSWORD', ['telephony', 'ari', 'password'], 'string'],
  ['THEO_ARI_APP', ['telephony', 'ari', 'app'], 'string'],
  ['THEO_DRACHTIO_HOST', ['telephony', 'sip', 'host'], 'string'],
  ['THEO_DRACHTIO_PORT', ['telephony', 'sip', 'port'], 'int'],
  ['THEO_DRACHTIO_SECRET', ['telephony', 'sip', 'secret'], 'string'],
  // The Hugging Face names first, so Theo's own names win when both are set.
  ['HF_ENDPOINT', ['hub', 'endpoint'], 'string'],
  ['THEO_HUB_ENDPOINT', ['hub', 'endpoint'], 'string'],
  ['HF_TOKEN', ['hub', 'token'], 'string'],
  ['THEO_HUB_TOKEN', ['hub', 'token'], 'string'],
];

/** Config keys that name files or folders. */
const PATH_KEYS: ReadonlyArray<readonly string[]> = [
  ['models', 'dir'],
  ['server', 'tlsCert'],
  ['server', 'tlsKey'],
];

export function loadConfig(options: LoadConfigOptions = {}): Readonly<TheoConfig> {
  const env = options.env ?? process.env;
  const issues: string[] = [];
  const file = options.file ?? env.THEO_CONFIG;
  const cwd = process.cwd();
  let tree: Plain = {};
  if (file) tree = resolvePaths(readConfigFile(file), dirname(resolve(cwd, file)));
  tree = merge(tree, resolvePaths(envTree(env, issues), cwd));
  if (options.overrides) tree = merge(tree, resolvePaths(options.overrides, cwd));
  if (issues.length > 0) throw new ConfigError(issues, 'environment');

  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const messages = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ConfigError(messages, file);
  }
  return deepFreeze(result.data);
}

function readConfigFile(path: string): Plain {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read config file: ${errorMessage(err)}`], path);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text) as unknown; // YAML is a superset of JSON: one parser for both
  } catch (err) {
    throw new ConfigError([`not valid YAML/JSON: ${errorMessage(err)}`], path);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlain(parsed)) throw new ConfigError(['the top level must be a mapping'], path);
  return parsed;
}

function envTree(env: NodeJS.ProcessEnv, issues: string[]): Plain {
  let tree: Plain = {};
  for (const [name, path, type] of ENV_MAP) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (type === 'int') {
      if (!/^-?\d+$/.test(raw.trim())) {
        issues.push(`${name}=${JSON.stringify(raw)} is not an integer`);
        continue;
      }
      value = Number.parseInt(raw, 10);
    } else if (type === 'ports') {
      const ports = raw.split(',').map((p) => p.trim());
      if (!ports.every((p) => /^\d+$/.test(p))) {
        issues.push(`${name}=${JSON.stringify(raw)} is not a comma-separated list of ports`);
        continue;
      }
      value = ports.map(Number);
    } else if (type === 'bool') {
      const v = raw.trim().toLowerCase();
      if (!['1', '0', 'true', 'false', 'yes', 'no'].includes(v)) {
        issues.push(`${name}=${JSON.stringify(raw)} is not a boolean (true/false)`);
        continue;
      }
      value = v === '1' || v === 'true' || v === 'yes';
    }
    tree = merge(tree, nest(path, value));
  }
  return tree;
}

/** A copy of `tree` whose relative path values are resolved against `base`; other values as they are. */
function resolvePaths(tree: Plain, base: string): Plain {
  let out = tree;
  for (const path of PATH_KEYS) {
    let parent: unknown = tree;
    for (const k of path.slice(0, -1)) parent = isPlain(parent) ? parent[k] : undefined;
    const leaf = path[path.length - 1] as string;
    const value = isPlain(parent) ? parent[leaf] : undefined;
    // Not a string: left for the schema to reject with the key's name.
    if (typeof value === 'string' && value !== '' && !isAbsolute(value)) out = merge(out, nest(path, resolve(base, value)));
  }
  return out;
}

function nest(path: readonly string[], value: unknown): Plain {
  let out: unknown = value;
  for (let i = path.length - 1; i >= 0; i--) out = { [path[i] as string]: out };
  return out as Plain;
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge where `b` wins; undefined values in `b` leave `a` untouched (unset flags). */
export function merge(a: Plain, b: Plain): Plain {
  const out: Plain = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? merge(prev, v) : v;
  }
  return out;
}

function deepFreeze<T>(obj: T): Readonly<T> {
  if (isPlain(obj)) {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}
