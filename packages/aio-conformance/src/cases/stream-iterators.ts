import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as dgram from 'node:dgram';
import net from 'node:net';
import {
  CQE_F_MORE,
  CQE_SIZE,
  decodeSubmission,
  errnoOf,
  Opcode,
  type Queue,
  SLOT_NONE,
  type Submission,
} from '@proactor/aio-core';
import type { CaseContext, ConformanceCase, Need } from '../case.js';
import { observeBoundary } from '../observed-backend.js';
import { assertAbortError, closeLater, pattern, rejectsWith } from './expect.js';

const needs: Need[] = ['socket', 'bind', 'listen', 'accept', 'recv', 'send', 'close', 'getsockname'];

/** A listening IPv4 socket on loopback, closed after the case, and its port. */
async function listening(t: CaseContext, q: Queue): Promise<{ fd: number; port: number }> {
  const fd = closeLater(t, await q.socket(4));
  await q.bind(fd, { address: '127.0.0.1', port: 0 });
  await q.listen(fd);
  const local = await q.localAddress(fd);
  assert.ok('port' in local);
  return { fd, port: local.port };
}

/** A node:net client that sends `data`, half-closes, and collects what comes back. */
function client(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.end(data));
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('client timed out')));
  });
}

function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Sends `size` bytes from a node:net client, receives them with recvs() calling `each` for every
 * chunk (its count so far, before the chunk), and checks that every byte arrived in order.
 */
async function recvsTransfer(
  t: CaseContext,
  size: number,
  seed: number,
  options: { size?: number; signal?: AbortSignal },
  each: (received: number, chunks: number) => unknown,
): Promise<void> {
  const q = t.queue();
  const { fd, port } = await listening(t, q);
  const data = pattern(size, seed);
  const done = client(port, data);
  const { fd: conn } = await q.accept(fd);
  closeLater(t, conn);
  const hash = createHash('sha256');
  let total = 0;
  let chunks = 0;
  for await (const chunk of q.recvs(conn, options)) {
    await each(total, chunks++);
    hash.update(chunk);
    total += chunk.length;
  }
  assert.equal(total, data.length);
  assert.equal(hash.digest('hex'), sha(data));
  await q.close(conn);
  assert.equal((await done).length, 0);
}

export const streamIteratorCases: ConformanceCase[] = [
  {
    name: 'stream iterators: accepts() yields every connection, in the order they were accepted',
    needs,
    async run(t) {
      const q = t.queue();
      const { fd, port } = await listening(t, q);
      const clients: net.Socket[] = [];
      t.defer(() => {
        for (const c of clients) c.destroy();
      });
      const seen: number[] = [];
      // One iterator: with multishot it keeps accepting ahead until it is closed (return()).
      const connections = q.accepts(fd);
      t.defer(() => connections.return(undefined));
      for (let i = 0; i < 3; i++) {
        clients.push(net.connect(port, '127.0.0.1'));
        const { value, done } = await connections.next();
        assert.equal(done, false);
        closeLater(t, value!.fd);
        assert.equal(
          value!.address && 'family' in value!.address ? value!.address.family : undefined,
          'IPv4',
        );
        seen.push(value!.fd);
      }
      assert.equal(new Set(seen).size, 3, 'three distinct descriptors');
    },
  },
  {
    name: 'stream iterators: recvs() yields the whole stream in order and ends when the peer shuts down',
    needs,
    async run(t) {
      const q = t.queue();
      const { fd, port } = await listening(t, q);
      const data = pattern(256 * 1024, 41);
      const done = client(port, data);
      const { fd: conn } = await q.accept(fd);
      closeLater(t, conn);
      const chunks: Buffer[] = [];
      for await (const chunk of q.recvs(conn)) chunks.push(chunk);
      assert.equal(sha(Buffer.concat(chunks)), sha(data));
      await q.close(conn);
      assert.equal((await done).length, 0);
    },
  },
  {
    name: 'stream iterators: recvs() never yields more than options.size bytes at a time',
    needs,
    async run(t) {
      const q = t.queue();
      const { fd, port } = await listening(t, q);
      const data = pattern(10_000, 42);
      const done = client(port, data);
      const { fd: conn } = await q.accept(fd);
      closeLater(t, conn);
      const sizes: number[] = [];
      const chunks: Buffer[] = [];
      for await (const chunk of q.recvs(conn, { size: 1000 })) {
        sizes.push(chunk.length);
        chunks.push(chunk);
      }
      assert.ok(
        sizes.every((n) => n >= 1 && n <= 1000),
        `chunk sizes ${sizes.join(',')}`,
      );
      assert.ok(Buffer.concat(chunks).equals(data));
      await q.close(conn);
      await done;
    },
  },
  {
    name: 'stream iterators: recvs() gives the same bytes as a loop of single recv calls',
    needs,
    async run(t) {
      const q = t.queue();
      const { fd, port } = await listening(t, q);
      const data = pattern(512 * 1024, 43);
      const streams: Buffer[] = [];
      for (const useIterator of [true, false]) {
        const done = client(port, data);
        const { fd: conn } = await q.accept(fd);
        closeLater(t, conn);
        const chunks: Buffer[] = [];
        if (useIterator) {
          for await (const chunk of q.recvs(conn, { size: 4096 })) chunks.push(chunk);
        } else {
          for (;;) {
            const buf = Buffer.alloc(4096);
            const n = await q.recv(conn, buf);
            if (n === 0) break;
            chunks.push(buf.subarray(0, n));
          }
        }
        streams.push(Buffer.concat(chunks));
        await q.close(conn);
        await done;
      }
      assert.ok(streams[0].equals(streams[1]));
      assert.ok(streams[0].equals(data));
    },
  },
  {
    name: 'stream iterators: an echo server built from accepts() and recvs() serves node:net clients',
    needs,
    async run(t) {
      const q = t.queue({ entries: 64 });
      const { fd, port } = await listening(t, q);
      const ac = new AbortController();
      const serving = (async () => {
        try {
          for await (const { fd: conn } of q.accepts(fd, { signal: ac.signal })) {
            void (async () => {
              for await (const chunk of q.recvs(conn)) await q.send(conn, chunk);
              await q.close(conn);
            })();
          }
        } catch (error) {
          assertAbortError(error);
        }
      })();
      const payloads = Array.from({ length: 8 }, (_, i) => pattern(32 * 1024 + i, 50 + i));
      const echoed = await Promise.all(payloads.map((p) => client(port, p)));
      for (let i = 0; i < payloads.length; i++) assert.equal(sha(echoed[i]), sha(payloads[i]));
      ac.abort();
      await serving;
    },
  },
  {
    name: 'stream iterators: accepts() ends with an AbortError when its signal aborts',
    needs,
    async run(t) {
      const q = t.queue();
      const { fd } = await listening(t, q);
      const ac = new AbortController();
      const reason = new Error('stop accepting');
      const iterator = q.accepts(fd, { signal: ac.signal });
      const pending = iterator.next();
      setTimeout(() => ac.abort(reason), 20);
      await assert.rejects(pending, (error: unknown) => {
        assertAbortError(error, reason);
        return true;
      });
    },
  },
  {
    name: 'stream iterators: recvs() on a descriptor that is not open rejects with EBADF',
    needs: ['recv'],
    async run(t) {
      const q = t.queue();
      await rejectsWith(q.recvs(1_000_000).next(), { code: ['EBADF', 'ENOTSOCK'] });
    },
  },
  {
    name: 'stream iterators: bad arguments throw when the iterator is made, before anything is submitted',
    needs: ['recv', 'accept'],
    async run(t) {
      const q = t.queue();
      assert.throws(() => q.recvs(-1), { code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => q.recvs(3, { size: 0 }), { code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => q.accepts('3' as unknown as number), { code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => q.accepts(3, { signal: {} as AbortSignal }), { code: 'ERR_INVALID_ARG_TYPE' });
      assert.equal(q.inFlight + q.waiting, 0);
    },
  },
  {
    name: 'stream iterators: a consumer slower than its sender still gets every byte, in order (8 MiB)',
    needs,
    timeoutMs: 60_000,
    async run(t) {
      // Every 64th chunk the consumer stalls, so the sender runs ahead of it.
      await recvsTransfer(t, 8 * 1024 * 1024, 43, { size: 32 * 1024 }, (_received, chunks) =>
        chunks % 64 === 63 ? new Promise((resolve) => setTimeout(resolve, 5)) : undefined,
      );
    },
  },
  {
    name: 'stream iterators: 32 connections received at once through a small queue-wide buffer pool stay intact',
    needs,
    timeoutMs: 60_000,
    async run(t) {
      // 4 buffers of 1 KiB for 32 connections: receives run out of buffers and must start again.
      const q = t.queue({ recvBufferSize: 1024, recvBufferCount: 4 });
      const { fd, port } = await listening(t, q);
      const server = (async () => {
        const connections = q.accepts(fd);
        const served: Promise<void>[] = [];
        for (let i = 0; i < 32; i++) {
          const { value } = await connections.next();
          const conn = closeLater(t, value!.fd);
          served.push(
            (async () => {
              for await (const chunk of q.recvs(conn)) {
                for (let sent = 0; sent < chunk.length; ) sent += await q.send(conn, chunk.subarray(sent));
              }
              await q.shutdown(conn, 'write');
            })(),
          );
        }
        await connections.return(undefined);
        await Promise.all(served);
      })();
      const inputs = Array.from({ length: 32 }, (_, i) => pattern(64 * 1024 + i * 97, 100 + i));
      const outputs = await Promise.all(inputs.map((data) => client(port, data)));
      await server;
      for (let i = 0; i < 32; i++) assert.equal(sha(outputs[i]), sha(inputs[i]), `connection ${i}`);
    },
  },
  {
    name: 'stream iterators: after a loop over accepts() ends, a later accept() gets the next connection',
    needs,
    async run(t) {
      const q = t.queue();
      const { fd, port } = await listening(t, q);
      const clients: net.Socket[] = [];
      t.defer(() => {
        for (const c of clients) c.destroy();
      });
      clients.push(net.connect(port, '127.0.0.1'));
      for await (const { fd: conn } of q.accepts(fd)) {
        closeLater(t, conn);
        break;
      }
      const next = q.accept(fd, { signal: AbortSignal.timeout(5000) });
      const second = net.connect(port, '127.0.0.1');
      clients.push(second);
      await new Promise((resolve) => second.once('connect', resolve));
      const { fd: conn, address } = await next;
      closeLater(t, conn);
      assert.ok('port' in address);
      assert.equal(address.port, second.localPort, 'the connection made after the loop ended');
      assert.equal(q.inFlight, 0);
    },
  },
  {
    // A backend that keeps several accepts in flight (IOCP's AcceptEx calls) may hold connections
    // taken while the loop ended: they must reach the next accept(), as from the backlog.
    name: 'stream iterators: a loop over accepts() that ends while 40 connections arrive loses none: each was yielded or goes to a later accept(), once',
    needs,
    timeoutMs: 30_000,
    async run(t) {
      const q = t.queue();
      const { fd, port } = await listening(t, q);
      const clients: net.Socket[] = [];
      t.defer(() => {
        for (const c of clients) c.destroy();
      });
      const ports = Promise.all(
        Array.from(
          { length: 40 },
          () =>
            new Promise<number>((resolve, reject) => {
              const c = net.connect(port, '127.0.0.1', () => resolve(c.localPort ?? 0));
              c.on('error', reject);
              clients.push(c);
            }),
        ),
      );
      const taken: number[] = [];
      for await (const { fd: conn, address } of q.accepts(fd)) {
        closeLater(t, conn);
        taken.push('port' in address ? address.port : -1);
        if (taken.length === 5) break;
      }
      const connected = await ports;
      while (taken.length < 40) {
        const { fd: conn, address } = await q.accept(fd, { signal: AbortSignal.timeout(5000) });
        closeLater(t, conn);
        taken.push('port' in address ? address.port : -1);
      }
      assert.deepEqual(
        [...taken].sort((a, b) => a - b),
        [...connected].sort((a, b) => a - b),
        'every connection taken once',
      );
      // None more: the loop's end left no connection behind that was not handed out.
      await assert.rejects(q.accept(fd, { signal: AbortSignal.timeout(100) }), { name: 'AbortError' });
      assert.equal(q.inFlight, 0);
    },
  },
  {
    name: 'stream iterators: destroy() closes the connections accepts() took ahead that nobody asked for',
    needs,
    async run(t) {
      const q = t.queue();
      // Not listening(): this case closes the listener itself, once, mid-case.
      const fd = await q.socket(4);
      await q.bind(fd, { address: '127.0.0.1', port: 0 });
      await q.listen(fd);
      const local = await q.localAddress(fd);
      assert.ok('port' in local);
      const clients: net.Socket[] = [];
      t.defer(() => {
        for (const c of clients) c.destroy();
      });
      // 'end' (FIN), a reset or 'close': the server's side of the connection is closed.
      const closedByServer = (socket: net.Socket) =>
        new Promise<'closed'>((resolve) => {
          for (const event of ['end', 'error', 'close']) socket.once(event, () => resolve('closed'));
          socket.resume();
        });
      const endings: Promise<'closed'>[] = [];
      for (let i = 0; i < 3; i++) {
        const c = net.connect(local.port, '127.0.0.1');
        clients.push(c);
        endings.push(closedByServer(c));
        await new Promise((resolve) => c.once('connect', resolve));
      }
      const it = q.accepts(fd);
      const first = await it.next();
      assert.equal(first.done, false);
      const taken = first.value!.fd;
      // Time for a multishot request to take the two other connections ahead of the consumer.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await q.destroy();
      // Then the listener closes (through another queue): connections still in its backlog are
      // reset by the kernel; connections taken ahead are descriptors of their own, which only
      // destroy() could have closed.
      const other = t.queue();
      await other.close(fd);
      const within = (ms: number) => new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), ms));
      for (const [i, ending] of endings.slice(1).entries()) {
        assert.equal(await Promise.race([ending, within(5000)]), 'closed', `client ${i + 2}`);
      }
      // The connection the consumer took is the consumer's: destroy() left it open.
      assert.equal(await Promise.race([endings[0]!, within(100)]), 'open');
      await other.close(taken);
      assert.equal(await Promise.race([endings[0]!, within(5000)]), 'closed');
    },
  },
  {
    name: 'stream iterators: closing the socket through the queue ends recvs() and accepts() with ECANCELED',
    needs,
    async run(t) {
      const q = t.queue();
      const { fd: listener, port } = await listening(t, q);
      const other = closeLater(t, await q.socket(4));
      await q.bind(other, { address: '127.0.0.1', port: 0 });
      await q.listen(other);
      const accepting = rejectsWith(q.accepts(other).next(), { code: 'ECANCELED' });
      const peer = net.connect(port, '127.0.0.1');
      t.defer(() => peer.destroy());
      const { fd: conn } = await q.accept(listener);
      const receiving = rejectsWith(q.recvs(conn).next(), { code: 'ECANCELED' });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await q.close(conn);
      await q.close(other);
      await receiving;
      await accepting;
      assert.equal(q.inFlight, 0);
    },
  },
  {
    name: 'stream iterators: accepts() keeps up with a burst of 400 connections arriving at once',
    needs,
    timeoutMs: 60_000,
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      await q.bind(fd, { address: '127.0.0.1', port: 0 });
      await q.listen(fd, 1024);
      const local = await q.localAddress(fd);
      assert.ok('port' in local);
      const clients: net.Socket[] = [];
      t.defer(() => {
        for (const c of clients) c.destroy();
      });
      const connected = Array.from(
        { length: 400 },
        () =>
          new Promise<void>((resolve, reject) => {
            const c = net.connect(local.port, '127.0.0.1', () => resolve());
            c.on('error', reject);
            clients.push(c);
          }),
      );
      await Promise.all(connected);
      let accepted = 0;
      const connections = q.accepts(fd, { signal: AbortSignal.timeout(20_000) });
      for await (const { fd: conn } of connections) {
        closeLater(t, conn);
        // One more once the burst is taken: accepting must not have stopped.
        if (++accepted === 400) clients.push(net.connect(local.port, '127.0.0.1'));
        if (accepted === 401) break;
      }
      assert.equal(accepted, 401);
    },
  },
  {
    name: 'stream iterators: recvs() gets 32 MiB intact when megabytes arrive at once and the consumer then keeps up',
    needs,
    timeoutMs: 60_000,
    async run(t) {
      // At the first chunk the thread is busy for a while (as under load), so megabytes arrive at
      // once; then it consumes as fast as they come.
      await recvsTransfer(t, 32 * 1024 * 1024, 47, { signal: AbortSignal.timeout(30_000) }, (received) => {
        if (received === 0) for (const until = Date.now() + 100; Date.now() < until; );
      });
    },
  },
  {
    name: 'stream iterators: the callback forms of accepts() and recvs() serve an echo, chunk by chunk, ending with null',
    needs,
    async run(t) {
      const q = t.queue();
      const { fd, port } = await listening(t, q);
      const stop = new AbortController();
      const acceptErrors: Error[] = [];
      let served = 0;
      q.accepts(fd, { signal: stop.signal }, (err, conn) => {
        if (err) {
          acceptErrors.push(err);
          return;
        }
        served++;
        const c = closeLater(t, conn!.fd);
        const chunks: Buffer[] = [];
        q.recvs(c, { size: 1000 }, (error, chunk) => {
          if (error) throw error;
          if (chunk === null) {
            // End of stream: echo everything back in one go, then end ours.
            const all = Buffer.concat(chunks);
            q.send(c, all)
              .then(() => q.shutdown(c, 'write'))
              .catch(() => undefined);
            return;
          }
          assert.ok(chunk!.length <= 1000);
          chunks.push(chunk!);
        });
      });
      const inputs = [pattern(300_000, 51), pattern(70_000, 52), pattern(1, 53)];
      const outputs = await Promise.all(inputs.map((data) => client(port, data)));
      for (let i = 0; i < inputs.length; i++)
        assert.equal(sha(outputs[i]), sha(inputs[i]), `connection ${i}`);
      assert.equal(served, 3);
      stop.abort();
      for (let i = 0; i < 100 && acceptErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(acceptErrors.length, 1);
      assert.equal(acceptErrors[0].name, 'AbortError');
      assert.throws(() => q.recvs(fd, {}, 'x' as unknown as () => void), { code: 'ERR_INVALID_ARG_TYPE' });
    },
  },
  {
    name: "stream iterators: shutdown('read') through the queue ends a recvs() waiting for data, after the bytes that came before",
    needs: [...needs, 'shutdown'],
    async run(t) {
      const q = t.queue();
      const { fd, port } = await listening(t, q);
      const peer = net.connect(port, '127.0.0.1');
      peer.on('error', () => {});
      t.defer(() => peer.destroy());
      const { fd: conn } = await q.accept(fd);
      closeLater(t, conn);
      peer.write('before');
      let received = '';
      const ended = (async () => {
        for await (const chunk of q.recvs(conn)) received += chunk.toString();
      })();
      for (let i = 0; i < 500 && received !== 'before'; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(received, 'before');
      // The iterator now waits for its next chunk (on IOCP: in a zero-byte read).
      await new Promise((r) => setTimeout(r, 20));
      await q.shutdown(conn, 'read');
      const timeout = new Promise((_, reject) =>
        setTimeout(() => reject(new Error('recvs() still waits after shutdown(read)')), 10_000),
      );
      await Promise.race([ended, timeout]);
      assert.equal(received, 'before');
    },
  },
  {
    name: 'stream iterators: recvs() on a UDP socket yields each datagram as one chunk, in order',
    needs: ['socket', 'bind', 'getsockname', 'recv', 'close'],
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4, 'dgram'));
      await q.bind(fd, { address: '127.0.0.1', port: 0 });
      const local = await q.localAddress(fd);
      assert.ok('port' in local);
      const sender = dgram.createSocket('udp4');
      t.defer(() => sender.close());
      const stop = new AbortController();
      const chunks: string[] = [];
      const ended = (async () => {
        for await (const chunk of q.recvs(fd, { size: 1024, signal: stop.signal })) {
          chunks.push(chunk.toString());
          if (chunks.length === 3) return;
        }
      })();
      // One at a time, each sent once the previous one arrived (loopback UDP keeps them all).
      const messages = ['one', 'two, longer', ''.padEnd(600, 'three')];
      for (const [i, message] of messages.entries()) {
        await new Promise((resolve, reject) =>
          sender.send(message, local.port, '127.0.0.1', (error) =>
            error ? reject(error) : resolve(undefined),
          ),
        );
        for (let n = 0; n < 500 && chunks.length <= i; n++) await new Promise((r) => setTimeout(r, 10));
      }
      const timeout = setTimeout(() => stop.abort(), 10_000);
      await ended.finally(() => clearTimeout(timeout));
      assert.deepEqual(chunks, messages);
    },
  },
  {
    name: 'stream iterators: through a receive pool of 2 buffers of 64 bytes that 24 connections run dry, recvs() in both forms gets every byte once and in order, and a connection waiting for its next message holds no receive buffer of its own',
    needs: [...needs, 'multishot', 'poll'],
    timeoutMs: 60_000,
    async run(t) {
      // What is in flight, by slot, as the engine sees it; and how often the pool ran dry.
      const inFlight = new Map<number, Submission>();
      const ENOBUFS = errnoOf('ENOBUFS');
      let dry = 0;
      const backend = observeBoundary(t.backend, {
        submitted(ring, count) {
          const sq = new Uint32Array(ring.submissions);
          for (let i = 0; i < count; i++) {
            const sub = decodeSubmission(sq, i);
            if (sub.slot !== SLOT_NONE) inFlight.set(sub.slot, sub);
          }
        },
        completed(ring, count) {
          const cq = new Int32Array(ring.completions);
          for (let i = 0; i < count; i++) {
            const b = i * (CQE_SIZE / 4);
            if ((cq[b + 1] & CQE_F_MORE) !== 0) continue;
            const slot = cq[b] >>> 0;
            if (cq[b + 2] === ENOBUFS && inFlight.get(slot)?.opcode === Opcode.RECV_MULTI) dry++;
            inFlight.delete(slot);
          }
        },
      });
      const q = t.queue({ recvBufferSize: 64, recvBufferCount: 2 }, backend);
      const { fd, port } = await listening(t, q);
      const count = 24;
      const first = 3000;
      const datas = Array.from({ length: count }, (_, i) => pattern(first + 500, 60 + i));
      const clients = datas.map(() => net.connect(port, '127.0.0.1'));
      t.defer(() => {
        for (const c of clients) c.destroy();
      });
      const conns: number[] = [];
      const received: Buffer[][] = [];
      const ended: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const { fd: conn } = await q.accept(fd);
        conns.push(closeLater(t, conn));
        const chunks: Buffer[] = [];
        received.push(chunks);
        if (i % 2 === 0) {
          ended.push(
            (async () => {
              for await (const chunk of q.recvs(conn, { size: 4096 })) chunks.push(chunk);
            })(),
          );
        } else {
          ended.push(
            new Promise((resolve, reject) => {
              q.recvs(conn, { size: 4096 }, (error, chunk) => {
                if (error) reject(error);
                else if (chunk === null) resolve();
                else chunks.push(chunk!);
              });
            }),
          );
        }
      }
      // Awaited at the end; a failure before must not leave the receive loops' errors unhandled.
      const allEnded = Promise.all(ended);
      allEnded.catch(() => undefined);
      // Every client sends its first part in pieces of 100 bytes, all at once, so that data keeps
      // arriving on many connections while the pool is dry.
      for (let at = 0; at < first; at += 100) {
        for (let i = 0; i < count; i++) clients[i].write(datas[i].subarray(at, at + 100));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const total = (i: number) => received[i].reduce((n, c) => n + c.length, 0);
      const deadline = Date.now() + 30_000;
      while (received.some((_, i) => total(i) < first)) {
        assert.ok(
          Date.now() < deadline,
          `received ${received.map((_, i) => total(i)).join(',')} of ${first} each`,
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(dry > 0, 'the receive pool never ran dry: the case did not reach the starved path');
      // Every connection now waits for its next message: none in a receive with a buffer of its own.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const waiting = new Set(conns);
      const holding = [...inFlight.values()].filter(
        (sub) => sub.opcode === Opcode.RECV && waiting.has(sub.fd),
      );
      assert.equal(
        holding.length,
        0,
        `${holding.length} idle connections hold a receive buffer of their own`,
      );
      // The second part, then the end: every stream whole, once, in order.
      for (let i = 0; i < count; i++) clients[i].end(datas[i].subarray(first));
      await allEnded;
      for (let i = 0; i < count; i++)
        assert.ok(Buffer.concat(received[i]).equals(datas[i]), `connection ${i}`);
    },
  },
];
