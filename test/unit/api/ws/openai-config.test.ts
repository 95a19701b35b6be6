// OpenAI transcription session configuration: GA and beta updates, their mapping onto Theo's VAD and
// session options, and the effective configuration echoed back.
import { describe, expect, it } from 'vitest';
import {
  applyBeta,
  applyGa,
  betaSessionSchema,
  betaView,
  defaultSettings,
  gaSessionSchema,
  gaView,
  isOpenAiModelName,
  needsNewSession,
  sessionOptions,
  vadOf,
} from '../../../../src/api/ws/openai-config.js';

const VAD = { sensitivity: 'normal', minSpeechMs: 250, minSilenceMs: 300, maxSegmentMs: 30_000, speechPadMs: 200 } as const;

describe('OpenAI session config', () => {
  it('applies a GA session.update field by field and maps it onto a Theo session', () => {
    const u = gaSessionSchema.parse({ type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' }, transcription: { model: 'gpt-4o-transcribe', language: 'de', keywords: ['Theo'] }, turn_detection: { type: 'server_vad', threshold: 0.8, silence_duration_ms: 650, prefix_padding_ms: 100 } } } });
    const s = applyGa(defaultSettings(), u);
    expect(s).toMatchObject({ format: 'g711_ulaw', model: 'gpt-4o-transcribe', language: 'de', keywords: ['Theo'] });
    expect(sessionOptions(s, VAD, 'pocketsphinx-en-us')).toEqual({
      model: 'pocketsphinx-en-us',
      inputRate: 8000,
      language: 'de',
      hotWords: ['Theo'],
      interimResults: true,
      realtime: true,
      vad: { sensitivity: 'low', minSilenceMs: 650, speechPadMs: 100 },
    });
    const view = gaView('sess_1', s, VAD, 'pocketsphinx-en-us');
    expect(view).toMatchObject({ type: 'transcription', id: 'sess_1', audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad', threshold: 0.7, silence_duration_ms: 650, prefix_padding_ms: 100 } } } });
    // Only the fields present change.
    const again = applyGa(s, gaSessionSchema.parse({ type: 'transcription', include: ['item.input_audio_transcription.logprobs'] }));
    expect(again).toMatchObject({ format: 'g711_ulaw', language: 'de', include: ['item.input_audio_transcription.logprobs'] });
  });

  it('applies a beta transcription_session.update', () => {
    const s = applyBeta(defaultSettings(), betaSessionSchema.parse({ input_audio_format: 'g711_alaw', input_audio_transcription: { model: 'whisper-1' }, input_audio_noise_reduction: null, turn_detection: null }));
    expect(s).toMatchObject({ format: 'g711_alaw', model: 'whisper-1', noiseReduction: null, turnDetection: null });
    expect(sessionOptions(s, VAD, 'm')).toMatchObject({ inputRate: 8000, denoise: false, vad: { minSilenceMs: 10_000 } });
    expect(betaView('sess_2', s, VAD, 'm')).toMatchObject({ input_audio_format: 'g711_alaw', turn_detection: null, input_audio_transcription: { model: 'whisper-1' } });
  });

  it('defaults: pcm16 at 24 kHz, server VAD on the server config, the default model', () => {
    const s = defaultSettings();
    expect(sessionOptions(s, VAD, 'm')).toMatchObject({ model: 'm', inputRate: 24000, vad: { sensitivity: 'normal', minSilenceMs: 300, speechPadMs: 200 } });
    expect(sessionOptions(s, VAD, 'm')).not.toHaveProperty('denoise');
    expect(gaView('x', s, VAD, 'm')).toMatchObject({ audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'm' }, noise_reduction: null } } });
  });

  it('maps thresholds and semantic VAD eagerness onto Theo VAD settings, clamped to what the VAD takes', () => {
    expect(vadOf({ type: 'server_vad', threshold: 0.2 }, VAD).sensitivity).toBe('high');
    expect(vadOf({ type: 'server_vad', threshold: 0.5 }, VAD).sensitivity).toBe('normal');
    expect(vadOf({ type: 'server_vad', silence_duration_ms: 0, prefix_padding_ms: 9000 }, VAD)).toMatchObject({ minSilenceMs: 32, speechPadMs: 2000 });
    expect(vadOf({ type: 'semantic_vad', eagerness: 'low' }, VAD).minSilenceMs).toBe(1200);
    expect(vadOf({ type: 'semantic_vad', eagerness: 'high' }, VAD).minSilenceMs).toBe(300);
  });

  it('knows which changes need a new Theo session, and which model names mean the default model', () => {
    const s = defaultSettings();
    expect(needsNewSession(s, { ...s, keywords: ['a'] })).toBe(false);
    expect(needsNewSession(s, { ...s, format: 'g711_ulaw' })).toBe(true);
    expect(needsNewSession(s, { ...s, turnDetection: null })).toBe(true);
    for (const name of ['', 'whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe', 'gpt-realtime-whisper']) expect(isOpenAiModelName(name)).toBe(true);
    expect(isOpenAiModelName('pocketsphinx-en-us')).toBe(false);
  });

  it('rejects model sessions, unknown fields and wrong types', () => {
    expect(gaSessionSchema.safeParse({ type: 'realtime' }).success).toBe(false);
    expect(gaSessionSchema.safeParse({ type: 'transcription', audio: { output: {} } }).success).toBe(false);
    expect(gaSessionSchema.safeParse({ type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } }).success).toBe(false);
    expect(betaSessionSchema.safeParse({ input_audio_format: 'mp3' }).success).toBe(false);
    expect(betaSessionSchema.safeParse({ turn_detection: { type: 'server_vad', threshold: 2 } }).success).toBe(false);
  });
});
