// `theo transcribe FILE` and `theo translate FILE`: decode a file, run the model's engine in this process
// over pieces of at most 30 s (cut at pauses) with a progress bar on long files, print the chosen format.
import { readFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import type { Engine, Task } from '../engines/engine.js';
import { createEngineFor } from '../engines/factory.js';
import { TheoError, errorMessage } from '../errors/index.js';
import { splitAtSilence } from '../audio/chunk.js';
import { prepareAudio } from '../audio/prepare.js';
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
  const audio = await prepareAudio(bytes, { targetRate: caps.sampleRate, signal, preprocess: opts.preprocess, dc: opts.dc, gain: opts.gain, denoise: opts.denoise, denoiser, onWarning });
  const chunks = splitAtSilence(audio.samples, audio.sampleRate, 30);

  const engine: Engine = await createEngineFor(entry);
  const bar = opts.progress && audio.duration > 30 ? new cliProgress.SingleBar({ format: 'transcribing [{bar}] {percentage}% | {value}/{total} s of audio | eta {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  try {
    await engine.load();
    bar?.start(Math.round(audio.duration), 0);
    const parts: PartResult[] = [];
    for (const c of chunks) {
      if (signal.aborted) throw new TheoError('cancelled', 'interrupted');
      const result = await engine.transcribe(audio.samples.subarray(c.start, c.end), {
        task: opts.task,
        language: opts.language ?? entry.manifest.defaults.language,
        prompt: opts.prompt,
        hotWords: caps.hotWords ? opts.hotWords : [],
        temperature: opts.temperature,
        wordTimestamps: opts.words,
        signal,
      });
      parts.push({ offset: c.start / audio.sampleRate, duration: (c.end - c.start) / audio.sampleRate, result });
      bar?.update(Math.round(c.end / audio.sampleRate));
    }
    const raw = joinParts(parts, audio.duration);
    const pp = createPostprocessor({ hotWordThreshold: opts.hotWordThreshold });
    const merged = postprocessResult(pp, raw, { itn: opts.itn, hotWords: opts.hotWords, language: raw.language });
    const out = formatTranscription(merged, opts.task, opts.format, { word: opts.words, segment: true });
    return typeof out.body === 'string' ? out.body : `${JSON.stringify(out.body, null, 2)}\n`;
  } finally {
    bar?.stop();
    await engine.close();
  }
}
