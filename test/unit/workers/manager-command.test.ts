// The default worker command runs `theo worker` with this Node, the model's folder and the manager's address;
// the worker's token is not among its arguments (anyone can read those with ps): it reads it from stdin.
import { describe, expect, it } from 'vitest';
import { THEO_BIN, defaultWorkerCommand } from '../../../src/workers/manager.js';
import { ROOT } from '../../helpers/theo.js';
import { PROTO_DIR } from '../../../src/workers/proto.js';

describe('defaultWorkerCommand', () => {
  it('spawns bin/theo.js worker with the model, its folder, host, port, log level, config file, and the token on stdin', () => {
    const entry = { manifest: { name: 'm1' }, dir: '/models/m1', files: {} } as unknown as Parameters<typeof defaultWorkerCommand>[0];
    const cmd = defaultWorkerCommand(entry, { host: '127.0.0.1', port: 0, logLevel: 'warn', configFile: '/etc/theo.yaml' });
    expect(cmd.file).toBe(process.execPath);
    expect(cmd.args).toEqual([THEO_BIN, 'worker', '--model', 'm1', '--model-dir', '/models/m1', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', '--watch-stdin', '--token-stdin', '--config', '/etc/theo.yaml']);
    expect(THEO_BIN).toBe(`${ROOT}bin/theo.js`);
    expect(PROTO_DIR).toBe(`${ROOT}proto/`);
  });
});
