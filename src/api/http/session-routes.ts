// GET /v1/sessions and /v1/sessions/{id}: the live sessions of this process, whatever their source; GET
// /v1/calls: those that transcribe phone calls. Their events stream on WS /v1/sessions/{id}/events
// (src/api/ws/observer.ts) and, for calls, all together on WS /v1/calls/events.
import type Router from '@koa/router';
import type { Session } from '../../session/session.js';
import type { SessionManager } from '../../session/manager.js';
import { callToWire } from '../ws/events.js';
import { excerpt } from '../../errors/index.js';
import { ApiError } from './api-error.js';

function describe(s: Session): Record<string, unknown> {
  const st = s.stats();
  return {
    id: s.id,
    object: 'session',
    model: s.model,
    state: st.state,
    created_at: Math.floor(s.createdAt / 1000),
    input_rate: s.inputRate,
    sample_rate: s.sampleRate,
    audio_quality: s.quality,
    audio_seconds: Math.round((st.inputSamples / s.inputRate) * 1000) / 1000,
    segments: st.segments,
    dropped_samples: st.droppedSamples,
    recoveries: st.recoveries,
    ...(s.call ? { call: callToWire(s.call) } : {}),
    events_url: `/v1/sessions/${encodeURIComponent(s.id)}/events`,
  };
}

export function mountSessionRoutes(router: Router, sessions: SessionManager): void {
  router.get('/v1/sessions', (ctx) => {
    ctx.body = { object: 'list', data: sessions.list().filter((s) => !s.closed).map(describe) };
  });
  // The live sessions that transcribe phone calls (ARI, SIP, RTP fork); all their events: WS /v1/calls/events.
  router.get('/v1/calls', (ctx) => {
    ctx.body = { object: 'list', data: sessions.list().filter((s) => !s.closed && s.call).map(describe) };
  });
  router.get('/v1/sessions/:id', (ctx) => {
    const s = sessions.get(ctx.params.id ?? '');
    if (!s || s.closed) throw new ApiError(404, `no live session '${excerpt(ctx.params.id ?? '')}'`, { type: 'not_found_error', code: 'session_not_found', param: 'id' });
    ctx.body = describe(s);
  });
}
