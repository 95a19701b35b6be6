// ARI events: `theo serve` runs its ARI controller against the Asterisk double (test/helpers/ari-double.ts,
// built from a real Asterisk 22's recordings), whose event WebSocket then carries, besides real calls the
// double drives (caller enters Stasis, ExternalMedia and bridge set up, RTP, hang-up), the recorded events
// mutated: fields deleted or retyped, ids odd or colliding with Theo's own channels, StasisStart for
// channels Asterisk does not know, StasisEnd / ChannelDestroyed out of order, text that is not JSON, binary
// frames. Afterwards every call must be torn down (no call, session or RTP port left), every REST call
// Theo made must fit the recorded ARI listing, and nothing may be logged at error level.
import { readFileSync } from 'node:fs';
import type { Prng } from '../../../src/util/prng.js';
import { CrashHandler } from '../crashes.js';
import { Deadline, bump, counterDelta, emptyReport, finishReport, memoryLine } from '../harness.js';
import { mutateJson, toText, type Json } from '../json-mutate.js';
import { INTERESTING_STRINGS, inputPrng, mutate, pick } from '../mutate.js';
import type { FuzzContext, FuzzTarget } from '../target.js';

const RECORDED = readFileSync(new URL('../../fixtures/asterisk-22/ari-events.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { event: Json }).event);

/** Events sent between two checks of the server (and between steps of the real calls). */
const BATCH = 25;

export interface AriInput {
  kind: string;
  data: string | Buffer;
  /** A real call the double drives: start it (caller id) or hang it up. */
  call?: { start?: string; hangup?: string };
}

function channelId(prng: Prng, index: number): string {
  return pick(prng, [`fuzz-${index}`, `theo-em-${index}`, `theo-snoop-in-${index}`, 'caller-1', `${index}`, `fuzz/${index}?x=1#y`, pick(prng, INTERESTING_STRINGS.slice(0, 29))]);
}

/** Event `index` of the run: a function of (seed, index) only. */
export function ariInput(seed: number, index: number): AriInput {
  const prng = inputPrng(seed, 'ari', index);
  const r = prng.next();
  const recorded = structuredClone(pick(prng, RECORDED)) as Record<string, Json>;
  recorded.application = 'theo';
  if (r < 0.04) return { kind: 'real call starts', data: '', call: { start: `call-${index}` } };
  if (r < 0.08) return { kind: 'real call hangs up', data: '', call: { hangup: 'oldest' } };
  if (r < 0.25) {
    const id = channelId(prng, index);
    const ev: Record<string, Json> = { ...(structuredClone(RECORDED.find((e) => (e as { type?: string }).type === 'StasisStart')) as Record<string, Json>), application: 'theo' };
    (ev.channel as Record<string, Json>).id = id;
    return { kind: 'StasisStart of a channel Asterisk does not know', data: toText(prng.chance(0.3) ? mutateJson(prng, ev, ['channel', 'id', 'state']) : ev) };
  }
  if (r < 0.35) {
    const type = pick(prng, ['StasisEnd', 'ChannelDestroyed']);
    const ev: Record<string, Json> = { ...(structuredClone(RECORDED.find((e) => (e as { type?: string }).type === type)) as Record<string, Json>), application: 'theo' };
    (ev.channel as Record<string, Json>).id = pick(prng, [channelId(prng, index), `call-${index - 1 - prng.int(200)}`, `theo-em-x`]);
    return { kind: 'StasisEnd / ChannelDestroyed out of the blue', data: toText(ev) };
  }
  if (r < 0.75) return { kind: 'recorded event mutated', data: toText(mutateJson(prng, recorded, ['channel', 'id', 'type', 'args', 'bridge'])) };
  if (r < 0.9) return { kind: 'recorded event, bytes mutated', data: Buffer.from(mutate(prng, Buffer.from(JSON.stringify(recorded)), { region: 120 })).toString('utf8') };
  if (r < 0.95) return { kind: 'not an event', data: pick(prng, ['null', '[]', '42', '"StasisStart"', '{"type":7}', '{"type":"StasisStart"}', '{"type":"StasisStart","channel":null}', '{"type":"StasisStart","channel":"x"}', '{"type":"StasisStart","channel":{"id":5}}', '{"type":"StasisStart","channel":{}}', '']) };
  return { kind: 'binary frame', data: Buffer.from(prng.fill(new Uint8Array(prng.int(300)))) };
}

const ARI_COUNTERS = ['theo_http_errors_total', 'theo_rtp_streams_total', 'theo_worker_restarts_total', 'theo_ari_malformed_events_total'];

export const ariTarget: FuzzTarget = {
  name: 'ari',
  needsServer: true,
  async run(ctx) {
    const report = emptyReport('ari', ctx.seed);
    const server = ctx.server!;
    const ari = ctx.ari!;
    const t0 = performance.now();
    server.markLogs();
    // The controller connects to the double's event WebSocket once the server is up.
    for (let k = 0; k < 200 && ari.clients.size === 0; k++) await new Promise((r) => setTimeout(r, 50));
    if (ari.clients.size === 0) throw new Error('theo serve did not connect to the ARI double');
    const before = await server.metrics();
    const memBefore = await server.memory('ari');
    const portsBefore = await portsAllocated(ctx);
    const requestsBefore = ari.requests.length;
    const violationsBefore = ari.violations.length;
    const open: string[] = [];
    const deadline = new Deadline(ctx.budget);
    const crashes = new CrashHandler(ctx, 'ari', async (index) => {
      const input = ariInput(ctx.seed, index);
      // Real calls are not replayed: a crash they cause shows as not reproduced.
      if (!input.call) {
        for (let k = 0; k < 200 && ari.clients.size === 0; k++) await new Promise((r) => setTimeout(r, 50));
        ari.sendRaw(input.data);
      }
      return { kind: input.kind, bytes: Buffer.from(input.data) };
    });
    let checked = 0;
    let i = 0;
    while (deadline.more(i) && !crashes.stopped) {
      const end = Math.min(i + BATCH, ctx.budget.count);
      for (; i < end; i++) {
        const input = ariInput(ctx.seed, i);
        if (crashes.quarantined.has(input.kind)) {
          bump(report.outcomes, `${input.kind}: not sent (a known crasher, or it crashed the server earlier)`);
          continue;
        }
        bump(report.inputs, input.kind);
        crashes.begin(i);
        if (input.call?.start) {
          ari.startCall({ id: input.call.start, number: '+15550100', exten: '100', audio: [600, Buffer.alloc(1600, 0xff)] });
          open.push(input.call.start);
        } else if (input.call?.hangup) {
          const id = open.shift();
          if (id && ari.channels.has(id)) ari.hangup(id);
        } else {
          if (input.data === '{"type":"StasisStart"}') bump(report.outcomes, 'not an event: well formed');
          ari.sendRaw(input.data);
        }
        crashes.end(i);
      }
      report.count = i;
      await new Promise((r) => setTimeout(r, 20));
      if (i - checked >= BATCH * 20 || !server.theo.alive()) {
        if (await crashes.check(report, [checked, i])) open.length = 0;
        checked = i;
        const mem = await server.memory('ari').catch(() => undefined);
        if (mem?.finding) report.findings.push(mem.finding);
      }
    }
    if (server.theo.alive()) {
      for (const id of open) if (ari.channels.has(id)) ari.hangup(id);
      // Every call torn down: no call, no session, every RTP port back in the pool.
      const until = performance.now() + 30_000;
      let m = await server.metrics();
      let ports = await portsAllocated(ctx);
      while (performance.now() < until && ((m.get('theo_calls_active') ?? 0) > 0 || (m.get('theo_sessions_active') ?? 0) > 0 || ports > portsBefore)) {
        await new Promise((r) => setTimeout(r, 250));
        m = await server.metrics();
        ports = await portsAllocated(ctx);
      }
      if ((m.get('theo_calls_active') ?? 0) > 0 || (m.get('theo_sessions_active') ?? 0) > 0 || ports > portsBefore) {
        report.findings.push({ kind: 'leak', target: 'ari', what: `30 s after the last hang-up: theo_calls_active ${m.get('theo_calls_active') ?? 0}, theo_sessions_active ${m.get('theo_sessions_active') ?? 0}, RTP ports allocated ${ports} (${portsBefore} before)` });
      }
      Object.assign(report.counters, counterDelta(before, m, ARI_COUNTERS));
      report.outcomes['REST calls Theo made to the double'] = ari.requests.length - requestsBefore;
      for (const r of ari.requests.slice(requestsBefore)) bump(report.outcomes, `REST ${r.method} ${r.path.replace(/\/[^/]*(fuzz|call|theo|\d)[^/]*/g, '/{id}')}`);
      const violations = ari.violations.slice(violationsBefore);
      if (violations.length > 0) report.findings.push({ kind: 'error', target: 'ari', what: `${violations.length} REST calls do not fit the ARI listing: ${[...new Set(violations)].slice(0, 5).join('; ')}` });
      report.memory = memoryLine(memBefore, await server.memory('ari'), server);
      const hc = await server.check('ari', [i, i]);
      if (hc) report.findings.push(hc);
    }
    // Every binary frame (random bytes: never a JSON object with a string type) and every 'not an event' but the
    // one well-formed text among them must be refused and counted; mutated events may be too.
    const malformed = report.counters['theo_ari_malformed_events_total'] ?? 0;
    const mustRefuse = (report.inputs['binary frame'] ?? 0) + (report.inputs['not an event'] ?? 0) - (report.outcomes['not an event: well formed'] ?? 0);
    report.accounting.push({ what: 'binary frames and non-events → theo_ari_malformed_events_total (at least those)', sent: mustRefuse, counted: malformed, ok: malformed >= mustRefuse });
    return finishReport(report, server, t0);
  },
  async one(ctx, index) {
    const input = ariInput(ctx.seed, index);
    for (let k = 0; k < 200 && ctx.ari!.clients.size === 0; k++) await new Promise((r) => setTimeout(r, 50));
    ctx.ari!.sendRaw(input.data);
    return Buffer.from(input.data);
  },
};

async function portsAllocated(ctx: FuzzContext): Promise<number> {
  const h = await ctx.server!.theo.health();
  return Number((h.body?.components as { rtp?: { ports_allocated?: number } } | undefined)?.rtp?.ports_allocated ?? -1);
}
