// A Theo session's events as the items of an OpenAI realtime transcription session. Each utterance is one
// user item: `input_audio_buffer.speech_started` → (deltas as partials grow) → `speech_stopped` →
// `input_audio_buffer.committed` → `conversation.item.added` → `…input_audio_transcription.completed` →
// `conversation.item.done`. Deltas are append-only: only text that extends what was already sent goes out
// (the confirmed prefix of a partial, or the words two partials in a row agree on, less the word still being spoken); `completed` carries
// the whole transcript. An utterance that continues speech after a cut (a client commit, the maximum
// segment length) is announced only once it has words, so a commit at the end of a phrase does not leave an
// empty item behind. Without turn detection there are no speech events and no deltas: an item is made by
// the client's commit (or, with words in it, by a 10 s pause or the segment limit). Times are milliseconds of all audio the connection sent (`audioBaseMs` + session ms).
import { randomBytes } from 'node:crypto';
import type { SessionEvent } from '../../session/events.js';
import type { WireEvent } from './events.js';

interface Item {
  id: string;
  startMs: number;
  /** speech_started is out (a continuation of speech cut by a commit or the segment limit waits for words). */
  announced: boolean;
  /** Cut by the client's commit (no speech_stopped) or discarded by a clear (no events at all). */
  manual: boolean;
  discarded: boolean;
  stoppedMs: number | undefined;
  committed: boolean;
  sent: string;
  /** The previous partial: words two partials in a row agree on are ready to send. */
  last: string;
}

const itemId = (): string => `item_${randomBytes(12).toString('base64url')}`;

export interface ItemsOptions {
  emit: (ev: WireEvent, droppable?: boolean) => void;
  /** Milliseconds of connection audio before the current Theo session began. */
  audioBaseMs: () => number;
  /** False without turn detection: no speech_started/stopped, no deltas, items are made by commits. */
  turnDetection: () => boolean;
}

export class OpenAiItems {
  private readonly items = new Map<number, Item>();
  private lastCommitted: string | null = null;
  private lastEnd: { segmentId: number; endMs: number; forced: boolean } | undefined;
  private continuing = false;
  private open: Item | undefined;

  constructor(private readonly opts: ItemsOptions) {}

  /** A new Theo session starts its segment ids again: forget the old session's open items. */
  reset(): void {
    this.items.clear();
    this.lastEnd = undefined;
    this.open = undefined;
  }

  /**
   * The client commits (or, with `discard`, clears) the speech open now; `cut` makes the session end it.
   * False when no speech was open (nothing was cut).
   */
  cutByClient(discard: boolean, cut: () => void): boolean {
    const open = this.open;
    if (!open) return false;
    open.manual = true;
    open.discarded = discard;
    if (!discard) this.announce(open);
    this.continuing = true;
    try {
      cut();
    } finally {
      this.continuing = false;
    }
    return true;
  }

  /** A commit with audio but no speech in it: an item with an empty transcript. */
  emptyCommit(seconds: number): void {
    const id = itemId();
    this.commitEvents(id);
    this.opts.emit({ type: 'conversation.item.input_audio_transcription.completed', item_id: id, content_index: 0, transcript: '', usage: { type: 'duration', seconds }, logprobs: null });
    this.doneEvent(id, '');
  }

  onSessionEvent(ev: SessionEvent): void {
    const base = this.opts.audioBaseMs();
    switch (ev.type) {
      case 'vad.speech_start': {
        const continued = !this.opts.turnDetection() || this.continuing || (this.lastEnd?.forced === true && this.lastEnd.segmentId === ev.segmentId - 1 && this.lastEnd.endMs === ev.startMs);
        const item: Item = { id: itemId(), startMs: base + ev.startMs, announced: false, manual: false, discarded: false, stoppedMs: undefined, committed: false, sent: '', last: '' };
        this.items.set(ev.segmentId, item);
        this.open = item;
        if (!continued) this.announce(item);
        return;
      }
      case 'vad.speech_end': {
        this.lastEnd = { segmentId: ev.segmentId, endMs: ev.endMs, forced: ev.forced };
        const item = this.items.get(ev.segmentId);
        if (item === this.open) this.open = undefined;
        if (!item || item.discarded) return;
        item.stoppedMs = base + ev.endMs;
        if (item.announced) this.stop(item);
        return;
      }
      case 'transcript.partial': {
        const item = this.items.get(ev.segmentId);
        if (!item || item.discarded || !this.opts.turnDetection()) return;
        const ready = ev.stable || agreed(item.last, ev.text);
        item.last = ev.text;
        const delta = extension(item.sent, ready);
        if (!delta) return;
        this.announce(item);
        item.sent += delta;
        this.opts.emit({ type: 'conversation.item.input_audio_transcription.delta', item_id: item.id, content_index: 0, delta }, true);
        return;
      }
      case 'transcript.final':
        this.final(ev.segmentId, ev.text, (ev.endMs - ev.startMs) / 1000);
        return;
      default:
        return;
    }
  }

  private final(segmentId: number, text: string, seconds: number): void {
    // Earlier items the session gave up on (no final came) failed.
    for (const [seg, it] of this.items) {
      if (seg >= segmentId) break;
      this.items.delete(seg);
      if (it.announced && !it.discarded) {
        this.commit(it);
        this.opts.emit({ type: 'conversation.item.input_audio_transcription.failed', item_id: it.id, content_index: 0, error: { type: 'server_error', code: 'final_missing', message: 'the recogniser returned no transcript for this audio' } });
      }
    }
    const item = this.items.get(segmentId);
    this.items.delete(segmentId);
    if (!item || item.discarded) return;
    if (!item.announced && text.trim() === '') return;
    this.announce(item);
    if (item.stoppedMs === undefined) item.stoppedMs = item.startMs + seconds * 1000;
    this.stop(item);
    const rest = extension(item.sent, text);
    if (rest && item.sent !== '') this.opts.emit({ type: 'conversation.item.input_audio_transcription.delta', item_id: item.id, content_index: 0, delta: rest }, true);
    this.opts.emit({ type: 'conversation.item.input_audio_transcription.completed', item_id: item.id, content_index: 0, transcript: text, usage: { type: 'duration', seconds: round3(seconds) }, logprobs: null });
    this.doneEvent(item.id, text);
  }

  private announce(item: Item): void {
    if (item.announced) return;
    item.announced = true;
    if (this.opts.turnDetection()) this.opts.emit({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(item.startMs), item_id: item.id });
    if (item.stoppedMs !== undefined) this.stop(item);
  }

  private stop(item: Item): void {
    if (item.committed) return;
    if (!item.manual && item.stoppedMs !== undefined && this.opts.turnDetection()) this.opts.emit({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(item.stoppedMs), item_id: item.id });
    this.commit(item);
  }

  private commit(item: Item): void {
    if (item.committed) return;
    item.committed = true;
    this.commitEvents(item.id);
  }

  private commitEvents(id: string): void {
    this.opts.emit({ type: 'input_audio_buffer.committed', item_id: id, previous_item_id: this.lastCommitted });
    this.opts.emit({ type: 'conversation.item.added', previous_item_id: this.lastCommitted, item: userItem(id, 'in_progress', null) });
    this.lastCommitted = id;
  }

  private doneEvent(id: string, transcript: string): void {
    this.opts.emit({ type: 'conversation.item.done', item: userItem(id, 'completed', transcript) });
  }
}

function userItem(id: string, status: string, transcript: string | null): Record<string, unknown> {
  return { id, object: 'realtime.item', type: 'message', role: 'user', status, content: [{ type: 'input_audio', transcript }] };
}

/** What `next` adds to `sent` ('' when it does not extend it). */
export function extension(sent: string, next: string): string {
  const n = next.trim();
  if (n.length <= sent.length) return '';
  if (sent === '') return n;
  if (!n.startsWith(sent)) return '';
  const rest = n.slice(sent.length);
  // Only at a word boundary: "thank" → "thanks" is a revision, not an extension.
  return /^\s/.test(rest) ? rest : '';
}

/** The words two hypotheses agree on from the start, less the last word of the newer one (still being spoken). */
export function agreed(a: string, b: string): string {
  const x = a.trim().split(/\s+/);
  const y = b.trim().split(/\s+/);
  const n = Math.min(x.length, y.length - 1);
  let k = 0;
  while (k < n && x[k] === y[k] && x[k] !== '') k++;
  return y.slice(0, k).join(' ');
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
