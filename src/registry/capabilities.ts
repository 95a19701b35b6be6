// A model's capabilities as its manifest declares them: what the API checks requests against before a
// worker is even running (the worker's Health reports the engine's own view once it serves).
import type { EngineCapabilities } from '../engines/engine.js';
import type { ModelManifest } from './manifest.js';

export function capabilitiesOf(m: ModelManifest): EngineCapabilities {
  return {
    architecture: m.architecture,
    nativePartials: m.capabilities.nativePartials,
    languages: [...m.languages],
    translate: m.capabilities.translate,
    segmentTimestamps: m.capabilities.segmentTimestamps,
    wordTimestamps: m.capabilities.wordTimestamps,
    hotWords: m.capabilities.hotWords,
    languageDetection: m.capabilities.languageDetection,
    sampleRate: m.sampleRate,
  };
}
