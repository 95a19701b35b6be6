// The Asterisk ARI controller of `theo serve` against the ARI test double (test/helpers/ari-double.ts, built
// from a real Asterisk 22's recorded events, REST bodies and Swagger listing): whole calls from StasisStart
// to hangup with real speech (Asterisk prompts as µ-law RTP, with a pause in which no packets flow),
// transcribed by the PocketSphinx worker; the words on the calls firehose and at a webhook; write-back to
// the channel; a hangup in the middle of an utterance; an ARI disconnect mid-call, with a hangup while
// disconnected; and after each call nothing is left: no bridge, no channel, no session, no RTP port.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '../../src/audio/wav.js';
import { mulawEncode } from '../../src/mediaplane/codec/g711.js';
import { AriDouble } from '../helpers/ari-double.js';
import { SOUNDS } from '../helpers/audio.js';
import { hookReceiver, readFirehose, type CallEv, type HookReceiver } from '../helpers/calls.js';
import { waitFor } from '../helpers/pace.js';
import { serveTheo, stopTheo, type TheoRun } from '../helpers/theo.js';

const dir = mkdtempSync(join(tmpdir(), 'theo-ari-'));
let firehose: CallEv[] = [];
let ari: AriDouble;
let hooks: HookReceiver;
let closeFirehose: () => void;
let run: TheoRun | undefined;
let base = '';
let splitCfg = '';

function ulaw(name: string): Buffer {
  const pcm = readWav(readFileSync(`${SOUNDS}/${name}.wav`)).samples;
  const out = Buffer.alloc(pcm.length);
  mulawEncode(pcm, out);
  return out;
}

const eventsOf = (callId: string): CallEv[] => firehose.filter((e) => e.call?.call_id === callId);
const types = (): string => firehose.map((e) => e.type).join(', ');

async function health(): Promise<{ components: { rtp: { ports_allocated: number } } }> {
  return (await (await fetch(`${base}/health`)).json()) as { components: { rtp: { ports_allocated: number } } };
}

async function nothingLeft(callId: string): Promise<void> {
  await waitFor('the call released', () => ari.bridges.size === 0 && ![...ari.channels.keys()].some((k) => k.startsWith('theo-')), () => JSON.stringify([...ari.bridges.keys(), ...ari.channels.keys()]));
  await waitFor('session closed', () => eventsOf(callId).some((e) => e.type === 'session.closed'), types);
  expect(((await (await fetch(`${base}/v1/calls`)).json()) as { data: unknown[] }).data).toEqual([]);
  let ports = -1;
  for (let i = 0; i < 100 && ports !== 0; i++) {
    ports = (await health()).components.rtp.ports_allocated;
    if (ports !== 0) await new Promise((r) => setTimeout(r, 50));
  }
  expect(ports).toBe(0);
}

beforeAll(async () => {
  ari = await AriDouble.start({ user: 'theo', password: 'secret', app: 'theo' });
  hooks = await hookReceiver();
  const cfg = join(dir, 'theo.yaml');
  writeFileSync(cfg, ['telephony:', '  webhooks:', `    - url: ${hooks.url}`, ''].join('\n'));
  const s = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '42300-42319', '--ari-url', ari.url, '--ari-user', 'theo', '--ari-password', 'secret', '--ari-app', 'theo']);
  run = s.run;
  base = s.url;
  const f = await readFirehose(base);
  firehose = f.events;
  closeFirehose = f.close;
  await waitFor('ARI connected', () => ari.clients.size === 1, () => 'no event websocket');
  splitCfg = join(dir, 'split.yaml');
  writeFileSync(splitCfg, ['telephony:', '  ari:', `    url: ${ari.url}`, '    user: theo', '    password: secret', '    app: theo-split', '    split: directions', ''].join('\n'));
}, 180_000);

afterAll(async () => {
  closeFirehose();
  const done = await stopTheo(run);
  await ari.close();
  hooks.close();
  rmSync(dir, { recursive: true, force: true });
  expect(done?.code ?? 0).toBe(0);
  expect(ari.violations).toEqual([]);
});

describe('Asterisk ARI controller', () => {
  it('transcribes a call from StasisStart to hangup: bridge + ExternalMedia + RTP, words with the call on every event, write-back, everything released', async () => {
    ari.startCall({ id: 'caller-1', number: '5551234', exten: '100', state: 'Ring', audio: [ulaw('queue-thankyou'), 1200, ulaw('auth-thankyou'), 600] });
    await waitFor('two finals', () => eventsOf('caller-1').filter((e) => e.type === 'transcript.final').length === 2, types);
    const evs = eventsOf('caller-1');
    expect(evs[0]).toMatchObject({ type: 'session.created', call: { call_id: 'caller-1', from: '5551234', to: '100', direction: 'inbound', source: 'ari' } });
    expect(evs[0]!.call!.channel_id).toMatch(/^PJSIP\/5551234-/);
    const finals = evs.filter((e) => e.type === 'transcript.final').map((e) => e.text);
    expect(finals[0]).toMatch(/thank you/);
    expect(finals[1]).toMatch(/thank/);
    // What the controller asked of Asterisk: answer the ringing caller, a mixing bridge with both channels,
    // an ExternalMedia channel pointing at one of our RTP ports.
    expect(ari.requestsTo('POST', /^\/channels\/caller-1\/answer$/)).toHaveLength(1);
    const em = ari.requestsTo('POST', /^\/channels\/externalMedia$/)[0]!;
    expect(em.query).toMatchObject({ app: 'theo', format: 'ulaw', encapsulation: 'rtp', transport: 'udp' });
    expect(Number(em.query.external_host!.split(':')[1])).toBeGreaterThanOrEqual(42300);
    expect(ari.requestsTo('POST', /^\/bridges\/[^/]+\/addChannel$/).map((r) => r.query.channel)).toEqual(['caller-1', em.query.channelId]);
    // Each final is written back to the caller's channel and raised as a user event.
    await waitFor('write-back', () => ari.requestsTo('POST', /^\/events\/user\/TheoTranscript$/).length === 2, () => '');
    expect(ari.requestsTo('POST', /^\/channels\/caller-1\/variable$/).map((r) => r.query)).toEqual(finals.map((text) => ({ variable: 'THEO_TRANSCRIPT', value: text })));
    expect(ari.requestsTo('POST', /^\/events\/user\/TheoTranscript$/)[0]).toMatchObject({ query: { application: 'theo', source: 'channel:caller-1' }, body: { variables: { text: finals[0] } } });

    ari.hangup('caller-1');
    await nothingLeft('caller-1');
    expect(eventsOf('caller-1').at(-1)).toMatchObject({ type: 'session.closed', reason: 'hangup' });
    expect(ari.requestsTo('DELETE', /^\/channels\/theo-em-/)).toHaveLength(1);
    expect(ari.requestsTo('DELETE', /^\/bridges\//)).toHaveLength(1);
    // The webhook saw the call too.
    const hooked = (): CallEv[] => hooks.hooks.map((h) => h.event).filter((e) => e.call?.call_id === 'caller-1');
    await waitFor('webhook close', () => hooked().some((e) => e.type === 'session.closed'), () => String(hooks.hooks.length));
    expect(hooked().filter((e) => e.type === 'transcript.final').map((e) => e.text)).toEqual(finals);
  });

  it('a hangup in the middle of an utterance still gives that utterance its final, and releases everything', async () => {
    ari.startCall({ id: 'caller-2', number: '5550002', exten: '200', audio: [ulaw('queue-thankyou'), 500, ulaw('queue-thankyou')] });
    await waitFor('the second utterance starts', () => eventsOf('caller-2').filter((e) => e.type === 'vad.speech_start').length === 2, types);
    ari.hangup('caller-2');
    await nothingLeft('caller-2');
    const evs = eventsOf('caller-2');
    expect(evs.filter((e) => e.type === 'transcript.final')).toHaveLength(2);
    expect(evs.at(-1)).toMatchObject({ type: 'session.closed', reason: 'hangup' });
  });

  it('splits a call per direction with snoop channels when telephony.ari.split is directions', async () => {
    const s2 = await serveTheo(['--preload', '--config', splitCfg, '--rtp-ports', '42320-42339']);
    try {
      const f = await readFirehose(s2.url);
      await waitFor('second controller connected', () => ari.clients.size === 2, () => String(ari.clients.size));
      ari.startCall({ id: 'caller-4', number: '5550004', exten: '400', app: 'theo-split', audio: [ulaw('queue-thankyou'), 800], heard: [ulaw('agent-pass'), 800] });
      const of = (speaker: string): CallEv[] => f.events.filter((e) => e.call?.call_id === 'caller-4' && e.call.speaker === speaker);
      await waitFor('a final per direction', () => of('caller').some((e) => e.type === 'transcript.final') && of('callee').some((e) => e.type === 'transcript.final'), () => f.events.map((e) => `${e.type}:${e.call?.speaker}`).join(', '));
      expect(of('caller').find((e) => e.type === 'transcript.final')!.text).toMatch(/thank you/);
      expect(of('callee').find((e) => e.type === 'transcript.final')!.text).toMatch(/password|pound|your/);
      expect(new Set([...of('caller'), ...of('callee')].map((e) => e.session_id))).toEqual(new Set(['call_caller-4_caller', 'call_caller-4_callee']));
      expect(ari.requestsTo('POST', /^\/channels\/caller-4\/snoop$/).map((r) => r.query.spy).sort()).toEqual(['in', 'out']);
      expect(ari.requestsTo('POST', /^\/channels\/caller-4\/snoop$/).every((r) => r.query.app === 'theo-split')).toBe(true);
      ari.hangup('caller-4');
      await waitFor('both sessions closed', () => of('caller').some((e) => e.type === 'session.closed') && of('callee').some((e) => e.type === 'session.closed'), () => '');
      await waitFor('released', () => ari.bridges.size === 0 && ![...ari.channels.keys()].some((k) => k.startsWith('theo-')), () => JSON.stringify([...ari.bridges.keys(), ...ari.channels.keys()]));
      f.close();
    } finally {
      await stopTheo(s2.run);
    }
  });

  it('takes slin16 ExternalMedia (PT 118, 16 kHz big-endian L16) when telephony.ari.format is slin16', async () => {
    const cfg = join(dir, 'slin16.yaml');
    writeFileSync(cfg, ['telephony:', '  ari:', `    url: ${ari.url}`, '    user: theo', '    password: secret', '    app: theo-wide', '    format: slin16', ''].join('\n'));
    const s3 = await serveTheo(['--preload', '--config', cfg, '--rtp-ports', '42340-42359']);
    try {
      const f = await readFirehose(s3.url);
      await waitFor('slin16 controller connected', () => ari.clients.size === 2, () => String(ari.clients.size));
      ari.startCall({ id: 'caller-5', number: '5550005', exten: '500', app: 'theo-wide', audio: [ulaw('queue-thankyou'), 800] });
      const mine = (): CallEv[] => f.events.filter((e) => e.call?.call_id === 'caller-5');
      await waitFor('a final', () => mine().some((e) => e.type === 'transcript.final'), () => mine().map((e) => e.type).join(', '));
      expect(ari.requestsTo('POST', /^\/channels\/externalMedia$/).at(-1)!.query).toMatchObject({ app: 'theo-wide', format: 'slin16' });
      expect(mine()[0]).toMatchObject({ type: 'session.created', input_rate: 16000 });
      expect(mine().find((e) => e.type === 'transcript.final')!.text).toMatch(/thank you/);
      ari.hangup('caller-5');
      await waitFor('closed', () => mine().some((e) => e.type === 'session.closed'), () => '');
      f.close();
    } finally {
      await stopTheo(s3.run);
    }
  });

  it('survives an ARI disconnect mid-call: the call goes on, the controller reconnects, a hangup while disconnected is found on reconnect', async () => {
    ari.startCall({ id: 'caller-3', number: '5550003', exten: '300', audio: [ulaw('queue-thankyou'), 1200, ulaw('auth-thankyou'), 600] });
    await waitFor('first final', () => eventsOf('caller-3').some((e) => e.type === 'transcript.final'), types);
    ari.refuseConnections(1500);
    ari.dropConnections();
    // The media path does not need ARI: the call is still transcribed.
    await waitFor('second final', () => eventsOf('caller-3').filter((e) => e.type === 'transcript.final').length === 2, types);
    await waitFor('reconnected', () => ari.clients.size === 1, () => 'not reconnected');
    // Now the caller hangs up while the controller is not listening.
    ari.refuseConnections(1500);
    ari.dropConnections();
    ari.hangup('caller-3');
    await nothingLeft('caller-3');
    expect(ari.requestsTo('GET', /^\/channels\/caller-3$/).length).toBeGreaterThan(0);
    expect(ari.clients.size).toBe(1);
  });
});
