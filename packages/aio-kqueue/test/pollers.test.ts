import type { Backend, Engine } from '@proactor/aio-core';
import { Queue } from '@proactor/aio-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackend, engineInfo, pollers } from '../src/index.js';

const queues: Queue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.destroy();
});

/** A queue on `backend` and the engine it attached. */
function attached(backend: Backend): { q: Queue; engine: () => Engine } {
  let engine: Engine | undefined;
  const q = new Queue({
    ...backend,
    attach(ring) {
      engine = backend.attach(ring);
      return engine;
    },
  });
  queues.push(q);
  return { q, engine: () => engine as Engine };
}

describe('the pollers of the kqueue addon', () => {
  it('are kqueue and poll(2)', () => {
    expect([...pollers].sort()).toEqual(['kqueue', 'poll']);
  });

  it('refuses a poller the addon lacks, before any queue exists', () => {
    expect(() => createBackend({ poller: 'epoll' as 'poll' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => createBackend(null as unknown as object)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  for (const poller of ['kqueue', 'poll'] as const) {
    it(`${poller}: a TCP round trip waits for readiness and completes through the ring`, async () => {
      const { q, engine } = attached(createBackend({ poller }));
      const server = await q.socket(4);
      await q.bind(server, { address: '127.0.0.1', port: 0 });
      await q.listen(server, 4);
      const client = await q.socket(4);
      const accepted = q.accept(server); // nobody connects yet: parks until readable
      await q.connect(client, await q.localAddress(server));
      const { fd } = await accepted;
      const received = q.recv(fd, Buffer.alloc(5)); // parks until the bytes arrive
      await q.send(client, Buffer.from('hello'));
      expect(await received).toBe(5);
      const info = engineInfo(engine());
      expect(info.poller).toBe(poller);
      expect(info.pollerFd).toBeGreaterThanOrEqual(0);
      expect(info.parks).toBeGreaterThanOrEqual(2);
      for (const d of [fd, client, server]) await q.close(d);
    });
  }
});
