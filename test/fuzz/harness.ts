// What every fuzz target shares: the budget (a count and a time limit, whichever comes first), the report a
// target hands back (inputs by kind, outcomes as the client saw them, the runtime's own counters, whether
// they account for the inputs, gaps where no counter exists, findings), and the server under test — a real
// `theo serve` that is checked after every batch (alive, /health in time, RSS bounded), restarted after a
// crash or a hang, and whose error-level log lines are findings too.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MonitoredTheo, type LogKind } from '../helpers/monitored-theo.js';
import { delta, type Samples } from '../helpers/prom.js';

export const TARGETS = ['rtp', 'ws', 'multipart', 'audio', 'sdp', 'ari'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface Budget {
  count: number;
  seconds: number;
}

export type FindingKind = 'crash' | 'hang' | 'leak' | 'error';

export interface Finding {
  kind: FindingKind;
  target: TargetName;
  what: string;
  /** Inputs in flight when it was seen ([first, end)); `reproducer` when one of them alone does it. */
  indices?: [number, number];
  reproducer?: { index: number; file: string; command: string };
  detail?: string;
}

export interface Accounting {
  what: string;
  sent: number;
  counted: number;
  /** sent === counted, or a stated relation holds. */
  ok: boolean;
  note?: string;
}

export interface TargetReport {
  target: TargetName;
  seed: number;
  seconds: number;
  /** Inputs sent (datagrams, frames, requests, files, offers, events): what the budget counts. */
  count: number;
  /** Inputs generated, by kind. */
  inputs: Record<string, number>;
  /** What the client saw (status codes, close codes, error codes, exception classes). */
  outcomes: Record<string, number>;
  /** The runtime's counters over the target's run (after − before). */
  counters: Record<string, number>;
  accounting: Accounting[];
  /** Rejections the runtime does not count anywhere. */
  gaps: string[];
  findings: Finding[];
  memory?: { rssBeforeMb: number; rssAfterMb: number; rssPeakMb: number; heapAfterMb: number; externalAfterMb: number; cpuSeconds: number };
}

export function emptyReport(target: TargetName, seed: number): TargetReport {
  return { target, seed, seconds: 0, count: 0, inputs: {}, outcomes: {}, counters: {}, accounting: [], gaps: [], findings: [] };
}

export function bump(rec: Record<string, number>, key: string, n = 1): void {
  rec[key] = (rec[key] ?? 0) + n;
}

export function sumOf(rec: Record<string, number>): number {
  let s = 0;
  for (const v of Object.values(rec)) s += v;
  return s;
}

/** A loop bound: `more(i)` until i reaches the count or the time is up. */
export class Deadline {
  private readonly end: number;
  readonly started = performance.now();
  constructor(private readonly budget: Budget) {
    this.end = this.started + budget.seconds * 1000;
  }
  more(i: number): boolean {
    return i < this.budget.count && performance.now() < this.end;
  }
  get elapsedS(): number {
    return (performance.now() - this.started) / 1000;
  }
}

export interface ServerOptions {
  apiKey: string;
  /** Extra `theo serve` arguments (ports, fork, ARI). */
  args: string[];
  env?: Record<string, string>;
  /** RSS above this is a leak finding (MB). */
  rssLimitMb: number;
}

/** The `theo serve` under test, restarted after a crash or a hang so that the run goes on. */
export class ServerUnderTest {
  theo!: MonitoredTheo;
  /** Process starts after the first (each one follows a crash or a hang). */
  restarts = 0;
  private peakRss = 0;
  private leakReported = false;
  private logMark = new Map<string, number>();
  private checking: Promise<Finding | undefined> | undefined;

  constructor(readonly opts: ServerOptions) {}

  async start(): Promise<void> {
    this.theo = await MonitoredTheo.start({ args: ['--preload', ...this.opts.args], env: { THEO_API_KEY: this.opts.apiKey, ...this.opts.env } });
    this.markLogs();
  }

  get url(): string {
    return this.theo.url;
  }

  get auth(): string {
    return `Bearer ${this.opts.apiKey}`;
  }

  /**
   * Alive, /health within 5 s, RSS under the limit. A dead or hung server is a finding (with its exit status
   * and stderr) and is restarted; the returned finding tells the caller to reproduce if it can.
   */
  async check(target: TargetName, indices: [number, number]): Promise<Finding | undefined> {
    // Concurrent callers wait for the check in progress: a crash is reported (and the server restarted) once.
    if (this.checking) {
      await this.checking;
      return undefined;
    }
    this.checking = this.checkNow(target, indices);
    try {
      return await this.checking;
    } finally {
      this.checking = undefined;
    }
  }

  private async checkNow(target: TargetName, indices: [number, number]): Promise<Finding | undefined> {
    if (!this.theo.alive()) return this.recover(target, 'crash', indices);
    const h = await this.theo.health(5000);
    if (!this.theo.alive()) return this.recover(target, 'crash', indices);
    if (!h.ok) return this.recover(target, 'hang', indices, `/health: ${h.status ?? h.error ?? 'no answer'}`);
    return undefined;
  }

  /** RSS now (MB), tracking the peak; a leak finding the first time it passes the limit. */
  async memory(target: TargetName): Promise<{ rssMb: number; heapMb: number; externalMb: number; cpuSeconds: number; finding?: Finding }> {
    const m = await this.theo.metrics();
    const rssMb = (m.get('process_resident_memory_bytes') ?? 0) / 2 ** 20;
    const heapMb = (m.get('nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20;
    const externalMb = (m.get('nodejs_external_memory_bytes') ?? 0) / 2 ** 20;
    const cpuSeconds = m.get('process_cpu_seconds_total') ?? 0;
    this.peakRss = Math.max(this.peakRss, rssMb);
    if (rssMb > this.opts.rssLimitMb && !this.leakReported) {
      this.leakReported = true;
      return { rssMb, heapMb, externalMb, cpuSeconds, finding: { kind: 'leak', target, what: `theo serve RSS ${rssMb.toFixed(0)} MB passed the ${this.opts.rssLimitMb} MB bound` } };
    }
    return { rssMb, heapMb, externalMb, cpuSeconds };
  }

  get peakRssMb(): number {
    return this.peakRss;
  }

  metrics(): Promise<Samples> {
    return this.theo.metrics();
  }

  /** Live sessions by state (GET /v1/sessions). */
  async sessionStates(): Promise<Record<string, number>> {
    const res = await fetch(`${this.url}/v1/sessions`, { headers: { authorization: this.auth }, signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { data: Array<{ id: string; state: string; call?: unknown }> };
    const out: Record<string, number> = {};
    // State, plus whether it is a call's session and the first ids: enough to tell whose sessions stay behind.
    for (const s of body.data) bump(out, `${s.state}${s.call ? ' (call)' : ''}`);
    for (const s of body.data.slice(0, 3)) out[`e.g. ${s.id}`] = 1;
    return out;
  }

  /** Remembers the log counts now: newErrorLogs() reports what came after. */
  markLogs(): void {
    this.logMark = new Map(this.theo.logKinds(0).map((k) => [key(k), k.count]));
  }

  /** Log kinds (level ≥ `level`) that appeared or grew since markLogs(), with how many new lines. */
  newLogs(level: number): Array<LogKind & { added: number }> {
    return this.theo
      .logKinds(level)
      .map((k) => ({ ...k, added: k.count - (this.logMark.get(key(k)) ?? 0) }))
      .filter((k) => k.added > 0);
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.theo.stop();
  }

  private async recover(target: TargetName, kind: 'crash' | 'hang', indices: [number, number], why?: string): Promise<Finding> {
    const old = this.theo;
    if (kind === 'hang') await old.stop(2000);
    else await old.waitExit();
    const exit = old.exit;
    const errors = old.logKinds(50).map((k) => k.first).slice(0, 5);
    const finding: Finding = {
      kind,
      target,
      what: kind === 'crash' ? `theo serve exited (code ${exit?.code ?? 'none'}, signal ${exit?.signal ?? 'none'})` : `theo serve stopped answering (${why ?? ''})`,
      indices,
      detail: [old.rawStderr().slice(-6000), ...errors].filter((s) => s !== '').join('\n'),
    };
    this.restarts++;
    await this.start();
    return finding;
  }
}

function key(k: LogKind): string {
  return `${k.level}|${k.component ?? ''}|${k.msg}`;
}

/** The counters of `names` over a target's run, as a flat record. */
export function counterDelta(before: Samples, after: Samples, names: readonly string[]): Record<string, number> {
  return delta(before, after, names);
}

/** Writes a reproducer's bytes and says how to replay it. */
export function saveReproducer(outDir: string, target: TargetName, seed: number, index: number, bytes: Uint8Array): { index: number; file: string; command: string } {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${target}-seed${seed}-${index}.bin`);
  writeFileSync(file, bytes);
  return { index, file, command: `npm run fuzz -- --target ${target} --seed ${seed} --replay ${index}` };
}

/** The report's memory line from the reading before the target and the one after it. */
export function memoryLine(before: { rssMb: number; cpuSeconds: number }, after: { rssMb: number; heapMb: number; externalMb: number; cpuSeconds: number }, server: ServerUnderTest): NonNullable<TargetReport['memory']> {
  return { rssBeforeMb: before.rssMb, rssAfterMb: after.rssMb, rssPeakMb: server.peakRssMb, heapAfterMb: after.heapMb, externalAfterMb: after.externalMb, cpuSeconds: after.cpuSeconds - before.cpuSeconds };
}

/** Error-level log lines of the server since the mark: each kind is a finding (a fault the runtime caught). */
export function logFindings(server: ServerUnderTest, target: TargetName): Finding[] {
  return server.newLogs(50).map((k) => ({ kind: 'error' as const, target, what: `logged ${k.added}× at level ${k.level}: ${k.component ?? '-'}: ${k.msg}`, detail: k.first }));
}

/** The end of a server target's report: warnings as outcomes, error-level log lines as findings, the time. */
export function finishReport(report: TargetReport, server: ServerUnderTest, started: number): TargetReport {
  Object.assign(report.outcomes, warnOutcomes(server));
  report.findings.push(...logFindings(server, report.target));
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/** Warn-level kinds since the mark, as outcomes ("log: <component>: <msg>" → lines). */
export function warnOutcomes(server: ServerUnderTest): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of server.newLogs(40)) if (k.level < 50) out[`log warn: ${k.component ?? '-'}: ${k.msg}`] = k.added;
  return out;
}
