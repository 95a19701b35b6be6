// The worker contracts load with the same loader the runtime will use, and carry the RPCs the design names.
import { loadSync } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/theo.js';

type Method = { requestStream: boolean; responseStream: boolean };
type Service = Record<string, Method>;

function load(file: string): Record<string, unknown> {
  return loadSync(`${ROOT}/proto/${file}`, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
}

describe('proto contracts', () => {
  it('stt_worker.proto: TranscribeFile unary, TranscribeStream bidirectional, Cancel, Health', () => {
    const pkg = load('stt_worker.proto');
    const svc = pkg['theo.stt.v1.SttWorker'] as Service;
    expect(Object.keys(svc).sort()).toEqual(['Cancel', 'Health', 'TranscribeFile', 'TranscribeStream']);
    expect(svc.TranscribeFile).toMatchObject({ requestStream: false, responseStream: false });
    expect(svc.TranscribeStream).toMatchObject({ requestStream: true, responseStream: true });
    const frame = pkg['theo.stt.v1.AudioFrame'] as { type: { field: Array<{ name: string }> } };
    expect(frame.type.field.map((f) => f.name)).toEqual(['pcm', 'offset_samples', 'is_last']);
    const config = pkg['theo.stt.v1.StreamConfig'] as { type: { field: Array<{ name: string }> } };
    expect(config.type.field.map((f) => f.name)).toEqual(expect.arrayContaining(['session_id', 'prompt', 'hot_words', 'language', 'sample_rate']));
  });

  it('tts_worker.proto: Synthesize server-streaming, Cancel, Health', () => {
    const pkg = load('tts_worker.proto');
    const svc = pkg['theo.tts.v1.TtsWorker'] as Service;
    expect(Object.keys(svc).sort()).toEqual(['Cancel', 'Health', 'Synthesize']);
    expect(svc.Synthesize).toMatchObject({ requestStream: false, responseStream: true });
  });
});
