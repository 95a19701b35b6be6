// The /metrics of a real `theo serve` (telephony fork and a webhook configured, so their metrics are
// registered too) through Prometheus's own linter, `promtool check metrics` (Debian package prometheus),
// and Theo's naming rule: every family is theo_*, or one of the process_* / nodejs_* defaults.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const dir = mkdtempSync(join(tmpdir(), 'theo-metrics-'));
let run: TheoRun | undefined;
let url = '';

beforeAll(async () => {
  const cfg = join(dir, 'theo.yaml');
  // Nothing listens on the webhook's port: no call happens, so nothing is ever sent there.
  writeFileSync(cfg, ['telephony:', '  fork:', '    ports: [43560]', '  webhooks:', '    - url: http://127.0.0.1:43561/hooks', 'rtp:', '  portMin: 43540', '  portMax: 43559', ''].join('\n'));
  ({ run, url } = await serveTheo(['--config', cfg, '--preload']));
}, 120_000);

afterAll(async () => {
  await stopTheo(run);
  rmSync(dir, { recursive: true, force: true });
});

describe('/metrics', () => {
  it('passes promtool check metrics, and every family but the process and Node.js defaults is theo_*', async () => {
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const text = await (await fetch(`${url}/metrics`)).text();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (lint.error) throw new Error(`cannot run promtool (Debian package prometheus): ${lint.error.message}`);
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);

    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    expect(families.length).toBeGreaterThan(40);
    expect(families.filter((f) => !/^(theo|process|nodejs)_/.test(f.name)).map((f) => f.name)).toEqual([]);
    // _total only on counters, and every counter ends in it.
    expect(families.filter((f) => f.name.endsWith('_total') !== (f.type === 'counter')).map((f) => f.name)).toEqual([]);
    for (const name of ['theo_worker_up', 'theo_rtp_packets_total', 'theo_session_ttfb_seconds', 'theo_calls_active', 'theo_webhook_deliveries_total', 'theo_ws_connections', 'theo_http_requests_total', 'nodejs_active_handles']) {
      expect(families.map((f) => f.name)).toContain(name);
    }
  });
});
