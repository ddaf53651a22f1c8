import { type Backend, type InetSocketAddress, Opcode, Queue } from '@proactor/aio-core';
import { afterEach, describe, expect, it } from 'vitest';
import backend, { createBackend, engineInfo, kernelSupport } from '../src/index.js';
import { watched } from './watched-backend.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function queue(b: Backend = backend): Queue {
  const q = new Queue(b);
  cleanups.push(() => q.destroy());
  return q;
}

/** Closes `fd` after the test (EBADF ignored). */
function later(q: Queue, fd: number): number {
  cleanups.push(() => q.close(fd).catch(() => undefined));
  return fd;
}

async function pair(q: Queue): Promise<{ listener: number; client: number; accepted: number }> {
  const listener = later(q, await q.socket(4));
  await q.bind(listener, { address: '127.0.0.1', port: 0 });
  await q.listen(listener);
  const address = await q.localAddress(listener);
  const client = later(q, await q.socket(4));
  const [accepted] = await Promise.all([q.accept(listener), q.connect(client, address)]);
  later(q, accepted.fd);
  return { listener, client, accepted: accepted.fd };
}

const FALLBACK = [Opcode.SOCKET, Opcode.BIND, Opcode.LISTEN, Opcode.SHUTDOWN];
const ALWAYS_AT_LAUNCH = [Opcode.SETSOCKOPT, Opcode.GETSOCKNAME];

describe('socket operations', () => {
  it('are all offered, and only setsockopt and getsockname (plus what the kernel lacks) run at launch', () => {
    for (const name of ['socket', 'bind', 'listen', 'accept', 'connect', 'recv', 'send', 'shutdown']) {
      expect(typeof kernelSupport[name]).toBe('boolean');
    }
    for (const name of ['socket', 'bind', 'listen', 'accept', 'connect', 'recv', 'send', 'shutdown']) {
      expect(backend.capabilities.ops.has(name as never)).toBe(true);
    }
    expect(backend.capabilities.ops.has('setsockopt')).toBe(true);
    expect(backend.capabilities.ops.has('getsockname')).toBe(true);
    const { backend: b, engines } = watched(backend);
    queue(b);
    const info = engineInfo(engines[0]);
    const lacking = (['socket', 'bind', 'listen', 'shutdown'] as const)
      .filter((name) => !kernelSupport[name])
      .map((name) => FALLBACK[['socket', 'bind', 'listen', 'shutdown'].indexOf(name)]);
    expect(info.launchOps).toEqual([...lacking, ...ALWAYS_AT_LAUNCH].sort((a, b) => a - b));
    // Socket operations never run on the blocking pool.
    expect(info.blockingOps.filter((op) => op >= Opcode.SOCKET)).toEqual([]);
  });

  for (const mode of ['ring', 'plain calls at launch'] as const) {
    describe(`socket, bind, listen and shutdown as ${mode}`, () => {
      const make = () => {
        const { backend: b, engines } = watched(
          mode === 'ring' ? createBackend() : createBackend({ blockingOps: FALLBACK }),
        );
        const q = queue(b);
        return { q, info: () => engineInfo(engines[0]) };
      };

      it('echo over loopback, with EADDRINUSE from bind and ENOTCONN from shutdown', async () => {
        const { q, info } = make();
        if (mode !== 'ring')
          expect(info().launchOps).toEqual([...FALLBACK, ...ALWAYS_AT_LAUNCH].sort((a, b) => a - b));
        const { listener, client, accepted } = await pair(q);
        const { port } = (await q.localAddress(listener)) as InetSocketAddress;
        const taken = later(q, await q.socket(4));
        await expect(q.bind(taken, { address: '127.0.0.1', port })).rejects.toMatchObject({
          code: 'EADDRINUSE',
          syscall: 'bind',
        });
        await expect(q.shutdown(taken)).rejects.toMatchObject({ code: 'ENOTCONN', syscall: 'shutdown' });
        expect(await q.send(client, 'ping')).toBe(4);
        const buf = Buffer.alloc(8);
        expect(await q.recv(accepted, buf)).toBe(4);
        await q.shutdown(client, 'write');
        expect(await q.recv(accepted, buf)).toBe(0);
      });

      it('a linked bind -> listen -> localAddress chain runs in order; a failed bind cancels the rest', async () => {
        const { q } = make();
        const fd = later(q, await q.socket(6));
        const [bound, listening, local] = await Promise.all([
          q.bind(fd, { address: '::1', port: 0 }, { link: true }),
          q.listen(fd, 16, { link: true }),
          q.localAddress(fd),
        ]);
        expect(bound).toBeUndefined();
        expect(listening).toBeUndefined();
        expect(local).toMatchObject({ address: '::1', family: 'IPv6' });
        const { port } = local as InetSocketAddress;
        const second = later(q, await q.socket(6));
        const results = await Promise.allSettled([
          q.bind(second, { address: '::1', port }, { link: true }),
          q.listen(second, 16, { link: true }),
          q.localAddress(second),
        ]);
        expect(
          results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok')),
        ).toEqual(['EADDRINUSE', 'ECANCELED', 'ECANCELED']);
      });
    });
  }

  it('a short recv breaks a linked chain like a short read', async () => {
    const q = queue();
    const { client, accepted } = await pair(q);
    await q.send(client, 'hello');
    const results = await Promise.allSettled([
      q.recv(accepted, Buffer.alloc(16), { link: true }),
      q.send(accepted, 'never sent'),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 5 });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'ECANCELED' } });
    // A full recv lets the chain go on.
    await q.send(client, 'abcd');
    const [n, sent] = await Promise.all([
      q.recv(accepted, Buffer.alloc(4), { link: true }),
      q.send(accepted, 'back'),
    ]);
    expect([n, sent]).toEqual([4, 4]);
  });

  it('closing a socket through the queue cancels what waits on it first (the kernel would keep the file)', async () => {
    const { backend: b, engines } = watched(backend);
    const q = queue(b);
    const { client, accepted } = await pair(q);
    const pending = q.recv(accepted, Buffer.alloc(8));
    const polling = q.poll(accepted, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(engineInfo(engines[0]).waitingDescriptors).toBe(1);
    await q.close(accepted);
    await expect(pending).rejects.toMatchObject({ code: 'ECANCELED', syscall: 'read' });
    await expect(polling).rejects.toMatchObject({ code: 'ECANCELED', syscall: 'poll' });
    expect(engineInfo(engines[0]).waitingDescriptors).toBe(0);
    // The connection went away with the descriptor: the client sees the end of stream.
    expect(await q.recv(client, Buffer.alloc(8))).toBe(0);
  });

  it('an operation on a descriptor no process can have open is not counted as waiting (no table sized by it)', async () => {
    const { backend: b, engines } = watched(backend);
    const q = queue(b);
    await expect(q.recv(0x7fffffff, Buffer.alloc(8))).rejects.toMatchObject({ code: 'EBADF' });
    expect(engineInfo(engines[0]).waitingDescriptors).toBe(0);
    expect(process.memoryUsage().rss).toBeLessThan(2 ** 31);
  });

  it("accept writes the peer address into the slot's address area; setsockopt runs at launch", async () => {
    const q = queue();
    const listener = later(q, await q.socket(4));
    await q.bind(listener, { address: '127.0.0.1', port: 0 });
    await q.listen(listener);
    const address = await q.localAddress(listener);
    const client = later(q, await q.socket(4));
    const [accepted] = await Promise.all([q.accept(listener), q.connect(client, address)]);
    later(q, accepted.fd);
    expect(accepted.address).toEqual(await q.localAddress(client));
    await q.setsockopt(client, 'nodelay', true);
  });
});
