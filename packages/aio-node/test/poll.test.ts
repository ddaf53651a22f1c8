/**
 * poll on the reference backend, beyond the conformance cases: what node's APIs cannot watch
 * (ENOTSUP), directories, and POLL_OUT following node:net's write buffer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POLL_IN, POLL_OUT, Queue } from '@proactor/aio-core';
import { afterEach, describe, expect, it } from 'vitest';
import backend from '../src/index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function queue(): Queue {
  const q = new Queue(backend);
  cleanups.push(() => q.destroy());
  return q;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aio-node-poll-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Closes `fd` after the test, through a queue of its own (EBADF ignored). */
function later(fd: number): number {
  cleanups.push(async () => {
    const q = new Queue(backend);
    await q.close(fd).catch(() => undefined);
    await q.destroy();
  });
  return fd;
}

async function pair(q: Queue): Promise<{ client: number; accepted: number }> {
  const listener = later(await q.socket(4));
  await q.bind(listener, { address: '127.0.0.1', port: 0 });
  await q.listen(listener);
  const address = await q.localAddress(listener);
  const client = later(await q.socket(4));
  const [accepted] = await Promise.all([q.accept(listener), q.connect(client, address)]);
  later(accepted.fd);
  return { client, accepted: accepted.fd };
}

describe('poll on the reference backend', () => {
  it.skipIf(process.platform === 'win32')(
    'fails with ENOTSUP on a pipe, which node cannot watch',
    async () => {
      const q = queue();
      const fifo = join(tempDir(), 'fifo');
      execFileSync('mkfifo', [fifo]);
      // O_RDWR: opening a FIFO for reading and writing does not wait for a peer (Linux, macOS).
      const fd = await q.open(fifo, 'r+');
      try {
        await expect(q.poll(fd, POLL_IN)).rejects.toMatchObject({ code: 'ENOTSUP', syscall: 'poll' });
      } finally {
        await q.close(fd);
      }
    },
  );

  // Windows does not open directories with fs.open (EISDIR).
  it.skipIf(process.platform === 'win32')(
    'reports a directory ready, as Linux does for files without a poll method',
    async () => {
      const q = queue();
      const fd = await q.open(tempDir(), 'r');
      try {
        expect(await q.poll(fd, POLL_IN | POLL_OUT)).toBe(POLL_IN | POLL_OUT);
      } finally {
        await q.close(fd);
      }
    },
  );

  it('waits for POLL_OUT while the write buffer is full, until the peer reads', async () => {
    const q = queue();
    const { client, accepted } = await pair(q);
    const size = 64 * 1024 * 1024;
    const sent = q.send(client, Buffer.alloc(size, 1));
    let polled = false;
    const writable = q.poll(client, POLL_OUT, { signal: AbortSignal.timeout(20_000) }).then((events) => {
      polled = true;
      return events;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(polled).toBe(false);
    const buf = Buffer.alloc(1 << 20);
    let received = 0;
    while (received < size) received += await q.recv(accepted, buf);
    expect(await sent).toBe(size);
    expect(await writable).toBe(POLL_OUT);
  }, 30_000);

  it('ends a poll waiting on a UDP socket with ECANCELED when the socket is closed', async () => {
    const q = queue();
    const fd = later(await q.socket(4, 'dgram'));
    await q.bind(fd, { address: '127.0.0.1', port: 0 });
    const poll = q.poll(fd, POLL_IN).then(
      () => undefined,
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await q.close(fd);
    expect(await poll).toMatchObject({ code: 'ECANCELED', syscall: 'poll' });
  });
});
