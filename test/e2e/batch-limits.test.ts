// The batch API under hostile and heavy input, against `theo serve` with the real PocketSphinx worker:
// truncated and doubled multipart bodies, malformed WAV headers, an hour of audio (memory of the runtime
// and the worker sampled from /proc while it runs), the duration limit, long audio in pieces with its
// timeline intact, admission control (429 with Retry-After) and a request that waits for its model.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/audio/wav.js';
import { childrenOf, usageOf } from '../bench/proc.js';
import { SOUNDS, readSpeech } from '../helpers/audio.js';
import { chain, writeTinyWhisper } from '../helpers/tiny-whisper/index.js';
import { runTheo, serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const SPEECH = `${SOUNDS}/queue-thankyou.wav`;
const dir = mkdtempSync(join(tmpdir(), 'theo-batch-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

interface VerboseWord {
  word: string;
  start: number;
  end: number;
}

async function post(url: string, bytes: Uint8Array, fields: Record<string, string> = {}, name = 'audio.wav'): Promise<Answer> {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

function errorOf(a: Answer): { message: string; type: string; code: string | null; param: string | null } {
  return a.body.error as { message: string; type: string; code: string | null; param: string | null };
}

/** A raw body to POST with curl's content type, over a plain socket-level request. */
function rawPost(url: string, body: Buffer, boundary: string, agent?: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(`${url}/v1/audio/transcriptions`);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Peak RSS (MB) of the runtime and of its worker processes while `work` runs, sampled every 20 ms. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ value: T; runtime: number; workers: number; before: { runtime: number; workers: number } }> {
  const workersRss = (): number => childrenOf(pid).reduce((mb, p) => mb + usageOf(p).rssMb, 0);
  const before = { runtime: usageOf(pid).rssMb, workers: workersRss() };
  let runtime = before.runtime;
  let workers = before.workers;
  const timer = setInterval(() => {
    runtime = Math.max(runtime, usageOf(pid).rssMb);
    workers = Math.max(workers, workersRss());
  }, 20);
  try {
    const value = await work();
    return { value, runtime, workers, before };
  } finally {
    clearInterval(timer);
  }
}

describe('batch API: malformed uploads, an hour of audio, long audio in pieces', () => {
  let run: TheoRun | undefined;
  let url = '';
  beforeAll(async () => {
    ({ run, url } = await serveTheo(['--preload', '--rtp-ports', '43120-43129']));
  }, 180_000);
  afterAll(async () => {
    const done = await stopTheo(run);
    if (done) expect(done.code, done.stderr).toBe(0);
  });

  it('a file part that never reaches its closing boundary is a 400 and the server keeps serving', async () => {
    const body = Buffer.concat([Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'), readFileSync(SPEECH)]);
    const r = await rawPost(url, body, 'XyZ');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'truncated_upload', param: 'file', type: 'invalid_request_error' } });
    expect(run?.child.exitCode).toBeNull();
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await post(url, readFileSync(SPEECH))).status).toBe(200);
  });

  it('a second file part is a 400 that says so', async () => {
    const wav = readFileSync(SPEECH);
    const part = (name: string): Buffer => Buffer.concat([Buffer.from(`--XyZ\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\n`), wav, Buffer.from('\r\n')]);
    const r = await rawPost(url, Buffer.concat([part('a.wav'), part('b.wav'), Buffer.from('--XyZ--\r\n')]), 'XyZ');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'duplicate_file', param: 'file' } });
  });

  it('a WAV header with 0 bits per sample is a 400 that says so', async () => {
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(8000) });
    wav.writeUInt16LE(0, 32);
    wav.writeUInt16LE(0, 34);
    const r = await post(url, wav);
    expect(r.status).toBe(400);
    expect(errorOf(r)).toMatchObject({ param: 'file', message: 'invalid WAV file: the WAV header says 0 bits per sample' });
  });

  it('an hour of 48 kHz FLAC is transcribed with under 300 MB more memory in the runtime and in the worker', async () => {
    const flac = join(dir, 'hour.flac');
    execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', '3600', '-c:a', 'flac', flac]);
    const bytes = readFileSync(flac);
    expect(bytes.length).toBeLessThan(1_000_000);
    const m = await peakRss(run!.child.pid!, () => post(url, bytes, { response_format: 'verbose_json' }, 'hour.flac'));
    expect(m.value.status, JSON.stringify(m.value.body)).toBe(200);
    expect(m.value.body.duration).toBeCloseTo(3600, 1);
    expect(m.runtime - m.before.runtime).toBeLessThan(300);
    expect(m.workers - m.before.workers).toBeLessThan(300);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const parts = Number(/^theo_batch_parts_total\{model="pocketsphinx-en-us",outcome="ok"\} (\d+)/m.exec(metrics)?.[1]);
    expect(parts).toBeGreaterThanOrEqual(120); // at most 30 s per call to the worker
  }, 300_000);

  it('long speech goes to the worker in pieces and its words come back in order, text joined', async () => {
    // 70 s: the prompt at 5 s and again at 50 s with silence around them, so the pieces are cut in silence.
    const prompt = readSpeech('queue-thankyou');
    const pcm = new Int16Array(70 * 8000);
    pcm.set(prompt, 5 * 8000);
    pcm.set(prompt, 50 * 8000);
    const before = await (await fetch(`${url}/metrics`)).text();
    const r = await post(url, encodeWav({ sampleRate: 8000, channels: 1, samples: pcm }), { response_format: 'verbose_json', 'timestamp_granularities[]': 'word' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.duration).toBeCloseTo(70, 2);
    const ws = r.body.words as VerboseWord[];
    for (let i = 1; i < ws.length; i++) expect(ws[i]!.start).toBeGreaterThanOrEqual(ws[i - 1]!.end - 0.01);
    expect(ws.filter((w) => w.word.toLowerCase() === 'thank').length).toBe(2);
    expect(String(r.body.text).toLowerCase().match(/thank you/g)?.length).toBe(2);
    const parts = (m: string): number => Number(/^theo_batch_parts_total\{model="pocketsphinx-en-us",outcome="ok"\} (\d+)/m.exec(m)?.[1] ?? 0);
    expect(parts(await (await fetch(`${url}/metrics`)).text()) - parts(before)).toBe(3);
  }, 120_000);
});

describe('batch API: the pieces of a long file on one timeline (a scripted Whisper model)', () => {
  let run: TheoRun | undefined;
  let url = '';
  beforeAll(async () => {
    const models = join(dir, 'models');
    // The tiny decoder ignores the audio: every call to it says "bonjour le monde" from 0 to 1 s of its piece.
    await writeTinyWhisper(join(models, 'tiny-whisper'), {
      script: { '<|startoftranscript|>': '<|fr|>', ...chain('<|transcribe|>', '<|0.00|>', ' bonjour', ' le', ' monde', '<|1.00|>', '<|endoftext|>') },
    });
    writeFileSync(
      join(models, 'tiny-whisper', 'theo.yaml'),
      ['name: tiny-whisper', 'engine: whisper', 'architecture: encoder-decoder', 'files: { model: . }', 'sampleRate: 16000', 'languages: [en, fr]', 'capabilities: { segmentTimestamps: true, languageDetection: true }', 'defaults: { options: { dtype: fp32 } }', ''].join('\n'),
    );
    const cfg = join(dir, 'whisper.yaml');
    writeFileSync(cfg, `models:\n  dir: ${models}\n  default: tiny-whisper\nrtp:\n  portMin: 43150\n  portMax: 43159\n`);
    ({ run, url } = await serveTheo(['--preload', '--config', cfg]));
  }, 180_000);
  afterAll(async () => {
    const done = await stopTheo(run);
    if (done) expect(done.code, done.stderr).toBe(0);
  });

  it("each piece's segment moves by the piece's exact offset", async () => {
    // Digital silence is equally quiet everywhere, so each cut lands at the start of its search window
    // (25 s into the piece) plus half a 20 ms window: pieces start at 0, 25.01 and 50.02 s.
    const r = await post(url, encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(70 * 8000) }), { response_format: 'verbose_json' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const segs = (r.body.segments as Array<{ id: number; start: number; end: number; text: string }>).map((x) => [x.id, x.start, x.end]);
    expect(segs).toEqual([
      [0, 0, 1],
      [1, 25.01, 26.01],
      [2, 50.02, 51.02],
    ]);
    expect(r.body.text).toBe('bonjour le monde bonjour le monde bonjour le monde');
  }, 120_000);
});

describe('batch API: admission control and the duration limit', () => {
  let run: TheoRun | undefined;
  let url = '';
  beforeAll(async () => {
    const cfg = join(dir, 'admission.yaml');
    // Only the count bound here (the wait bound has its unit tests): two jobs at a time.
    writeFileSync(cfg, ['batch:', '  maxQueuedJobs: 2', '  maxQueueWaitSeconds: 1000000', '  maxAudioSeconds: 600', ''].join('\n'));
    ({ run, url } = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '43130-43139']));
  }, 180_000);
  afterAll(async () => {
    const done = await stopTheo(run);
    if (done) expect(done.code, done.stderr).toBe(0);
  });

  it('beyond the queue bound requests get 429 with Retry-After in the OpenAI error shape; every one is answered', async () => {
    const prompts = ['queue-thankyou', 'tt-weasels', 'hello-world', 'vm-goodbye'].map(readSpeech);
    const pcm = new Int16Array(15 * 8000);
    let at = 0;
    for (const p of [...prompts, ...prompts]) {
      if (at >= pcm.length) break;
      pcm.set(p.subarray(0, pcm.length - at), at);
      at += p.length + 2000;
    }
    const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: pcm });
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(url, wav)));
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length + refused.length).toBe(answers.length);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const a of refused) {
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(errorOf(a)).toMatchObject({ type: 'requests', code: 'queue_full', param: null });
      expect(errorOf(a).message).toMatch(/queue is full/);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^theo_batch_admissions_total\\{outcome="queue_full"\\} ${refused.length}$`, 'm'));
    expect(metrics).toMatch(/^theo_batch_jobs 0$/m);
  }, 120_000);

  it('a refused upload is drained: the same keep-alive connection serves the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const long = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(590 * 8000).fill(3) });
    const wav = readFileSync(SPEECH);
    const part = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'), bytes, Buffer.from('\r\n--XyZ--\r\n')]);
    // Two long jobs take the queue's two places while they run.
    const busy = [post(url, long), post(url, long)];
    for (let i = 0; i < 600; i++) {
      if (/^theo_batch_jobs 2$/m.test(await (await fetch(`${url}/metrics`)).text())) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const refused = await rawPost(url, part(Buffer.alloc(4 * 1024 * 1024, 1)), 'XyZ', agent);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    for (const b of await Promise.all(busy)) expect(b.status).toBe(200);
    const next = await rawPost(url, part(wav), 'XyZ', agent);
    expect(next.status).toBe(200);
    agent.destroy();
  }, 180_000);

  it('audio over batch.maxAudioSeconds is a 400, whether it declares its length or not', async () => {
    const flac = join(dir, 'long.flac');
    execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '3600', '-c:a', 'flac', flac]);
    const declared = await post(url, readFileSync(flac), {}, 'long.flac');
    expect(declared.status).toBe(400);
    expect(errorOf(declared)).toMatchObject({ param: 'file', message: 'the flac audio is longer than the 600 s limit' });
    const ogg = join(dir, 'long.ogg');
    execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '900', '-c:a', 'libvorbis', '-q:a', '0', ogg]);
    const streamed = await post(url, readFileSync(ogg), {}, 'long.ogg');
    expect(streamed.status).toBe(400);
    expect(errorOf(streamed).message).toBe('the ogg audio is longer than the 600 s limit');
  }, 120_000);
});

describe('batch API: a request that arrives while its model is loading', () => {
  let run: TheoRun | undefined;
  let worker: TheoRun | undefined;
  let url = '';
  beforeAll(async () => {
    const cfg = join(dir, 'remote.yaml');
    writeFileSync(cfg, ['workers:', '  remote:', '    - model: pocketsphinx-en-us', '      address: 127.0.0.1:43111', 'batch:', '  modelWaitMs: 60000', 'rtp:', '  portMin: 43140', '  portMax: 43149', ''].join('\n'));
    ({ run, url } = await serveTheo(['--config', cfg], { THEO_WORKER_TOKEN: 'batch-wait-secret' }));
  }, 60_000);
  afterAll(async () => {
    worker?.child.kill('SIGTERM');
    await worker?.done;
    const done = await stopTheo(run);
    if (done) expect(done.code, done.stderr).toBe(0);
  });

  it('waits for the model instead of failing at once, and is answered once it serves', async () => {
    const pending = post(url, readFileSync(SPEECH));
    pending.catch(() => undefined); // awaited below; a failed check before that must not leave it unhandled
    await new Promise((r) => setTimeout(r, 1000));
    const health = (await (await fetch(`${url}/health`)).json()) as { components: { workers: { workers: Array<{ state: string }> } } };
    expect(health.components.workers.workers[0]?.state).toBe('starting');
    worker = runTheo(['worker', '--model', 'pocketsphinx-en-us', '--port', '43111'], { THEO_WORKER_TOKEN: 'batch-wait-secret' });
    await worker.waitForLine(/"listening"/, 60_000);
    const r = await pending;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(String(r.body.text).toLowerCase()).toMatch(/thank you/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^theo_batch_model_waits_total\{model="pocketsphinx-en-us",outcome="served"\} 1$/m);
  }, 120_000);
});
