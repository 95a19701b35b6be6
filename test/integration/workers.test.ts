// `theo worker` as a real process (run under tsx with the fake engines of test/helpers/test-engines.ts):
// the listening line, Health LOADING → SERVING, a round trip, graceful SIGTERM, a crash that ends the
// process with a non-zero code, a model that fails to load, the worker token.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerUnavailableError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createSttClient, type GrpcSttClient } from '../../src/workers/client.js';
import { EXIT_LOAD_FAILED, EXIT_UNCAUGHT } from '../../src/workers/worker-main.js';
import type { FileTranscriptionRequest } from '../../src/workers/types.js';
import { CRASH_MAGIC, pidAlive, spawnTestWorker, waitUntil, writeTestModel, type SpawnedWorker } from '../helpers/test-engines.js';

const logger = silentLogger();
const modelsDir = mkdtempSync(join(tmpdir(), 'theo-workers-it-'));
const workers: SpawnedWorker[] = [];
const clients: GrpcSttClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const w of workers.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await w.exited;
  }
});

async function start(name: string, options: Record<string, string | number | boolean>): Promise<{ worker: SpawnedWorker; client: GrpcSttClient }> {
  const worker = await spawnTestWorker(writeTestModel(modelsDir, name, options));
  workers.push(worker);
  const client = createSttClient({ model: name, address: worker.address, logger, token: worker.token });
  clients.push(client);
  return { worker, client };
}

function request(id: string, audio: Float32Array): FileTranscriptionRequest {
  return { requestId: id, audio, sampleRate: 16000, task: 'transcribe', hotWords: [], temperature: 0, wordTimestamps: false, priority: 0 };
}

describe('theo worker process', () => {
  it('prints its port, says LOADING then SERVING, transcribes, and stops with code 0 on SIGTERM after finishing the running request', async () => {
    const { worker, client } = await start('echo-proc', { testEngine: 'slow', delayMs: 500, loadMs: 1500 });
    expect(worker.stdout()).toMatch(/^\{"event":"listening","port":\d+,"pid":\d+\}\n/);
    expect((await client.health()).status).toBe('LOADING');
    await waitUntil(async () => (await client.health()).serving, 'SERVING');
    expect(worker.stdout()).toContain('{"event":"serving"}');

    const running = client.transcribeFile(request('r1', new Float32Array(800).fill(0.25)));
    // A Health answer on the same connection means the worker has taken the request sent before it.
    await client.health();
    worker.child.kill('SIGTERM');
    expect((await running).text).toBe('samples=800 rms=0.250');
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('an uncaught engine exception ends the worker with a non-zero code; the call fails with WorkerUnavailableError', async () => {
    const { worker, client } = await start('crash-proc', { testEngine: 'crash', delayMs: 100 });
    await waitUntil(async () => (await client.health()).serving, 'SERVING');
    expect((await client.transcribeFile(request('ok', new Float32Array(10)))).text).toBe('samples=10 rms=0.000');
    const err = await client.transcribeFile(request('boom', new Float32Array([CRASH_MAGIC, 0]))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerUnavailableError);
    const exit = await worker.exited;
    expect(exit.code).toBe(EXIT_UNCAUGHT);
    expect(worker.stdout()).toMatch(/"event":"error","message":"uncaught exception: test engine crashed on the magic input"/);
    expect(pidAlive(worker.child.pid!)).toBe(false);
  });

  it('a model that fails to load ends the worker with EXIT_LOAD_FAILED and says why', async () => {
    const { worker } = await start('fail-proc', { testEngine: 'echo', failLoad: true });
    const exit = await worker.exited;
    expect(exit.code).toBe(EXIT_LOAD_FAILED);
    expect(worker.stdout()).toMatch(/model failed to load: test engine: failLoad is set/);
  });

  it('takes its token from stdin, never from its command line or environment, and refuses calls without it', async () => {
    const { worker, client } = await start('token-proc', { testEngine: 'echo' });
    await waitUntil(async () => (await client.health()).serving, 'SERVING');
    const pid = worker.child.pid!;
    // What `ps` and other users see of a process: its command line (and, for its own user, its environment).
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(worker.token);
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).not.toContain(worker.token);
    const bare = createSttClient({ model: 'token-proc', address: worker.address, logger });
    clients.push(bare);
    const err = await bare.health().catch((e: unknown) => e);
    expect(String(err)).toMatch(/missing worker token/);
    expect(((err as Error).cause as { code?: number }).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('a worker run by hand needs workers.token, and says so', async () => {
    const entry = writeTestModel(modelsDir, 'tokenless', { testEngine: 'echo' });
    const err = await spawnTestWorker(entry, [], { tokenVia: 'env', env: { THEO_WORKER_TOKEN: '' } }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/a worker needs a token: set workers.token \(env THEO_WORKER_TOKEN\)/);
  });

  it('rejects an unknown model with a clear message', async () => {
    const entry = writeTestModel(modelsDir, 'named-x', { testEngine: 'echo' });
    const err = await spawnTestWorker({ ...entry, manifest: { ...entry.manifest, name: 'other' } }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/names model 'named-x', not 'other'/);
  });
});
