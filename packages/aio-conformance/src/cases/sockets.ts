/**
 * Stream sockets: TCP over IPv4 and IPv6, and unix domain sockets. Every case stays on loopback
 * and every wait is bounded (by the case's timeout, and by explicit AbortSignal timeouts where a
 * wait could legitimately last).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import { type InetSocketAddress, Queue, type SocketAddress } from '@proactor/aio-core';
import type { CaseContext, ConformanceCase, Need } from '../case.js';
import {
  assertAbortError,
  assertSystemError,
  closeLater,
  pattern,
  rejectsWith,
  throwsArgError,
} from './expect.js';
import { instrument } from './instrumented-backend.js';
import { portNobodyListensOn } from './loopback-ports.js';

const isWindows = process.platform === 'win32';
const SERVER: Need[] = ['socket', 'bind', 'listen', 'getsockname', 'close'];
const PAIR: Need[] = [...SERVER, 'accept', 'connect'];
const ECHO: Need[] = [...PAIR, 'recv', 'send'];

function hasIPv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((entry) => entry.family === 'IPv6' && entry.address === '::1'),
  );
}

const noIPv6 = () => (hasIPv6Loopback() ? undefined : 'this machine has no IPv6 loopback (::1)');
const noUnix = () => (isWindows ? 'unix domain sockets are POSIX only here' : undefined);

type Family = 4 | 6 | 'unix';

/** A listening socket on loopback (or a unix path in the case's directory) and its address. */
async function listener(
  t: CaseContext,
  q: Queue,
  family: Family = 4,
  backlog?: number,
): Promise<{ fd: number; address: SocketAddress }> {
  const fd = closeLater(t, await q.socket(family));
  if (family === 'unix') await q.bind(fd, { path: t.path('s.sock') });
  else await q.bind(fd, { address: family === 4 ? '127.0.0.1' : '::1', port: 0 });
  await q.listen(fd, backlog);
  return { fd, address: await q.localAddress(fd) };
}

/** A connected pair: the client's fd and the accepted server-side fd. */
export async function pair(
  t: CaseContext,
  q: Queue,
  family: Family = 4,
): Promise<{ server: number; client: number; accepted: number; address: SocketAddress }> {
  const server = await listener(t, q, family);
  const client = closeLater(t, await q.socket(family));
  const [accepted] = await Promise.all([q.accept(server.fd), q.connect(client, server.address)]);
  closeLater(t, accepted.fd);
  return { server: server.fd, client, accepted: accepted.fd, address: server.address };
}

/** Receives until `size` bytes arrived or the peer ended; returns what arrived. */
export async function recvAll(q: Queue, fd: number, size: number, chunk = 65536): Promise<Buffer> {
  const out = Buffer.alloc(size);
  let received = 0;
  while (received < size) {
    const n = await q.recv(fd, out, received, Math.min(chunk, size - received));
    if (n === 0) break;
    received += n;
  }
  return out.subarray(0, received);
}

/** Sends all of `data`, looping over partial sends. */
async function sendAll(q: Queue, fd: number, data: Buffer): Promise<void> {
  let sent = 0;
  while (sent < data.length) {
    const n = await q.send(fd, data, sent);
    assert.ok(n > 0, 'send made progress');
    sent += n;
  }
}

async function echoRoundTrip(t: CaseContext, family: Family): Promise<void> {
  const q = t.queue();
  const { client, accepted } = await pair(t, q, family);
  const message = Buffer.from(`ping over ${family}`);
  assert.equal(await q.send(client, message), message.length);
  const request = await recvAll(q, accepted, message.length);
  assert.deepEqual(request, message);
  assert.equal(await q.send(accepted, request), request.length);
  assert.deepEqual(await recvAll(q, client, message.length), message);
}

/** Asserts a net-style error: code, errno, syscall, and the address and port it concerned. */
function assertNetError(
  error: unknown,
  code: string,
  syscall: string,
  address: string,
  port: number | undefined,
): void {
  assertSystemErrorShape(error, code, syscall);
  const e = error as Error & { address?: unknown; port?: unknown };
  assert.equal(e.address, address);
  assert.equal(e.port, port);
  const where = port === undefined ? address : `${address}:${port}`;
  assert.equal(e.message, `${syscall} ${code} ${where}`);
}

function assertSystemErrorShape(error: unknown, code: string, syscall: string): void {
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  const e = error as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
  assert.equal(e.code, code, e.message);
  assert.equal(typeof e.errno, 'number');
  assert.ok((e.errno as number) < 0, 'errno is negative, as Node reports it');
  assert.equal(e.syscall, syscall);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    const value = await promise;
    assert.fail(`expected a rejection, got ${String(value)}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    return error;
  }
}

/** The soft limit on open descriptors where it can be read (Linux), else undefined. */
function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (!match) return undefined;
    return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
  } catch {
    return undefined;
  }
}

export const socketCases: ConformanceCase[] = [
  {
    name: 'socket: IPv4, IPv6 and unix stream sockets are created as distinct descriptors and close',
    needs: ['socket', 'close'],
    async run(t) {
      const q = t.queue();
      const fds = [await q.socket(), await q.socket(4, 'stream'), await q.socket(6)];
      if (!isWindows) fds.push(await q.socket('unix'));
      for (const fd of fds) assert.ok(Number.isInteger(fd) && fd >= 0, `fd ${fd}`);
      assert.equal(new Set(fds).size, fds.length);
      for (const fd of fds) await q.close(fd);
      await rejectsWith(q.close(fds[0]), { code: 'EBADF', syscall: 'close' });
    },
  },
  {
    name: 'socket: an echo round trip over IPv4 loopback',
    needs: ECHO,
    run: (t) => echoRoundTrip(t, 4),
  },
  {
    name: 'socket: an echo round trip over IPv6 loopback',
    needs: ECHO,
    skip: noIPv6,
    run: (t) => echoRoundTrip(t, 6),
  },
  {
    name: 'socket: an echo round trip over a unix domain socket',
    needs: ECHO,
    skip: noUnix,
    run: (t) => echoRoundTrip(t, 'unix'),
  },
  {
    name: "socket: localAddress after bind to port 0 gives the real port, and accept gives the peer's address",
    needs: PAIR,
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      await q.bind(fd, { address: '127.0.0.1', port: 0, family: 'IPv4' });
      const bound = (await q.localAddress(fd)) as InetSocketAddress;
      assert.equal(bound.address, '127.0.0.1');
      assert.equal(bound.family, 'IPv4');
      assert.ok(bound.port > 0 && bound.port <= 65535, `port ${bound.port}`);
      await q.listen(fd);
      assert.deepEqual(await q.localAddress(fd), bound, 'listen keeps the bound port');
      const client = closeLater(t, await q.socket(4));
      const [accepted] = await Promise.all([q.accept(fd), q.connect(client, { ...bound, family: 4 })]);
      closeLater(t, accepted.fd);
      const clientLocal = (await q.localAddress(client)) as InetSocketAddress;
      assert.deepEqual(accepted.address, clientLocal);
      assert.notEqual(clientLocal.port, bound.port);
      const serverSide = (await q.localAddress(accepted.fd)) as InetSocketAddress;
      assert.equal(serverSide.port, bound.port);
    },
  },
  {
    name: "socket: a unix listener's localAddress is its path and an accepted peer is unnamed",
    needs: PAIR,
    skip: noUnix,
    async run(t) {
      const q = t.queue();
      const { fd, address } = await listener(t, q, 'unix');
      assert.deepEqual(address, { path: t.path('s.sock') });
      const client = closeLater(t, await q.socket('unix'));
      const [accepted] = await Promise.all([q.accept(fd), q.connect(client, address)]);
      closeLater(t, accepted.fd);
      assert.deepEqual(accepted.address, { path: '' });
    },
  },
  {
    name: 'socket: a peer that does not recv holds sends back instead of buffering without bound',
    needs: ECHO,
    timeoutMs: 30_000,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const data = pattern(48 << 20, 5);
      let finished = false;
      const sending = sendAll(q, client, data).then(() => {
        finished = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(finished, false, 'sends wait for the reader: 48 MiB exceed every buffer on the way');
      const received = await recvAll(q, accepted, data.length, 1 << 20);
      await sending;
      assert.ok(received.equals(data), 'every byte arrived once the reader caught up');
    },
  },
  {
    name: 'socket: a 1 MiB send arrives intact through several smaller recvs',
    needs: ECHO,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const data = pattern(1 << 20, 7);
      const sending = sendAll(q, client, data);
      const parts: number[] = [];
      const received = Buffer.alloc(data.length);
      let total = 0;
      while (total < data.length) {
        const n = await q.recv(accepted, received, {
          offset: total,
          length: Math.min(65536, data.length - total),
        });
        assert.ok(n > 0, 'no end of stream before all the data');
        parts.push(n);
        total += n;
      }
      await sending;
      assert.ok(parts.length >= 16, `received in ${parts.length} recvs of at most 64 KiB`);
      assert.ok(received.equals(data), 'the bytes arrived in order and intact');
    },
  },
  {
    name: 'socket: read and write on a connected stream socket move bytes as recv and send do',
    needs: [...ECHO, 'read', 'write'],
    skip: (backend) =>
      backend.name === 'node'
        ? "aio-node's socket descriptors are node:net sockets, not files: read and write refuse them (ENOTSUP)"
        : undefined,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      // (A write or read on a socket may move fewer bytes than asked, as send and recv may: the
      // fault-injection runs make them; the bytes must still arrive whole and in order.)
      const data = Buffer.from('through write');
      for (let written = 0; written < data.length; ) {
        const n = await q.write(client, data.subarray(written));
        assert.ok(n > 0, 'a write moved nothing');
        written += n;
      }
      assert.equal((await recvAll(q, accepted, 13)).toString(), 'through write');
      // A read waits for the bytes, as recv does (sent after it started).
      const buf = Buffer.alloc(64);
      const reading = q.read(accepted, buf);
      assert.equal(await q.send(client, Buffer.from('to read')), 7);
      const n = await reading;
      assert.ok(n > 0 && n <= 7, `read ${n} bytes`);
      assert.equal(
        Buffer.concat([buf.subarray(0, n), await recvAll(q, accepted, 7 - n)]).toString(),
        'to read',
      );
      await q.shutdown(client, 'write');
      assert.equal(await q.read(accepted, buf), 0, 'the end of the stream reads 0');
    },
  },
  {
    name: 'socket: recv returns the data still buffered, then 0 once the peer closed',
    needs: ECHO,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      await q.send(client, 'last words');
      await q.close(client);
      assert.equal((await recvAll(q, accepted, 10)).toString(), 'last words');
      const buf = Buffer.alloc(16);
      assert.equal(await q.recv(accepted, buf), 0);
      assert.equal(await q.recv(accepted, buf), 0, 'end of stream stays');
    },
  },
  {
    name: "socket: half-close: after shutdown('write') the peer reads 0 and can still send back",
    needs: [...ECHO, 'shutdown'],
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      await q.send(client, 'request');
      await q.shutdown(client, 'write');
      assert.equal((await recvAll(q, accepted, 64)).toString(), 'request', 'recvAll stopped at the end');
      assert.equal(await q.recv(accepted, Buffer.alloc(8)), 0);
      assert.equal(await q.send(accepted, 'reply after half-close'), 22);
      await q.shutdown(accepted);
      assert.equal((await recvAll(q, client, 64)).toString(), 'reply after half-close');
      await rejectsWith(q.send(client, 'more'), { code: 'EPIPE', syscall: 'write' });
    },
  },
  {
    name: "socket: shutdown('read') ends a recv waiting on a connected socket with 0, and later recvs return 0 at once",
    needs: [...ECHO, 'shutdown'],
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      // Linux wakes the waiting receive with the end of the stream; Windows does not by itself
      // (the IOCP backend ends it), and fails a later WSARecv with WSAESHUTDOWN (0 here too).
      const waiting = q.recv(accepted, Buffer.alloc(16), { signal: AbortSignal.timeout(10_000) });
      await new Promise((resolve) => setTimeout(resolve, 20)); // the receive is waiting
      await q.shutdown(accepted, 'read');
      assert.equal(await waiting, 0, 'the waiting recv ended with the end of the stream');
      assert.equal(await q.recv(accepted, Buffer.alloc(16), { signal: AbortSignal.timeout(10_000) }), 0);
      // The writing side still works.
      assert.equal(await q.send(accepted, 'still writing'), 13);
      assert.equal((await recvAll(q, client, 13)).toString(), 'still writing');
    },
  },
  {
    name: 'socket: connect to a port nobody listens on rejects with ECONNREFUSED naming address and port',
    needs: ['socket', 'bind', 'getsockname', 'connect', 'close'],
    async run(t) {
      const q = t.queue();
      const port = await portNobodyListensOn(q);
      const fd = closeLater(t, await q.socket(4));
      const error = await rejection(q.connect(fd, { address: '127.0.0.1', port }));
      assertNetError(error, 'ECONNREFUSED', 'connect', '127.0.0.1', port);
    },
  },
  {
    name: 'socket: connect to a missing unix socket path rejects with ENOENT naming the path',
    needs: ['socket', 'connect', 'close'],
    skip: noUnix,
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket('unix'));
      const path = t.path('nobody.sock');
      const error = await rejection(q.connect(fd, { path }));
      assertNetError(error, 'ENOENT', 'connect', path, undefined);
    },
  },
  {
    name: 'socket: binding an address in use fails at bind with EADDRINUSE',
    needs: SERVER,
    async run(t) {
      const q = t.queue();
      const { address } = await listener(t, q);
      const { port } = address as InetSocketAddress;
      const fd = closeLater(t, await q.socket(4));
      const error = await rejection(q.bind(fd, { address: '127.0.0.1', port }));
      assertNetError(error, 'EADDRINUSE', 'bind', '127.0.0.1', port);
      // Also against a port held by a node:net server.
      const other = net.createServer();
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      t.defer(() => new Promise((resolve) => other.close(resolve)));
      const heldPort = (other.address() as net.AddressInfo).port;
      const second = closeLater(t, await q.socket(4));
      assertNetError(
        await rejection(q.bind(second, { address: '127.0.0.1', port: heldPort })),
        'EADDRINUSE',
        'bind',
        '127.0.0.1',
        heldPort,
      );
    },
  },
  {
    name: 'socket: a bound (not listening) unix socket path is in use for a second bind',
    needs: ['socket', 'bind', 'close'],
    skip: noUnix,
    async run(t) {
      const q = t.queue();
      const path = t.path('taken.sock');
      const first = closeLater(t, await q.socket('unix'));
      await q.bind(first, { path });
      const second = closeLater(t, await q.socket('unix'));
      assertNetError(await rejection(q.bind(second, { path })), 'EADDRINUSE', 'bind', path, undefined);
    },
  },
  {
    name: 'socket: an aborted connect to a listener that never accepts settles exactly once',
    needs: [...PAIR],
    async run(t) {
      const q = t.queue();
      const { address } = await listener(t, q, 4, 1);
      const fd = closeLater(t, await q.socket(4));
      const ac = new AbortController();
      let settlements = 0;
      const outcome = q.connect(fd, address, { signal: ac.signal }).then(
        () => {
          settlements++;
          return 'connected';
        },
        (error: unknown) => {
          settlements++;
          assertAbortError(error, 'give up');
          return 'aborted';
        },
      );
      setImmediate(() => ac.abort('give up'));
      const result = await outcome;
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(settlements, 1, `settled once (${result})`);
      // On loopback the handshake may win the race; either outcome is one final result.
      assert.ok(result === 'connected' || result === 'aborted');
    },
  },
  {
    name: 'socket: connect with an already aborted signal rejects with AbortError and connects nothing',
    needs: [...PAIR],
    async run(t) {
      const q = t.queue();
      const { fd: server, address } = await listener(t, q);
      const fd = closeLater(t, await q.socket(4));
      const reason = new Error('timeout');
      assertAbortError(
        await rejection(q.connect(fd, address, { signal: AbortSignal.abort(reason) })),
        reason,
      );
      const aborted = await rejection(q.accept(server, { signal: AbortSignal.timeout(100) }));
      assertAbortError(aborted);
    },
  },
  {
    name: 'socket: an accept cancelled through its AbortSignal rejects with AbortError; the listener still works',
    needs: PAIR,
    async run(t) {
      const q = t.queue();
      const { fd, address } = await listener(t, q);
      const ac = new AbortController();
      const pending = q.accept(fd, { signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      assertAbortError(await rejection(pending));
      const client = closeLater(t, await q.socket(4));
      const [accepted] = await Promise.all([q.accept(fd), q.connect(client, address)]);
      closeLater(t, accepted.fd);
      assert.ok(accepted.fd >= 0);
    },
  },
  {
    name: 'socket: a recv cancelled through its AbortSignal loses no data sent afterwards',
    needs: ECHO,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const buf = Buffer.alloc(16);
      assertAbortError(await rejection(q.recv(accepted, buf, { signal: AbortSignal.timeout(30) })));
      await q.send(client, 'after');
      assert.equal((await recvAll(q, accepted, 5)).toString(), 'after');
    },
  },
  {
    name: 'socket: 100 concurrent connections each echo their own message',
    needs: ECHO,
    timeoutMs: 30_000,
    async run(t) {
      const q = t.queue({ entries: 512 });
      const { fd: server, address } = await listener(t, q, 4, 200);
      const serve = async (): Promise<void> => {
        const { fd } = await q.accept(server);
        closeLater(t, fd);
        const buf = Buffer.alloc(64);
        for (;;) {
          const n = await q.recv(fd, buf);
          if (n === 0) break;
          await sendAll(q, fd, buf.subarray(0, n));
        }
        await q.shutdown(fd);
      };
      const servers = Array.from({ length: 100 }, serve);
      const clients = Array.from({ length: 100 }, async (_, i) => {
        const fd = closeLater(t, await q.socket(4));
        await q.connect(fd, address);
        const message = Buffer.from(`message number ${i}`);
        await sendAll(q, fd, message);
        await q.shutdown(fd, 'write');
        const reply = await recvAll(q, fd, 64);
        assert.equal(reply.toString(), message.toString());
      });
      await Promise.all([...servers, ...clients]);
    },
  },
  {
    name: 'socket: 1,000 concurrent connections each echo a message',
    needs: [...ECHO, 'shutdown'],
    timeoutMs: 60_000,
    async run(t) {
      // 2 descriptors per connection: fewer connections only where the descriptor limit is below ~2,200.
      const limit = openFileLimit();
      const count = limit === undefined || limit >= 2200 ? 1000 : Math.max(10, Math.floor((limit - 200) / 2));
      // Every connection has a recv in flight on both ends at once: entries above 2 * count keep
      // them all submitted (fewer would still complete, waiting in order for slots).
      const q = t.queue({ entries: 4096 });
      const open = new Set<number>();
      t.defer(async () => {
        const cleanup = new Queue(t.backend, { entries: 4096 });
        await Promise.all([...open].map((fd) => cleanup.close(fd).catch(() => undefined)));
        await cleanup.destroy();
      });
      const track = (fd: number) => {
        open.add(fd);
        return fd;
      };
      const close = async (fd: number) => {
        open.delete(fd);
        await q.close(fd);
      };
      const { fd: server, address } = await listener(t, q, 4, 1024);
      let accepted = 0;
      const serve = async (fd: number): Promise<void> => {
        const buf = Buffer.alloc(64);
        for (;;) {
          const n = await q.recv(fd, buf);
          if (n === 0) break;
          await sendAll(q, fd, buf.subarray(0, n));
        }
        await close(fd);
      };
      const acceptor = (async () => {
        const served: Promise<void>[] = [];
        while (accepted < count) {
          const { fd } = await q.accept(server);
          accepted++;
          served.push(serve(track(fd)));
        }
        await Promise.all(served);
      })();
      const replies = await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const fd = track(await q.socket(4));
          await q.connect(fd, address);
          const message = Buffer.from(`connection ${i} says hello`);
          await sendAll(q, fd, message);
          await q.shutdown(fd, 'write');
          const reply = await recvAll(q, fd, 64);
          await close(fd);
          return reply.toString() === message.toString();
        }),
      );
      await acceptor;
      assert.equal(accepted, count);
      assert.equal(replies.filter(Boolean).length, count, 'every connection got its own message back');
      assert.equal(open.size, 0, 'every descriptor was closed');
    },
  },
  {
    name: 'socket: a 64 MiB transfer arrives with the same sha256',
    needs: [...ECHO, 'shutdown'],
    timeoutMs: 60_000,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const block = pattern(1 << 20, 3);
      const total = 64 << 20;
      const sent = createHash('sha256');
      const sender = (async () => {
        for (let i = 0; i < 64; i++) {
          block[0] = i;
          sent.update(block);
          await sendAll(q, client, block);
        }
        await q.shutdown(client, 'write');
      })();
      const got = createHash('sha256');
      const buf = Buffer.alloc(256 * 1024);
      let received = 0;
      for (;;) {
        const n = await q.recv(accepted, buf);
        if (n === 0) break;
        got.update(buf.subarray(0, n));
        received += n;
      }
      await sender;
      assert.equal(received, total);
      assert.equal(got.digest('hex'), sent.digest('hex'));
    },
  },
  {
    name: 'socket: a node:net client talks to a proactor server',
    needs: ECHO,
    async run(t) {
      const q = t.queue();
      const { fd, address } = await listener(t, q);
      const { port } = address as InetSocketAddress;
      const client = net.connect({ host: '127.0.0.1', port });
      t.defer(() => client.destroy());
      const reply = new Promise<string>((resolve, reject) => {
        let text = '';
        client.setEncoding('utf8');
        client.on('data', (chunk: string) => {
          text += chunk;
        });
        client.on('end', () => resolve(text));
        client.on('error', reject);
      });
      client.end('hello from node:net');
      const { fd: conn } = await q.accept(fd);
      closeLater(t, conn);
      const request = (await recvAll(q, conn, 1024)).toString();
      assert.equal(request, 'hello from node:net');
      await sendAll(q, conn, Buffer.from(request.toUpperCase()));
      await q.shutdown(conn);
      assert.equal(await reply, 'HELLO FROM NODE:NET');
    },
  },
  {
    name: 'socket: a proactor client talks to a node:net server',
    needs: ['socket', 'connect', 'send', 'recv', 'shutdown', 'close'],
    async run(t) {
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        socket.pipe(socket);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.defer(() => new Promise((resolve) => server.close(resolve)));
      const port = (server.address() as net.AddressInfo).port;
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      await q.connect(fd, { address: '127.0.0.1', port, family: 'IPv4' });
      const data = pattern(300_000, 11);
      await sendAll(q, fd, data);
      await q.shutdown(fd, 'write');
      const echoed = await recvAll(q, fd, data.length + 1);
      assert.ok(echoed.equals(data), 'node:net echoed every byte');
    },
  },
  {
    name: 'socket: setsockopt accepts nodelay, keepalive and reuseaddr; reuseport works or is refused clearly',
    needs: [...PAIR, 'setsockopt'],
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      await q.setsockopt(fd, 'reuseaddr', true);
      try {
        await q.setsockopt(fd, 'reuseport', true);
      } catch (error) {
        assertSystemError(error, { code: ['ENOPROTOOPT', 'ENOTSUP', 'EINVAL'], syscall: 'setsockopt' });
      }
      await q.bind(fd, { address: '127.0.0.1', port: 0 });
      await q.listen(fd);
      const address = await q.localAddress(fd);
      const client = closeLater(t, await q.socket(4));
      await q.setsockopt(client, 'nodelay', true);
      const [accepted] = await Promise.all([q.accept(fd), q.connect(client, address)]);
      closeLater(t, accepted.fd);
      await q.setsockopt(accepted.fd, 'nodelay', true);
      await q.setsockopt(accepted.fd, 'keepalive', true);
      await q.setsockopt(client, 'keepalive', false);
    },
  },
  {
    name: 'socket: recv, send and shutdown on a socket that is not connected fail with ENOTCONN',
    needs: ['socket', 'recv', 'send', 'shutdown', 'close'],
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      await rejectsWith(q.recv(fd, Buffer.alloc(4)), { code: 'ENOTCONN', syscall: 'read' });
      await rejectsWith(q.send(fd, Buffer.from('x')), { code: ['ENOTCONN', 'EPIPE'], syscall: 'write' });
      await rejectsWith(q.shutdown(fd, 'both'), { code: 'ENOTCONN', syscall: 'shutdown' });
    },
  },
  {
    name: 'socket: accept on a socket that is not listening fails with EINVAL',
    needs: ['socket', 'accept', 'close'],
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      await rejectsWith(q.accept(fd), { code: 'EINVAL', syscall: 'accept' });
    },
  },
  {
    name: 'socket: sending to a peer that closed eventually fails with EPIPE or ECONNRESET',
    needs: ECHO,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      await q.close(accepted);
      const chunk = Buffer.alloc(65536);
      let failure: unknown;
      for (let i = 0; i < 200 && failure === undefined; i++) {
        try {
          await q.send(client, chunk);
        } catch (error) {
          failure = error;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.ok(failure !== undefined, 'a send failed within 200 attempts');
      assertSystemError(failure, { code: ['EPIPE', 'ECONNRESET'], syscall: 'write' });
    },
  },
  {
    name: 'socket: callback and polled forms of accept give the descriptor and the peer address',
    needs: PAIR,
    async run(t) {
      const q = t.queue();
      const { fd, address } = await listener(t, q);
      const first = closeLater(t, await q.socket(4));
      const viaCallback = new Promise<{ fd: number; address: SocketAddress }>((resolve, reject) =>
        q.accept(fd, (err, result) => (err ? reject(err) : resolve(result!))),
      );
      await q.connect(first, address);
      const accepted = await viaCallback;
      closeLater(t, accepted.fd);
      assert.deepEqual(accepted.address, await q.localAddress(first));
      const second = closeLater(t, await q.socket(4));
      q.accept(fd, { userData: 42 });
      await q.connect(second, address);
      for (let i = 0; i < 200 && q.ready === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      const [completion] = (() => {
        const out: { userData: number; result: number; address?: SocketAddress }[] = [];
        q.drain((c) => out.push(c));
        return out;
      })();
      assert.equal(completion.userData, 42);
      assert.ok(completion.result >= 0, `fd ${completion.result}`);
      closeLater(t, completion.result);
      assert.deepEqual(completion.address, await q.localAddress(second));
    },
  },
  {
    name: 'socket: invalid addresses, ports, families and options throw before anything is submitted',
    needs: ['socket', 'bind', 'connect', 'listen', 'recv', 'send', 'shutdown', 'setsockopt', 'close'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      const bad = (value: unknown) => value as never;
      throwsArgError(() => q.socket(bad(5)), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.socket(bad({})), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsArgError(() => q.socket(4, bad('raw')), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.bind(3, bad(null)), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsArgError(() => q.bind(3, bad({ port: 80 })), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsArgError(() => q.bind(3, { address: 'localhost', port: 80 }), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.bind(3, { address: '127.0.0.1', port: 65536 }), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.bind(3, { address: '127.0.0.1', port: -1 }), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.bind(3, { address: '127.0.0.1', port: 1.5 }), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(
        () => q.bind(3, bad({ address: '127.0.0.1', port: '80' })),
        TypeError,
        'ERR_INVALID_ARG_TYPE',
      );
      throwsArgError(
        () => q.bind(3, { address: '127.0.0.1', port: 80, family: 'IPv6' }),
        TypeError,
        'ERR_INVALID_ARG_VALUE',
      );
      throwsArgError(
        () => q.bind(3, bad({ address: '::1', port: 80, family: 5 })),
        TypeError,
        'ERR_INVALID_ARG_VALUE',
      );
      throwsArgError(() => q.connect(3, { address: '127.0.0.1', port: 0 }), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.connect(3, { path: '' }), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.connect(3, { path: 'a\u0000b' }), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.connect(3, { path: `/tmp/${'x'.repeat(120)}` }), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.connect(-1, { address: '127.0.0.1', port: 1 }), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.listen(3, -1), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.recv(3, bad('not a buffer')), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsArgError(() => q.recv(3, Buffer.alloc(4), 5), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.send(3, Buffer.alloc(4), 0, 5), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.shutdown(3, bad('sideways')), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.setsockopt(3, bad('linger'), true), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.setsockopt(3, 'nodelay', bad(1)), TypeError, 'ERR_INVALID_ARG_TYPE');
      await q.close(await q.socket());
      assert.equal(counts.entries, 2, 'only the socket and its close were submitted');
    },
  },
  {
    name: 'socket: fstat of a socket descriptor reports a socket, or fails with ENOTSUP',
    needs: ['socket', 'fstat', 'close'],
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      try {
        const stats = await q.fstat(fd);
        assert.ok(stats.isSocket(), 'a real descriptor is a socket');
      } catch (error) {
        // The node backend's descriptors are node:net objects, not files.
        assertSystemError(error, { code: 'ENOTSUP', syscall: 'fstat' });
      }
    },
  },
];
