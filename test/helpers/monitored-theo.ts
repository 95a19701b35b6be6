// A real `theo serve` child process watched the way the fuzz and soak suites need it: whether it is alive
// and answers /health in time, its own metrics (counters, RSS, heap), and its log on stderr read as it
// streams (lines counted by level, warnings and errors kept by message, the raw tail kept for a crash's
// stack) so that a long run holds a bounded amount of it.
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT, THEO_BIN, THEO_NODE_FLAGS } from './theo.js';
import { scrape, type Samples } from './prom.js';

const TAIL_BYTES = 64 * 1024;
const MAX_KINDS = 200;

export interface LogKind {
  level: number;
  msg: string;
  component: string | undefined;
  count: number;
  /** The first line of this kind, whole (its err and stack included). */
  first: string;
}

export interface HealthProbe {
  ok: boolean;
  status?: number;
  body?: Record<string, unknown>;
  error?: string;
}

export interface MonitoredTheoOptions {
  /** Arguments after `serve --port 0`. */
  args: readonly string[];
  env?: Record<string, string>;
  /** How long to wait for `listening on` (the model loads first with --preload). */
  startTimeoutMs?: number;
}

export class MonitoredTheo {
  url = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly levels: Record<number, number> = {};
  private readonly kinds = new Map<string, LogKind>();
  private tail = '';
  private partial = '';
  private readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => this.onStderr(s));
  }

  static async start(opts: MonitoredTheoOptions): Promise<MonitoredTheo> {
    const child = spawn(process.execPath, [...THEO_NODE_FLAGS, THEO_BIN, 'serve', '--port', '0', ...opts.args], {
      cwd: ROOT,
      env: { ...process.env, THEO_LOG_LEVEL: 'warn', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const t = new MonitoredTheo(child);
    let out = '';
    t.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`theo serve did not start in time; stderr: ${t.stderrTail()}`)), opts.startTimeoutMs ?? 120_000);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`theo serve exited (${code ?? signal}) before listening; stderr: ${t.stderrTail()}`));
      });
    });
    return t;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  alive(): boolean {
    return this.exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** GET /health; with the API key, the details (worker pids, errors) that a request without it does not see. */
  async health(timeoutMs = 5000, apiKey?: string): Promise<HealthProbe> {
    try {
      const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
      const res = await fetch(`${this.url}/health`, { headers, signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json()) as Record<string, unknown>;
      return { ok: res.status === 200, status: res.status, body };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  metrics(timeoutMs = 5000): Promise<Samples> {
    return scrape(this.url, timeoutMs);
  }

  /** Log lines at `level` or above (pino numbers: 40 warn, 50 error, 60 fatal), most frequent first. */
  logKinds(level = 40): LogKind[] {
    return [...this.kinds.values()].filter((k) => k.level >= level).sort((a, b) => b.count - a.count);
  }

  stderrTail(bytes = TAIL_BYTES): string {
    return this.tail.slice(-bytes);
  }

  /** Node's own output on stderr (an uncaught exception's stack): the lines that are not pino JSON. */
  rawStderr(): string {
    return this.tail
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('{'))
      .join('\n');
  }

  /** SIGTERM, then the exit status; SIGKILL after `killAfterMs`. */
  async stop(killAfterMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive()) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
      await this.exited;
      clearTimeout(timer);
    } else {
      await this.exited;
    }
    return this.exit ?? { code: null, signal: null };
  }

  waitExit(): Promise<void> {
    return this.exited;
  }

  private onStderr(s: string): void {
    this.tail = (this.tail + s).slice(-TAIL_BYTES);
    const text = this.partial + s;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
  }

  private onLine(line: string): void {
    if (!line.startsWith('{')) return;
    let rec: { level?: unknown; msg?: unknown; component?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      return;
    }
    const level = typeof rec.level === 'number' ? rec.level : 0;
    this.levels[level] = (this.levels[level] ?? 0) + 1;
    const msg = typeof rec.msg === 'string' ? rec.msg : '';
    const component = typeof rec.component === 'string' ? rec.component : undefined;
    const key = `${level}|${component ?? ''}|${msg}`;
    const k = this.kinds.get(key);
    if (k) k.count++;
    else if (this.kinds.size < MAX_KINDS) this.kinds.set(key, { level, msg, component, count: 1, first: line.slice(0, 4000) });
  }
}
