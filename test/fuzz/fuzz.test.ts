// The CI slice of `npm run fuzz`: every target with a fixed seed and small budgets against one real
// `theo serve` (loopback, API key set): 10,000 RTP datagrams in-process and 10,000 over UDP to the fork
// port, 8,000 WebSocket frames, 60 multipart uploads, 120 mutated audio files, 20,000 SDP offers, 1,000
// ARI events. The process must stay up and answer /health, its counters must account for the inputs, and
// there must be no finding but the open defects listed in KNOWN (remove an entry when its fix lands, so
// that the slice sends its inputs again).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusAvailable } from '../helpers/corpus.js';
import type { Budget, Finding, TargetName } from './harness.js';
import { FuzzSession } from './session.js';
import { formatRun } from './summary.js';

const SEED = 20_251;

const BUDGETS: Record<TargetName, Budget> = {
  sdp: { count: 20_000, seconds: 20 },
  audio: { count: 120, seconds: 30 },
  ws: { count: 8_000, seconds: 60 },
  multipart: { count: 60, seconds: 60 },
  ari: { count: 1_000, seconds: 30 },
  // Last: its calls' sessions end only at the idle timeout, and would show up in the other targets' leak checks.
  rtp: { count: 10_000, seconds: 60 },
};

interface Known {
  target: TargetName;
  kind: Finding['kind'];
  what: RegExp;
  /** Input kinds not sent while the defect is open ("target: kind"). */
  skip?: string[];
  defect: string;
}

/** Open defects the suites found; an entry goes when its fix lands. */
export const KNOWN: Known[] = [];

const known = (f: Finding): boolean => KNOWN.some((k) => k.target === f.target && k.kind === f.kind && k.what.test(f.what));

describe.skipIf(!corpusAvailable())('fuzz slice (fixed seed, every target, one real theo serve)', () => {
  it(`seed ${SEED}: no crash, hang, leak or error beyond the known defects; the runtime's counters account for the inputs`, async () => {
    const targets: TargetName[] = ['sdp', 'audio', 'ws', 'multipart', 'ari', 'rtp'];
    const session = new FuzzSession({
      seed: SEED,
      targets,
      budgets: BUDGETS,
      ports: { fork: 43600, rtp: [43620, 43659], inProcessRtp: [43700, 43719] },
      outDir: join(tmpdir(), `theo-fuzz-ci-${SEED}`),
      shareServer: true,
      skipKinds: KNOWN.flatMap((k) => k.skip ?? []),
    });
    await session.start();
    let run;
    try {
      run = await session.run();
    } finally {
      await session.close();
    }
    const summary = formatRun(run);
    console.log(summary);

    // Every target ran, and sent what it was given (the budgets are counts; the time limits are a safety net).
    for (const t of targets) expect(run.reports.find((r) => r.target === t)?.count, t).toBeGreaterThan(0);
    const rtp = run.reports.find((r) => r.target === 'rtp')!;
    expect(rtp.count).toBe(2 * BUDGETS.rtp.count);
    const ws = run.reports.find((r) => r.target === 'ws')!;
    expect(ws.count).toBeGreaterThanOrEqual(BUDGETS.ws.count);

    // Counters: every RTP datagram in exactly one outcome, in-process and over UDP; WebSocket and HTTP
    // errors within their bounds.
    const failed = run.reports.flatMap((r) => r.accounting.filter((a) => !a.ok).map((a) => `${r.target}: ${a.what}: ${a.sent} vs ${a.counted}`));
    expect(failed, summary).toEqual([]);
    expect(rtp.accounting.map((a) => a.what)).toEqual(expect.arrayContaining([expect.stringContaining('UDP datagrams to the fork port')]));

    // No finding but the known ones; the server stopped gracefully at the end (a failed stop is a finding).
    const unknown = run.reports.flatMap((r) => r.findings).filter((f) => !known(f));
    expect(unknown.map((f) => `[${f.kind}] ${f.target}: ${f.what}`), summary).toEqual([]);
  }, 600_000);
});
