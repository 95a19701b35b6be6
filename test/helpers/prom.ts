// Prometheus text exposition, read back: the runtime's own counters are what the fuzz and soak suites
// reconcile their inputs against, and its process_* / nodejs_* gauges are its memory.

/** Every sample of a scrape: `name{labels}` (labels as exposed) → value. */
export type Samples = Map<string, number>;

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/;

export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

/** The labels of a sample key (`a="x",b="y"` → {a: 'x', b: 'y'}). */
export function labelsOf(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = /\{(.*)\}$/.exec(key)?.[1] ?? '';
  for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** Samples of metric `name` (every label set) as label-string → value. */
export function series(s: Samples, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of s) {
    if (k === name || k.startsWith(`${name}{`)) out.set(k.slice(name.length), v);
  }
  return out;
}

/** Sum of metric `name` over the label sets that `where` accepts. */
export function total(s: Samples, name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
  let sum = 0;
  for (const [k, v] of series(s, name)) if (where(labelsOf(k))) sum += v;
  return sum;
}

/** after − before for every counter sample of `names` (a label set missing before counts from 0). */
export function delta(before: Samples, after: Samples, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    for (const [labels, v] of series(after, name)) {
      const d = v - (before.get(`${name}${labels}`) ?? 0);
      if (d !== 0) out[`${name}${labels}`] = d;
    }
  }
  return out;
}

export async function scrape(base: string, timeoutMs = 5000): Promise<Samples> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
  return parseMetrics(await res.text());
}
