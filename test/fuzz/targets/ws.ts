// WebSocket: raw TCP connections to `theo serve` (the upgrade written by hand), each a script of frames:
// valid frames carrying mutated JSON client events of both protocols (Theo realtime, OpenAI realtime
// transcription) and audio, pings, non-minimal lengths, fragmented messages with control frames between the
// fragments; most scripts then end cleanly (close 1000, session.close, a bare FIN) and the rest with one
// protocol violation (unmasked, reserved bits or opcodes, oversized or fragmented control frames, orphan
// continuations, invalid UTF-8, bad close codes, huge lengths, a truncated frame). One script in 20 fuzzes
// the upgrade itself (API key, path, query, headers). Every error event and close code is tallied and
// reconciled with theo_ws_input_errors_total and theo_ws_rejected_total.
import type { Prng } from '../../../src/util/prng.js';
import { total } from '../../helpers/prom.js';
import { CrashHandler } from '../crashes.js';
import { Deadline, bump, counterDelta, emptyReport, finishReport, memoryLine, saveReproducer, sumOf, type Finding, type TargetReport } from '../harness.js';
import { breakJson, mutateJson, toText, type Json } from '../json-mutate.js';
import { INTERESTING_STRINGS, pick } from '../mutate.js';
import { inputPrng } from '../mutate.js';
import type { FuzzContext, FuzzTarget } from '../target.js';
import { OP, RawWs, closePayload, encodeFrame, upgradeRequest, type FrameSpec } from '../ws-wire.js';

const CONCURRENCY = 12;
/** realtime.maxMessageBytes of the server (its default). */
const MAX_MESSAGE = 1024 * 1024;

type Protocol = 'theo' | 'openai' | 'observer' | 'handshake';

export interface WsScript {
  protocol: Protocol;
  request: string;
  /** Frames in order; one Buffer per frame. */
  frames: Buffer[];
  messages: number;
  kinds: Record<string, number>;
  /** How the client ends: cleanly, or with the violation named. */
  end: string;
  /** What a crash quarantines: the upgrade variant, or the protocol and the end. */
  kind: string;
}

const THEO_SEEDS: Json[] = [
  { type: 'session.configure', sample_rate: 8000, encoding: 'pcm16', language: 'en', hot_words: ['account', 'balance'], vad_sensitivity: 'normal', timeouts: { init_ms: 1000, silence_ms: 5000, hold_ms: 10000 }, itn: true, partials: true, local_agreement: 2 },
  { type: 'session.configure', encoding: 'mulaw' },
  { type: 'session.configure', hot_words: ['pound', 'key'] },
  { type: 'session.configure', model: 'pocketsphinx-en-us', language: 'en-US' },
  { type: 'input_audio_buffer.commit' },
  { type: 'session.cancel' },
  { type: 'response.create' },
];

const OPENAI_SEEDS: Json[] = [
  {
    type: 'session.update',
    event_id: 'evt_1',
    session: {
      type: 'transcription',
      audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'pocketsphinx-en-us', language: 'en', prompt: 'account number' }, turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 }, noise_reduction: { type: 'near_field' } } },
      include: ['item.input_audio_transcription.logprobs'],
    },
  },
  { type: 'transcription_session.update', session: { input_audio_format: 'g711_ulaw', input_audio_transcription: { model: 'pocketsphinx-en-us', language: 'en' }, turn_detection: null, input_audio_noise_reduction: null } },
  { type: 'session.update', session: { input_audio_format: 'pcm16', turn_detection: { type: 'server_vad' } } },
  { type: 'input_audio_buffer.commit' },
  { type: 'input_audio_buffer.clear' },
  { type: 'conversation.item.create', item: {} },
];

/** Quiet noise (about -50 dBFS) as PCM16: sessions start and run, the VAD hears no speech. */
function quietPcm(prng: Prng, samples: number): Buffer {
  const b = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) b.writeInt16LE(prng.int(200) - 100, 2 * i);
  return b;
}

/** Masking keys of the script being generated: from the seed, so that a script replays byte for byte. */
let maskKeys: Prng | undefined;

function encode(spec: FrameSpec): Buffer {
  return encodeFrame({ maskKey: maskKeys?.fill(new Uint8Array(4)), ...spec });
}

function textFrame(text: string | Buffer, extra: Partial<FrameSpec> = {}): Buffer {
  return encode({ opcode: OP.text, payload: typeof text === 'string' ? Buffer.from(text) : text, ...extra });
}

/** One client message of `protocol`: a mutated event, an audio chunk, or text that is not JSON. */
function message(prng: Prng, protocol: 'theo' | 'openai', kinds: Record<string, number>): { payload: Buffer; binary: boolean } {
  const r = prng.next();
  if (r < 0.15) {
    const pcm = prng.chance(0.8) ? quietPcm(prng, 80 + prng.int(400)) : prng.fill(Buffer.alloc(prng.int(2000))) as Buffer;
    if (protocol === 'theo') {
      bump(kinds, pcm.length % 2 === 0 ? 'audio frame' : 'audio frame (odd length)');
      return { payload: pcm, binary: true };
    }
    const b64 = pcm.toString('base64');
    bump(kinds, 'append');
    const audio = prng.chance(0.9) ? b64 : pick(prng, [b64.slice(1), `${b64}!`, '', 12345, null, b64.replaceAll('A', '-')]);
    return { payload: Buffer.from(JSON.stringify({ type: 'input_audio_buffer.append', audio })), binary: false };
  }
  if (r < 0.2 && protocol === 'openai') {
    bump(kinds, 'binary frame (not in this protocol)');
    return { payload: quietPcm(prng, 160), binary: true };
  }
  const seed = pick(prng, protocol === 'theo' ? THEO_SEEDS : OPENAI_SEEDS);
  if (r < 0.35) {
    bump(kinds, 'seed event');
    return { payload: Buffer.from(JSON.stringify(seed)), binary: false };
  }
  if (r < 0.9) {
    bump(kinds, 'mutated event');
    return { payload: Buffer.from(toText(mutateJson(prng, seed, ['sample_rate', 'encoding', 'session', 'audio', 'hot_words']))), binary: false };
  }
  bump(kinds, 'broken JSON');
  const text = prng.chance(0.3) ? pick(prng, INTERESTING_STRINGS) : breakJson(prng, JSON.stringify(seed));
  return { payload: Buffer.from(text), binary: false };
}

/** The frames of one message: usually one frame; sometimes fragmented, with a ping between fragments. */
function framesOf(prng: Prng, m: { payload: Buffer; binary: boolean }, kinds: Record<string, number>): Buffer[] {
  const opcode = m.binary ? OP.binary : OP.text;
  if (prng.chance(0.85) || m.payload.length < 2) return [encode({ opcode, payload: m.payload, lengthForm: prng.chance(0.05) ? pick(prng, [16, 64] as const) : undefined })];
  bump(kinds, 'fragmented message');
  const parts = 2 + prng.int(3);
  const out: Buffer[] = [];
  let at = 0;
  for (let k = 0; k < parts; k++) {
    const end = k === parts - 1 ? m.payload.length : Math.min(m.payload.length, at + 1 + prng.int(Math.max(1, m.payload.length - at)));
    out.push(encode({ opcode: k === 0 ? opcode : OP.continuation, fin: k === parts - 1, payload: m.payload.subarray(at, end) }));
    if (k < parts - 1 && prng.chance(0.3)) out.push(encode({ opcode: OP.ping, payload: Buffer.from('between') }));
    at = end;
  }
  return out;
}

const VIOLATIONS = ['unmasked', 'rsv', 'reserved opcode', 'long control frame', 'fragmented control frame', 'orphan continuation', 'data frame inside a fragmented message', 'invalid UTF-8', 'bad close code', 'one-byte close payload', 'close reason not UTF-8', 'length over the limit', 'length over 2^53', 'truncated frame', 'garbage'] as const;

function violation(prng: Prng, kind: (typeof VIOLATIONS)[number]): Buffer[] {
  const json = Buffer.from('{"type":"input_audio_buffer.commit"}');
  switch (kind) {
    case 'unmasked':
      return [textFrame(json, { mask: false })];
    case 'rsv':
      return [textFrame(json, { rsv: 1 + prng.int(7) })];
    case 'reserved opcode':
      return [encode({ opcode: pick(prng, [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), payload: json })];
    case 'long control frame':
      return [encode({ opcode: OP.ping, payload: Buffer.alloc(126 + prng.int(200), 1) })];
    case 'fragmented control frame':
      return [encode({ opcode: OP.ping, fin: false, payload: Buffer.from('p') })];
    case 'orphan continuation':
      return [encode({ opcode: OP.continuation, payload: json })];
    case 'data frame inside a fragmented message':
      return [textFrame(json.subarray(0, 5), { fin: false }), textFrame(json)];
    case 'invalid UTF-8':
      return [textFrame(Buffer.concat([json.subarray(0, 10), Buffer.from(pick(prng, [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]])), json.subarray(10)]))];
    case 'bad close code':
      return [encode({ opcode: OP.close, payload: closePayload(pick(prng, [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])) })];
    case 'one-byte close payload':
      return [encode({ opcode: OP.close, payload: Buffer.from([3]) })];
    case 'close reason not UTF-8':
      return [encode({ opcode: OP.close, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff, 0xfe])]) })];
    case 'length over the limit':
      return [encode({ opcode: OP.text, payload: Buffer.alloc(0), claimedLength: MAX_MESSAGE + 1 + prng.int(MAX_MESSAGE) })];
    case 'length over 2^53':
      return [Buffer.concat([Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1]), Buffer.alloc(4)])];
    case 'truncated frame':
      return [encode({ opcode: OP.text, payload: json, claimedLength: json.length + 1 + prng.int(1000) })];
    case 'garbage':
      return [prng.fill(Buffer.alloc(1 + prng.int(64))) as Buffer];
  }
}

/** Connection `index` of the run: a function of (seed, index) only. */
export function wsScript(seed: number, index: number, apiKey: string): WsScript {
  maskKeys = inputPrng(seed, 'ws-mask', index);
  try {
    return script(seed, index, apiKey);
  } finally {
    maskKeys = undefined;
  }
}

function script(seed: number, index: number, apiKey: string): WsScript {
  const prng = inputPrng(seed, 'ws', index);
  const kinds: Record<string, number> = {};
  const auth = { Authorization: `Bearer ${apiKey}` };
  const r = prng.next();
  if (r < 0.05) return handshakeScript(prng, apiKey);
  const protocol: Protocol = r < 0.5 ? 'theo' : r < 0.97 ? 'openai' : 'observer';
  const path = protocol === 'theo' ? pick(prng, ['/v1/realtime', '/v1/realtime?sample_rate=8000&encoding=pcm16', '/v1/realtime?encoding=mulaw&hot_words=a,b', '/v1/realtime?itn=false&partials=false']) : protocol === 'openai' ? '/v1/realtime?intent=transcription' : '/v1/calls/events';
  const headers = protocol === 'openai' && prng.chance(0.3) ? { ...auth, 'OpenAI-Beta': 'realtime=v1' } : auth;
  const frames: Buffer[] = [];
  const n = prng.chance(0.9) ? 20 + prng.int(400) : 500 + prng.int(3000);
  for (let k = 0; k < n; k++) {
    if (prng.chance(0.03)) {
      bump(kinds, 'ping');
      frames.push(encode({ opcode: pick(prng, [OP.ping, OP.pong]), payload: prng.fill(Buffer.alloc(prng.int(126))) }));
      continue;
    }
    const m = message(prng, protocol === 'theo' ? 'theo' : 'openai', kinds);
    frames.push(...framesOf(prng, m, kinds));
  }
  let end: string;
  const e = prng.next();
  if (e < 0.3) {
    const v = pick(prng, VIOLATIONS);
    end = `violation: ${v}`;
    frames.push(...violation(prng, v));
  } else if (e < 0.4 && protocol === 'theo') {
    end = 'session.close';
    frames.push(textFrame('{"type":"session.close"}'));
  } else if (e < 0.5) {
    end = 'FIN without a close frame';
  } else {
    end = 'close 1000';
    frames.push(encode({ opcode: OP.close, payload: closePayload(1000, 'done') }));
  }
  return { protocol, request: upgradeRequest(path, headers, maskKeys?.fill(new Uint8Array(16))), frames, messages: n, kinds, end, kind: `${protocol}: ${end}` };
}

function handshakeScript(prng: Prng, apiKey: string): WsScript {
  const variants: Array<[string, string, Record<string, string>]> = [
    ['no API key', '/v1/realtime', {}],
    ['wrong API key', '/v1/realtime', { Authorization: 'Bearer nope' }],
    ['API key in the query', `/v1/realtime?api_key=${apiKey}`, {}],
    ['API key as subprotocol', '/v1/realtime?intent=transcription', { 'Sec-WebSocket-Protocol': `realtime, openai-insecure-api-key.${apiKey}` }],
    ['unknown path', '/v1/realtimeX', { Authorization: `Bearer ${apiKey}` }],
    ['invalid query', `/v1/realtime?sample_rate=${pick(prng, ['abc', '1', '999999', '-8000', ''])}&${pick(prng, ['encoding=opus', 'itn=maybe', 'x=1', 'local_agreement=99'])}`, { Authorization: `Bearer ${apiKey}` }],
    ['observer of no session', `/v1/sessions/${encodeURIComponent(pick(prng, ['nope', '%', '../x', 'sess_00000000-0000-0000-0000-000000000000']))}/events`, { Authorization: `Bearer ${apiKey}` }],
    ['observer of no session, id over 100 bytes', `/v1/sessions/${'a'.repeat(101 + prng.int(400))}/events`, { Authorization: `Bearer ${apiKey}` }],
    ['bad WebSocket version', '/v1/realtime', { Authorization: `Bearer ${apiKey}`, 'Sec-WebSocket-Version': '8' }],
    ['header value mutated', '/v1/realtime', { Authorization: `Bearer ${apiKey}`, [pick(prng, ['OpenAI-Beta', 'Sec-WebSocket-Protocol', 'Sec-WebSocket-Extensions', 'X-Request-Id'])]: pick(prng, INTERESTING_STRINGS.slice(0, 29)).replace(/[\r\n\0]/g, '') }],
  ];
  const [what, path, headers] = pick(prng, variants);
  let request = upgradeRequest(path, headers, maskKeys?.fill(new Uint8Array(16)));
  if (what === 'no API key' && prng.chance(0.3)) request = request.replace('Upgrade: websocket\r\n', '');
  const frames = [encode({ opcode: OP.text, payload: Buffer.from('{"type":"session.cancel"}') }), encode({ opcode: OP.close, payload: closePayload(1000, 'done') })];
  return { protocol: 'handshake', request, frames, messages: 1, kinds: { [`handshake: ${what}`]: 1 }, end: 'close 1000', kind: `handshake: ${what}` };
}

// ---- running scripts --------------------------------------------------------------------------------

interface Tally {
  /** Messages on connections the server closed on its own before the script's end: their errors may be counted and never delivered. */
  uncertain: number;
  /** Upgrades Theo refused: with an HTTP error status, or accepted and closed with 4401, 4404 or 1008 (an invalid query). */
  refused: number;
  /** Error events the client got, by "protocol code". */
  errors: Record<string, number>;
}

/** Plays one script; returns what the client saw, or a finding when the server did not close in time. */
async function play(ctx: FuzzContext, index: number, script: WsScript, report: TargetReport, tally: Tally): Promise<Finding | undefined> {
  const server = ctx.server!;
  const port = Number(new URL(server.url).port);
  let ws: RawWs;
  try {
    ws = await RawWs.connect(port, script.request);
  } catch (err) {
    bump(report.outcomes, `connect failed: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  for (const [k, v] of Object.entries(script.kinds)) bump(report.inputs, `${script.protocol}: ${k}`, v);
  if (ws.view.status !== 101) {
    bump(report.outcomes, `${script.protocol === 'handshake' ? script.kind : script.protocol}: HTTP ${ws.view.status || 'no answer'}`);
    if (ws.view.status >= 400) tally.refused++;
    ws.destroy();
    return undefined;
  }
  const bytes = Buffer.concat(script.frames);
  ws.write(bytes);
  bump(report.inputs, 'frames', script.frames.length);
  if (script.end === 'FIN without a close frame' || script.end === 'violation: truncated frame') ws.socket.end();
  const closed = await ws.waitClosed(script.end === 'session.close' ? 60_000 : 30_000);
  const label = script.kind;
  bump(report.outcomes, `${label} → close ${ws.view.closeCode ?? 'none'}`);
  // A refused upgrade's error event is counted with the refusal (theo_ws_rejected_total), not as input.
  const refused = script.protocol === 'handshake' && [4401, 4404, 1008].includes(ws.view.closeCode ?? 0);
  if (refused) tally.refused++;
  for (const ev of ws.view.events) {
    if (refused || ev.type !== 'error') continue;
    const code = typeof ev.code === 'string' ? ev.code : typeof (ev.error as { code?: unknown } | undefined)?.code === 'string' ? String((ev.error as { code: string }).code) : 'none';
    bump(tally.errors, `${PROTOCOL_LABEL[script.protocol]} ${code}`);
  }
  if (closedEarly(script, ws)) tally.uncertain += script.messages;
  if (ws.view.badText > 0) bump(report.outcomes, 'server text that is not JSON', ws.view.badText);
  if (!closed) {
    ws.destroy();
    return { kind: 'hang', target: 'ws', what: `connection ${index} (${label}) was not closed by the server within ${script.end === 'session.close' ? 60 : 30} s`, indices: [index, index + 1], reproducer: saveReproducer(ctx.outDir, 'ws', ctx.seed, index, Buffer.concat([Buffer.from(script.request), bytes])) };
  }
  if (ws.view.closeCode === 1011) return { kind: 'error', target: 'ws', what: `connection ${index} (${label}) was closed with 1011 (internal error): ${ws.view.closeReason}`, indices: [index, index + 1], reproducer: saveReproducer(ctx.outDir, 'ws', ctx.seed, index, Buffer.concat([Buffer.from(script.request), bytes])) };
  return undefined;
}

/** The `protocol` label of the runtime's counters for each kind of script. */
const PROTOCOL_LABEL: Record<Protocol, string> = { theo: 'theo', openai: 'openai', observer: 'calls', handshake: 'theo' };

/**
 * Messages whose error events the server may count and not send: on a connection it closed on its own (a
 * session timeout, a refused session, a client not reading) before the script's end, or one the client
 * ended with a bare FIN (the ws library marks the socket closing at the FIN and still delivers the messages
 * it had buffered, whose answers then cannot be sent).
 */
function closedEarly(script: WsScript, ws: RawWs): boolean {
  if (script.end === 'FIN without a close frame') return true;
  const code = ws.view.closeCode;
  if (code === undefined) return false;
  if (script.end === 'close 1000') return ws.view.closeReason !== 'done';
  if (script.end.startsWith('violation')) return ![1002, 1007, 1009].includes(code);
  return script.end !== 'session.close';
}

const WS_COUNTERS = ['theo_ws_input_errors_total', 'theo_ws_rejected_total', 'theo_ws_partials_dropped_total', 'theo_http_errors_total', 'theo_session_dropped_samples_total', 'theo_worker_restarts_total'];

const newTally = (): Tally => ({ uncertain: 0, refused: 0, errors: {} });

export const wsTarget: FuzzTarget = {
  name: 'ws',
  needsServer: true,
  async run(ctx) {
    const report = emptyReport('ws', ctx.seed);
    const server = ctx.server!;
    const t0 = performance.now();
    server.markLogs();
    const memBefore = await server.memory('ws');
    const deadline = new Deadline(ctx.budget);
    const crashes = new CrashHandler(ctx, 'ws', async (i) => {
      const script = wsScript(ctx.seed, i, server.opts.apiKey);
      await play(ctx, i, script, emptyReport('ws', ctx.seed), newTally());
      return { kind: script.kind, bytes: Buffer.concat([Buffer.from(script.request), ...script.frames]) };
    });
    // What the clients saw since the last (re)start of the server: a crash resets its counters, and this with them.
    let epoch = { n: 0, before: await server.metrics(), tally: newTally() };
    let frames = 0;
    let messages = 0;
    let next = 0;
    let checked = 0;
    const worker = async (): Promise<void> => {
      while (!crashes.stopped && deadline.more(frames)) {
        await crashes.gate();
        const index = next++;
        const script = wsScript(ctx.seed, index, server.opts.apiKey);
        if (crashes.quarantined.has(script.kind)) {
          bump(report.outcomes, `${script.kind}: not sent (a known crasher, or it crashed the server earlier)`);
          continue;
        }
        crashes.begin(index);
        const mine = epoch;
        const f = await play(ctx, index, script, report, mine.tally);
        crashes.end(index);
        frames += script.frames.length;
        messages += script.messages;
        if (f && mine === epoch && server.theo.alive()) report.findings.push(f);
        if (index - checked >= 50 || !server.theo.alive()) {
          const from = checked;
          checked = index;
          if (await crashes.check(report, [from, index + 1])) epoch = { n: epoch.n + 1, before: await server.metrics(), tally: newTally() };
          const mem = await server.memory('ws').catch(() => undefined);
          if (mem?.finding) report.findings.push(mem.finding);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    report.count = frames;
    report.inputs.connections = next;
    report.inputs.messages = messages;
    if (server.theo.alive()) {
      await reconcile(ctx, report, epoch.before, epoch.tally, epoch.n > 0 ? ' (since the last restart)' : '');
      report.memory = memoryLine(memBefore, await server.memory('ws'), server);
      const hc = await server.check('ws', [checked, next]);
      if (hc) report.findings.push(hc);
    }
    return finishReport(report, server, t0);
  },
  async one(ctx, index) {
    const script = wsScript(ctx.seed, index, ctx.server!.opts.apiKey);
    const report = emptyReport('ws', ctx.seed);
    await play(ctx, index, script, report, newTally());
    ctx.log(`ws connection ${index} (${script.kind}): ${Object.keys(report.outcomes).join('; ')}`);
    return Buffer.concat([Buffer.from(script.request), ...script.frames]);
  },
};

/** The runtime's counters against what the clients saw, once every connection is closed. */
async function reconcile(ctx: FuzzContext, report: TargetReport, before: Map<string, number>, tally: Tally, since: string): Promise<void> {
  const server = ctx.server!;
  // Connections and sessions are released: theo_ws_connections back to 0, no session left.
  const until = performance.now() + 30_000;
  let m = await server.metrics();
  while (performance.now() < until && (total(m, 'theo_ws_connections') > 0 || (m.get('theo_sessions_active') ?? 0) > 0)) {
    await new Promise((r) => setTimeout(r, 250));
    m = await server.metrics();
  }
  if (total(m, 'theo_ws_connections') > 0 || (m.get('theo_sessions_active') ?? 0) > 0) {
    report.findings.push({ kind: 'leak', target: 'ws', what: `30 s after the last connection closed: theo_ws_connections ${total(m, 'theo_ws_connections')}, theo_sessions_active ${m.get('theo_sessions_active') ?? 0} (${JSON.stringify(await server.sessionStates())})` });
  }
  Object.assign(report.counters, counterDelta(before, m, WS_COUNTERS));
  for (const [k, v] of Object.entries(tally.errors)) report.outcomes[`error event: ${k}`] = v;
  // Each input error the server counted is one error event a client received, code by code.
  const counted: Record<string, number> = {};
  for (const [k, v] of Object.entries(counterDelta(before, m, ['theo_ws_input_errors_total']))) {
    const l = /protocol="([^"]*)",code="([^"]*)"|code="([^"]*)",protocol="([^"]*)"/.exec(k);
    if (l) bump(counted, `${l[1] ?? l[4]} ${l[2] ?? l[3]}`, v);
  }
  const codes = new Set([...Object.keys(counted), ...Object.keys(tally.errors)]);
  const uncounted: string[] = [];
  const differ: string[] = [];
  let received = 0;
  let got = 0;
  for (const c of codes) {
    const server = counted[c] ?? 0;
    const client = tally.errors[c] ?? 0;
    if (server === 0) {
      uncounted.push(`${c} (${client})`);
      continue;
    }
    if (server !== client) differ.push(`${c} ${client} received, ${server} counted`);
    received += client;
    got += server;
  }
  // Exact but for connections the server closed first: what it read after that is counted, not delivered.
  report.accounting.push({
    what: `error events received ≤ theo_ws_input_errors_total ≤ received + messages on connections closed by the server first or by a bare FIN${since}`,
    sent: received,
    counted: got,
    ok: received <= got && got <= received + tally.uncertain,
    note: `${tally.uncertain} messages on such connections${differ.length > 0 ? `; ${differ.join('; ')}` : ''}`,
  });
  if (uncounted.length > 0) report.gaps.push(`error events sent with no theo_ws_input_errors_total count: ${uncounted.join(', ')}`);
  const violations = sumProtocolCloses(report);
  const protocolErrors = sumOf(counterDelta(before, m, ['theo_ws_protocol_errors_total']));
  report.accounting.push({
    what: `closes for a protocol violation (1002 / 1007 / 1009, whatever the script meant to send) ≤ theo_ws_protocol_errors_total ≤ those + messages on connections closed by the server first or by a bare FIN${since}`,
    sent: violations,
    counted: protocolErrors,
    ok: violations <= protocolErrors && protocolErrors <= violations + tally.uncertain,
  });
  // An upgrade refused before the ws layer (no route, a wrong key, a bad handshake) or after it (4401, 4404,
  // 1008) is theo_ws_rejected_total; a handshake whose Upgrade header was mutated away is a plain HTTP
  // request, and its 404 theo_http_errors_total (this target sends no other HTTP requests).
  const rejected = sumOf(counterDelta(before, m, ['theo_ws_rejected_total'])) + sumOf(counterDelta(before, m, ['theo_http_errors_total']));
  const refused = tally.refused;
  report.accounting.push({ what: `upgrades refused (HTTP 4xx, or close 4401 / 4404 / 1008) → theo_ws_rejected_total + theo_http_errors_total${since}`, sent: refused, counted: rejected, ok: refused === rejected });
}

/**
 * Connections the server closed with 1002, 1007 or 1009: the ws layer's answer to a frame that breaks RFC
 * 6455. A script's own violation may never reach it as a frame (one cut short by a FIN), and a "clean" script
 * may break the protocol on the way (a close frame after an unfinished fragmented message).
 */
function sumProtocolCloses(report: TargetReport): number {
  return Object.entries(report.outcomes).filter(([k]) => /→ close 100[279]$/.test(k)).reduce((a, [, v]) => a + v, 0);
}
