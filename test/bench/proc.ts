// Process CPU time and memory from /proc (Linux), for benchmarks that measure a server and its workers.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcUsage {
  /** User + system CPU seconds. */
  cpuS: number;
  rssMb: number;
}

/** Fields of /proc/<pid>/stat after the command name (field 3 onwards). */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds and resident memory of a process; zeros once it is gone. */
export function usageOf(pid: number): ProcUsage {
  try {
    const f = statFields(pid);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    // utime and stime, in USER_HZ (1/100 s).
    return { cpuS: (Number(f[11]) + Number(f[12])) / 100, rssMb: Number(rss?.[1] ?? 0) / 1024 };
  } catch {
    return { cpuS: 0, rssMb: 0 };
  }
}

/** The pids whose parent is `pid` (a server's worker processes). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(statFields(d)[1]) === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU and memory of `pid` and, summed, of its children. */
export function serverUsage(pid: number): { runtime: ProcUsage; workers: ProcUsage } {
  const workers = childrenOf(pid)
    .map(usageOf)
    .reduce((a, b) => ({ cpuS: a.cpuS + b.cpuS, rssMb: a.rssMb + b.rssMb }), { cpuS: 0, rssMb: 0 });
  return { runtime: usageOf(pid), workers };
}
