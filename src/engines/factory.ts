// Builds the engine a model manifest names. Engines load lazily (dynamic import), so a worker for one
// engine never loads another's native libraries or ONNX runtime.
import { TheoError } from '../errors/index.js';
import type { ModelEntry } from '../registry/manifest.js';
import type { Engine } from './engine.js';

export async function createEngineFor(entry: ModelEntry): Promise<Engine> {
  const { manifest, files } = entry;
  const options = manifest.defaults.options ?? {};
  switch (manifest.engine) {
    case 'pocketsphinx': {
      const { hmm, lm, dict } = files;
      if (!hmm || !lm || !dict) throw new TheoError('model_invalid', `model '${manifest.name}': a pocketsphinx manifest needs files hmm, lm and dict`, { model: manifest.name });
      const { createPocketsphinxEngine } = await import('./pocketsphinx/engine.js');
      return createPocketsphinxEngine({ hmm, lm, dict, options });
    }
    case 'whisper': {
      const dir = files.model ?? entry.dir;
      const { createWhisperEngine } = await import('./whisper/engine.js');
      const dtype = typeof options.dtype === 'string' ? options.dtype : undefined;
      const device = typeof options.device === 'string' ? options.device : undefined;
      return createWhisperEngine({ dir, dtype, device });
    }
  }
}
