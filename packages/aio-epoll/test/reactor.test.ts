import { closeSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, type Engine, OPCODE_COUNT, Opcode, Queue } from '@proactor/aio-core';
import { afterEach, describe, expect, it } from 'vitest';
import backend, { createBackend, engineInfo, operations, pollers } from '../src/index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A queue on `inner`, and the engine it attached (for engineInfo). */
function queue(inner: Backend = backend): { q: Queue; engine: () => Engine } {
  let attached: Engine | undefined;
  const q = new Queue({
    name: inner.name,
    capabilities: inner.capabilities,
    attach(ring) {
      attached = inner.attach(ring);
      return attached;
    },
  });
  cleanups.push(() => q.destroy());
  return {
    q,
    engine: () => {
      if (attached === undefined) throw new Error('no engine attached');
      return attached;
    },
  };
}

async function connectedPair(q: Queue): Promise<{ client: number; accepted: number }> {
  const listener = await q.socket(4);
  cleanups.push(() => q.close(listener).catch(() => undefined));
  await q.bind(listener, { address: '127.0.0.1', port: 0 });
  await q.listen(listener);
  const address = await q.localAddress(listener);
  const client = await q.socket(4);
  cleanups.push(() => q.close(client).catch(() => undefined));
  const [accepted] = await Promise.all([q.accept(listener), q.connect(client, address)]);
  cleanups.push(() => q.close(accepted.fd).catch(() => undefined));
  return { client, accepted: accepted.fd };
}

describe('createBackend', () => {
  it('runs on epoll by default and validates its options before attaching anything', () => {
    expect(pollers).toContain('epoll');
    expect(() => createBackend(null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => createBackend({ poller: 'select' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
  });

  it('refuses the poll(2) poller with ERR_INVALID_ARG_VALUE while this build lacks it', () => {
    if (pollers.includes('poll')) {
      expect(createBackend({ poller: 'poll' }).name).toBe('epoll');
      return;
    }
    expect(() => createBackend({ poller: 'poll' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('poll') }),
    );
  });
});

describe('the reactor', () => {
  it('parks a recv that would block and completes it when epoll reports data', async () => {
    const { q, engine } = queue();
    const { client, accepted } = await connectedPair(q);
    const waiting = q.recv(accepted, Buffer.alloc(16));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = engineInfo(engine());
    expect(before.poller).toBe('epoll');
    expect(before.parked).toBe(1);
    expect(before.waitingDescriptors).toBe(1);
    await q.send(client, Buffer.from('hello'));
    expect(await waiting).toBe(5);
    const after = engineInfo(engine());
    expect(after.parked).toBe(0);
    expect(after.parks).toBeGreaterThanOrEqual(1);
    expect(after.retries).toBeGreaterThanOrEqual(1);
  });

  it("waits on a socket the queue creates even when its number's last owner was closed behind the queue's back in the turn that reported it", async () => {
    // The epoll poller keeps a reported descriptor's registration for a re-arm in the same turn;
    // the kernel dropped it with the closed socket, so the new one must be registered anew.
    const { q } = queue();
    const sender = await q.socket(4, 'dgram');
    cleanups.push(() => q.close(sender).catch(() => undefined));
    const first = await q.socket(4, 'dgram');
    await q.bind(first, { address: '127.0.0.1', port: 0 });
    const waiting = q.recvfrom(first, Buffer.alloc(16));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await q.sendto(sender, 'one', await q.localAddress(first));
    expect((await waiting).bytes).toBe(3);
    // From here on, one turn of the loop: each await is a delivery round of the same callback.
    closeSync(first);
    const second = await q.socket(4, 'dgram');
    cleanups.push(() => q.close(second).catch(() => undefined));
    expect(second).toBe(first); // the lowest free number
    await q.bind(second, { address: '127.0.0.1', port: 0 });
    const address = await q.localAddress(second);
    const buffer = Buffer.alloc(16);
    const again = q.recvfrom(second, buffer);
    await q.nop(); // the recvfrom was tried and parked
    await q.sendto(sender, 'two', address);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      again.then(({ bytes }) => buffer.toString('utf8', 0, bytes)),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('never reported'), 2000);
      }),
    ]);
    clearTimeout(timer);
    expect(outcome).toBe('two');
  });

  it('completes recvs waiting on one socket in the order they were submitted', async () => {
    const { q } = queue();
    const { client, accepted } = await connectedPair(q);
    const first = Buffer.alloc(3);
    const second = Buffer.alloc(3);
    const reads = [q.recv(accepted, first), q.recv(accepted, second)];
    await new Promise((resolve) => setTimeout(resolve, 20));
    await q.send(client, Buffer.from('abc'));
    await q.send(client, Buffer.from('def'));
    expect(await Promise.all(reads)).toEqual([3, 3]);
    expect(first.toString()).toBe('abc');
    expect(second.toString()).toBe('def');
  });

  it('sendfile to a socket that fills up waits for writability, behind it a send waits, and the reader gets every byte in order', async () => {
    const { q, engine } = queue();
    const { client, accepted } = await connectedPair(q);
    const dir = mkdtempSync(join(tmpdir(), 'proactor-reactor-sendfile-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // Far more than loopback socket buffers hold: the first calls fill them, the rest waits.
    const data = Buffer.alloc(16 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    writeFileSync(join(dir, 'in'), data);
    const input = await q.open(join(dir, 'in'), 'r');
    cleanups.push(() => q.close(input));
    const sending = q.sendfile(accepted, input, { position: 0 });
    const after = q.send(accepted, Buffer.from('tail'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(engineInfo(engine()).parked).toBe(2); // the sendfile, and the send behind it
    const received = Buffer.alloc(data.length + 4);
    for (let got = 0; got < received.length; ) {
      const n = await q.recv(client, received, got, received.length - got);
      expect(n).toBeGreaterThan(0);
      got += n;
    }
    expect(await sending).toBe(data.length);
    expect(await after).toBe(4);
    expect(received.subarray(0, data.length).equals(data)).toBe(true);
    expect(received.subarray(data.length).toString()).toBe('tail');
    const info = engineInfo(engine());
    expect(info.sendfileBytes).toBe(data.length);
    expect(info.parks).toBeGreaterThanOrEqual(2);
  });

  it('shares one poller between the queues of a thread', () => {
    const a = queue();
    const b = queue();
    a.q.nop();
    b.q.nop();
    expect(engineInfo(a.engine()).pollerFd).toBe(engineInfo(b.engine()).pollerFd);
  });
});

describe('the operation table', () => {
  it("is aio-core's: every opcode under its aio-core name", () => {
    expect(operations.length).toBe(OPCODE_COUNT);
    for (const op of operations) {
      expect(Opcode[op.name.toUpperCase() as keyof typeof Opcode]).toBe(op.opcode);
    }
  });
});
