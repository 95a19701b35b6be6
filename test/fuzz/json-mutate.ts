// Structure-aware mutation of JSON messages (WebSocket client events, ARI events): a node of the tree is
// deleted, retyped, replaced by an interesting value, duplicated under another key, or nested deeply; the
// text may then be cut or byte-mutated so that it is no longer JSON at all.
import type { Prng } from '../../src/util/prng.js';
import { INTERESTING_STRINGS, pick } from './mutate.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const INTERESTING_JSON: readonly Json[] = [null, true, false, 0, -1, 1, 0.5, -0.0, 1e308, -1e308, 2 ** 53, 2 ** 31, 65536, 48000, 8000, '', 'x', [], {}, [null], { a: 1 }, ...INTERESTING_STRINGS.slice(0, 20)];

/** A fresh copy: the table's arrays and objects must never be shared into (and then mutated in) a message. */
function interesting(prng: Prng): Json {
  return structuredClone(pick(prng, INTERESTING_JSON));
}

function isObject(x: Json): x is { [k: string]: Json } {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Every container of the tree with a key (or index) under it: the places a mutation can land. */
function slots(root: Json, out: Array<{ parent: { [k: string]: Json } | Json[]; key: string | number }> = [], depth = 0): typeof out {
  if (depth > 32) return out;
  if (Array.isArray(root)) {
    root.forEach((v, i) => {
      out.push({ parent: root, key: i });
      slots(v, out, depth + 1);
    });
  } else if (isObject(root)) {
    for (const [k, v] of Object.entries(root)) {
      out.push({ parent: root, key: k });
      slots(v, out, depth + 1);
    }
  }
  return out;
}

/**
 * Arrays nested `depth` deep. JSON.parse takes any depth but JSON.stringify overflows the stack past a few
 * thousand levels, so the value is a marker that toText() expands in the text.
 */
export function deep(depth: number): Json {
  return `\u0000DEEP${depth}\u0000`;
}

/** The message as JSON text, deep markers expanded. */
export function toText(msg: Json): string {
  return JSON.stringify(msg).replace(/"\\u0000DEEP(\d+)\\u0000"/g, (_m, n: string) => `${'['.repeat(Number(n))}0${']'.repeat(Number(n))}`);
}

function get(parent: { [k: string]: Json } | Json[], key: string | number): Json {
  return Array.isArray(parent) ? (parent[key as number] ?? null) : (parent[key as string] ?? null);
}

function set(parent: { [k: string]: Json } | Json[], key: string | number, v: Json): void {
  if (Array.isArray(parent)) parent[key as number] = v;
  else parent[key as string] = v;
}

/** One to three structural mutations of a copy of `msg`. */
export function mutateJson(prng: Prng, msg: Json, extraKeys: readonly string[] = []): Json {
  const root = structuredClone(msg);
  const n = 1 + prng.int(3);
  for (let k = 0; k < n; k++) {
    const all = slots(root);
    if (all.length === 0) return interesting(prng);
    const { parent, key } = pick(prng, all);
    const cur = get(parent, key);
    switch (prng.int(8)) {
      case 0:
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case 1:
        set(parent, key, interesting(prng));
        break;
      case 2:
        // the same value as another type: "16000" for 16000, [x] for x, {value: x}
        set(parent, key, typeof cur === 'number' ? String(cur) : typeof cur === 'string' ? (Number(cur) || cur.length) : prng.chance(0.5) ? [structuredClone(cur)] : { value: structuredClone(cur) });
        break;
      case 3:
        // A copy: a shared node could later be made a child of itself.
        if (isObject(parent)) parent[pick(prng, [...extraKeys, 'unknown_field', '__proto__', 'constructor', 'type', 'event_id'])] = structuredClone(cur);
        else parent.push(structuredClone(cur));
        break;
      case 4:
        set(parent, key, deep(prng.chance(0.98) ? 1 + prng.int(64) : 1000 + prng.int(20_000)));
        break;
      case 5:
        if (typeof cur === 'string') set(parent, key, cur.repeat(1 + prng.int(prng.chance(0.98) ? 4 : 5000)));
        else if (Array.isArray(cur)) set(parent, key, Array.from({ length: prng.chance(0.98) ? prng.int(300) : 10_000 }, () => structuredClone(cur[0] ?? 'w')));
        else set(parent, key, interesting(prng));
        break;
      case 6:
        if (typeof cur === 'number') set(parent, key, pick(prng, [cur + 1, cur - 1, -cur, cur * 1000, cur / 3, 0]));
        else set(parent, key, interesting(prng));
        break;
      default:
        if (typeof cur === 'string' && cur.length > 0) {
          const at = prng.int(cur.length);
          set(parent, key, cur.slice(0, at) + String.fromCharCode(prng.int(0x10000)) + cur.slice(at + 1));
        } else set(parent, key, interesting(prng));
    }
  }
  return root;
}

/** JSON text that is not quite JSON: cut, an extra comma or brace, a BOM, NaN. */
export function breakJson(prng: Prng, text: string): string {
  switch (prng.int(6)) {
    case 0:
      return text.slice(0, prng.int(text.length));
    case 1:
      return `${text},`;
    case 2:
      return `\uFEFF${text}`;
    case 3:
      return text.replace(/\d+/, 'NaN');
    case 4:
      return `${text}${text}`;
    default:
      return text.replace(/"/, "'");
  }
}
