// The fuzz summary: inputs by kind, what the client saw, the runtime's counters, the accounting of inputs
// against those counters, gaps (rejections with no counter), findings; and whether the run passed.
import type { Finding, TargetReport } from './harness.js';
import type { FuzzRun } from './session.js';

const num = (n: number): string => n.toLocaleString('en-US');

function block(title: string, rec: Record<string, number>, indent = '    '): string[] {
  const entries = Object.entries(rec).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return [`  ${title}: none`];
  return [`  ${title}:`, ...entries.map(([k, v]) => `${indent}${num(v).padStart(11)}  ${k}`)];
}

function finding(f: Finding): string[] {
  const lines = [`    [${f.kind}] ${f.what}`];
  if (f.indices) lines.push(`      inputs ${f.indices[0]}..${f.indices[1] - 1}`);
  if (f.reproducer) lines.push(`      reproducer: ${f.reproducer.file}`, `      replay: ${f.reproducer.command}`);
  if (f.detail) lines.push(...f.detail.split('\n').slice(0, 30).map((l) => `      | ${l.slice(0, 300)}`));
  return lines;
}

export function formatReport(r: TargetReport): string {
  const out = [`== ${r.target}: ${num(r.count)} inputs in ${r.seconds.toFixed(1)} s (seed ${r.seed})`];
  out.push(...block('inputs by kind', r.inputs));
  out.push(...block('outcomes seen by the client', r.outcomes));
  out.push(...block("the runtime's counters (delta)", r.counters));
  out.push('  accounting:');
  for (const a of r.accounting) out.push(`    ${a.ok ? 'ok  ' : 'FAIL'} ${a.what}: ${num(a.sent)} sent, ${num(a.counted)} counted${a.note ? ` (${a.note})` : ''}`);
  if (r.accounting.length === 0) out.push('    (none)');
  out.push(`  gaps (rejections no runtime counter shows): ${r.gaps.length === 0 ? 'none' : ''}`);
  for (const g of r.gaps) out.push(`    - ${g}`);
  if (r.memory) out.push(`  theo serve memory: RSS ${r.memory.rssBeforeMb.toFixed(1)} → ${r.memory.rssAfterMb.toFixed(1)} MB (peak ${r.memory.rssPeakMb.toFixed(1)} MB), heap used ${r.memory.heapAfterMb.toFixed(1)} MB, external ${r.memory.externalAfterMb.toFixed(1)} MB at the end; ${r.memory.cpuSeconds.toFixed(1)} CPU-seconds`);
  out.push(`  findings: ${r.findings.length === 0 ? 'none' : r.findings.length}`);
  for (const f of r.findings) out.push(...finding(f));
  return out.join('\n');
}

export interface Verdict {
  crashes: number;
  hangs: number;
  leaks: number;
  errors: number;
  accountingFailures: number;
  passed: boolean;
}

export function verdict(run: FuzzRun): Verdict {
  const all = run.reports.flatMap((r) => r.findings);
  const count = (k: Finding['kind']): number => all.filter((f) => f.kind === k).length;
  const accountingFailures = run.reports.flatMap((r) => r.accounting).filter((a) => !a.ok).length;
  const v = { crashes: count('crash'), hangs: count('hang'), leaks: count('leak'), errors: count('error'), accountingFailures, passed: false };
  v.passed = all.length === 0 && accountingFailures === 0;
  return v;
}

export function formatRun(run: FuzzRun): string {
  const v = verdict(run);
  const totalInputs = run.reports.reduce((a, r) => a + r.count, 0);
  const lines = run.reports.map(formatReport);
  lines.push(
    `== fuzz summary (seed ${run.seed}): ${num(totalInputs)} inputs over ${run.reports.map((r) => r.target).join(', ')} in ${run.seconds.toFixed(0)} s`,
    `  crashes ${v.crashes}, hangs ${v.hangs}, leaks ${v.leaks}, errors ${v.errors}, accounting failures ${v.accountingFailures}; theo serve restarts after a crash or hang ${run.restarts}`,
    `  ${v.passed ? 'PASSED' : 'FAILED'}`,
  );
  return lines.join('\n\n');
}
