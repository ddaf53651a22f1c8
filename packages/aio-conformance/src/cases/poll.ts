/**
 * poll: readiness of sockets and files as one completion, with the events Linux's poll(2)
 * reports for the same situation; and closing a socket through the queue, which ends the
 * operations waiting on it (poll, recv, accept) with ECANCELED on every backend. Every case stays
 * on loopback, every wait is bounded (by the case's timeout and by AbortSignal timeouts), and
 * every socket is closed.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type Completion,
  POLL_ERR,
  POLL_HUP,
  POLL_IN,
  POLL_OUT,
  POLL_RDHUP,
  type Queue,
  type SocketAddress,
} from '@proactor/aio-core';
import type { CaseContext, ConformanceCase, Need } from '../case.js';
import { assertAbortError, closeLater, fixture, rejectsWith, throwsArgError, track } from './expect.js';
import { instrument } from './instrumented-backend.js';

const isWindows = process.platform === 'win32';
const SERVER: Need[] = ['poll', 'socket', 'bind', 'listen', 'getsockname', 'close'];
const PAIR: Need[] = [...SERVER, 'accept', 'connect'];
const ECHO: Need[] = [...PAIR, 'recv', 'send'];
const UDP: Need[] = ['poll', 'socket', 'bind', 'getsockname', 'recvfrom', 'sendto', 'close'];
/** How long a case waits for an event on loopback before failing instead of hanging. */
const WAIT_MS = 5000;
/** How long a case watches an operation that must still be waiting. */
const QUIET_MS = 50;

type Family = 4 | 'unix';
const FAMILIES: readonly Family[] = isWindows ? [4] : [4, 'unix'];

/** The names of the events in `mask`, for messages. */
function events(mask: number): string {
  const names: string[] = [];
  for (const [bit, name] of [
    [POLL_IN, 'IN'],
    [POLL_OUT, 'OUT'],
    [POLL_ERR, 'ERR'],
    [POLL_HUP, 'HUP'],
    [POLL_RDHUP, 'RDHUP'],
  ] as const) {
    if (mask & bit) names.push(name);
  }
  const rest = mask & ~(POLL_IN | POLL_OUT | POLL_ERR | POLL_HUP | POLL_RDHUP);
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.length ? names.join('|') : '0';
}

function assertEvents(actual: number, expected: number, what: string): void {
  assert.equal(actual, expected, `${what}: expected ${events(expected)}, got ${events(actual)}`);
}

/** Asserts `op` is still waiting after a short while (the backend had every chance to finish it). */
async function assertWaiting(op: { settled: () => boolean }, what: string): Promise<void> {
  await delay(QUIET_MS);
  assert.equal(op.settled(), false, `${what} is still waiting`);
}

/** A listening socket on loopback (or a unix path in the case's directory) and its address. */
let unixPaths = 0;

async function listener(
  t: CaseContext,
  q: Queue,
  family: Family = 4,
): Promise<{ fd: number; address: SocketAddress }> {
  const fd = closeLater(t, await q.socket(family));
  if (family === 'unix') await q.bind(fd, { path: t.path(`p${unixPaths++}.sock`) });
  else await q.bind(fd, { address: '127.0.0.1', port: 0 });
  await q.listen(fd);
  return { fd, address: await q.localAddress(fd) };
}

/** A connected pair: the client's fd and the accepted server-side fd. */
async function pair(
  t: CaseContext,
  q: Queue,
  family: Family = 4,
): Promise<{ client: number; accepted: number }> {
  const server = await listener(t, q, family);
  const client = closeLater(t, await q.socket(family));
  const [accepted] = await Promise.all([q.accept(server.fd), q.connect(client, server.address)]);
  closeLater(t, accepted.fd);
  return { client, accepted: accepted.fd };
}

/** A UDP socket bound to loopback port 0, and its address. */
async function udpBound(t: CaseContext, q: Queue): Promise<{ fd: number; address: SocketAddress }> {
  const fd = closeLater(t, await q.socket(4, 'dgram'));
  await q.bind(fd, { address: '127.0.0.1', port: 0 });
  return { fd, address: await q.localAddress(fd) };
}

const bounded = () => ({ signal: AbortSignal.timeout(WAIT_MS) });

export const pollCases: ConformanceCase[] = [
  {
    name: 'poll: a connected socket is writable at once (POLL_OUT), and not readable while nothing arrived',
    needs: PAIR,
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const { client, accepted } = await pair(t, q, family);
        for (const fd of [client, accepted]) {
          assertEvents(await q.poll(fd, POLL_OUT, bounded()), POLL_OUT, `${family}: poll(OUT)`);
          assertEvents(
            await q.poll(fd, POLL_IN | POLL_OUT | POLL_RDHUP, bounded()),
            POLL_OUT,
            `${family}: poll(IN|OUT|RDHUP) with nothing received`,
          );
        }
      }
    },
  },
  {
    name: 'poll: POLL_IN waits until the peer sends; then recv gets the data',
    needs: ECHO,
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const { client, accepted } = await pair(t, q, family);
        const poll = track(q.poll(accepted, POLL_IN, bounded()));
        await assertWaiting(poll, `${family}: poll(IN) before anything was sent`);
        assert.equal(await q.send(client, 'readable'), 8);
        assertEvents(await poll.promise, POLL_IN, `${family}: poll(IN) after the peer sent`);
        assertEvents(await q.poll(accepted, POLL_IN, bounded()), POLL_IN, `${family}: data still buffered`);
        const buf = Buffer.alloc(64);
        const n = await q.recv(accepted, buf, bounded());
        assert.equal(buf.toString('utf8', 0, n), 'readable');
      }
    },
  },
  {
    name: 'poll: a listening socket reports POLL_IN once a connection waits; accept then takes it',
    needs: PAIR,
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const server = await listener(t, q, family);
        const poll = track(q.poll(server.fd, POLL_IN | POLL_OUT, bounded()));
        await assertWaiting(poll, `${family}: poll(IN|OUT) on a listener without connections`);
        const client = closeLater(t, await q.socket(family));
        const connected = q.connect(client, server.address, bounded());
        assertEvents(await poll.promise, POLL_IN, `${family}: poll on the listener once a client connected`);
        await connected;
        // The connection is queued: accept completes without another client.
        const accepted = await q.accept(server.fd, bounded());
        closeLater(t, accepted.fd);
        assertEvents(
          await q.poll(accepted.fd, POLL_OUT, bounded()),
          POLL_OUT,
          `${family}: the accepted socket`,
        );
      }
    },
  },
  {
    name: "poll: after the peer's shutdown('write'): POLL_IN and POLL_RDHUP, POLL_OUT still; recv returns 0",
    needs: [...ECHO, 'shutdown'],
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const { client, accepted } = await pair(t, q, family);
        await q.shutdown(client, 'write');
        assertEvents(
          await q.poll(accepted, POLL_IN | POLL_RDHUP, bounded()),
          POLL_IN | POLL_RDHUP,
          `${family}: poll(IN|RDHUP)`,
        );
        assertEvents(await q.poll(accepted, POLL_RDHUP, bounded()), POLL_RDHUP, `${family}: poll(RDHUP)`);
        assertEvents(
          await q.poll(accepted, POLL_IN | POLL_OUT | POLL_RDHUP, bounded()),
          POLL_IN | POLL_OUT | POLL_RDHUP,
          `${family}: poll(IN|OUT|RDHUP)`,
        );
        assert.equal(await q.recv(accepted, Buffer.alloc(16), bounded()), 0, 'recv reads the end');
        // The other direction still works.
        assert.equal(await q.send(accepted, 'back'), 4);
        assertEvents(
          await q.poll(client, POLL_IN, bounded()),
          POLL_IN,
          `${family}: the client sees the reply`,
        );
      }
    },
  },
  {
    name: 'poll: POLL_RDHUP is reported only when asked for, as poll(2) reports it',
    needs: [...PAIR, 'shutdown'],
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const { client, accepted } = await pair(t, q, family);
        await q.shutdown(client, 'write');
        assertEvents(
          await q.poll(accepted, POLL_IN | POLL_RDHUP, bounded()),
          POLL_IN | POLL_RDHUP,
          `${family}: poll(IN|RDHUP) once the peer shut its side down`,
        );
        assertEvents(await q.poll(accepted, POLL_IN, bounded()), POLL_IN, `${family}: poll(IN)`);
        assertEvents(await q.poll(accepted, POLL_OUT, bounded()), POLL_OUT, `${family}: poll(OUT)`);
      }
    },
  },
  {
    name: 'poll: a stream socket neither connected nor listening reports POLL_OUT and POLL_HUP at once',
    needs: ['poll', 'socket', 'bind', 'close'],
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const fd = closeLater(t, await q.socket(family));
        assertEvents(
          await q.poll(fd, POLL_IN | POLL_OUT | POLL_RDHUP, bounded()),
          POLL_OUT | POLL_HUP,
          `${family}: a new socket`,
        );
        assertEvents(await q.poll(fd, POLL_IN, bounded()), POLL_HUP, `${family}: poll(IN) on a new socket`);
        if (family === 'unix') await q.bind(fd, { path: t.path(`b${unixPaths++}.sock`) });
        else await q.bind(fd, { address: '127.0.0.1', port: 0 });
        assertEvents(
          await q.poll(fd, POLL_IN | POLL_OUT, bounded()),
          POLL_OUT | POLL_HUP,
          `${family}: bound`,
        );
        await q.close(fd);
      }
    },
  },
  {
    name: 'poll: once both directions are shut down, both sockets report POLL_HUP',
    needs: [...ECHO, 'shutdown'],
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const { client, accepted } = await pair(t, q, family);
        await q.shutdown(client, 'write');
        assertEvents(
          await q.poll(accepted, POLL_IN | POLL_RDHUP, bounded()),
          POLL_IN | POLL_RDHUP,
          `${family}: the peer's end arrived`,
        );
        await q.shutdown(accepted, 'write');
        assertEvents(
          await q.poll(accepted, POLL_IN | POLL_OUT | POLL_RDHUP, bounded()),
          POLL_IN | POLL_OUT | POLL_RDHUP | POLL_HUP,
          `${family}: poll(IN|OUT|RDHUP) on the side that shut down last`,
        );
        // HUP comes unasked, once the client received the end too.
        assertEvents(
          await q.poll(client, POLL_IN | POLL_RDHUP, bounded()),
          POLL_IN | POLL_RDHUP | POLL_HUP,
          `${family}: poll(IN|RDHUP) on the side that shut down first`,
        );
        assert.equal(await q.recv(client, Buffer.alloc(16), bounded()), 0);
      }
    },
  },
  {
    name: 'poll: a UDP socket is writable at once and reports POLL_IN once a datagram is queued',
    needs: UDP,
    async run(t) {
      const q = t.queue();
      const receiver = await udpBound(t, q);
      const sender = closeLater(t, await q.socket(4, 'dgram'));
      assertEvents(await q.poll(receiver.fd, POLL_OUT, bounded()), POLL_OUT, 'poll(OUT) on a bound socket');
      assertEvents(await q.poll(sender, POLL_OUT, bounded()), POLL_OUT, 'poll(OUT) on a socket never bound');
      const poll = track(q.poll(receiver.fd, POLL_IN, bounded()));
      await assertWaiting(poll, 'poll(IN) before a datagram arrived');
      assert.equal(await q.sendto(sender, 'datagram', receiver.address), 8);
      assertEvents(await poll.promise, POLL_IN, 'poll(IN) once a datagram arrived');
      assertEvents(
        await q.poll(receiver.fd, POLL_IN | POLL_OUT, bounded()),
        POLL_IN | POLL_OUT,
        'poll(IN|OUT) with the datagram queued',
      );
      const buf = Buffer.alloc(64);
      const { bytes } = await q.recvfrom(receiver.fd, buf, bounded());
      assert.equal(buf.toString('utf8', 0, bytes), 'datagram');
      const again = track(q.poll(receiver.fd, POLL_IN, bounded()));
      await assertWaiting(again, 'poll(IN) once the queue is empty again');
      await q.sendto(sender, 'second', receiver.address);
      assertEvents(await again.promise, POLL_IN, 'poll(IN) for the second datagram');
    },
  },
  {
    name: 'poll: a waiting poll cancelled through its AbortSignal rejects with AbortError; the socket still works',
    needs: ECHO,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const controller = new AbortController();
      const poll = track(q.poll(accepted, POLL_IN, { signal: controller.signal }));
      await assertWaiting(poll, 'poll(IN)');
      const reason = new Error('stop polling');
      controller.abort(reason);
      try {
        await poll.promise;
        assert.fail('the aborted poll resolved');
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        assertAbortError(error, reason);
      }
      // Already aborted: rejects without waiting.
      await assert.rejects(q.poll(accepted, POLL_IN, { signal: AbortSignal.abort() }), {
        name: 'AbortError',
      });
      const next = q.poll(accepted, POLL_IN, bounded());
      assert.equal(await q.send(client, 'after'), 5);
      assertEvents(await next, POLL_IN, 'poll(IN) after the aborted one');
      const buf = Buffer.alloc(16);
      const n = await q.recv(accepted, buf, bounded());
      assert.equal(buf.toString('utf8', 0, n), 'after');
    },
  },
  {
    name: 'poll: closing the socket through the queue ends a waiting poll with ECANCELED',
    needs: PAIR,
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const { accepted } = await pair(t, q, family);
        const poll = track(q.poll(accepted, POLL_IN, bounded()));
        await assertWaiting(poll, `${family}: poll(IN) on a connected socket`);
        await q.close(accepted);
        await rejectsWith(poll.promise, { code: 'ECANCELED', syscall: 'poll' });
        const server = await listener(t, q, family);
        const onListener = track(q.poll(server.fd, POLL_IN, bounded()));
        await assertWaiting(onListener, `${family}: poll(IN) on a listener`);
        await q.close(server.fd);
        await rejectsWith(onListener.promise, { code: 'ECANCELED', syscall: 'poll' });
      }
      if (t.backend.capabilities.ops.has('sendto')) {
        const udp = await udpBound(t, q);
        const onUdp = track(q.poll(udp.fd, POLL_IN, bounded()));
        await assertWaiting(onUdp, 'poll(IN) on a UDP socket');
        await q.close(udp.fd);
        await rejectsWith(onUdp.promise, { code: 'ECANCELED', syscall: 'poll' });
      }
    },
  },
  {
    name: 'socket: closing a connected socket through the queue ends a waiting recv with ECANCELED',
    needs: ECHO,
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const { accepted } = await pair(t, q, family);
        const recv = track(q.recv(accepted, Buffer.alloc(16), bounded()));
        await assertWaiting(recv, `${family}: recv`);
        await q.close(accepted);
        await rejectsWith(recv.promise, { code: 'ECANCELED', syscall: 'read' });
        await rejectsWith(q.recv(accepted, Buffer.alloc(16), bounded()), { code: 'EBADF', syscall: 'read' });
      }
    },
  },
  {
    name: 'socket: a read waiting on a connected socket gets the bytes sent later; closing the socket through the queue ends a waiting read with ECANCELED, an abort with AbortError',
    needs: [...ECHO, 'read'],
    skip: (backend) =>
      backend.name === 'node'
        ? "aio-node's socket descriptors are node:net sockets, not files: read refuses them (ENOTSUP)"
        : (globalThis as { PROACTOR_READS_ON_POOL?: boolean }).PROACTOR_READS_ON_POOL
          ? 'reads run on the blocking pool here (a kernel without IORING_OP_READ): a read waiting on a socket holds a pool thread that no close can end'
          : undefined,
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const { client, accepted } = await pair(t, q, family);
        const buf = Buffer.alloc(16);
        const first = track(q.read(accepted, buf, bounded()));
        await assertWaiting(first, `${family}: read`);
        assert.equal(await q.send(client, 'later'), 5);
        assert.equal(await first.promise, 5);
        assert.equal(buf.subarray(0, 5).toString(), 'later');
        const ac = new AbortController();
        const aborted = track(q.read(accepted, Buffer.alloc(16), { signal: ac.signal }));
        await assertWaiting(aborted, `${family}: read to abort`);
        const reason = new Error('not wanted');
        ac.abort(reason);
        const r = await aborted.promise.then(
          () => assert.fail('an aborted read resolved'),
          (error: unknown) => error,
        );
        assertAbortError(r, reason);
        const closed = track(q.read(accepted, Buffer.alloc(16), bounded()));
        await assertWaiting(closed, `${family}: read to close under`);
        await q.close(accepted);
        await rejectsWith(closed.promise, { code: 'ECANCELED', syscall: 'read' });
      }
    },
  },
  {
    name: 'socket: closing a listening socket through the queue ends a waiting accept with ECANCELED',
    needs: PAIR,
    async run(t) {
      const q = t.queue();
      for (const family of FAMILIES) {
        const server = await listener(t, q, family);
        const accept = track(q.accept(server.fd, bounded()));
        await assertWaiting(accept, `${family}: accept`);
        await q.close(server.fd);
        await rejectsWith(accept.promise, { code: 'ECANCELED', syscall: 'accept' });
      }
    },
  },
  {
    name: 'poll: events other than POLL_IN, POLL_OUT, POLL_RDHUP, POLL_ERR and POLL_HUP throw before anything is submitted',
    needs: ['poll', 'socket', 'close'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      const fd = closeLater(t, await q.socket(4));
      const before = counts.entries;
      throwsArgError(() => q.poll(fd, 0x100), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.poll(fd, POLL_IN | 0x2), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.poll(fd, -1), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.poll(fd, 1.5), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.poll(fd, '1' as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsArgError(() => q.poll(-1, POLL_IN), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(
        () => q.poll(fd, POLL_IN, 'x' as unknown as undefined),
        TypeError,
        'ERR_INVALID_ARG_TYPE',
      );
      await q.nop();
      assert.equal(counts.entries, before + 1, 'only the nop was submitted');
    },
  },
  {
    name: 'poll: a descriptor that is not open rejects with EBADF',
    needs: ['poll', 'socket', 'open', 'close'],
    async run(t) {
      const q = t.queue();
      const socket = await q.socket(4);
      await q.close(socket);
      await rejectsWith(q.poll(socket, POLL_IN | POLL_OUT, bounded()), { code: 'EBADF', syscall: 'poll' });
      const file = await q.open(fixture(t, 'closed.txt', 'x'), 'r');
      await q.close(file);
      await rejectsWith(q.poll(file, POLL_IN, bounded()), { code: 'EBADF', syscall: 'poll' });
    },
  },
  {
    name: 'poll: a regular file is ready at once for reading and writing',
    needs: ['poll', 'open', 'close'],
    async run(t) {
      const q = t.queue();
      const fd = await q.open(fixture(t, 'ready.txt', 'ready'), 'r+');
      try {
        assertEvents(await q.poll(fd, POLL_IN | POLL_OUT, bounded()), POLL_IN | POLL_OUT, 'poll(IN|OUT)');
        assertEvents(await q.poll(fd, POLL_IN, bounded()), POLL_IN, 'poll(IN)');
        assertEvents(await q.poll(fd, POLL_OUT, bounded()), POLL_OUT, 'poll(OUT)');
      } finally {
        await q.close(fd);
      }
    },
  },
  {
    name: 'poll: the callback and polled forms give the ready events',
    needs: [...PAIR, 'send'],
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const viaCallback = await new Promise<unknown[]>((resolve) => {
        q.poll(client, POLL_OUT, (...args: unknown[]) => resolve(args));
      });
      assert.deepEqual(viaCallback, [null, POLL_OUT]);
      const withOptions = await new Promise<unknown[]>((resolve) => {
        q.poll(client, POLL_OUT, bounded(), (...args: unknown[]) => resolve(args));
      });
      assert.deepEqual(withOptions, [null, POLL_OUT]);
      assert.equal(q.poll(accepted, POLL_IN, { userData: 21 }), undefined);
      assert.equal(await q.send(client, 'x'), 1);
      const completions: Completion[] = [];
      const deadline = performance.now() + WAIT_MS;
      while (completions.length === 0) {
        if (performance.now() > deadline) assert.fail(`no polled completion after ${WAIT_MS} ms`);
        await new Promise((resolve) => setImmediate(resolve));
        q.drain((c) => completions.push(c));
      }
      assert.equal(completions.length, 1);
      assert.equal(completions[0].userData, 21);
      assertEvents(completions[0].result, POLL_IN, 'polled poll(IN)');
      // A failure in the callback form: the error, with its syscall.
      const closed = await q.socket(4);
      await q.close(closed);
      const [error, value] = await new Promise<unknown[]>((resolve) => {
        q.poll(closed, POLL_IN, (...args: unknown[]) => resolve(args));
      });
      assert.equal(value, undefined);
      assert.equal((error as NodeJS.ErrnoException).code, 'EBADF');
      assert.equal((error as NodeJS.ErrnoException).syscall, 'poll');
    },
  },
];
