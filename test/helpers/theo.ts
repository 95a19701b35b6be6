// Runs the real `theo` command (bin/theo.js over the built CLI) as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const THEO_BIN = fileURLToPath(new URL('../../bin/theo.js', import.meta.url));
/** The Node flags on bin/theo.js's #! line: what `theo` runs with, passed when a test or bench spawns node itself. */
export const THEO_NODE_FLAGS: readonly string[] = (readFileSync(THEO_BIN, 'utf8').split('\n', 1)[0] ?? '').split(/\s+/).filter((a) => a.startsWith('--'));

export interface TheoRun {
  child: ChildProcess;
  /** Resolves when the process exits. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  stdout(): string;
  /** Resolves with the first stdout line matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
}

/** Where `theo` runs: `cwd` the working directory (default the checkout), `root` another checkout whose build to
 * run instead of this one (a bench's before/after; its folder is then the default working directory). */
export interface TheoPlace {
  cwd?: string;
  root?: string;
}

export function runTheo(args: string[], env: NodeJS.ProcessEnv = {}, place: TheoPlace = {}): TheoRun {
  const root = place.root ?? ROOT;
  const bin = root === ROOT ? THEO_BIN : `${root.replace(/\/$/, '')}/bin/theo.js`;
  const child = spawn(process.execPath, [...THEO_NODE_FLAGS, bin, ...args], { cwd: place.cwd ?? root, env: { ...process.env, THEO_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return {
    child,
    done,
    stdout: () => out,
    waitForLine(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(re)}; stdout: ${out}; stderr: ${err}`)), timeoutMs);
        const check = (): void => {
          const line = out.split('\n').find((l) => re.test(l));
          if (line !== undefined) {
            clearTimeout(timer);
            resolve(line);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`theo exited (${child.exitCode}) before printing ${String(re)}; stderr: ${err}`));
          } else {
            waiters.push(check);
          }
        };
        check();
        child.once('exit', () => setTimeout(check, 50));
      });
    },
  };
}

/** `theo serve --port 0 ...args`; resolves with the run and its URL once it prints `listening on`. */
export async function serveTheo(args: string[], env: NodeJS.ProcessEnv = {}, place: TheoPlace = {}): Promise<{ run: TheoRun; url: string }> {
  const run = runTheo(['serve', '--port', '0', ...args], env, place);
  const line = await run.waitForLine(/listening on/, 120_000);
  const url = /listening on (\S+)/.exec(line)?.[1];
  if (!url) throw new Error(`no URL in '${line}'`);
  return { run, url };
}

/** SIGTERM, then the exit status (0 on a graceful stop). */
export async function stopTheo(run: TheoRun | undefined): Promise<{ code: number | null; stderr: string } | undefined> {
  if (!run || run.child.exitCode !== null) return undefined;
  run.child.kill('SIGTERM');
  const done = await run.done;
  return { code: done.code, stderr: done.stderr };
}
