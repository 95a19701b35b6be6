// The theo command as a user runs it: `serve` (flags and env for the address, /health and /metrics, clean
// shutdown, a clear message for bad configuration), the bad-input messages of `rtp send`, and transcribe
// in batch and through a live session (--stream).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeWav, readWav } from '../../src/audio/wav.js';
import { spawn } from 'node:child_process';
import { ROOT, THEO_BIN, runTheo } from '../helpers/theo.js';

describe('theo serve', () => {
  it('serves /health and /metrics on the given port and stops cleanly on SIGTERM', async () => {
    const run = runTheo(['serve', '--port', '0', '--rtp-ports', '41700-41799']);
    const line = await run.waitForLine(/listening on/);
    const url = /listening on (\S+)/.exec(line)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = (await (await fetch(`${url}/health`)).json()) as { status: string; components: { rtp: { ports_capacity: number; port_range: string } } };
    expect(health.status).toBe('ok');
    expect(health.components.rtp.ports_capacity).toBe(50);
    expect(health.components.rtp.port_range).toBe('41700-41799');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^theo_rtp_active_streams 0$/m);
    expect(metrics).toMatch(/^# TYPE theo_rtp_packets_total counter$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);
    // Ready once the default model's worker serves; until then 503 saying it is loading.
    let ready = await fetch(`${url}/ready`);
    for (let i = 0; i < 300 && ready.status !== 200; i++) {
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toMatch(/^model 'pocketsphinx-en-us' is loading$/);
      await new Promise((r) => setTimeout(r, 100));
      ready = await fetch(`${url}/ready`);
    }
    expect(await ready.json()).toEqual({ ready: true });
    const missing = await fetch(`${url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/no route for GET \/nope/);
    run.child.kill('SIGTERM');
    const done = await run.done;
    expect(done.code).toBe(0);
  });

  it('runs as an executable through its #! line, with the Node flags the runtime is measured with', async () => {
    const child = spawn(THEO_BIN, ['serve', '--port', '0', '--rtp-ports', '41800-41809'], { cwd: ROOT, env: { ...process.env, THEO_LOG_LEVEL: 'info', NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const serving = await new Promise<{ node_flags?: string[] }>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        out += d.toString();
        // The log line, and the CLI's own line that comes once it handles SIGTERM.
        const line = out.split('\n').find((l) => l.includes('"theo serving"'));
        if (line && out.includes('theo listening on ')) resolve(JSON.parse(line) as { node_flags?: string[] });
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => reject(new Error(`theo exited (${code}) before serving: ${out}`)));
    });
    expect(serving.node_flags).toContain('--max-semi-space-size=4');
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('takes the address from THEO_HOST/THEO_PORT and a config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'theo-serve-'));
    const file = join(dir, 'theo.yaml');
    writeFileSync(file, 'server:\n  port: 1\nrtp:\n  portMin: 41800\n  portMax: 41809\n');
    const run = runTheo(['serve', '--config', file], { THEO_PORT: '0', THEO_HOST: '127.0.0.1' });
    const line = await run.waitForLine(/listening on/);
    const url = /listening on (\S+)/.exec(line)![1]!;
    const health = (await (await fetch(`${url}/health`)).json()) as { components: { rtp: { port_range: string } } };
    expect(health.components.rtp.port_range).toBe('41800-41809');
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(0);
  });

  it('refuses bad configuration with one clear line and exit code 1', async () => {
    const bad = await runTheo(['serve'], { THEO_PORT: 'eighty' }).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/theo: invalid configuration.*THEO_PORT="eighty" is not an integer/s);
    expect(bad.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    const flag = await runTheo(['serve', '--port', 'x']).done;
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toMatch(/--port must be an integer/);
  });
});

describe('theo rtp send: bad input', () => {
  it('explains a missing file, a rate that does not fit the codec, and an L16 rate without a payload type', async () => {
    const missing = await runTheo(['rtp', 'send', '/nonexistent/x.wav', '--to', '127.0.0.1:9']).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file or directory.*\/nonexistent\/x\.wav/);
    const dir = mkdtempSync(join(tmpdir(), 'theo-send-'));
    const wide = join(dir, 'wide.wav');
    writeFileSync(wide, encodeWav({ sampleRate: 16000, channels: 1, samples: new Int16Array(320) }));
    const rate = await runTheo(['rtp', 'send', wide, '--to', '127.0.0.1:9', '--codec', 'pcmu']).done;
    expect(rate.code).toBe(1);
    expect(rate.stderr).toMatch(/is 16000 Hz but PCMU runs at 8000 Hz/);
    const narrow = join(dir, 'narrow.wav');
    writeFileSync(narrow, encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(320) }));
    const l16 = await runTheo(['rtp', 'send', narrow, '--to', '127.0.0.1:9', '--codec', 'l16']).done;
    expect(l16.code).toBe(1);
    expect(l16.stderr).toMatch(/pass --payload-type N and configure the receiver with N=L16\/8000/);
    const garbage = join(dir, 'garbage.wav');
    writeFileSync(garbage, 'not a wav at all');
    const bad = await runTheo(['rtp', 'send', garbage, '--to', '127.0.0.1:9']).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not a WAV file/);
  });

  it('a destination that does not resolve ends the send with that reason, not an unhandled socket error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'theo-send-'));
    const narrow = join(dir, 'narrow.wav');
    writeFileSync(narrow, encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(8000) }));
    const r = await runTheo(['rtp', 'send', narrow, '--to', 'no-such-host.invalid:40000']).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^theo: cannot send RTP to no-such-host\.invalid:40000: getaddrinfo \w+ no-such-host\.invalid$/m);
    expect(r.stderr).not.toMatch(/Unhandled|node:events/);
  });
});

describe('theo transcribe / translate', () => {
  const SPEECH = '/usr/share/asterisk/sounds/en_US_f_Allison/queue-thankyou.wav';

  it('prints the text, and verbose JSON with segments and words', async () => {
    const text = await runTheo(['transcribe', SPEECH]).done;
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.trim()).toBe('thank you for your patience');
    const json = await runTheo(['transcribe', SPEECH, '--json', '--words']).done;
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as { text: string; language: string; duration: number; segments: unknown[]; words: Array<{ word: string; start: number; end: number }> };
    expect(r.language).toBe('english');
    expect(r.segments.length).toBeGreaterThan(0);
    expect(r.words.map((w) => w.word)).toEqual(['thank', 'you', 'for', 'your', 'patience']);
    for (const w of r.words) expect(w.end).toBeLessThanOrEqual(r.duration);
  });

  it('fails with one clear line for a missing file, an unknown model, and a model that cannot translate', async () => {
    const missing = await runTheo(['transcribe', '/nonexistent/call.wav']).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^theo: cannot read \/nonexistent\/call\.wav/);
    const model = await runTheo(['transcribe', SPEECH, '--model', 'nope']).done;
    expect(model.code).toBe(1);
    expect(model.stderr).toMatch(/model 'nope' not found .*available: pocketsphinx-en-us/);
    const translate = await runTheo(['translate', SPEECH]).done;
    expect(translate.code).toBe(1);
    expect(translate.stderr).toMatch(/cannot translate/);
    const garbage = await runTheo(['transcribe', '/etc/hostname']).done;
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(/^theo: /);
    expect(garbage.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('theo transcribe --stream', () => {
  const SPEECH = '/usr/share/asterisk/sounds/en_US_f_Allison/queue-thankyou.wav';

  it('runs the file through a live session: --json gives every event in order, one per line, in the wire form (snake_case)', async () => {
    const r = await runTheo(['transcribe', SPEECH, '--stream', '--fast', '--json']).done;
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; session_id?: string; segment_id?: number; text?: string; start_ms?: number; end_ms?: number });
    const types = events.map((e) => e.type).filter((t) => t !== 'session.state' && t !== 'transcript.partial');
    expect(types).toEqual(['session.created', 'vad.speech_start', 'vad.speech_end', 'transcript.final', 'session.closed']);
    // One form for every JSON event that leaves Theo: the keys the WebSocket API sends.
    for (const e of events) for (const key of Object.keys(e)) expect(key, JSON.stringify(e)).toMatch(/^[a-z0-9_]+$/);
    expect(events[0]).toMatchObject({ type: 'session.created', session_id: expect.stringMatching(/^sess_/) as unknown, model: 'pocketsphinx-en-us', input_rate: 8000, sample_rate: 16000 });
    const final = events.find((e) => e.type === 'transcript.final');
    expect(final).toMatchObject({ segment_id: 0, raw_text: expect.any(String) as unknown, session_id: events[0]!.session_id });
    expect(final?.text).toMatch(/thank you/);
    // The prompt is 1.592 s long: the final's times (speech plus the 200 ms pads) lie inside it.
    expect(final?.start_ms).toBeGreaterThanOrEqual(0);
    expect(final?.end_ms).toBeLessThanOrEqual(1592);
    expect(final!.end_ms! - final!.start_ms!).toBeGreaterThan(600);
  });

  it('--fast takes a file many times longer than the session buffer: every utterance, nothing dropped', async () => {
    // 8 × the prompt with 1 s pauses (21 s) through a 5 s ring: the feed must let the VAD keep up.
    const prompt = readWav(readFileSync(SPEECH));
    const gap = new Int16Array(prompt.sampleRate);
    const samples = new Int16Array(8 * (prompt.samples.length + gap.length));
    for (let k = 0, o = 0; k < 8; k++, o += prompt.samples.length + gap.length) samples.set(prompt.samples, o);
    const dir = mkdtempSync(join(tmpdir(), 'theo-stream-long-'));
    const wav = join(dir, 'long.wav');
    writeFileSync(wav, encodeWav({ sampleRate: prompt.sampleRate, channels: 1, samples }));
    const config = join(dir, 'theo.json');
    writeFileSync(config, JSON.stringify({ sessions: { bufferSeconds: 5 } }));
    const r = await runTheo(['transcribe', wav, '--stream', '--fast', '--json', '--config', config]).done;
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; text?: string });
    expect(events.filter((e) => e.type === 'session.frames_dropped')).toEqual([]);
    const finals = events.filter((e) => e.type === 'transcript.final');
    expect(finals).toHaveLength(8);
    for (const f of finals) expect(f.text).toMatch(/thank you/);
    expect(events.at(-1)).toMatchObject({ type: 'session.closed', dropped_samples: 0 });
  });

  it('prints finals with their times as plain lines, and a clear line for a missing file', async () => {
    const r = await runTheo(['transcribe', SPEECH, '--stream', '--fast']).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\[00:00\.\d\d - 00:01\.\d\d\] thank you/);
    const missing = await runTheo(['transcribe', '/nonexistent/call.wav', '--stream']).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^theo: .*\/nonexistent\/call\.wav/);
  });
});

describe('theo itn', () => {
  it('prints the written form of spoken pt-BR and English, with hot words', async () => {
    const pt = await runTheo(['itn', '--language', 'pt-BR', 'o valor é dois mil e quinhentos reais']).done;
    expect(pt.code, pt.stderr).toBe(0);
    expect(pt.stdout).toBe('o valor é R$ 2.500,00\n');
    const en = await runTheo(['itn', 'it costs twenty five dollars']).done;
    expect(en.code, en.stderr).toBe(0);
    expect(en.stdout).toBe('it costs $25.00\n');
    const hot = await runTheo(['itn', '--language', 'pt-BR', '--hot-words', 'Itaú', 'paguei no ita u']).done;
    expect(hot.stdout).toBe('paguei no Itaú\n');
    const off = await runTheo(['itn', '--no-itn', 'twenty five']).done;
    expect(off.stdout).toBe('twenty five\n');
  });

  it('refuses a language it has no rules for, with one clear line', async () => {
    const r = await runTheo(['itn', '--language', 'fr', 'vingt']).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^theo: no post-processing rules for language 'fr'/);
  });
});
