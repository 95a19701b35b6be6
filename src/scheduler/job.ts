// What the scheduler runs: a batch job is one request's audio as parts (pieces of at most ~30 s, cut at
// pauses, produced while the upload is still being decoded) and what to do with them. The job owns its
// order and its timeline; where and when each part runs is the scheduler's decision.
import type { Task } from '../engines/engine.js';
import type { FileTranscriptionResult } from '../workers/types.js';

/** One piece of a job's audio. */
export interface JobPart {
  /** Index of its first sample in the job's audio (at the job's sampleRate). */
  offset: number;
  /** Mono 16-bit PCM at the job's sampleRate. */
  samples: Int16Array;
}

/** What every part of a job is transcribed with. */
export interface JobOptions {
  language?: string | undefined;
  task: Task;
  prompt?: string | undefined;
  hotWords: readonly string[];
  temperature: number;
  wordTimestamps: boolean;
}

export interface BatchJob {
  /** The request's id; part i goes to the worker as `${id}#${i}`. */
  id: string;
  model: string;
  /** Higher runs first; FIFO within a priority. */
  priority: number;
  sampleRate: number;
  options: JobOptions;
  /** The parts in order, as they become ready; throws when the audio cannot be prepared. */
  parts: AsyncIterable<JobPart>;
  /** Seconds of audio in the job: known exactly at the end of decoding, declared or partial before. */
  audioSeconds(): { seconds: number; final: boolean };
  /** Aborting drops the job from the queue or stops it between and during parts, rejecting with the reason. */
  signal: AbortSignal;
}

/** A job's parts joined into one result, with the job's timeline. */
export interface JobResult extends FileTranscriptionResult {
  parts: number;
}
