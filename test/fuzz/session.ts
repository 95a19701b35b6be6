// One fuzz session: the Asterisk ARI double and a real `theo serve` (API key, RTP fork port, ARI controller,
// short RTP idle timeout) started once, the targets run one after another against them, the reports
// gathered. Used by `npm run fuzz` (test/fuzz/run.ts) and by the CI slice (test/fuzz/fuzz.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AriDouble } from '../helpers/ari-double.js';
import { ServerUnderTest, emptyReport, type Budget, type TargetName, type TargetReport } from './harness.js';
import type { FuzzContext, FuzzPorts, FuzzTarget } from './target.js';
import { ariTarget } from './targets/ari.js';
import { audioTarget } from './targets/audio.js';
import { multipartTarget } from './targets/multipart.js';
import { rtpTarget } from './targets/rtp.js';
import { sdpTarget } from './targets/sdp.js';
import { wsTarget } from './targets/ws.js';

export const ALL_TARGETS: Record<TargetName, FuzzTarget> = { rtp: rtpTarget, ws: wsTarget, multipart: multipartTarget, audio: audioTarget, sdp: sdpTarget, ari: ariTarget };

export const API_KEY = 'fuzz-api-key';
const IDLE_MS = 2000;

export interface SessionOptions {
  seed: number;
  targets: readonly TargetName[];
  budgets: Record<TargetName, Budget>;
  ports: FuzzPorts;
  outDir: string;
  /** RSS of theo serve above this is a leak finding (MB). */
  rssLimitMb?: number;
  /**
   * One server for every target instead of a fresh one per target: faster (the CI slice), but state a target
   * leaves (sessions of the RTP calls) is seen by the next.
   */
  shareServer?: boolean;
  /** "target: kind" of inputs not sent (known defects, see KNOWN in fuzz.test.ts). */
  skipKinds?: readonly string[];
  /** After a failed release check, how long to keep watching (default 0). */
  drainSeconds?: number;
  log?: (line: string) => void;
}

export interface FuzzRun {
  seed: number;
  reports: TargetReport[];
  /** theo serve restarts (after crashes or hangs). */
  restarts: number;
  seconds: number;
}

export class FuzzSession {
  private server: ServerUnderTest | undefined;
  private ari: AriDouble | undefined;
  private restarts = 0;
  private readonly dir = mkdtempSync(join(tmpdir(), 'theo-fuzz-'));
  private readonly cfg = join(this.dir, 'theo.yaml');

  constructor(private readonly opts: SessionOptions) {}

  /** Starts what the targets need: the ARI double (the server starts per target, see run()). */
  async start(): Promise<void> {
    if (!this.opts.targets.some((t) => ALL_TARGETS[t].needsServer)) return;
    this.ari = await AriDouble.start({ user: 'theo', password: 'secret', app: 'theo' });
    writeFileSync(this.cfg, ['rtp:', `  idleTimeoutMs: ${IDLE_MS}`, ''].join('\n'));
  }

  /** A fresh `theo serve` for one target: state left by another target (sessions, calls) cannot blur its result. */
  private async startServer(): Promise<ServerUnderTest> {
    const { ports } = this.opts;
    const ari = this.ari!;
    const server = new ServerUnderTest({
      apiKey: API_KEY,
      rssLimitMb: this.opts.rssLimitMb ?? 1024,
      args: ['--config', this.cfg, '--rtp-fork', String(ports.fork), '--rtp-ports', `${ports.rtp[0]}-${ports.rtp[1]}`, '--ari-url', ari.url, '--ari-user', 'theo', '--ari-password', 'secret', '--ari-app', 'theo'],
    });
    await server.start();
    return server;
  }

  context(budget: Budget): FuzzContext {
    return { seed: this.opts.seed, budget, server: this.server, ari: this.ari, ports: this.opts.ports, idleMs: IDLE_MS, drainSeconds: this.opts.drainSeconds ?? 0, outDir: this.opts.outDir, skipKinds: new Set(this.opts.skipKinds ?? []), log: this.opts.log ?? (() => undefined) };
  }

  async run(): Promise<FuzzRun> {
    const t0 = performance.now();
    const reports: TargetReport[] = [];
    for (const name of this.opts.targets) {
      const budget = this.opts.budgets[name];
      this.opts.log?.(`fuzz: ${name} (seed ${this.opts.seed}, up to ${budget.count} inputs or ${budget.seconds} s)`);
      if (ALL_TARGETS[name].needsServer && !this.server) this.server = await this.startServer();
      let report: TargetReport;
      try {
        report = await ALL_TARGETS[name].run(this.context(budget));
      } finally {
        if (!this.opts.shareServer) reports.push(...(await this.stopServer(name)));
      }
      reports.push(report);
      this.opts.log?.(`fuzz: ${name} done in ${report.seconds.toFixed(1)} s: ${report.count} inputs, ${report.findings.length} findings`);
    }
    if (this.opts.shareServer) reports.push(...(await this.stopServer(this.opts.targets[this.opts.targets.length - 1]!)));
    return { seed: this.opts.seed, reports, restarts: this.restarts, seconds: (performance.now() - t0) / 1000 };
  }

  /** A graceful stop is part of the result: a process that cannot shut down after the inputs is a finding. */
  private async stopServer(target: TargetName): Promise<TargetReport[]> {
    const server = this.server;
    if (!server) return [];
    this.server = undefined;
    this.restarts += server.restarts;
    const exit = await server.stop();
    if (exit.code === 0) return [];
    return [{ ...emptyReport(target, this.opts.seed), findings: [{ kind: 'hang', target, what: `theo serve did not stop gracefully after the target (code ${exit.code ?? 'none'}, signal ${exit.signal ?? 'none'})`, detail: server.theo.rawStderr().slice(-3000) }] }];
  }

  /** Sends input `index` of `target` alone to a fresh server, then checks it. */
  async replay(target: TargetName, index: number): Promise<{ bytes: Uint8Array; alive: boolean; health: boolean; stderr: string }> {
    const t = ALL_TARGETS[target];
    if (!t.one) throw new Error(`target ${target} has no replay`);
    if (t.needsServer) this.server = await this.startServer();
    try {
      const bytes = await t.one(this.context({ count: 1, seconds: 60 }), index);
      await new Promise((r) => setTimeout(r, 500));
      const alive = this.server?.theo.alive() ?? true;
      const health = alive && this.server ? (await this.server.theo.health()).ok : alive;
      return { bytes, alive, health, stderr: this.server?.theo.rawStderr() ?? '' };
    } finally {
      await this.server?.stop();
      this.server = undefined;
    }
  }

  /** Stops the ARI double and removes the scratch folder. */
  async close(): Promise<void> {
    await this.ari?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
