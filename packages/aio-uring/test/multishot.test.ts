import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Backend, Queue, type QueueOptions } from '@proactor/aio-core';
import { afterEach, describe, expect, it } from 'vitest';
import backend, { engineInfo } from '../src/index.js';
import { watched } from './watched-backend.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function watchedQueue(options?: QueueOptions): { q: Queue; info: () => ReturnType<typeof engineInfo> } {
  const { backend: b, engines } = watched(backend as Backend);
  const q = new Queue(b, options);
  cleanups.push(() => q.destroy());
  return { q, info: () => engineInfo(engines[0]) };
}

async function listener(q: Queue): Promise<{ fd: number; port: number }> {
  const fd = await q.socket(4);
  cleanups.push(() => q.close(fd).catch(() => undefined));
  await q.bind(fd, { address: '127.0.0.1', port: 0 });
  await q.listen(fd);
  const local = await q.localAddress(fd);
  if (!('port' in local)) throw new Error('no port');
  return { fd, port: local.port };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
    cleanups.push(() => socket.destroy());
  });
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe.runIf(backend.capabilities.multishot)('multishot', () => {
  it('accepts() is served by one request: every connection an item, with its peer address', async () => {
    const { q, info } = watchedQueue();
    const { fd, port } = await listener(q);
    const connections = q.accepts(fd);
    const clients = await Promise.all(Array.from({ length: 10 }, () => connect(port)));
    const ports = new Set(clients.map((c) => c.localPort));
    for (let i = 0; i < 10; i++) {
      const { value } = await connections.next();
      cleanups.push(() => q.close(value!.fd).catch(() => undefined));
      expect(value!.address).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
      expect(ports.delete((value!.address as { port: number }).port)).toBe(true);
    }
    expect(info().multishotItems).toBe(10);
    // One request in flight (the multishot accept), not one per connection.
    expect(q.inFlight).toBe(1);
    await connections.return(undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(q.inFlight).toBe(0);
  });

  it('connections accepted ahead of a loop that ended go to the next accept(), and are closed with the listener', async () => {
    const { q } = watchedQueue();
    const { fd, port } = await listener(q);
    const connections = q.accepts(fd);
    const first = connect(port);
    const { value } = await connections.next();
    cleanups.push(() => q.close(value!.fd).catch(() => undefined));
    await first;
    // Taken by the multishot accept while nobody asks.
    const ahead = await connect(port);
    const ahead2 = await connect(port);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await connections.return(undefined);
    // The multishot request ends (its cancellation completes) soon after.
    for (let i = 0; i < 100 && q.inFlight > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(q.inFlight).toBe(0);
    // The next accept() is served from them, without the kernel.
    const next = await q.accept(fd);
    cleanups.push(() => q.close(next.fd).catch(() => undefined));
    expect((next.address as { port: number }).port).toBe(ahead.localPort);
    // Closing the listener closes the one nobody took.
    const ended = new Promise((resolve) => ahead2.once('end', resolve));
    ahead2.resume();
    await q.close(fd);
    await ended;
  });

  it('recvs() receives into the provided pool: buffers go back after each batch, data intact', async () => {
    const { q, info } = watchedQueue({ recvBufferSize: 4096, recvBufferCount: 8 });
    const { fd, port } = await listener(q);
    const data = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    const client = connect(port).then((socket) => socket.end(data));
    const { fd: conn } = await q.accept(fd);
    cleanups.push(() => q.close(conn).catch(() => undefined));
    const chunks: Buffer[] = [];
    for await (const chunk of q.recvs(conn)) {
      expect(chunk.length).toBeLessThanOrEqual(4096);
      chunks.push(chunk);
    }
    await client;
    expect(sha(Buffer.concat(chunks))).toBe(sha(data));
    const i = info();
    expect(i.providedBuffers).toBe(8);
    expect(i.providedBufferSize).toBe(4096);
    // 4 MiB through 8 buffers of 4 KiB: every buffer was lent many times over (when the pool
    // runs dry, a single recv into a buffer of its own stands in, so not all 1,024 chunks).
    expect(i.multishotItems).toBeGreaterThanOrEqual(256);
    expect(i.providedBuffersInKernel).toBe(8);
  });

  it('chunks are fresh Buffers the consumer may keep while more arrive', async () => {
    const { q } = watchedQueue({ recvBufferSize: 1024, recvBufferCount: 2 });
    const { fd, port } = await listener(q);
    const socket = await connect(port);
    const { fd: conn } = await q.accept(fd);
    cleanups.push(() => q.close(conn).catch(() => undefined));
    const kept: Buffer[] = [];
    const iterator = q.recvs(conn);
    for (let i = 0; i < 6; i++) {
      socket.write(Buffer.alloc(1000, i + 1));
      let got = 0;
      while (got < 1000) {
        const { value } = await iterator.next();
        kept.push(value!);
        got += value!.length;
      }
    }
    await iterator.return(undefined);
    const all = Buffer.concat(kept);
    for (let i = 0; i < 6; i++)
      expect(all.subarray(i * 1000, (i + 1) * 1000).every((b) => b === i + 1)).toBe(true);
  });

  it('recv pools are validated at queue creation', () => {
    expect(() => new Queue(backend, { recvBufferCount: 3 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => new Queue(backend, { recvBufferCount: 65536 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => new Queue(backend, { recvBufferSize: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });
});

describe.runIf(backend.capabilities.zeroCopySend)('zero-copy send', () => {
  it('is issued as SEND_ZC and completes once the buffer is released, with the bytes sent', async () => {
    const { q, info } = watchedQueue();
    const { fd, port } = await listener(q);
    const received: Buffer[] = [];
    const socket = await connect(port);
    const done = new Promise((resolve) => socket.on('end', resolve));
    socket.on('data', (d) => received.push(d));
    const { fd: conn } = await q.accept(fd);
    const data = Buffer.alloc(1024 * 1024, 0x5a);
    let sent = 0;
    while (sent < data.length) sent += await q.send(conn, data.subarray(sent), { zeroCopy: true });
    expect(info().zeroCopySends).toBeGreaterThanOrEqual(1);
    await q.shutdown(conn, 'write');
    await done;
    expect(sha(Buffer.concat(received))).toBe(sha(data));
    await q.close(conn);
  });

  it('a zero-copy send to a closed peer fails like a plain one (EPIPE or ECONNRESET)', async () => {
    const { q } = watchedQueue();
    const { fd, port } = await listener(q);
    const socket = await connect(port);
    const { fd: conn } = await q.accept(fd);
    cleanups.push(() => q.close(conn).catch(() => undefined));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const big = Buffer.alloc(256 * 1024);
    let error: unknown;
    try {
      for (let i = 0; i < 16; i++) await q.send(conn, big, { zeroCopy: true });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: expect.stringMatching(/^(EPIPE|ECONNRESET)$/), syscall: 'write' });
  });

  it('zeroCopy must be a boolean', async () => {
    const { q } = watchedQueue();
    expect(() => q.send(1, Buffer.alloc(1), { zeroCopy: 1 as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe.runIf(backend.capabilities.multishot)('churn', () => {
  it('thousands of connections through a tiny buffer pool, early breaks, closes while waiting: everything ends, nothing leaks', () => {
    const script = fileURLToPath(new URL('./fixtures/churn.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [script, '3'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).toContain('churn ok');
    const stats = JSON.parse(run.stdout.split('\n')[0]) as { connections: number; bytes: number };
    expect(stats.connections).toBeGreaterThan(500);
    expect(run.status).toBe(0);
  }, 70_000);
});
