import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { PortPoolExhaustedError } from '../../../../src/errors/index.js';
import { PortPool, type BoundPort } from '../../../../src/mediaplane/rtp/port-pool.js';

const open: dgram.Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function keep(b: BoundPort): BoundPort {
  open.push(b.socket);
  return b;
}

describe('PortPool', () => {
  it('hands out even ports of the range, then fails with a clear error', async () => {
    const pool = new PortPool({ host: '127.0.0.1', min: 42101, max: 42107 });
    expect(pool.capacity).toBe(3);
    const ports = [keep(await pool.allocate()).port, keep(await pool.allocate()).port, keep(await pool.allocate()).port];
    expect(ports).toEqual([42102, 42104, 42106]);
    expect(pool.allocated).toBe(3);
    await expect(pool.allocate()).rejects.toThrow(PortPoolExhaustedError);
    await expect(pool.allocate()).rejects.toThrow(/no free RTP port in 42102-42107/);
  });

  it('skips a port another process holds, and rests a released port before reuse', async () => {
    let now = 0;
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(42110, '127.0.0.1', () => r()));
    open.push(squatter);
    const pool = new PortPool({ host: '127.0.0.1', min: 42110, max: 42113, quarantineMs: 1000, now: () => now });
    const a = keep(await pool.allocate());
    expect(a.port).toBe(42112);
    a.socket.close();
    open.splice(open.indexOf(a.socket), 1);
    pool.release(a.port);
    pool.release(a.port); // twice is harmless
    await expect(pool.allocate()).rejects.toThrow(PortPoolExhaustedError); // 42110 taken, 42112 resting
    now = 1001;
    expect(keep(await pool.allocate()).port).toBe(42112);
  });

  it('binds a specific port on request and refuses one already in use here', async () => {
    const pool = new PortPool({ host: '127.0.0.1', min: 42120, max: 42121 });
    const b = keep(await pool.allocatePort(42131));
    expect(b.port).toBe(42131);
    await expect(pool.allocatePort(42131)).rejects.toThrow(/already in use by this process/);
  });
});
