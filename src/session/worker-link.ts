// The WorkerLink of one model over the runtime's WorkerManager: streams open on a serving worker (round
// robin over replicas), decoding passes for LocalAgreement go through TranscribeFile at a priority above
// batch uploads.
import type { WorkerManager } from '../workers/manager.js';
import type { PassResult, WorkerLink } from './ports.js';

/** Priority of LocalAgreement passes: behind live utterances, ahead of uploaded files. */
const PASS_PRIORITY = 5;

let passIds = 0;

export function workerLinkFor(manager: Pick<WorkerManager, 'client' | 'whenServing'>, model: string): WorkerLink {
  return {
    open: (config) => manager.client(model).openStream(config),
    whenServing: (timeoutMs) => manager.whenServing(model, timeoutMs),
    async transcribe(pcm, options): Promise<PassResult> {
      const audio = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) audio[i] = (pcm[i] as number) / 32768;
      const r = await manager.client(model).transcribeFile(
        {
          requestId: `pass-${++passIds}`,
          audio,
          // The session's rate: the worker resamples to its model's.
          sampleRate: options.sampleRate,
          ...(options.language ? { language: options.language } : {}),
          ...(options.prompt ? { prompt: options.prompt } : {}),
          task: 'transcribe',
          hotWords: [],
          temperature: 0,
          wordTimestamps: false,
          priority: PASS_PRIORITY,
        },
        options.signal,
      );
      return { text: r.text, words: r.segments.flatMap((s) => s.words ?? []) };
    },
  };
}
