// Voice activity detection: energy pre-filter, batched Silero v5 runner, detector, per-stream facade.
export { SpeechDetector, type DetectorEmit, type VadEvent, type VadEventCounts, type VadEventType } from './detector.js';
export { EnergyPrefilter } from './energy.js';
export { STATE_SIZE, allocateBatchBuffers, type BatchBuffers, type VadModel } from './model.js';
export {
  DEFAULT_MAX_SEGMENT_MS,
  DEFAULT_MIN_SILENCE_MS,
  DEFAULT_MIN_SPEECH_MS,
  HYSTERESIS,
  SENSITIVITY,
  contextSamples,
  isVadSampleRate,
  resolveVadOptions,
  windowSamples,
  type DetectorSettings,
  type PrefilterOptions,
  type ResolvedVadOptions,
  type Sensitivity,
  type VadOptions,
  type VadSampleRate,
} from './options.js';
export { SileroRunner, createSileroRunner, type DrainSchedule, type SileroRunnerOptions, type VadRunnerStats } from './runner.js';
export {
  DEFAULT_MAX_BATCH,
  SILERO_INPUTS,
  SILERO_MODEL_SPECIFIER,
  SILERO_OUTPUTS,
  createOnnxSession,
  loadSileroModel,
  sileroModelPath,
  type OnnxSessionOptions,
  type SileroModelOptions,
} from './silero-model.js';
export type { VadEventListener, VadStream, VadStreamOptions, VadStreamStats, VadWindowListener } from './stream.js';
