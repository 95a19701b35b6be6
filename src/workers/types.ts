// What the runtime sees of its workers: typed requests and results (the proto messages, in runtime
// terms), a client per worker, and the manager's view of every worker for /health and /metrics.
import type { EngineCapabilities, EngineResult, Task } from '../engines/engine.js';
import type { SttStream, SttStreamConfig } from './client.js';

export interface FileTranscriptionRequest {
  requestId: string;
  /** Mono PCM at `sampleRate`: 16-bit (sent as PCM_S16LE, half the bytes) or float in -1..1 (PCM_F32LE). */
  audio: Int16Array | Float32Array;
  sampleRate: number;
  language?: string;
  task: Task;
  prompt?: string;
  hotWords: readonly string[];
  temperature: number;
  wordTimestamps: boolean;
  priority: number;
}

export interface FileTranscriptionResult extends EngineResult {
  requestId: string;
  /** Seconds the worker spent in the engine. */
  inferenceSeconds: number;
}

export type WorkerState = 'starting' | 'serving' | 'restarting' | 'failed' | 'stopped';

export interface WorkerStatus {
  model: string;
  engine: string;
  /** local (spawned by this runtime) or remote (an address in config). */
  kind: 'local' | 'remote';
  address: string;
  state: WorkerState;
  pid?: number;
  restarts: number;
  capabilities?: EngineCapabilities;
  device?: string;
  lastError?: string;
  /** While not serving: seconds until it may serve (the next restart plus a start), what Retry-After says. */
  retryAfterS?: number;
}

/** One connection to one worker's gRPC server. */
export interface SttClient {
  readonly model: string;
  readonly address: string;
  /** Rejects with WorkerUnavailableError when the worker is down or dies during the call, CancelledError on abort. */
  transcribeFile(req: FileTranscriptionRequest, signal?: AbortSignal): Promise<FileTranscriptionResult>;
  health(timeoutMs?: number): Promise<{ serving: boolean; capabilities: EngineCapabilities; device: string; activeStreams: number; queuedRequests: number }>;
  /** Opens a TranscribeStream (config sent at once); a broken stream surfaces as an iteration error. */
  openStream(config: SttStreamConfig): SttStream;
  cancel(id: string): Promise<boolean>;
  close(): void;
}
