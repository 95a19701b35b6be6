import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors/index.js';

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'theo-config-'));
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('loadConfig', () => {
  it('gives the documented defaults with no input', () => {
    const c = loadConfig({ env: {} });
    expect(c.server).toEqual({ host: '127.0.0.1', port: 8000, drainTimeoutMs: 10_000 });
    expect(c.rtp.portMin).toBe(40000);
    expect(c.rtp.portMax).toBe(40999);
    expect(c.rtp.jitter).toEqual({ mode: 'adaptive', depthMs: 60, minDepthMs: 20, maxDepthMs: 200, capacity: 256 });
    expect(c.log.level).toBe('info');
  });

  it('layers file < env < flags', () => {
    const file = tmpFile('theo.yaml', 'server:\n  host: 0.0.0.0\n  port: 9000\nrtp:\n  portMin: 50000\n  portMax: 50100\n');
    const fromFile = loadConfig({ file, env: {} });
    expect(fromFile.server).toMatchObject({ host: '0.0.0.0', port: 9000 });
    const fromEnv = loadConfig({ file, env: { THEO_PORT: '9100', THEO_RTP_PORT_MAX: '50200' } });
    expect(fromEnv.server.port).toBe(9100);
    expect(fromEnv.rtp.portMax).toBe(50200);
    expect(fromEnv.rtp.portMin).toBe(50000);
    const fromFlags = loadConfig({ file, env: { THEO_PORT: '9100' }, overrides: { server: { port: 9200, host: undefined } } });
    expect(fromFlags.server).toMatchObject({ host: '0.0.0.0', port: 9200 });
  });

  it('reads THEO_CONFIG when no file is given, and accepts JSON', () => {
    const file = tmpFile('theo.json', JSON.stringify({ server: { port: 8123 } }));
    expect(loadConfig({ env: { THEO_CONFIG: file } }).server.port).toBe(8123);
  });

  it('telephony: fork ports and the ARI controller from the environment, with clear errors for half an ARI setup', () => {
    const c = loadConfig({ env: { THEO_RTP_FORK_PORTS: '41000, 41002', THEO_ARI_URL: 'http://10.0.0.2:8088', THEO_ARI_USER: 'theo', THEO_ARI_PASSWORD: 'pw' } });
    expect(c.telephony.fork.ports).toEqual([41000, 41002]);
    expect(c.telephony.ari).toEqual({ url: 'http://10.0.0.2:8088', user: 'theo', password: 'pw', app: 'theo', format: 'ulaw', transcriptVariable: 'THEO_TRANSCRIPT', userEvent: 'TheoTranscript', split: 'mixed' });
    expect(loadConfig({ env: {} }).telephony).toMatchObject({ fork: { ports: [], allow: [] }, webhooks: [], denoise: 'auto' });
    expect(loadConfig({ env: {} }).telephony.ari).toBeUndefined();
    expect(() => loadConfig({ env: { THEO_ARI_URL: 'http://10.0.0.2:8088' } })).toThrow(/the ARI user is required with --ari-url[\s\S]*the ARI password is required/);
    expect(() => loadConfig({ env: { THEO_RTP_FORK_PORTS: '41000,x' } })).toThrow(/THEO_RTP_FORK_PORTS="41000,x" is not a comma-separated list of ports/);
  });

  it('call admission: fork limits and the shares of the session pool, with defaults and clear errors', () => {
    const c = loadConfig({ env: {} });
    expect(c.telephony.fork).toEqual({ ports: [], allow: [], probationPackets: 5, maxPendingPerAddress: 128, maxCallsPerAddress: 0 });
    expect(c.sessions.shares).toEqual({ calls: 0.8, fork: 0.5 });
    const set = loadConfig({ env: {}, overrides: { sessions: { shares: { calls: 0.9, fork: 0.9 } }, telephony: { fork: { probationPackets: 3, maxCallsPerAddress: 500 } } } });
    expect(set.sessions.shares).toEqual({ calls: 0.9, fork: 0.9 });
    expect(set.telephony.fork).toMatchObject({ probationPackets: 3, maxPendingPerAddress: 128, maxCallsPerAddress: 500 });
    expect(() => loadConfig({ env: {}, overrides: { sessions: { shares: { calls: 0.3, fork: 0.5 } } } })).toThrow(/sessions\.shares: sessions\.shares\.fork must be <= sessions\.shares\.calls/);
    expect(() => loadConfig({ env: {}, overrides: { sessions: { shares: { calls: 1.5 } } } })).toThrow(/sessions\.shares\.calls/);
    expect(() => loadConfig({ env: {}, overrides: { telephony: { fork: { probationPackets: 1 } } } })).toThrow(/telephony\.fork\.probationPackets/);
    expect(() => loadConfig({ env: {}, overrides: { telephony: { webhooks: [{ url: 'http://x/', name: 'no spaces' }] } } })).toThrow(/a webhook name is 1-64 letters/);
  });

  it('telephony: the SIP adapter from the environment or overrides, with defaults, clear errors and valid number rules', () => {
    const c = loadConfig({ env: { THEO_DRACHTIO_HOST: '10.0.0.3', THEO_DRACHTIO_PORT: '9023', THEO_DRACHTIO_SECRET: 'cymru' } });
    expect(c.telephony.sip).toEqual({ host: '10.0.0.3', port: 9023, secret: 'cymru', codecs: ['PCMU', 'PCMA', 'L16'], maxCalls: 500, ringMs: 0, mediaTimeoutMs: 30_000, allow: [], pingIntervalMs: 15_000, numbers: [] });
    expect(loadConfig({ env: {} }).telephony.sip).toBeUndefined();
    expect(() => loadConfig({ env: { THEO_DRACHTIO_HOST: '10.0.0.3' } })).toThrow(/drachtio-server's shared secret is required with the SIP adapter \(--drachtio-secret, THEO_DRACHTIO_SECRET\)/);
    const rules = loadConfig({ env: {}, overrides: { telephony: { sip: { secret: 's', numbers: [{ match: '^\\+34', language: 'es' }] } } } });
    expect(rules.telephony.sip?.numbers).toEqual([{ match: '^\\+34', language: 'es' }]);
    expect(() => loadConfig({ env: {}, overrides: { telephony: { sip: { secret: 's', numbers: [{ match: '(' }] } } } })).toThrow(/not a valid regular expression/);
    expect(() => loadConfig({ env: {}, overrides: { telephony: { sip: { secret: 's', pingIntervalMs: 1000 } } } })).toThrow(/pingIntervalMs/);
  });

  it('workers: the shared token from THEO_WORKER_TOKEN, a failed worker retried every 60 s at most, and local workers on loopback only', () => {
    const c = loadConfig({ env: { THEO_WORKER_TOKEN: 'a-shared-secret-of-some-length' } });
    expect(c.workers).toMatchObject({ host: '127.0.0.1', token: 'a-shared-secret-of-some-length', retryMaxMs: 60_000, maxRestarts: 5, restartWindowMs: 60_000 });
    expect(loadConfig({ env: {} }).workers.token).toBeUndefined();
    for (const host of ['127.0.0.2', '::1', 'localhost']) expect(loadConfig({ env: {}, overrides: { workers: { host } } }).workers.host).toBe(host);
    for (const host of ['0.0.0.0', '10.0.0.5', '::', 'gpu-1.internal']) {
      expect(() => loadConfig({ env: {}, overrides: { workers: { host } } })).toThrow(/workers\.host: local workers bind loopback only/);
    }
    expect(() => loadConfig({ env: { THEO_WORKER_TOKEN: 'short' } })).toThrow(/workers\.token must be at least 16 characters/);
    expect(() => loadConfig({ env: { THEO_WORKER_TOKEN: 'has a space in the middle' } })).toThrow(/workers\.token must not contain spaces/);
    expect(() => loadConfig({ env: {}, overrides: { workers: { retryMaxMs: 10 } } })).toThrow(/workers\.retryMaxMs/);
  });

  it('freezes the result', () => {
    const c = loadConfig({ env: {} });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.rtp.jitter)).toBe(true);
  });

  it.each([
    [{ THEO_PORT: 'eighty' }, /THEO_PORT="eighty" is not an integer/],
    [{ THEO_PORT: '70000' }, /server\.port/],
    [{ THEO_LOG_LEVEL: 'loud' }, /log\.level/],
    [{ THEO_RTP_PORT_MIN: '41000', THEO_RTP_PORT_MAX: '40000' }, /portMin must be <= rtp\.portMax/],
  ])('rejects bad environment %j with a clear message', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('rejects unknown keys, bad YAML and a missing file, naming the file', () => {
    const unknown = tmpFile('a.yaml', 'server:\n  prot: 1\n');
    expect(() => loadConfig({ file: unknown, env: {} })).toThrow(/Unrecognized key.*prot|prot/);
    const bad = tmpFile('b.yaml', 'server: [1, 2\n');
    expect(() => loadConfig({ file: bad, env: {} })).toThrow(/not valid YAML\/JSON/);
    expect(() => loadConfig({ file: '/nonexistent/theo.yaml', env: {} })).toThrow(/cannot read config file.*\/nonexistent\/theo.yaml/s);
    const list = tmpFile('c.yaml', '- 1\n- 2\n');
    expect(() => loadConfig({ file: list, env: {} })).toThrow(/top level must be a mapping/);
  });

  it('has the streaming defaults, takes VAD sensitivity and the session limit from the environment, and checks them', () => {
    const d = loadConfig({ env: {} });
    expect(d.vad).toEqual({ sensitivity: 'normal', minSpeechMs: 250, minSilenceMs: 300, maxSegmentMs: 30000, speechPadMs: 200 });
    expect(d.sessions.timeouts).toEqual({ initMs: 30000, silenceMs: 30000, holdMs: 300000, closingMs: 2000 });
    expect([d.sessions.max, d.sessions.bufferSeconds, d.sessions.forceCommitRatio, d.sessions.contextTokens]).toEqual([1000, 60, 0.9, 224]);
    const env = loadConfig({ env: { THEO_VAD_SENSITIVITY: 'high', THEO_MAX_SESSIONS: '50' } });
    expect([env.vad.sensitivity, env.sessions.max]).toEqual(['high', 50]);
    expect(() => loadConfig({ env: { THEO_VAD_SENSITIVITY: 'extreme' } })).toThrow(/vad\.sensitivity/);
    expect(() => loadConfig({ env: {}, overrides: { vad: { minSpeechMs: 40_000 } } })).toThrow(/vad/);
    expect(() => loadConfig({ env: {}, overrides: { sessions: { forceCommitRatio: 0 } } })).toThrow(/sessions\.forceCommitRatio/);
  });

  it('checks jitter depth ordering', () => {
    expect(() => loadConfig({ env: {}, overrides: { rtp: { jitter: { depthMs: 10 } } } })).toThrow(/minDepthMs <= depthMs <= maxDepthMs/);
  });

  describe('relative paths', () => {
    const INSTALL_MODELS = new URL('../../../models', import.meta.url).pathname;

    it("defaults models.dir to the install's own models folder, wherever the process runs", () => {
      const dir = loadConfig({ env: {} }).models.dir;
      expect(dir).toBe(INSTALL_MODELS);
      expect(existsSync(join(dir, 'pocketsphinx-en-us', 'theo.yaml'))).toBe(true);
    });

    it("takes a config file's relative paths from the file's folder, an absolute one as it is", () => {
      const file = tmpFile('theo.yaml', 'models:\n  dir: my-models\nserver:\n  tlsCert: tls/cert.pem\n  tlsKey: /etc/theo/key.pem\n');
      const c = loadConfig({ file, env: {} });
      expect(c.models.dir).toBe(join(dirname(file), 'my-models'));
      expect(c.server.tlsCert).toBe(join(dirname(file), 'tls/cert.pem'));
      expect(c.server.tlsKey).toBe('/etc/theo/key.pem');
      // The same file named by a relative path, and through THEO_CONFIG.
      const rel = loadConfig({ file: relative(process.cwd(), file), env: {} });
      expect(rel.models.dir).toBe(join(dirname(file), 'my-models'));
      expect(loadConfig({ env: { THEO_CONFIG: file } }).models.dir).toBe(join(dirname(file), 'my-models'));
    });

    it('takes relative paths from the environment and flags from the working directory, as typed', () => {
      expect(loadConfig({ env: { THEO_MODELS_DIR: 'here/models' } }).models.dir).toBe(resolve('here/models'));
      expect(loadConfig({ env: {}, overrides: { models: { dir: '../m' } } }).models.dir).toBe(resolve('../m'));
      expect(loadConfig({ env: { THEO_TLS_CERT: 'c.pem', THEO_TLS_KEY: 'k.pem' } }).server.tlsCert).toBe(resolve('c.pem'));
      // The environment still wins over the file.
      const file = tmpFile('theo.yaml', 'models:\n  dir: my-models\n');
      expect(loadConfig({ file, env: { THEO_MODELS_DIR: '/srv/models' } }).models.dir).toBe('/srv/models');
    });
  });
});
