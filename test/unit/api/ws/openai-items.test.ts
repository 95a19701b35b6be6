// Theo session events → OpenAI realtime transcription items: event order, append-only deltas, client commits
// and clears, continued speech, missing finals, and sessions without turn detection.
import { describe, expect, it } from 'vitest';
import type { WireEvent } from '../../../../src/api/ws/events.js';
import { OpenAiItems, agreed, extension } from '../../../../src/api/ws/openai-items.js';
import type { SessionEvent } from '../../../../src/session/events.js';

const base = { sessionId: 's', at: 0 };
const start = (segmentId: number, startMs: number): SessionEvent => ({ ...base, type: 'vad.speech_start', segmentId, startMs });
const end = (segmentId: number, endMs: number, forced = false): SessionEvent => ({ ...base, type: 'vad.speech_end', segmentId, endMs, forced });
const partial = (segmentId: number, text: string): SessionEvent => ({ ...base, type: 'transcript.partial', segmentId, text, stable: '', startMs: 0, endMs: 0 });
const final = (segmentId: number, text: string, startMs = 0, endMs = 1000): SessionEvent => ({ ...base, type: 'transcript.final', segmentId, text, rawText: text, startMs, endMs, language: 'en', confidence: 1, words: [] });

function setup(opts: { turnDetection?: boolean; baseMs?: number } = {}): { items: OpenAiItems; out: WireEvent[]; types: () => string[] } {
  const out: WireEvent[] = [];
  const items = new OpenAiItems({ emit: (ev) => out.push(ev), audioBaseMs: () => opts.baseMs ?? 0, turnDetection: () => opts.turnDetection ?? true });
  const types = (): string[] => out.map((e) => e.type.replace('conversation.item.input_audio_transcription.', 'transcription.'));
  return { items, out, types };
}

describe('OpenAiItems', () => {
  it('turns an utterance into speech_started, deltas, speech_stopped, committed, item added, completed, item done', () => {
    const { items, out, types } = setup({ baseMs: 5000 });
    items.onSessionEvent(start(0, 500));
    items.onSessionEvent(partial(0, 'thank'));
    items.onSessionEvent(partial(0, 'thank you'));
    items.onSessionEvent(partial(0, 'thank you for'));
    items.onSessionEvent(partial(0, 'thank you for your'));
    items.onSessionEvent(end(0, 2000));
    items.onSessionEvent(final(0, 'thank you for your patience', 300, 2200));
    expect(types()).toEqual([
      'input_audio_buffer.speech_started',
      'transcription.delta',
      'transcription.delta',
      'transcription.delta',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'conversation.item.added',
      'transcription.delta',
      'transcription.completed',
      'conversation.item.done',
    ]);
    const id = out[0]!.item_id;
    expect(out.every((e) => e.item_id === undefined || e.item_id === id)).toBe(true);
    expect(out[0]).toMatchObject({ audio_start_ms: 5500 });
    expect(out.filter((e) => e.type.endsWith('.delta')).map((e) => e.delta)).toEqual(['thank', ' you', ' for', ' your patience']);
    expect(out[4]).toMatchObject({ audio_end_ms: 7000 });
    expect(out[5]).toMatchObject({ previous_item_id: null });
    expect(out[8]).toMatchObject({ transcript: 'thank you for your patience', usage: { type: 'duration', seconds: 1.9 } });
    expect(out[9]).toMatchObject({ item: { id, status: 'completed', content: [{ type: 'input_audio', transcript: 'thank you for your patience' }] } });
  });

  it('sends no delta for words a later partial revised, and no remainder when the final does not extend the deltas', () => {
    const { items, out } = setup();
    items.onSessionEvent(start(0, 0));
    items.onSessionEvent(partial(0, 'they were'));
    items.onSessionEvent(partial(0, 'the word is'));
    items.onSessionEvent(partial(0, 'the word is here'));
    items.onSessionEvent(end(0, 900));
    items.onSessionEvent(final(0, 'a world is here'));
    expect(out.filter((e) => e.type.endsWith('.delta')).map((e) => e.delta)).toEqual(['the word is']);
    expect(out.find((e) => e.type.endsWith('.completed'))).toMatchObject({ transcript: 'a world is here' });
  });

  it('chains items with previous_item_id', () => {
    const { items, out } = setup();
    for (const seg of [0, 1]) {
      items.onSessionEvent(start(seg, seg * 3000));
      items.onSessionEvent(end(seg, seg * 3000 + 1000));
      items.onSessionEvent(final(seg, `words ${seg}`));
    }
    const committed = out.filter((e) => e.type === 'input_audio_buffer.committed');
    expect(committed.map((e) => e.previous_item_id)).toEqual([null, committed[0]!.item_id]);
  });

  it('announces speech that continues after a segment cut only once it has words; an empty continuation leaves no item', () => {
    const { items, types, out } = setup();
    items.onSessionEvent(start(0, 0));
    items.onSessionEvent(end(0, 30_000, true));
    items.onSessionEvent(start(1, 30_000));
    items.onSessionEvent(final(0, 'a long speech'));
    items.onSessionEvent(end(1, 30_400));
    items.onSessionEvent(final(1, ''));
    expect(types().filter((t) => t === 'input_audio_buffer.speech_started')).toHaveLength(1);
    expect(out.filter((e) => e.type.endsWith('.completed'))).toHaveLength(1);
    // With words, the continuation is an item of its own.
    items.onSessionEvent(start(2, 40_000));
    items.onSessionEvent(end(2, 50_000, true));
    items.onSessionEvent(start(3, 50_000));
    items.onSessionEvent(end(3, 51_000));
    items.onSessionEvent(final(2, 'first part'));
    items.onSessionEvent(final(3, 'second part'));
    expect(out.filter((e) => e.type.endsWith('.completed')).map((e) => e.transcript)).toEqual(['a long speech', 'first part', 'second part']);
    expect(out.filter((e) => e.type === 'input_audio_buffer.speech_started').map((e) => e.audio_start_ms)).toEqual([0, 40_000, 50_000]);
  });

  it('a client commit ends the item without speech_stopped; a clear drops it', () => {
    const { items, out, types } = setup();
    items.onSessionEvent(start(0, 0));
    const committed = items.cutByClient(false, () => {
      items.onSessionEvent(end(0, 800, true));
      items.onSessionEvent(start(1, 800));
    });
    expect(committed).toBe(true);
    items.onSessionEvent(final(0, 'hello'));
    expect(types()).toEqual(['input_audio_buffer.speech_started', 'input_audio_buffer.committed', 'conversation.item.added', 'transcription.completed', 'conversation.item.done']);
    out.length = 0;
    items.onSessionEvent(partial(1, 'some thing more'));
    items.onSessionEvent(partial(1, 'some thing more here'));
    expect(types()).toEqual(['input_audio_buffer.speech_started', 'transcription.delta']);
    out.length = 0;
    items.cutByClient(true, () => {
      items.onSessionEvent(end(1, 2000, true));
      items.onSessionEvent(start(2, 2000));
    });
    items.onSessionEvent(final(1, 'some thing more here'));
    expect(out).toEqual([]);
    expect(items.cutByClient(false, () => undefined)).toBe(true);
    items.onSessionEvent(end(2, 2100));
    expect(items.cutByClient(false, () => undefined)).toBe(false);
  });

  it('an item the session gave up on (no final) fails when a later final arrives', () => {
    const { items, out } = setup();
    items.onSessionEvent(start(0, 0));
    items.onSessionEvent(end(0, 500));
    items.onSessionEvent(start(1, 1000));
    items.onSessionEvent(end(1, 1500));
    items.onSessionEvent(final(1, 'late'));
    const failed = out.filter((e) => e.type.endsWith('.failed'));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ item_id: out[0]!.item_id, error: { code: 'final_missing' } });
  });

  it('without turn detection: no speech events and no deltas; a commit makes the item', () => {
    const { items, types } = setup({ turnDetection: false });
    items.onSessionEvent(start(0, 0));
    items.onSessionEvent(partial(0, 'one two three'));
    items.onSessionEvent(partial(0, 'one two three four'));
    expect(types()).toEqual([]);
    items.cutByClient(false, () => {
      items.onSessionEvent(end(0, 3000, true));
      items.onSessionEvent(start(1, 3000));
    });
    items.onSessionEvent(final(0, 'one two three four'));
    items.onSessionEvent(end(1, 4000));
    items.onSessionEvent(final(1, ''));
    expect(types()).toEqual(['input_audio_buffer.committed', 'conversation.item.added', 'transcription.completed', 'conversation.item.done']);
  });

  it('an empty commit is an item with an empty transcript', () => {
    const { items, out } = setup();
    items.emptyCommit(0.5);
    expect(out.map((e) => e.type)).toEqual(['input_audio_buffer.committed', 'conversation.item.added', 'conversation.item.input_audio_transcription.completed', 'conversation.item.done']);
    expect(out[2]).toMatchObject({ transcript: '', usage: { seconds: 0.5 } });
  });
});

describe('delta helpers', () => {
  it('extension: only what extends the sent text at a word boundary', () => {
    expect(extension('', ' hello there ')).toBe('hello there');
    expect(extension('hello', 'hello there')).toBe(' there');
    expect(extension('thank', 'thanks')).toBe('');
    expect(extension('hello there', 'hello')).toBe('');
    expect(extension('hello', 'yellow there')).toBe('');
  });

  it('agreed: the common word prefix, less the newest word', () => {
    expect(agreed('', 'one two')).toBe('');
    expect(agreed('one', 'one two')).toBe('one');
    expect(agreed('one two three', 'one two three four')).toBe('one two three');
    expect(agreed('one too', 'one two three')).toBe('one');
    expect(agreed('one two three', 'one two')).toBe('one');
  });
});
