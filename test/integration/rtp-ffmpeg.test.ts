// Interop with an independent RTP sender: ffmpeg's RTP muxer (PCMU, ~180 ms packets) into the real
// `theo rtp record` command. The recording must match the source speech.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWav } from '../../src/audio/wav.js';
import { SOUNDS, bestLag, readSpeech } from '../helpers/audio.js';
import { runTheo } from '../helpers/theo.js';

const dir = mkdtempSync(join(tmpdir(), 'theo-ffmpeg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ffmpegSend(file: string, port: number, codec: 'pcm_mulaw' | 'pcm_alaw'): Promise<number | null> {
  // Rejects (instead of an uncaught 'error') when ffmpeg is not installed.
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', file, '-acodec', codec, '-ar', '8000', '-ac', '1', '-f', 'rtp', `rtp://127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`ffmpeg could not start (Debian package ffmpeg): ${err.message}`)));
    child.on('close', (code) => resolve(code));
  });
}

describe('interop: ffmpeg RTP into theo rtp record', () => {
  it.each([
    ['pcm_mulaw', 41600],
    ['pcm_alaw', 41602],
  ] as const)('%s: the recording correlates with the source at >= 0.99', async (codec, port) => {
    const out = join(dir, `${codec}.wav`);
    const rec = runTheo(['rtp', 'record', '--port', String(port), '--host', '127.0.0.1', '--out', out, '--idle', '1', '--wait', '20']);
    await rec.waitForLine(/"event":"listening"/); // the port is bound: nothing ffmpeg sends is lost
    const source = `${SOUNDS}/tt-weasels.wav`;
    expect(await ffmpegSend(source, port, codec)).toBe(0);
    const result = await rec.done;
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { packets_lost: number; sample_rate: number; stopped_by: string };
    expect(summary.stopped_by).toBe('idle');
    expect(summary.packets_lost).toBe(0);
    expect(summary.sample_rate).toBe(8000);

    const recorded = readWav(readFileSync(out));
    const original = readSpeech('tt-weasels');
    expect(recorded.sampleRate).toBe(8000);
    // ffmpeg's muxer may start mid-stream; allow a small offset, then require near-identity.
    const { lag, corr } = bestLag(original, recorded.samples, 400);
    expect(corr).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(recorded.samples.length + lag - original.length)).toBeLessThan(1500);
  });
});
