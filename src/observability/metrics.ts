// The one Prometheus registry of a process. Components register their metrics on the registry they
// are given; hot paths keep plain counters and expose them through collect() at scrape time, so a
// packet never pays for a labelled prom-client increment. Naming: theo_ prefix, the unit in the name
// (_seconds, _bytes, _samples, _ratio), _total only on counters; `promtool check metrics` passes.
import { Registry, collectDefaultMetrics } from 'prom-client';

export { Registry };

/**
 * prom-client's default gauges that end in _total, which Prometheus keeps for counters (promtool rejects
 * them). Each is the sum of the labelled gauge of the same name without the suffix, which stays.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  }
  return registry;
}
