import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { faultHandlers } from '../../../src/cli/process-guards.js';
import { ROOT, THEO_BIN, THEO_NODE_FLAGS } from '../../helpers/theo.js';

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function faults(registry: Registry): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('theo_process_faults_total')?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.kind), v.value]));
}

describe('runtime fault handlers', () => {
  const exitCode = process.exitCode;
  afterEach(() => {
    process.exitCode = exitCode;
  });

  it('an unhandled rejection is logged with its stack and counted, and nothing shuts down', async () => {
    const { logger, lines } = capture();
    const registry = new Registry();
    let shutdowns = 0;
    const h = faultHandlers({ logger, registry, shutdown: () => shutdowns++, shutdownBoundMs: 60_000 });
    expect(await faults(registry)).toEqual({ unhandled_rejection: 0, uncaught_exception: 0 });
    h.onRejection(new Error('lost promise'));
    h.onRejection('a string reason');
    expect(await faults(registry)).toEqual({ unhandled_rejection: 2, uncaught_exception: 0 });
    expect(shutdowns).toBe(0);
    expect(process.exitCode).toBe(exitCode);
    expect(lines[0]).toMatchObject({ level: 50, msg: expect.stringMatching(/unhandled promise rejection/) as string, err: { message: 'lost promise', stack: expect.stringMatching(/lost promise/) as string } });
  });

  it('an uncaught exception is fatal: logged, counted, one graceful shutdown, exit code 1', async () => {
    const { logger, lines } = capture();
    const registry = new Registry();
    let shutdowns = 0;
    const h = faultHandlers({ logger, registry, shutdown: () => shutdowns++, shutdownBoundMs: 60_000 });
    h.onException(new TypeError('broken state'));
    h.onException(new TypeError('another while shutting down'));
    expect(shutdowns).toBe(1);
    expect(process.exitCode).toBe(1);
    expect(await faults(registry)).toEqual({ unhandled_rejection: 0, uncaught_exception: 2 });
    expect(lines.filter((l) => l.level === 60)).toHaveLength(2);
  });
});

describe('the standard streams', () => {
  it('a reader that goes away (`theo … | head`) ends the command quietly, exit code 0', async () => {
    const child = spawn(process.execPath, [...THEO_NODE_FLAGS, THEO_BIN, 'itn', 'one two three '.repeat(2_000)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.destroy(); // the reader is gone before the command writes
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|Unhandled 'error'/);
    expect(code).toBe(0);
  });
});
