// The worker manager with real child processes (`theo worker` under tsx, fake engines): start and
// serve, crash during a request → typed error, restart, next request succeeds; a crash-looping worker
// failed and retried until repaired; worker tokens; stop() leaves no process; remote workers from config.
// Waits on events and polling, never on the clock.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { TheoError, WorkerUnavailableError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Registry } from '../../src/observability/metrics.js';
import type { ModelEntry } from '../../src/registry/manifest.js';
import { createSttClient } from '../../src/workers/client.js';
import { WorkerManager, type WorkerManagerOptions } from '../../src/workers/manager.js';
import type { FileTranscriptionRequest, WorkerStatus } from '../../src/workers/types.js';
import { pidAlive, spawnTestWorker, testWorkerCommand, waitUntil, writeTestModel, type SpawnedWorker } from '../helpers/test-engines.js';

const modelsDir = mkdtempSync(join(tmpdir(), 'theo-manager-it-'));
const managers: WorkerManager[] = [];
const spawned: SpawnedWorker[] = [];

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
  for (const w of spawned.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await w.exited;
  }
});

function workersConfig(over: Record<string, unknown> = {}): WorkerManagerOptions['config'] {
  return configSchema.parse({ workers: { startTimeoutMs: 30_000, stopTimeoutMs: 5_000, ...over } }).workers;
}

function manager(models: ModelEntry[], over: Partial<WorkerManagerOptions> = {}, config = workersConfig()): { m: WorkerManager; registry: Registry } {
  const registry = new Registry();
  const m = new WorkerManager({ config, models, command: testWorkerCommand, logger: silentLogger(), registry, backoff: { initialMs: 50, maxMs: 400 }, healthIntervalMs: 500, ...over });
  managers.push(m);
  return { m, registry };
}

function request(id: string, samples: number): FileTranscriptionRequest {
  return { requestId: id, audio: new Float32Array(samples).fill(0.5), sampleRate: 16000, task: 'transcribe', hotWords: [], temperature: 0, wordTimestamps: false, priority: 0 };
}

async function metric(registry: Registry, name: string, model: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => v.labels.model === model)?.value;
}

const statusOf = (m: WorkerManager, model: string): WorkerStatus => m.status().find((s) => s.model === model)!;

describe('WorkerManager', () => {
  it('spawns one worker per model, reports loading, then serves; status and metrics say so', async () => {
    const echo = writeTestModel(modelsDir, 'echo-a', { testEngine: 'echo', loadMs: 1000 });
    const batch = writeTestModel(modelsDir, 'batch-b', { testEngine: 'batch' });
    const { m, registry } = manager([echo, batch]);
    const states: string[] = [];
    m.on('state', (s) => {
      if (s.model === 'echo-a') states.push(s.state);
    });
    await m.start();
    const loading = (() => {
      try {
        m.client('echo-a');
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(loading).toBeInstanceOf(WorkerUnavailableError);
    expect((loading as WorkerUnavailableError).reason).toBe('loading');
    expect((loading as WorkerUnavailableError).retryAfter).toBeGreaterThan(0);
    expect(() => m.client('nope')).toThrow(expect.objectContaining({ code: 'model_not_found' }) as Error);

    await Promise.all([m.whenServing('echo-a', 30_000), m.whenServing('batch-b', 30_000)]);
    expect(states).toEqual(['serving']);
    const res = await m.client('echo-a').transcribeFile(request('r1', 160));
    expect(res.text).toBe('samples=160 rms=0.500');
    expect((await m.client('batch-b').transcribeFile(request('r2', 320))).text).toBe('samples=320 rms=0.500');

    const st = statusOf(m, 'echo-a');
    expect(st).toMatchObject({ model: 'echo-a', engine: 'test-echo', kind: 'local', state: 'serving', restarts: 0, device: 'cpu' });
    expect(st.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(st.capabilities?.sampleRate).toBe(16000);
    expect(pidAlive(st.pid!)).toBe(true);
    expect(await metric(registry, 'theo_worker_up', 'echo-a')).toBe(1);
    expect(await metric(registry, 'theo_worker_restarts_total', 'echo-a')).toBe(0);
  });

  it('a worker killed during a request: the request fails with WorkerUnavailableError, the worker restarts, the next request succeeds', async () => {
    const slow = writeTestModel(modelsDir, 'slow-k', { testEngine: 'slow', delayMs: 1500 });
    const { m, registry } = manager([slow]);
    await m.start();
    await m.whenServing('slow-k', 30_000);
    const first = statusOf(m, 'slow-k');
    const client = m.client('slow-k');
    const pending = client.transcribeFile(request('doomed', 100)).catch((e: unknown) => e);
    await client.health(); // the request has reached the worker
    process.kill(first.pid!, 'SIGKILL');
    const err = await pending;
    expect(err).toBeInstanceOf(WorkerUnavailableError);

    await waitUntil(() => statusOf(m, 'slow-k').state === 'serving' && statusOf(m, 'slow-k').restarts === 1, 'the restarted worker to serve');
    const second = statusOf(m, 'slow-k');
    expect(second.pid).not.toBe(first.pid);
    expect(second.lastError).toMatch(/killed by SIGKILL/);
    expect(pidAlive(first.pid!)).toBe(false);
    expect(await metric(registry, 'theo_worker_restarts_total', 'slow-k')).toBe(1);
    expect(await metric(registry, 'theo_worker_up', 'slow-k')).toBe(1);

    expect((await m.client('slow-k').transcribeFile(request('after', 100))).text).toBe('samples=100 rms=0.500');
  });

  it('the next request succeeds after a crash and restart (echo engine)', async () => {
    const crash = writeTestModel(modelsDir, 'crash-c', { testEngine: 'crash', delayMs: 50 });
    const { m } = manager([crash]);
    await m.start();
    await m.whenServing('crash-c', 30_000);
    const audio = new Float32Array([0.123, 0]);
    const err = await m
      .client('crash-c')
      .transcribeFile({ ...request('boom', 2), audio })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerUnavailableError);
    await waitUntil(() => statusOf(m, 'crash-c').restarts === 1, 'a restart');
    await m.whenServing('crash-c', 30_000);
    expect(statusOf(m, 'crash-c').lastError).toMatch(/exited with code 70/);
    expect((await m.client('crash-c').transcribeFile(request('ok', 40))).text).toBe('samples=40 rms=0.500');
  });

  it('a worker that keeps crashing is failed, retried with a capped backoff for as long as it takes, and serves once repaired', async () => {
    const broken = join(modelsDir, 'crashloop.broken');
    writeFileSync(broken, '');
    const entry = writeTestModel(modelsDir, 'crashloop-d', { testEngine: 'echo', failLoadWhile: broken });
    const { m, registry } = manager([entry], {}, workersConfig({ maxRestarts: 2, restartWindowMs: 600_000, retryMaxMs: 1000 }));
    const logged: string[] = [];
    await m.start();
    m.on('state', (s) => logged.push(s.state));

    // Down: a waiting caller hears it at once, with the reason and when the next retry comes.
    const err = await m.whenServing('crashloop-d', 120_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerUnavailableError);
    expect((err as WorkerUnavailableError).reason).toBe('failed');
    expect((err as Error).message).toMatch(/model 'crashloop-d' is down: its worker went down 3 times within 600 s \(last: worker exited with code 2: model failed to load: test engine: .* exists\); (next retry in \d+ s|a retry is starting)/);
    const down = m.down('crashloop-d');
    expect(down?.reason).toBe('failed');
    // Retry-After follows the retry backoff (capped at retryMaxMs = 1 s) and this worker's start (never seen: 5 s).
    expect(down?.retryAfter).toBeGreaterThanOrEqual(1);
    expect(down?.retryAfter).toBeLessThanOrEqual(6);
    expect(() => m.client('crashloop-d')).toThrow(/is down/);
    expect(m.dead()).toEqual([{ model: 'crashloop-d', reason: expect.stringMatching(/went down \d+ times/) as string, retryAfterS: expect.any(Number) as number }]);
    expect(statusOf(m, 'crashloop-d')).toMatchObject({ state: 'failed', retryAfterS: expect.any(Number) as number });

    // Never given up: the restarts go on past maxRestarts while the model stays failed.
    await waitUntil(() => statusOf(m, 'crashloop-d').restarts >= 5, 'retries past maxRestarts', 90_000);
    expect(statusOf(m, 'crashloop-d').state).toBe('failed');
    expect(await metric(registry, 'theo_worker_restarts_total', 'crashloop-d')).toBeGreaterThanOrEqual(5);
    expect(await metric(registry, 'theo_worker_up', 'crashloop-d')).toBe(0);

    // Repaired: the next retry serves, and the model is no longer dead.
    rmSync(broken);
    await waitUntil(() => statusOf(m, 'crashloop-d').state === 'serving', 'a retry to serve', 90_000);
    expect(m.dead()).toEqual([]);
    expect(m.down('crashloop-d')).toBeUndefined();
    expect((await m.client('crashloop-d').transcribeFile(request('back', 40))).text).toBe('samples=40 rms=0.500');
    expect(logged.at(-1)).toBe('serving');
    expect(await metric(registry, 'theo_worker_up', 'crashloop-d')).toBe(1);
  }, 180_000);

  it("a local worker's gRPC port refuses calls without its token, Health included; the manager's own calls carry it", async () => {
    const entry = writeTestModel(modelsDir, 'auth-a', { testEngine: 'echo' });
    const { m } = manager([entry]);
    await m.start();
    await m.whenServing('auth-a', 30_000);
    const { address } = statusOf(m, 'auth-a');
    for (const token of [undefined, 'not-the-token-of-this-worker']) {
      const stranger = createSttClient({ model: 'auth-a', address, logger: silentLogger(), token });
      try {
        await expect(stranger.health()).rejects.toThrow(/(missing|wrong) worker token/);
        await expect(stranger.transcribeFile(request('no', 10))).rejects.toThrow(/(missing|wrong) worker token/);
        await expect(stranger.cancel('x')).rejects.toThrow(/(missing|wrong) worker token/);
        const stream = stranger.openStream({ sessionId: 's', sampleRate: 16000, interimResults: false });
        stream.end();
        await expect((async () => {
          for await (const ev of stream) void ev;
        })()).rejects.toThrow(/(missing|wrong) worker token/);
      } finally {
        stranger.close();
      }
    }
    expect((await m.client('auth-a').transcribeFile(request('yes', 10))).text).toBe('samples=10 rms=0.500');
  });

  it('stop() leaves no worker process behind, also with a request running, and is safe twice', async () => {
    const a = writeTestModel(modelsDir, 'stop-a', { testEngine: 'echo' });
    const b = writeTestModel(modelsDir, 'stop-b', { testEngine: 'slow', delayMs: 30_000 });
    const { m, registry } = manager([a, b], {}, workersConfig({ stopTimeoutMs: 500 }));
    await m.start();
    await Promise.all([m.whenServing('stop-a', 30_000), m.whenServing('stop-b', 30_000)]);
    const pids = m.status().map((s) => s.pid!);
    expect(pids.every((p) => pidAlive(p))).toBe(true);
    const running = m.client('stop-b').transcribeFile(request('long', 10)).catch((e: unknown) => e);
    await Promise.all([m.stop(), m.stop()]);
    expect(pids.filter((p) => pidAlive(p))).toEqual([]);
    expect(m.status().map((s) => s.state)).toEqual(['stopped', 'stopped']);
    expect(await running).toBeInstanceOf(TheoError);
    expect(() => m.client('stop-a')).toThrow(WorkerUnavailableError);
    expect(await metric(registry, 'theo_worker_up', 'stop-a')).toBe(0);
  });

  it('keeps serving a worker whose Health answers late while it is busy, and does not restart it', async () => {
    // A 2.5 s synchronous decode: a Health call (1 s deadline here) runs out while the worker is stuck, but
    // not the three in a row that mean "hung".
    const entry = writeTestModel(modelsDir, 'block-b', { testEngine: 'block', delayMs: 2500 });
    const { m, registry } = manager([entry], { healthTimeoutMs: 1000 });
    await m.start();
    await m.whenServing('block-b', 30_000);
    const pid = statusOf(m, 'block-b').pid;
    const seen = new Set<string>();
    const poll = setInterval(() => seen.add(statusOf(m, 'block-b').state), 25);
    try {
      const r = await m.client('block-b').transcribeFile(request('busy', 80));
      expect(r.text).toBe('samples=80 rms=0.500');
      await new Promise((resolve) => setTimeout(resolve, 600)); // a Health round after the decode
    } finally {
      clearInterval(poll);
    }
    expect([...seen]).toEqual(['serving']);
    expect(statusOf(m, 'block-b').pid).toBe(pid);
    expect(await metric(registry, 'theo_worker_restarts_total', 'block-b')).toBe(0);
    await m.stop();
  });

  it('connects a remote worker from config.remote with the shared workers.token, health-polls it, never spawns it', async () => {
    const token = 'shared-remote-token-0123456789';
    const entry = writeTestModel(modelsDir, 'remote-e', { testEngine: 'echo' });
    const remote = await spawnTestWorker(entry, [], { token, tokenVia: 'env' });
    spawned.push(remote);
    const { m } = manager([], {}, workersConfig({ token, remote: [{ model: 'remote-e', address: remote.address }] }));
    await m.start();
    await m.whenServing('remote-e', 30_000);
    expect(statusOf(m, 'remote-e')).toMatchObject({ kind: 'remote', address: remote.address, state: 'serving', pid: undefined, engine: 'test-echo' });
    expect((await m.client('remote-e').transcribeFile(request('rr', 80))).text).toBe('samples=80 rms=0.500');

    // The remote worker goes away: the manager notices and reports it unavailable; stop() leaves it alone otherwise.
    remote.child.kill('SIGKILL');
    await remote.exited;
    await expect(m.client('remote-e').transcribeFile(request('gone', 80))).rejects.toBeInstanceOf(WorkerUnavailableError);
    await waitUntil(() => statusOf(m, 'remote-e').state !== 'serving', 'the manager to notice');
    expect(() => m.client('remote-e')).toThrow(WorkerUnavailableError);
    // A remote model down is not this process's to repair: /health's liveness rule leaves it out.
    expect(m.dead()).toEqual([]);
    await m.stop();
    expect(statusOf(m, 'remote-e').state).toBe('stopped');
  });

  it('a remote worker never serves a runtime without the shared token, and says why', async () => {
    const entry = writeTestModel(modelsDir, 'remote-t', { testEngine: 'echo' });
    const remote = await spawnTestWorker(entry, [], { token: 'the-right-shared-token-42', tokenVia: 'env' });
    spawned.push(remote);
    const { m } = manager([], {}, workersConfig({ startTimeoutMs: 1000, token: 'a-wrong-shared-token-4242', remote: [{ model: 'remote-t', address: remote.address }] }));
    await m.start();
    await waitUntil(() => statusOf(m, 'remote-t').state === 'failed', 'the remote worker to be failed');
    expect(statusOf(m, 'remote-t').lastError).toMatch(/wrong worker token/);
  });
});
