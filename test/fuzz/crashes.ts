// What a network target does when the server dies under it: the other workers pause, the inputs sent since
// the last check are replayed one at a time against the restarted server until one kills it again, that
// input is saved as the reproducer and its kind is not sent again in the run (so that the rest of the target
// is still fuzzed), and crashes with the same stack are reported as one finding.
import { saveReproducer, type Finding, type TargetName, type TargetReport } from './harness.js';
import type { FuzzContext } from './target.js';

/** After this many crashes a target stops: each costs restarts. */
const MAX_CRASHES = 3;

/** The exception that killed the process: its first error line and the frame it was thrown from. */
export function crashSignature(detail: string | undefined): string {
  const lines = (detail ?? '').split('\n');
  const at = lines.findIndex((l) => /^\w*Error\b/.test(l.trim()) && !/Parse Error/.test(l));
  return at < 0 ? (lines[0] ?? '') : `${lines[at]!.trim()} ${lines[at + 1]?.trim() ?? ''}`;
}

export interface Replayed {
  kind: string;
  bytes: Uint8Array;
}

export class CrashHandler {
  /** Input kinds not sent: known crashers (ctx.skipKinds) and those that crashed the server in this run. */
  readonly quarantined: Set<string>;
  crashes = 0;
  stopped = false;
  private paused: Promise<void> | undefined;
  private readonly suspects = new Set<number>();
  private readonly inFlight = new Set<number>();

  constructor(
    private readonly ctx: FuzzContext,
    private readonly target: TargetName,
    /** Sends input `index` alone and waits for its end; its kind and bytes. */
    private readonly replay: (index: number) => Promise<Replayed>,
  ) {
    const prefix = `${target}: `;
    this.quarantined = new Set([...ctx.skipKinds].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)));
  }

  /** Before each input: waits while a crash is reproduced (other inputs would blur which one did it). */
  async gate(): Promise<void> {
    while (this.paused) await this.paused;
  }

  begin(index: number): void {
    this.inFlight.add(index);
    this.suspects.add(index);
  }

  end(index: number): void {
    this.inFlight.delete(index);
  }

  /**
   * Checks the server; after a crash, finds the input that does it and records one finding per stack in
   * `report`. True when the server was restarted (its counters start from zero).
   */
  async check(report: TargetReport, range: [number, number]): Promise<boolean> {
    const server = this.ctx.server!;
    let resume = (): void => undefined;
    const gate = new Promise<void>((r) => (resume = r));
    const f = await server.check(this.target, range);
    if (!f || this.paused) {
      this.suspects.clear();
      return false;
    }
    this.paused = gate;
    try {
      this.crashes++;
      // Inputs still in flight end (reset) with the old process; then each suspect alone.
      while (this.inFlight.size > 0) await new Promise((r) => setTimeout(r, 50));
      const found = f.kind === 'crash' ? await this.reproduce(f, [...this.suspects].sort((a, b) => a - b)) : f;
      this.add(report, found);
      if (this.crashes >= MAX_CRASHES) this.stopped = true;
      this.suspects.clear();
      return true;
    } finally {
      this.paused = undefined;
      resume();
    }
  }

  private async reproduce(f: Finding, indices: number[]): Promise<Finding> {
    const server = this.ctx.server!;
    for (const i of indices) {
      const input = await this.replay(i);
      await new Promise((r) => setTimeout(r, 200));
      if (!server.theo.alive()) {
        const again = await server.check(this.target, [i, i + 1]);
        this.quarantined.add(input.kind);
        return { ...f, what: `${f.what}; input ${i} (${input.kind}) alone reproduces it; that kind is not sent again in this run`, indices: [i, i + 1], reproducer: saveReproducer(this.ctx.outDir, this.target, this.ctx.seed, i, input.bytes), detail: again?.detail ?? f.detail };
      }
    }
    return { ...f, what: `${f.what}; not reproduced by the inputs sent since the last check (${indices.join(', ')}) one by one` };
  }

  private add(report: TargetReport, f: Finding): void {
    const sig = crashSignature(f.detail);
    const same = report.findings.find((x) => x.kind === f.kind && crashSignature(x.detail) === sig);
    if (!same) report.findings.push(f);
    else same.what += `; the same again (${f.reproducer ? `input ${f.reproducer.index}` : 'not reproduced alone'})`;
  }
}
