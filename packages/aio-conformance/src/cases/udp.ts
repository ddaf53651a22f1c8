/**
 * Datagram sockets (UDP) over IPv4 and IPv6 loopback: socket(family, 'dgram'), bind, recvfrom and
 * sendto, against proactor peers and node:dgram peers. Every wait is bounded: by the case's
 * timeout, and by AbortSignal timeouts wherever a datagram could be lost.
 */
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import {
  type Completion,
  errnoOf,
  type InetSocketAddress,
  Opcode,
  type Queue,
  type RecvFromResult,
  type SocketAddress,
} from '@proactor/aio-core';
import type { CaseContext, ConformanceCase, Need } from '../case.js';
import { assertAbortError, closeLater, pattern, throwsArgError } from './expect.js';
import { instrument } from './instrumented-backend.js';

const UDP: Need[] = ['socket', 'bind', 'getsockname', 'recvfrom', 'sendto', 'close'];
/** How long a case waits for one datagram on loopback before failing instead of hanging. */
const WAIT_MS = 5000;

function hasIPv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((entry) => entry.family === 'IPv6' && entry.address === '::1'),
  );
}

const noIPv6 = () => (hasIPv6Loopback() ? undefined : 'this machine has no IPv6 loopback (::1)');

function loopback(family: 4 | 6): string {
  return family === 4 ? '127.0.0.1' : '::1';
}

/** A UDP socket bound to loopback port 0, and the address it got. */
async function bound(
  t: CaseContext,
  q: Queue,
  family: 4 | 6 = 4,
): Promise<{ fd: number; address: InetSocketAddress }> {
  const fd = closeLater(t, await q.socket(family, 'dgram'));
  await q.bind(fd, { address: loopback(family), port: 0 });
  return { fd, address: (await q.localAddress(fd)) as InetSocketAddress };
}

function inet(address: SocketAddress | undefined): InetSocketAddress {
  assert.ok(
    address !== undefined && 'port' in address,
    `expected an IP address, got ${JSON.stringify(address)}`,
  );
  return address;
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

/** A node:dgram socket bound to loopback port 0, closed after the case. */
async function nodePeer(t: CaseContext, family: 4 | 6 = 4): Promise<dgram.Socket> {
  const socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
  t.defer(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, loopback(family), () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** The next datagram a node:dgram socket receives, within WAIT_MS. */
function nextMessage(socket: dgram.Socket): Promise<{ data: Buffer; rinfo: dgram.RemoteInfo }> {
  const arrival = new Promise<{ data: Buffer; rinfo: dgram.RemoteInfo }>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(new Error(`no datagram within ${WAIT_MS} ms`));
    }, WAIT_MS);
    const onMessage = (data: Buffer, rinfo: dgram.RemoteInfo) => {
      clearTimeout(timer);
      resolve({ data, rinfo });
    };
    socket.once('message', onMessage);
  });
  // Handled here as well, so that a case which fails before awaiting it does not leave a
  // rejection nobody handles WAIT_MS later; an await of `arrival` still sees the rejection.
  arrival.catch(() => {});
  return arrival;
}

async function roundTrip(t: CaseContext, family: 4 | 6): Promise<void> {
  const q = t.queue();
  const a = await bound(t, q, family);
  const b = await bound(t, q, family);
  const message = Buffer.from(`ping over IPv${family}`);
  const buffer = Buffer.alloc(64);
  const receiving = q.recvfrom(b.fd, buffer, { signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(await q.sendto(a.fd, message, b.address), message.length);
  const got = await receiving;
  assert.equal(got.bytes, message.length);
  assert.deepEqual(buffer.subarray(0, got.bytes), message);
  const from = inet(got.address);
  assert.equal(from.address, loopback(family));
  assert.equal(from.port, a.address.port);
  assert.equal(from.family, family === 4 ? 'IPv4' : 'IPv6');
  // The reply goes back to the address recvfrom reported.
  const reply = Buffer.from('pong');
  const back = q.recvfrom(a.fd, buffer, { signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(await q.sendto(b.fd, reply, from), reply.length);
  const answer = await back;
  assert.deepEqual(buffer.subarray(0, answer.bytes), reply);
  assert.equal(inet(answer.address).port, b.address.port);
}

export const udpCases: ConformanceCase[] = [
  {
    name: 'udp: IPv4 and IPv6 datagram sockets are distinct descriptors and close; unknown types throw',
    needs: ['socket', 'close'],
    async run(t) {
      const q = t.queue();
      const fds = [await q.socket(4, 'dgram'), await q.socket(6, 'dgram')];
      for (const fd of fds) assert.ok(Number.isInteger(fd) && fd >= 0, `fd ${fd}`);
      assert.notEqual(fds[0], fds[1]);
      for (const fd of fds) await q.close(fd);
      throwsArgError(() => q.socket(4, 'raw' as 'dgram'), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.socket(4, 2 as unknown as 'dgram'), TypeError, 'ERR_INVALID_ARG_TYPE');
    },
  },
  {
    name: 'udp: localAddress after bind to port 0 gives the real port',
    needs: ['socket', 'bind', 'getsockname', 'close'],
    async run(t) {
      const q = t.queue();
      const { address } = await bound(t, q, 4);
      assert.equal(address.address, '127.0.0.1');
      assert.equal(address.family, 'IPv4');
      assert.ok(address.port > 0 && address.port <= 65535, `port ${address.port}`);
      // The port is really taken: a node:dgram socket cannot bind it exclusively.
      const other = dgram.createSocket('udp4');
      const error = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
        other.once('error', resolve);
        other.bind({ port: address.port, address: '127.0.0.1', exclusive: true }, () =>
          reject(new Error('the port was free')),
        );
      }).finally(() => other.close());
      assert.equal(error.code, 'EADDRINUSE');
    },
  },
  {
    name: "udp: a round trip over IPv4 loopback reports the sender's address and port",
    needs: UDP,
    run: (t) => roundTrip(t, 4),
  },
  {
    name: "udp: a round trip over IPv6 loopback reports the sender's address and port",
    needs: UDP,
    skip: noIPv6,
    run: (t) => roundTrip(t, 6),
  },
  {
    name: 'udp: a node:dgram peer receives what sendto sent, and recvfrom receives its reply',
    needs: UDP,
    async run(t) {
      const q = t.queue();
      const { fd, address } = await bound(t, q, 4);
      const peer = await nodePeer(t, 4);
      const peerAddress = peer.address();
      const arrival = nextMessage(peer);
      const message = Buffer.from('from proactor');
      assert.equal(
        await q.sendto(fd, message, { address: '127.0.0.1', port: peerAddress.port }),
        message.length,
      );
      const { data, rinfo } = await arrival;
      assert.deepEqual(data, message);
      assert.equal(rinfo.address, '127.0.0.1');
      assert.equal(rinfo.port, address.port);
      const buffer = Buffer.alloc(100);
      const receiving = q.recvfrom(fd, buffer, { signal: AbortSignal.timeout(WAIT_MS) });
      peer.send('from node:dgram', rinfo.port, rinfo.address);
      const got = await receiving;
      assert.equal(buffer.toString('utf8', 0, got.bytes), 'from node:dgram');
      assert.deepEqual(inet(got.address), { address: '127.0.0.1', port: peerAddress.port, family: 'IPv4' });
    },
  },
  {
    name: 'udp: sendto a string on a socket never bound binds it implicitly; the peer sees its port',
    needs: UDP,
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4, 'dgram'));
      const peer = await nodePeer(t, 4);
      const arrival = nextMessage(peer);
      assert.equal(await q.sendto(fd, 'héllo', { address: '127.0.0.1', port: peer.address().port }), 6);
      const { data, rinfo } = await arrival;
      assert.equal(data.toString(), 'héllo');
      const local = inet(await q.localAddress(fd));
      assert.equal(local.port, rinfo.port);
      assert.ok(local.port > 0);
    },
  },
  {
    name: 'udp: 200 datagrams all arrive intact when the receiver keeps up',
    needs: UDP,
    async run(t) {
      const q = t.queue();
      const receiver = await bound(t, q, 4);
      const sender = await bound(t, q, 4);
      const total = 200;
      const window = 20;
      const size = 512;
      const seen = new Set<number>();
      for (let start = 0; start < total; start += window) {
        const receives: Promise<{ buffer: Buffer; result: RecvFromResult }>[] = [];
        for (let i = 0; i < window; i++) {
          const buffer = Buffer.alloc(size + 16);
          receives.push(
            q
              .recvfrom(receiver.fd, buffer, { signal: AbortSignal.timeout(WAIT_MS) })
              .then((result) => ({ buffer, result })),
          );
        }
        for (let i = start; i < start + window; i++) {
          const datagram = pattern(size, i + 1);
          datagram.writeUInt32LE(i, 0);
          assert.equal(await q.sendto(sender.fd, datagram, receiver.address), size);
        }
        for (const { buffer, result } of await Promise.all(receives)) {
          assert.equal(result.bytes, size);
          assert.equal(inet(result.address).port, sender.address.port);
          const index = buffer.readUInt32LE(0);
          const expected = pattern(size, index + 1);
          expected.writeUInt32LE(index, 0);
          assert.deepEqual(buffer.subarray(0, size), expected, `datagram ${index} intact`);
          assert.ok(!seen.has(index), `datagram ${index} arrived once`);
          seen.add(index);
        }
      }
      assert.equal(seen.size, total);
    },
  },
  {
    name: 'udp: a datagram larger than the buffer is truncated to it; the next datagram is whole',
    needs: UDP,
    async run(t) {
      const q = t.queue();
      const receiver = await bound(t, q, 4);
      const sender = await bound(t, q, 4);
      const big = pattern(1000, 7);
      const small = Buffer.from('next');
      assert.equal(await q.sendto(sender.fd, big, receiver.address), big.length);
      assert.equal(await q.sendto(sender.fd, small, receiver.address), small.length);
      const buffer = Buffer.alloc(200, 0xee);
      const first = await q.recvfrom(receiver.fd, buffer, 50, 100);
      assert.equal(first.bytes, 100);
      assert.deepEqual(buffer.subarray(50, 150), big.subarray(0, 100));
      assert.ok(
        buffer.subarray(0, 50).every((b) => b === 0xee),
        'nothing written before offset',
      );
      assert.ok(
        buffer.subarray(150).every((b) => b === 0xee),
        'nothing written past the range',
      );
      const second = await q.recvfrom(receiver.fd, buffer, { signal: AbortSignal.timeout(WAIT_MS) });
      assert.equal(second.bytes, small.length);
      assert.deepEqual(buffer.subarray(0, second.bytes), small);
    },
  },
  {
    name: 'udp: a recvfrom cancelled through its AbortSignal rejects with AbortError; the socket still receives',
    needs: UDP,
    async run(t) {
      const q = t.queue();
      const receiver = await bound(t, q, 4);
      const sender = await bound(t, q, 4);
      const ac = new AbortController();
      const buffer = Buffer.alloc(64);
      const pending = rejection(q.recvfrom(receiver.fd, buffer, { signal: ac.signal }));
      setTimeout(() => ac.abort('give up'), 20);
      assertAbortError(await pending, 'give up');
      const receiving = q.recvfrom(receiver.fd, buffer, { signal: AbortSignal.timeout(WAIT_MS) });
      await q.sendto(sender.fd, 'after', receiver.address);
      const got = await receiving;
      assert.equal(buffer.toString('utf8', 0, got.bytes), 'after');
    },
  },
  {
    name: 'udp: sendto with an invalid address, port or range throws before anything is submitted',
    needs: ['socket', 'sendto', 'close'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue(undefined, backend);
      const fd = closeLater(t, await q.socket(4, 'dgram'));
      const before = counts.submitted.length;
      const data = Buffer.from('x');
      throwsArgError(
        () => q.sendto(fd, data, { address: 'not an ip', port: 9 }),
        TypeError,
        'ERR_INVALID_ARG_VALUE',
      );
      throwsArgError(
        () => q.sendto(fd, data, { address: '127.0.0.1', port: 0 }),
        RangeError,
        'ERR_OUT_OF_RANGE',
      );
      throwsArgError(
        () => q.sendto(fd, data, { address: '127.0.0.1', port: 70000 }),
        RangeError,
        'ERR_OUT_OF_RANGE',
      );
      throwsArgError(
        () => q.sendto(fd, data, undefined as unknown as InetSocketAddress),
        TypeError,
        'ERR_INVALID_ARG_TYPE',
      );
      throwsArgError(
        () => q.sendto(fd, data, { address: '127.0.0.1', port: 9 }, 2),
        RangeError,
        'ERR_OUT_OF_RANGE',
      );
      throwsArgError(() => q.recvfrom(fd, 'text' as unknown as Buffer), TypeError, 'ERR_INVALID_ARG_TYPE');
      await q.nop();
      assert.equal(
        counts.submitted.filter((s) => s.opcode === Opcode.SENDTO || s.opcode === Opcode.RECVFROM).length,
        0,
      );
      assert.ok(counts.submitted.length >= before);
    },
  },
  {
    name: "udp: sendto a datagram above UDP's size limit fails like node:dgram's send: 'send EMSGSIZE host:port'",
    needs: UDP,
    async run(t) {
      const q = t.queue();
      const { fd } = await bound(t, q, 4);
      const peer = await nodePeer(t, 4);
      const port = peer.address().port;
      const error = await rejection(q.sendto(fd, Buffer.alloc(65536), { address: '127.0.0.1', port }));
      assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
      const e = error as Error & {
        code?: unknown;
        errno?: unknown;
        syscall?: unknown;
        address?: unknown;
        port?: unknown;
      };
      assert.equal(e.code, 'EMSGSIZE');
      assert.equal(e.errno, errnoOf('EMSGSIZE'));
      assert.equal(e.syscall, 'send');
      assert.equal(e.message, `send EMSGSIZE 127.0.0.1:${port}`);
      assert.equal(e.address, '127.0.0.1');
      assert.equal(e.port, port);
      // The socket still works after the failure.
      const arrival = nextMessage(peer);
      await q.sendto(fd, 'still here', { address: '127.0.0.1', port });
      assert.equal((await arrival).data.toString(), 'still here');
    },
  },
  {
    name: 'udp: the callback and polled forms of recvfrom and sendto; the polled completion carries the address',
    needs: UDP,
    async run(t) {
      const q = t.queue();
      const receiver = await bound(t, q, 4);
      const sender = await bound(t, q, 4);
      const buffer = Buffer.alloc(32);
      const viaCallback = new Promise<RecvFromResult>((resolve, reject) =>
        q.recvfrom(receiver.fd, buffer, (error, result) => (error ? reject(error) : resolve(result!))),
      );
      const sent = new Promise<number>((resolve, reject) =>
        q.sendto(sender.fd, 'cb', receiver.address, (error, n) => (error ? reject(error) : resolve(n!))),
      );
      assert.equal(await sent, 2);
      const first = await viaCallback;
      assert.equal(buffer.toString('utf8', 0, first.bytes), 'cb');
      assert.equal(inet(first.address).port, sender.address.port);

      q.recvfrom(receiver.fd, buffer, { userData: 1 });
      q.sendto(sender.fd, Buffer.from('polled'), receiver.address, { userData: 2 });
      const completions: Completion[] = [];
      const deadline = Date.now() + WAIT_MS;
      while (completions.length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        q.drain((c) => completions.push(c));
      }
      const received = completions.find((c) => c.userData === 1);
      const sendCompletion = completions.find((c) => c.userData === 2);
      assert.ok(received && sendCompletion, `both completed: ${JSON.stringify(completions)}`);
      assert.equal(sendCompletion.result, 6);
      assert.equal(received.result, 6);
      assert.equal(buffer.toString('utf8', 0, 6), 'polled');
      assert.ok(received.address, 'the polled recvfrom carries the address');
      assert.equal(inet(received.address).port, sender.address.port);
    },
  },
  {
    name: "udp: a node:dgram client's datagram over IPv6 arrives with its address; sendto answers it",
    needs: UDP,
    skip: noIPv6,
    async run(t) {
      const q = t.queue();
      const { fd, address } = await bound(t, q, 6);
      const peer = await nodePeer(t, 6);
      const buffer = Buffer.alloc(64);
      const receiving = q.recvfrom(fd, buffer, { signal: AbortSignal.timeout(WAIT_MS) });
      peer.send('v6 hello', address.port, '::1');
      const got = await receiving;
      assert.equal(buffer.toString('utf8', 0, got.bytes), 'v6 hello');
      const from = inet(got.address);
      assert.deepEqual(
        { address: from.address, port: from.port, family: from.family },
        { address: '::1', port: peer.address().port, family: 'IPv6' },
      );
      const arrival = nextMessage(peer);
      await q.sendto(fd, 'v6 reply', from);
      assert.equal((await arrival).data.toString(), 'v6 reply');
    },
  },
];
