// The SttWorker gRPC contract at runtime: proto/stt_worker.proto loaded with @grpc/proto-loader (no
// generated code), and the message shapes it yields (camelCase fields, longs as numbers, enums as
// their names, defaults filled in). The proto folder is found relative to this module, so the same
// code works from src/ (tsx) and from dist/.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
export const STT_PROTO_FILE = `${PROTO_DIR}stt_worker.proto`;

export const LOADER_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

export type AudioEncoding = 'AUDIO_ENCODING_UNSPECIFIED' | 'PCM_S16LE' | 'PCM_F32LE' | 'ENCODED_FILE';
export type ProtoTask = 'TASK_UNSPECIFIED' | 'TRANSCRIBE' | 'TRANSLATE';

export interface ProtoWord {
  word: string;
  startMs: number;
  endMs: number;
  probability: number;
}

export interface ProtoSegment {
  id: number;
  startMs: number;
  endMs: number;
  text: string;
  tokens: number[];
  temperature: number;
  avgLogprob: number;
  compressionRatio: number;
  noSpeechProb: number;
  words: ProtoWord[];
}

export interface TranscribeFileRequestMsg {
  requestId: string;
  audio: Buffer;
  encoding: AudioEncoding;
  sampleRate: number;
  language: string;
  task: ProtoTask;
  prompt: string;
  hotWords: string[];
  temperature: number;
  wordTimestamps: boolean;
  segmentTimestamps: boolean;
  priority: number;
}

export interface TranscribeFileResponseMsg {
  requestId: string;
  text: string;
  language: string;
  durationS: number;
  segments: ProtoSegment[];
  confidence: number;
  inferenceS: number;
}

export interface StreamConfigMsg {
  sessionId: string;
  sampleRate: number;
  language: string;
  prompt: string;
  hotWords: string[];
  interimResults: boolean;
  task: ProtoTask;
  firstSegmentId: number;
  /** 'telephony', 'wideband', or '' (unknown). */
  audioQuality: string;
}

export interface AudioFrameMsg {
  pcm: Buffer;
  offsetSamples: number;
  isLast: boolean;
}

export interface PromptUpdateMsg {
  prompt: string;
  hotWords: string[];
}

/** Exactly one of config / audio / prompt is set; `payload` names it (proto-loader's `oneofs`). */
export interface StreamRequestMsg {
  config?: StreamConfigMsg | null;
  audio?: AudioFrameMsg | null;
  prompt?: PromptUpdateMsg | null;
  payload?: 'config' | 'audio' | 'prompt';
}

export type StreamEventKind = 'KIND_UNSPECIFIED' | 'PARTIAL' | 'FINAL' | 'ERROR';

export interface StreamEventMsg {
  kind: StreamEventKind;
  sessionId: string;
  segmentId: number;
  text: string;
  startMs: number;
  endMs: number;
  language: string;
  confidence: number;
  words: ProtoWord[];
  errorCode: string;
  errorMessage: string;
  recoverable: boolean;
}

export interface CancelRequestMsg {
  id: string;
}

export interface CancelResponseMsg {
  cancelled: boolean;
}

export type HealthStatus = 'STATUS_UNSPECIFIED' | 'SERVING' | 'LOADING' | 'NOT_SERVING';

export interface HealthResponseMsg {
  status: HealthStatus;
  model: string;
  engine: string;
  architecture: string;
  nativePartials: boolean;
  languages: string[];
  translate: boolean;
  wordTimestamps: boolean;
  hotWords: boolean;
  activeStreams: number;
  queuedRequests: number;
  device: string;
  sampleRate: number;
  segmentTimestamps: boolean;
  languageDetection: boolean;
}

/** The handlers a worker server implements. */
export interface SttWorkerHandlers extends grpc.UntypedServiceImplementation {
  TranscribeFile: grpc.handleUnaryCall<TranscribeFileRequestMsg, TranscribeFileResponseMsg>;
  TranscribeStream: grpc.handleBidiStreamingCall<StreamRequestMsg, StreamEventMsg>;
  Cancel: grpc.handleUnaryCall<CancelRequestMsg, CancelResponseMsg>;
  Health: grpc.handleUnaryCall<Record<string, never>, HealthResponseMsg>;
}

type UnaryMethod<Req, Res> = (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/** The generated client's methods, typed. */
export interface SttWorkerGrpcClient extends grpc.Client {
  TranscribeFile: UnaryMethod<Partial<TranscribeFileRequestMsg>, TranscribeFileResponseMsg>;
  TranscribeStream(metadata: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<StreamRequestMsg, StreamEventMsg>;
  Cancel: UnaryMethod<CancelRequestMsg, CancelResponseMsg>;
  Health: UnaryMethod<Record<string, never>, HealthResponseMsg>;
}

interface SttWorkerConstructor {
  new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions): SttWorkerGrpcClient;
  service: grpc.ServiceDefinition;
}

let loaded: SttWorkerConstructor | undefined;

/** The SttWorker service: its definition (for a server) and client constructor. Loaded once per process. */
export function sttWorkerService(): SttWorkerConstructor {
  if (!loaded) {
    const pkg = grpc.loadPackageDefinition(loadSync(STT_PROTO_FILE, LOADER_OPTIONS));
    const ctor = (((pkg.theo as grpc.GrpcObject).stt as grpc.GrpcObject).v1 as grpc.GrpcObject).SttWorker;
    if (typeof ctor !== 'function') throw new Error(`${STT_PROTO_FILE}: service theo.stt.v1.SttWorker not found`);
    loaded = ctor as unknown as SttWorkerConstructor;
  }
  return loaded;
}

/** Trailing metadata key that carries a TheoError code, so the client rebuilds the exact error. */
export const ERROR_CODE_METADATA = 'theo-error-code';

/** Largest message either side accepts: a whole file travels in one TranscribeFile (10 min at 16 kHz f32 is 38 MB). */
export const MAX_MESSAGE_BYTES = 512 * 1024 * 1024;
