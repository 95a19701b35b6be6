// The one Prometheus registry of a process. Components register their metrics on the registry they
// are given; hot paths keep plain counters and expose them through collect() at scrape time, so a
// packet never pays for a labelled prom-client increment.
import { Registry, collectDefaultMetrics } from 'prom-client';

export { Registry };

export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
