// The ARI client's logs against the recorded-Asterisk double: an ARI URL given with user:password in it is
// used without them (the configured user and password authenticate) and is never logged with them.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AriClient } from '../../../src/telephony/ari/client.js';
import { AriDouble } from '../../helpers/ari-double.js';

let double: AriDouble | undefined;
const clients: AriClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await double?.close();
  double = undefined;
});

function client(url: string, lines: string[]): AriClient {
  const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
  const c = new AriClient({ url, user: 'theo', password: 'secret', app: 'theo', logger, reconnectMinMs: 50, reconnectMaxMs: 50 });
  clients.push(c);
  return c;
}

describe('AriClient and credentials in its URL', () => {
  it('connects with the configured credentials and logs the URL without the ones it carried', async () => {
    double = await AriDouble.start({ user: 'theo', password: 'secret', app: 'theo' });
    const lines: string[] = [];
    const c = client(double.url.replace('http://', 'http://someone:urlpass@'), lines);
    const connected = new Promise<void>((r) => c.once('connected', () => r()));
    c.start();
    await connected;
    expect(await c.request('GET', '/asterisk/info')).toHaveProperty('system');
    const logged = lines.join('');
    expect(logged).toContain(`"url":"${double.url}/ari"`);
    expect(logged).not.toContain('urlpass');
    expect(logged).not.toContain('someone');
  });

  it('logs the attempts to reach an ARI that is down without the credentials', async () => {
    const lines: string[] = [];
    const c = client('http://someone:urlpass@127.0.0.1:9', lines);
    c.start();
    const end = Date.now() + 5000;
    while (!lines.some((l) => l.includes('cannot reach ARI')) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const logged = lines.join('');
    expect(logged).toContain('cannot reach ARI');
    expect(logged).not.toContain('urlpass');
  });
});

describe('AriClient and malformed events', () => {
  it('refuses events that are not JSON objects or whose fields have the wrong type, counts them, logs at a bounded rate, and goes on', async () => {
    double = await AriDouble.start({ user: 'theo', password: 'secret', app: 'theo' });
    const lines: string[] = [];
    const c = client(double.url, lines);
    const seen: unknown[] = [];
    c.on('event', (ev) => seen.push(ev));
    const connected = new Promise<void>((r) => c.once('connected', () => r()));
    c.start();
    await connected;
    const bad = [
      'null',
      '[1, 2]',
      '"StasisStart"',
      '{not json',
      '{"type": 5}',
      '{"type": "StasisStart", "channel": null}',
      '{"type": "StasisStart", "channel": {"id": 7}}',
      '{"type": "StasisStart", "channel": {"id": "c1", "caller": "bob"}}',
      '{"type": "StasisStart", "channel": {"id": "c1", "dialplan": {"exten": 100}}}',
      '{"type": "StasisStart", "channel": {"id": "c1", "channelvars": {"X": {}}}}',
      '{"type": "BridgeCreated", "bridge": {"id": "b", "channels": [1]}}',
    ];
    for (let i = 0; i < 3; i++) for (const text of bad) for (const ws of double.clients) ws.send(text);
    const good = { type: 'StasisStart', application: 'theo', channel: { id: 'c2', name: 'PJSIP/1', state: 'Up', caller: { name: '', number: '100' }, dialplan: { context: 'x', exten: '200', priority: 1 }, channelvars: {} } };
    for (const ws of double.clients) ws.send(JSON.stringify(good));
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (seen.length > 0) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
    expect(seen).toEqual([good]);
    expect(c.malformed).toBe(3 * bad.length);
    expect(c.connected).toBe(true);
    const refusals = lines.filter((l) => l.includes('malformed event') || l.includes('not JSON'));
    // One line per reason (each reason once here: the rest are suppressed within the interval).
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThanOrEqual(bad.length);
  });
});
