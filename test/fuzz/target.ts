// The contract between the fuzz runner (test/fuzz/run.ts, test/fuzz/fuzz.test.ts) and its targets.
import type { AriDouble } from '../helpers/ari-double.js';
import type { Budget, ServerUnderTest, TargetName, TargetReport } from './harness.js';

export interface FuzzPorts {
  /** The RTP fork port of the server under test. */
  fork: number;
  /** The server's RTP port pool. */
  rtp: [number, number];
  /** Ports of the in-process RTP listener. */
  inProcessRtp: [number, number];
}

export interface FuzzContext {
  seed: number;
  budget: Budget;
  /** The real `theo serve`; absent when a target runs in-process only. */
  server: ServerUnderTest | undefined;
  /** The Asterisk the server's ARI controller talks to. */
  ari: AriDouble | undefined;
  ports: FuzzPorts;
  /** rtp.idleTimeoutMs of the server: fork calls end this long after their last datagram. */
  idleMs: number;
  /** After a failed release check, how long to keep watching (to tell a slow drain from a leak); 0 = not. */
  drainSeconds: number;
  /** Where reproducers are written. */
  outDir: string;
  /** "target: kind" of inputs not to send (known defects whose fix has not landed). */
  skipKinds: ReadonlySet<string>;
  log(line: string): void;
}

export interface FuzzTarget {
  name: TargetName;
  needsServer: boolean;
  run(ctx: FuzzContext): Promise<TargetReport>;
  /** Sends input `index` alone to the server (replay); resolves with its bytes. */
  one?(ctx: FuzzContext, index: number): Promise<Uint8Array>;
}
