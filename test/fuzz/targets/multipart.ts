// Multipart uploads: raw HTTP/1.1 requests over TCP to POST /v1/audio/transcriptions and /translations of
// `theo serve` (API key set): valid forms around real audio, forms around mutated audio (the audio-seeds
// mutations), mutated fields (values, unknown, repeated, too many, too long, missing or extra files, odd part
// headers), byte-mutated bodies, mutated Content-Type boundaries, Content-Length that lies, chunked bodies
// (valid and broken), uploads aborted half-way and oversized declarations. Every answer's status and error
// code is tallied and reconciled with theo_http_errors_total.
import net from 'node:net';
import type { Prng } from '../../../src/util/prng.js';
import { audioSeeds, mutateAudio } from '../audio-seeds.js';
import { CrashHandler } from '../crashes.js';
import { Deadline, bump, counterDelta, emptyReport, finishReport, memoryLine, saveReproducer } from '../harness.js';
import { INTERESTING_STRINGS, concat, inputPrng, mutate, pick } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

const CONCURRENCY = 4;
const RESPONSE_TIMEOUT_MS = 120_000;

interface Part {
  headers: string[];
  content: Uint8Array;
}

export interface HttpInput {
  kind: string;
  bytes: Uint8Array;
  /** Close the connection after this many bytes instead of waiting for the answer (an aborted upload). */
  abortAfter?: number;
  /** Half-close after writing (a body shorter than its Content-Length). */
  endEarly?: boolean;
}

function field(name: string, value: string): Part {
  return { headers: [`Content-Disposition: form-data; name="${name}"`], content: Buffer.from(value) };
}

function filePart(bytes: Uint8Array, filename = 'audio.wav', type = 'audio/wav', name = 'file'): Part {
  return { headers: [`Content-Disposition: form-data; name="${name}"; filename="${filename}"`, `Content-Type: ${type}`], content: bytes };
}

function body(boundary: string, parts: Part[], closing = true): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const p of parts) chunks.push(Buffer.from(`--${boundary}\r\n${p.headers.join('\r\n')}\r\n\r\n`), p.content, Buffer.from('\r\n'));
  if (closing) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return concat(...chunks);
}

function request(path: string, headers: string[], payload: Uint8Array): Uint8Array {
  return concat(Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`), payload);
}

function validParts(prng: Prng): Part[] {
  const seeds = audioSeeds();
  const s = pick(prng, seeds);
  const parts = [filePart(s.bytes, s.name, `audio/${s.container}`), field('model', 'pocketsphinx-en-us')];
  if (prng.chance(0.5)) parts.push(field('response_format', pick(prng, ['json', 'text', 'verbose_json', 'srt', 'vtt'])));
  if (prng.chance(0.3)) parts.push(field('language', 'en'));
  if (prng.chance(0.2)) parts.push(field('timestamp_granularities[]', 'word'), field('response_format', 'verbose_json'));
  if (prng.chance(0.2)) parts.push(field('temperature', '0'));
  return parts;
}

const FIELD_NAMES = ['model', 'response_format', 'language', 'prompt', 'temperature', 'timestamp_granularities[]', 'itn', 'hot_words', 'preprocess', 'gain', 'denoise', 'stream', 'chunking_strategy', 'include[]'];

function mutateParts(prng: Prng, parts: Part[]): Part[] {
  const out = [...parts];
  const n = 1 + prng.int(3);
  for (let k = 0; k < n; k++) {
    switch (prng.int(10)) {
      case 0:
        out.push(field(pick(prng, FIELD_NAMES), pick(prng, INTERESTING_STRINGS)));
        break;
      case 1:
        out.push(field(pick(prng, ['unknown', 'file', '', '"', 'a'.repeat(300)]), 'x'));
        break;
      case 2:
        out.splice(prng.int(out.length), 1);
        break;
      case 3:
        for (let i = 0; i < 70; i++) out.push(field(`f${i}`, 'x'));
        break;
      case 4:
        out.push(field('prompt', 'p'.repeat(64 * 1024 + 1 + prng.int(1000))));
        break;
      case 5:
        out.push(filePart(pick(prng, audioSeeds()).bytes, 'second.wav'));
        break;
      case 6:
        out[0] = filePart(prng.chance(0.5) ? new Uint8Array(0) : prng.fill(new Uint8Array(prng.int(2000))), pick(prng, ['', 'a.pdf', '../../x', '\u00fc.wav', 'x'.repeat(500)]), pick(prng, ['application/pdf', 'audio/wav', '', 'x/y; charset=utf-8']));
        break;
      case 7:
        out[0] = filePart(out[0]?.content ?? new Uint8Array(0), 'audio.wav', 'audio/wav', pick(prng, ['audio', 'File', 'file[]', '']));
        break;
      case 8: {
        const p = out[prng.int(out.length)];
        if (p) p.headers = p.headers.map((h) => (prng.chance(0.5) ? h.replace(/name="[^"]*"/, pick(prng, ['name=unquoted', 'name=""', '', 'name="a"; name="b"', 'filename*=UTF-8\'\'%FF'])) : `${h}; ${pick(prng, ['x=1', 'charset=bad', '\u0000'])}`));
        break;
      }
      default:
        out.push({ headers: pick(prng, [[], ['Content-Type: text/plain'], ['Content-Disposition: attachment'], ['X: y'.repeat(3000)]]), content: Buffer.from('orphan') });
    }
  }
  return out;
}

/** Request `index` of the run: a function of (seed, index, API key) only. */
export function httpInput(seed: number, index: number, apiKey: string): HttpInput {
  const prng = inputPrng(seed, 'multipart', index);
  const path = prng.chance(0.8) ? '/v1/audio/transcriptions' : '/v1/audio/translations';
  const auth = prng.chance(0.02) ? pick(prng, ['', 'Authorization: Bearer wrong', 'Authorization: Basic x']) : `Authorization: Bearer ${apiKey}`;
  const boundary = `----theofuzz${prng.int(1e9)}`;
  const ct = `Content-Type: multipart/form-data; boundary=${boundary}`;
  const withLength = (headers: string[], payload: Uint8Array): Uint8Array => request(path, [...headers.filter((h) => h !== ''), `Content-Length: ${payload.length}`], payload);
  const r = prng.next();
  if (r < 0.1) return { kind: 'valid form', bytes: withLength([auth, ct], body(boundary, validParts(prng))) };
  if (r < 0.35) {
    const seeds = audioSeeds();
    const s = pick(prng, seeds);
    const parts = [filePart(mutateAudio(prng, s, seeds), s.name, `audio/${s.container}`), field('model', 'pocketsphinx-en-us')];
    return { kind: `mutated audio (${s.container})`, bytes: withLength([auth, ct], body(boundary, parts)) };
  }
  if (r < 0.55) return { kind: 'mutated fields', bytes: withLength([auth, ct], body(boundary, mutateParts(prng, validParts(prng)))) };
  if (r < 0.72) {
    const b = body(boundary, validParts(prng), prng.chance(0.8));
    return { kind: 'mutated body bytes', bytes: withLength([auth, ct], mutate(prng, b, { region: 400, other: body(boundary, validParts(prng)) })) };
  }
  if (r < 0.8) {
    const b = body(boundary, validParts(prng));
    const bad = pick(prng, [
      'Content-Type: multipart/form-data',
      `Content-Type: multipart/form-data; boundary=${boundary}x`,
      `Content-Type: multipart/form-data; boundary="${boundary}"`,
      'Content-Type: multipart/form-data; boundary=',
      `Content-Type: multipart/form-data; boundary=${'b'.repeat(200)}`,
      `Content-Type: multipart/form-data; charset=utf-8; boundary=${boundary}; boundary=other`,
      'Content-Type: application/json',
      'Content-Type: text/plain',
      `Content-Type: multipart/mixed; boundary=${boundary}`,
      `Content-Type: MULTIPART/FORM-DATA; BOUNDARY=${boundary}`,
      '',
    ]);
    return { kind: 'mutated Content-Type', bytes: withLength([auth, bad], b) };
  }
  if (r < 0.86) {
    const b = body(boundary, validParts(prng));
    const lie = prng.chance(0.5) ? b.length + 1 + prng.int(10_000) : Math.max(0, b.length - 1 - prng.int(b.length));
    return { kind: lie > b.length ? 'Content-Length longer than the body' : 'Content-Length shorter than the body', bytes: request(path, [auth, ct, `Content-Length: ${lie}`], b), endEarly: lie > b.length };
  }
  if (r < 0.92) {
    const b = body(boundary, validParts(prng));
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < b.length; ) {
      const n = Math.min(b.length - at, 1 + prng.int(4096));
      chunks.push(Buffer.from(`${n.toString(16)}\r\n`), b.subarray(at, at + n), Buffer.from('\r\n'));
      at += n;
    }
    chunks.push(Buffer.from('0\r\n\r\n'));
    const chunked = concat(...chunks);
    const broken = prng.chance(0.5);
    return { kind: broken ? 'chunked, broken' : 'chunked', bytes: request(path, [auth, ct, 'Transfer-Encoding: chunked'], broken ? mutate(prng, chunked, { region: 64 }) : chunked), endEarly: broken };
  }
  if (r < 0.97) {
    const full = withLength([auth, ct], body(boundary, validParts(prng)));
    return { kind: 'upload aborted', bytes: full, abortAfter: prng.int(full.length) };
  }
  return { kind: 'oversized Content-Length', bytes: request(path, [auth, ct, `Content-Length: ${26 * 1024 * 1024 + prng.int(1e9)}`], body(boundary, validParts(prng))), endEarly: true };
}

interface Answer {
  status: number;
  code: string;
}

/** Sends one request on its own connection; the answer, or undefined when the client aborted. */
function send(port: number, input: HttpInput): Promise<Answer | undefined | 'timeout'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (v: Answer | undefined | 'timeout'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish('timeout'), RESPONSE_TIMEOUT_MS);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => finish(input.abortAfter !== undefined ? undefined : parse(Buffer.concat(chunks))));
    socket.once('connect', () => {
      if (input.abortAfter !== undefined) {
        socket.write(input.bytes.subarray(0, input.abortAfter), () => setTimeout(() => finish(undefined), 20));
        return;
      }
      socket.write(input.bytes);
      if (input.endEarly) socket.end();
    });
  });
}

function parse(raw: Buffer): Answer {
  const head = raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n'))).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const text = raw.subarray(raw.indexOf('\r\n\r\n') + 4).toString('utf8');
  let code = 'none';
  if (status >= 400) {
    try {
      code = String((JSON.parse(/chunked/i.test(head) ? dechunk(text) : text) as { error?: { code?: string | null } }).error?.code ?? 'none');
    } catch {
      code = 'not JSON';
    }
  }
  return { status, code };
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const n = parseInt(rest.slice(0, nl), 16);
    if (!(n > 0)) return out;
    out += rest.slice(nl + 2, nl + 2 + n);
    rest = rest.slice(nl + 2 + n + 2);
  }
}

const HTTP_COUNTERS = ['theo_http_errors_total', 'theo_transcription_requests_total', 'theo_worker_restarts_total'];

export const multipartTarget: FuzzTarget = {
  name: 'multipart',
  needsServer: true,
  async run(ctx) {
    const report = emptyReport('multipart', ctx.seed);
    const server = ctx.server!;
    const t0 = performance.now();
    server.markLogs();
    const memBefore = await server.memory('multipart');
    const deadline = new Deadline(ctx.budget);
    const port = (): number => Number(new URL(server.url).port);
    const crashes = new CrashHandler(ctx, 'multipart', async (i) => {
      const input = httpInput(ctx.seed, i, server.opts.apiKey);
      await send(port(), input);
      return { kind: input.kind, bytes: input.bytes };
    });
    // Tallies since the last (re)start of the server: a crash resets its counters, and these with them.
    let epoch = { n: 0, before: await server.metrics(), errors: {} as Record<string, number>, unanswered: 0, since: 0 };
    let next = 0;
    let checked = 0;
    const worker = async (): Promise<void> => {
      while (!crashes.stopped && deadline.more(next)) {
        await crashes.gate();
        const index = next++;
        const input = httpInput(ctx.seed, index, server.opts.apiKey);
        if (crashes.quarantined.has(input.kind)) {
          bump(report.outcomes, `${input.kind}: not sent (a known crasher, or it crashed the server earlier)`);
          continue;
        }
        bump(report.inputs, input.kind);
        crashes.begin(index);
        const mine = epoch;
        const a = await send(port(), input);
        crashes.end(index);
        report.count++;
        // A connection reset with no answer may be the process dying: give the exit a moment to show.
        if (a !== 'timeout' && a !== undefined && a.status === 0 && server.theo.alive()) await new Promise((r) => setTimeout(r, 300));
        if (mine !== epoch || !server.theo.alive()) {
          bump(report.outcomes, `${input.kind}: lost in a crash`);
        } else if (a === 'timeout') {
          report.findings.push({ kind: 'hang', target: 'multipart', what: `request ${index} (${input.kind}) got no answer in ${RESPONSE_TIMEOUT_MS / 1000} s`, indices: [index, index + 1], reproducer: saveReproducer(ctx.outDir, 'multipart', ctx.seed, index, input.bytes) });
        } else if (a === undefined || a.status === 0) {
          // Aborted by the client, or closed by Node's HTTP parser without an answer: Theo may have counted it.
          mine.unanswered++;
          bump(report.outcomes, `${input.kind}: ${a === undefined ? 'client aborted' : 'no HTTP answer (connection closed)'}`);
        } else {
          bump(report.outcomes, `${input.kind}: ${a.status} ${a.code}`);
          if (a.status >= 400) bump(mine.errors, `${a.status} ${a.code}`);
          // Node's own answer (not Theo's JSON): Theo may still have counted its error for the same request
          // (a body shorter than its Content-Length is both Theo's upload_aborted and Node's parse error).
          if (a.code === 'not JSON') mine.unanswered++;
          if (a.status >= 500 && a.status !== 503) report.findings.push({ kind: 'error', target: 'multipart', what: `request ${index} (${input.kind}) answered ${a.status} ${a.code}`, indices: [index, index + 1], reproducer: saveReproducer(ctx.outDir, 'multipart', ctx.seed, index, input.bytes) });
        }
        if (!server.theo.alive() || index - checked >= 20) {
          const from = checked;
          checked = index;
          if (await crashes.check(report, [from, index + 1])) epoch = { n: epoch.n + 1, before: await server.metrics(), errors: {}, unanswered: 0, since: index + 1 };
          const mem = await server.memory('multipart').catch(() => undefined);
          if (mem?.finding) report.findings.push(mem.finding);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    if (server.theo.alive()) {
      const after = await server.metrics();
      Object.assign(report.counters, counterDelta(epoch.before, after, HTTP_COUNTERS));
      const counted: Record<string, number> = {};
      for (const [k, v] of Object.entries(counterDelta(epoch.before, after, ['theo_http_errors_total']))) {
        const status = /status="(\d+)"/.exec(k)?.[1] ?? '?';
        const code = /code="([^"]*)"/.exec(k)?.[1] ?? '?';
        bump(counted, `${status} ${code}`, v);
      }
      let received = 0;
      let got = 0;
      const uncounted: string[] = [];
      // Answers without Theo's JSON body come from Node's HTTP parser, counted in theo_http_client_errors_total.
      let parserAnswers = 0;
      for (const [key, n] of Object.entries(epoch.errors)) if (key.endsWith(' not JSON')) parserAnswers += n;
      const clientErrors = Object.values(counterDelta(epoch.before, after, ['theo_http_client_errors_total'])).reduce((a, b) => a + b, 0);
      for (const key of new Set([...Object.keys(counted), ...Object.keys(epoch.errors)])) {
        if (key.endsWith(' not JSON')) continue;
        const c = counted[key] ?? 0;
        const e = epoch.errors[key] ?? 0;
        if (c === 0) uncounted.push(`${key} (${e})`);
        else {
          received += e;
          got += c;
        }
      }
      const since = epoch.n > 0 ? ` (requests ${epoch.since}.., since the last restart)` : '';
      report.accounting.push({ what: `error answers received ≤ theo_http_errors_total ≤ received + requests without a Theo answer${since}`, sent: received, counted: got, ok: received <= got && got <= received + epoch.unanswered, note: `${epoch.unanswered} aborted by the client, closed without an answer, or answered by Node's HTTP parser` });
      report.accounting.push({ what: `answers from Node's HTTP parser (no JSON body) ≤ theo_http_client_errors_total${since}`, sent: parserAnswers, counted: clientErrors, ok: parserAnswers <= clientErrors });
      if (uncounted.length > 0) report.gaps.push(`error answers with no theo_http_errors_total count: ${uncounted.join(', ')}`);
      report.memory = memoryLine(memBefore, await server.memory('multipart'), server);
      const hc = await server.check('multipart', [checked, next]);
      if (hc) report.findings.push(hc);
    }
    return finishReport(report, server, t0);
  },
  async one(ctx, index) {
    const input = httpInput(ctx.seed, index, ctx.server!.opts.apiKey);
    const a = await send(Number(new URL(ctx.server!.url).port), input);
    ctx.log(`multipart request ${index} (${input.kind}): ${a === undefined ? 'aborted by the client' : a === 'timeout' ? 'no answer' : `${a.status} ${a.code}`}`);
    return input.bytes;
  },
};
