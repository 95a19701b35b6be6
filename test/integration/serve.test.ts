// `theo serve` as a user runs it: flags and env for the address, /health and /metrics, clean shutdown,
// and a clear message for bad configuration.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTheo } from '../helpers/theo.js';

describe('theo serve', () => {
  it('serves /health and /metrics on the given port and stops cleanly on SIGTERM', async () => {
    const run = runTheo(['serve', '--port', '0', '--rtp-ports', '41700-41799']);
    const line = await run.waitForLine(/listening on/);
    const url = /listening on (\S+)/.exec(line)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = (await (await fetch(`${url}/health`)).json()) as { status: string; components: { rtp: { ports_capacity: number; port_range: string } } };
    expect(health.status).toBe('ok');
    expect(health.components.rtp.ports_capacity).toBe(50);
    expect(health.components.rtp.port_range).toBe('41700-41799');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^rtp_active_streams 0$/m);
    expect(metrics).toMatch(/^# TYPE rtp_packets_total counter$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);
    const missing = await fetch(`${url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/no route for GET \/nope/);
    run.child.kill('SIGTERM');
    const done = await run.done;
    expect(done.code).toBe(0);
  });

  it('takes the address from THEO_HOST/THEO_PORT and a config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'theo-serve-'));
    const file = join(dir, 'theo.yaml');
    writeFileSync(file, 'server:\n  port: 1\nrtp:\n  portMin: 41800\n  portMax: 41809\n');
    const run = runTheo(['serve', '--config', file], { THEO_PORT: '0', THEO_HOST: '127.0.0.1' });
    const line = await run.waitForLine(/listening on/);
    const url = /listening on (\S+)/.exec(line)![1]!;
    const health = (await (await fetch(`${url}/health`)).json()) as { components: { rtp: { port_range: string } } };
    expect(health.components.rtp.port_range).toBe('41800-41809');
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(0);
  });

  it('refuses bad configuration with one clear line and exit code 1', async () => {
    const bad = await runTheo(['serve'], { THEO_PORT: 'eighty' }).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/theo: invalid configuration.*THEO_PORT="eighty" is not an integer/s);
    expect(bad.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    const flag = await runTheo(['serve', '--port', 'x']).done;
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toMatch(/--port must be an integer/);
  });
});
