// `theo transcribe FILE` and `theo translate FILE`: decode a file, run the model's engine in this process
// over pieces of at most 30 s (cut at pauses) with a progress bar on long files, print the chosen format.
// The file is decoded and prepared as the engine goes, the way the batch API does it: an hour of audio
// holds a piece or two of PCM at a time, not the hour.
import { readFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import type { Engine, Task } from '../engines/engine.js';
import { createEngineFor } from '../engines/factory.js';
import { TheoError, errorMessage } from '../errors/index.js';
import { openPreparedAudio } from '../audio/prepare.js';
import { int16ToFloat32 } from '../audio/resample.js';
import { loadDenoiser } from '../audio/stages/denoise.js';
import { formatTranscription } from '../api/http/formats.js';
import type { ResponseFormat } from '../api/http/audio-params.js';
import { createPostprocessor, postprocessResult } from '../postprocess/pipeline.js';
import { joinParts, type PartResult } from '../scheduler/join.js';
import type { ModelEntry } from '../registry/manifest.js';
import { capabilitiesOf } from '../registry/capabilities.js';

export interface TranscribeCliOptions {
  file: string;
  task: Task;
  format: ResponseFormat;
  language?: string | undefined;
  prompt?: string | undefined;
  temperature: number;
  hotWords: string[];
  words: boolean;
  itn: boolean;
  /** DC removal, denoise and gain before the engine (resampling always runs). */
  preprocess: boolean;
  /** 20 Hz high-pass (config preprocess.dc). */
  dc: boolean | 'auto';
  /** Peak normalisation (config preprocess.gain, --gain). */
  gain: boolean;
  denoise: boolean | 'auto';
  /** Hot word similarity threshold (0..1); undefined = the default. */
  hotWordThreshold?: number | undefined;
  /** Warnings (e.g. the denoiser could not load) go here; default stderr. */
  onWarning?: (message: string) => void;
  /** Show a progress bar (stderr is a TTY and the audio is long). */
  progress: boolean;
}

export async function transcribeCommand(entry: ModelEntry, opts: TranscribeCliOptions, signal: AbortSignal): Promise<string> {
  const caps = capabilitiesOf(entry.manifest);
  if (opts.task === 'translate' && !caps.translate) throw new TheoError('invalid_argument', `model '${entry.manifest.name}' cannot translate`);
  if (opts.language && !caps.languages.includes(opts.language)) {
    throw new TheoError('invalid_argument', `model '${entry.manifest.name}' does not know language '${opts.language}' (it knows: ${caps.languages.join(', ')})`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(opts.file);
  } catch (err) {
    throw new TheoError('invalid_argument', `cannot read ${opts.file}: ${errorMessage(err)}`);
  }
  const onWarning = opts.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const denoiser = opts.preprocess && opts.denoise !== false ? await loadDenoiser({ onWarning }) : undefined;
  const audio = await openPreparedAudio(bytes, { targetRate: caps.sampleRate, signal, preprocess: opts.preprocess, dc: opts.dc, gain: opts.gain, denoise: opts.denoise, denoiser, onWarning, pieceSeconds: 30 });
  const rate = audio.sampleRate;
  const total = audio.declaredSeconds;
  // Shown once the audio is known to be longer than a piece (from its header, or as it is decoded).
  let bar: cliProgress.SingleBar | undefined;
  let engine: Engine | undefined;
  try {
    engine = await createEngineFor(entry);
    await engine.load();
    const parts: PartResult[] = [];
    for await (const piece of audio.pieces) {
      if (signal.aborted) throw new TheoError('cancelled', 'interrupted');
      const result = await engine.transcribe(int16ToFloat32(piece.samples), {
        task: opts.task,
        language: opts.language ?? entry.manifest.defaults.language,
        prompt: opts.prompt,
        hotWords: caps.hotWords ? opts.hotWords : [],
        temperature: opts.temperature,
        wordTimestamps: opts.words,
        signal,
      });
      parts.push({ offset: piece.offset / rate, duration: piece.samples.length / rate, result });
      if (!bar && opts.progress && (total ?? audio.seconds) > 30) {
        bar = new cliProgress.SingleBar({ format: 'transcribing [{bar}] {percentage}% | {value}/{total} s of audio | eta {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic);
        bar.start(Math.round(total ?? audio.seconds), 0);
      }
      // Without a declared length the total grows with what is decoded.
      if (total === undefined) bar?.setTotal(Math.round(audio.seconds));
      bar?.update(Math.round((piece.offset + piece.samples.length) / rate));
    }
    const { duration } = await audio.done;
    const raw = joinParts(parts, duration);
    const pp = createPostprocessor({ hotWordThreshold: opts.hotWordThreshold });
    const merged = postprocessResult(pp, raw, { itn: opts.itn, hotWords: opts.hotWords, language: raw.language });
    const out = formatTranscription(merged, opts.task, opts.format, { word: opts.words, segment: true });
    return typeof out.body === 'string' ? out.body : `${JSON.stringify(out.body, null, 2)}\n`;
  } finally {
    bar?.stop();
    audio.close();
    await engine?.close();
  }
}
