// The loop of a target that fuzzes a pure function in-process (audio decoding, SDP negotiation): inputs by
// kind, outcomes by label, and one finding per kind of problem, its first input saved as the reproducer.
import { Deadline, bump, emptyReport, saveReproducer, type TargetName, type TargetReport } from './harness.js';
import type { FuzzContext } from './target.js';

export interface Verdict {
  outcome: string;
  /** Set when the outcome is a defect (an exception of the wrong kind, an inconsistent result). */
  problem?: string;
  stack?: string;
}

export interface InProcessSpec<I> {
  target: TargetName;
  input(seed: number, index: number): I;
  kind(input: I): string;
  bytes(input: I): Uint8Array;
  check(input: I): Verdict | Promise<Verdict>;
  /** What every input must do (the accounting line). */
  contract: string;
}

export async function runInProcess<I>(ctx: FuzzContext, spec: InProcessSpec<I>): Promise<TargetReport> {
  const report = emptyReport(spec.target, ctx.seed);
  const deadline = new Deadline(ctx.budget);
  const problems = new Map<string, { count: number; at: number }>();
  let i = 0;
  for (; deadline.more(i); i++) {
    const input = spec.input(ctx.seed, i);
    bump(report.inputs, spec.kind(input));
    const v = await spec.check(input);
    bump(report.outcomes, v.outcome);
    if (!v.problem) continue;
    const seen = problems.get(v.outcome);
    if (seen) {
      seen.count++;
      continue;
    }
    problems.set(v.outcome, { count: 1, at: report.findings.length });
    report.findings.push({ kind: 'error', target: spec.target, what: `input ${i} (${spec.kind(input)}): ${v.problem.split('\n')[0]}`, indices: [i, i + 1], reproducer: saveReproducer(ctx.outDir, spec.target, ctx.seed, i, spec.bytes(input)), detail: v.stack ?? v.problem });
  }
  let bad = 0;
  for (const p of problems.values()) {
    bad += p.count;
    if (p.count > 1) report.findings[p.at]!.what += ` (and ${p.count - 1} more inputs like it)`;
  }
  report.count = i;
  report.accounting.push({ what: spec.contract, sent: i, counted: i - bad, ok: bad === 0 });
  report.seconds = deadline.elapsedS;
  return report;
}
