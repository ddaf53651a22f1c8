/**
 * Socket and file operations fed the input a careless or hostile caller would give: linked chains
 * whose first member finishes at once, strings that name Object.prototype's members, a send that
 * close() cuts short, recvfrom on connections, misuse that must throw coded errors, the longest
 * unix socket path, a process out of descriptors, and a buffer transferred away while an operation
 * uses it. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { errnoOf, type Queue, type SocketAddress } from '@proactor/aio-core';
import type { CaseContext, ConformanceCase, Need } from '../case.js';
import { assertSystemError, closeLater, rejectsWith, throwsArgError } from './expect.js';
import { assertExited, childPrelude, runNode } from './lifecycle.js';

const isWindows = process.platform === 'win32';
const PAIR: Need[] = ['socket', 'bind', 'listen', 'getsockname', 'accept', 'connect', 'close'];
const NAMES_OF_OBJECT_PROTOTYPE = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
];

type Outcome = { ok: true; value: unknown } | { ok: false; code: unknown };

/** Settles with what `p` did, after `limitMs` with a failure naming `what`. */
function outcome(p: Promise<unknown>, what: string, limitMs = 5_000): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${limitMs} ms`)), limitMs);
  });
  const settled = p.then(
    (value): Outcome => ({ ok: true, value }),
    (error: unknown): Outcome => ({ ok: false, code: (error as { code?: unknown }).code }),
  );
  return Promise.race([settled, limit]).finally(() => clearTimeout(timer));
}

/** A connected pair on loopback (or a unix path in the case's directory). */
async function pair(
  t: CaseContext,
  q: Queue,
  family: 4 | 'unix' = 4,
): Promise<{ client: number; accepted: number; address: SocketAddress }> {
  const server = closeLater(t, await q.socket(family));
  if (family === 'unix') await q.bind(server, { path: t.path('s.sock') });
  else await q.bind(server, { address: '127.0.0.1', port: 0 });
  await q.listen(server);
  const address = await q.localAddress(server);
  const client = closeLater(t, await q.socket(family));
  const [accepted] = await Promise.all([q.accept(server), q.connect(client, address)]);
  closeLater(t, accepted.fd);
  return { client, accepted: accepted.fd, address };
}

export const hostileInputCases: ConformanceCase[] = [
  {
    name: 'linked: a socket operation that fails at once cancels the rest of its chain, and destroy() resolves',
    needs: ['linkedOperations', 'socket', 'send', 'shutdown', 'nop', 'close'],
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      let calls = 0;
      const viaCallback = new Promise<unknown>((resolve) =>
        q.send(fd, Buffer.from('x'), { link: true }, (err) => {
          calls++;
          resolve(err);
        }),
      );
      const afterSend = [outcome(q.nop({ link: true }), 'nop 1'), outcome(q.nop(), 'nop 2')];
      const shutdown = outcome(q.shutdown(fd, 'both', { link: true }), 'shutdown');
      const afterShutdown = outcome(q.nop(), 'nop after shutdown');
      assertSystemError(await viaCallback, { code: ['ENOTCONN', 'EPIPE'], syscall: 'write' });
      for (const p of afterSend) assert.deepEqual(await p, { ok: false, code: 'ECANCELED' });
      assert.deepEqual(await shutdown, { ok: false, code: 'ENOTCONN' });
      assert.deepEqual(await afterShutdown, { ok: false, code: 'ECANCELED' });
      assert.equal(calls, 1, 'the send completed once');
      await outcome(q.destroy(), 'destroy()');
    },
  },
  {
    name: 'linked: socket operations that succeed at once start the next member of their chain',
    needs: ['linkedOperations', 'socket', 'setsockopt', 'getsockname', 'nop', 'close'],
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4));
      const created = outcome(q.socket(4, 'stream', { link: true }), 'socket()');
      const afterSocket = outcome(q.nop(), 'nop after socket()');
      const option = outcome(q.setsockopt(fd, 'keepalive', true, { link: true }), 'setsockopt');
      const local = outcome(q.localAddress(fd, { link: true }), 'localAddress');
      const last = outcome(q.nop(), 'nop after localAddress');
      const socket = await created;
      assert.equal(socket.ok, true, `socket() failed: ${JSON.stringify(socket)}`);
      closeLater(t, (socket as { value: number }).value);
      assert.deepEqual(await afterSocket, { ok: true, value: undefined });
      assert.deepEqual(await option, { ok: true, value: undefined });
      const address = await local;
      assert.equal(address.ok, true, `localAddress failed: ${JSON.stringify(address)}`);
      assert.deepEqual(await last, { ok: true, value: undefined });
      await outcome(q.destroy(), 'destroy()');
    },
  },
  {
    name: 'linked: a file operation refused at once (open with impossible flags) cancels the rest of its chain',
    needs: ['linkedOperations', 'open', 'nop'],
    async run(t) {
      const q = t.queue();
      // aio-node's node:fs refuses these flags synchronously (EINVAL); kernels fail the open.
      const open = outcome(q.open(t.path('never.txt'), 0xffffffff, undefined, { link: true }), 'open');
      const after = outcome(q.nop({ link: true }), 'nop');
      const last = outcome(q.nop(), 'last nop');
      const opened = await open;
      assert.equal(opened.ok, false);
      assert.ok(['EINVAL', 'ENOENT'].includes((opened as { code: string }).code), JSON.stringify(opened));
      assert.deepEqual(await after, { ok: false, code: 'ECANCELED' });
      assert.deepEqual(await last, { ok: false, code: 'ECANCELED' });
      await outcome(q.destroy(), 'destroy()');
    },
  },
  {
    name: "arguments: names of Object.prototype's members are refused as shutdown, setsockopt, open and socket names",
    needs: ['socket', 'shutdown', 'setsockopt', 'open', 'close'],
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      for (const name of NAMES_OF_OBJECT_PROTOTYPE) {
        const bad = name as never;
        throwsArgError(() => q.shutdown(client, bad), TypeError, 'ERR_INVALID_ARG_VALUE');
        throwsArgError(() => q.setsockopt(client, bad, true), TypeError, 'ERR_INVALID_ARG_VALUE');
        throwsArgError(() => q.open(t.path('x'), bad), TypeError, 'ERR_INVALID_ARG_VALUE');
        throwsArgError(() => q.socket(bad), TypeError, 'ERR_INVALID_ARG_VALUE');
        throwsArgError(() => q.socket(4, bad), TypeError, 'ERR_INVALID_ARG_VALUE');
      }
      assert.equal(q.inFlight, 0, 'nothing was submitted');
      // Neither side was shut down: data still flows both ways.
      assert.equal(await q.send(accepted, Buffer.from('up')), 2);
      const buffer = Buffer.alloc(8);
      assert.equal(await q.recv(client, buffer), 2);
      assert.equal(await q.send(client, Buffer.from('down')), 4);
      assert.equal(await q.recv(accepted, buffer), 4);
    },
  },
  {
    name: 'socket: a send that close() cuts short rejects with ECANCELED or resolves with the bytes the peer gets',
    needs: [...PAIR, 'send', 'recv'],
    timeoutMs: 30_000,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const size = 32 * 1024 * 1024;
      const sending = outcome(q.send(client, Buffer.alloc(size, 7)), 'the send', 10_000);
      // Long enough for the send to fill the socket buffers and wait for the peer, which does not read.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await q.close(client);
      const sent = await sending;
      let received = 0;
      const buffer = Buffer.alloc(1024 * 1024);
      for (;;) {
        const n = await q.recv(accepted, buffer);
        if (n === 0) break;
        received += n;
      }
      assert.ok(received < size, `the peer received ${received} of ${size} bytes`);
      if (sent.ok) {
        assert.ok((sent.value as number) < size, `the send claimed ${String(sent.value)} of ${size} bytes`);
        assert.equal(received, sent.value, 'the peer got the bytes the send reported');
      } else assert.equal(sent.code, 'ECANCELED');
    },
  },
  {
    name: 'socket: recvfrom on a connected TCP socket gives the bytes and no sender address',
    needs: [...PAIR, 'send', 'recvfrom', 'shutdown'],
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      await q.send(client, Buffer.from('abc'));
      const buffer = Buffer.alloc(16);
      const got = await q.recvfrom(accepted, buffer);
      assert.deepEqual(got, { bytes: 3, address: undefined });
      assert.equal(buffer.toString('utf8', 0, 3), 'abc');
      await q.send(accepted, Buffer.from('de'));
      assert.deepEqual(await q.recvfrom(client, buffer), { bytes: 2, address: undefined });
      await q.shutdown(accepted, 'write');
      assert.deepEqual(await q.recvfrom(client, buffer), { bytes: 0, address: undefined });
    },
  },
  {
    name: "socket: recvfrom on a unix connection names the listener's path to the client and nobody to the accepted side",
    needs: [...PAIR, 'send', 'recvfrom'],
    skip: () => (isWindows ? 'unix domain sockets are POSIX only here' : undefined),
    async run(t) {
      const q = t.queue();
      const { client, accepted, address } = await pair(t, q, 'unix');
      const buffer = Buffer.alloc(16);
      await q.send(client, Buffer.from('hi'));
      assert.deepEqual(await q.recvfrom(accepted, buffer), { bytes: 2, address: undefined });
      await q.send(accepted, Buffer.from('yo'));
      assert.deepEqual(await q.recvfrom(client, buffer), { bytes: 2, address });
    },
  },
  {
    name: "udp: shutdown('read') of an unconnected socket fails with ENOTCONN yet ends recvfrom with 0 and no address",
    needs: ['socket', 'bind', 'recvfrom', 'shutdown', 'close'],
    skip: () =>
      process.platform === 'linux' || process.platform === 'win32'
        ? undefined
        : 'shutdown of a UDP socket is specified as on Linux',
    async run(t) {
      const q = t.queue();
      const fd = closeLater(t, await q.socket(4, 'dgram'));
      await q.bind(fd, { address: '127.0.0.1', port: 0 });
      const waiting = q.recvfrom(fd, Buffer.alloc(8), { signal: AbortSignal.timeout(5_000) });
      await rejectsWith(q.shutdown(fd, 'read'), { code: 'ENOTCONN', syscall: 'shutdown' });
      assert.deepEqual(await waiting, { bytes: 0, address: undefined });
      const later = q.recvfrom(fd, Buffer.alloc(8), { signal: AbortSignal.timeout(5_000) });
      assert.deepEqual(await later, { bytes: 0, address: undefined });
    },
  },
  {
    name: 'errors: misuse throws errors that carry a code',
    needs: ['nop', 'recv'],
    async run(t) {
      const q = t.queue();
      const recv = q.recv.bind(q) as (...args: unknown[]) => unknown;
      throwsArgError(
        () => recv(0, Buffer.alloc(1), { userData: 1 }, () => {}),
        TypeError,
        'ERR_INVALID_ARG_VALUE',
      );
      throwsArgError(() => errnoOf('ENOTACODE'), TypeError, 'ERR_INVALID_ARG_VALUE');
      await q.nop();
      await q.destroy();
      for (const [what, misuse] of [
        ['waitSync', () => q.waitSync(1, 0)],
        ['nop', () => q.nop()],
        ['registerFiles', () => q.registerFiles([])],
      ] as const) {
        assert.throws(misuse, (error: unknown) => {
          assert.equal((error as { code?: unknown }).code, 'ERR_PROACTOR_QUEUE_DESTROYED', `${what}`);
          return true;
        });
      }
    },
  },
  {
    name: 'socket: a unix socket path of 107 bytes (the most sun_path holds) works; 108 is refused',
    needs: [...PAIR, 'send', 'recv'],
    skip: () => (isWindows ? 'unix domain sockets are POSIX only here' : undefined),
    async run(t) {
      const q = t.queue();
      const prefix = `${t.dir}/`;
      const path = `${prefix}${'p'.repeat(107 - Buffer.byteLength(prefix))}`;
      assert.equal(Buffer.byteLength(path), 107);
      const server = closeLater(t, await q.socket('unix'));
      await q.bind(server, { path });
      await q.listen(server);
      assert.deepEqual(await q.localAddress(server), { path });
      const client = closeLater(t, await q.socket('unix'));
      const [accepted] = await Promise.all([q.accept(server), q.connect(client, { path })]);
      closeLater(t, accepted.fd);
      assert.equal(await q.send(client, Buffer.from('long')), 4);
      assert.equal(await q.recv(accepted.fd, Buffer.alloc(8)), 4);
      throwsArgError(() => q.connect(client, { path: `${path}q` }), RangeError, 'ERR_OUT_OF_RANGE');
    },
  },
  {
    name: 'socket: socket() in a process out of descriptors fails with EMFILE',
    needs: ['socket', 'nop'],
    timeoutMs: 30_000,
    skip: () => (isWindows ? 'descriptor limits (RLIMIT_NOFILE) are POSIX' : undefined),
    async run(t) {
      const r = await runNode(
        t,
        `${childPrelude(t)}
const { openSync, closeSync } = await import('node:fs');
const q = new Queue(backend);
await q.nop();
const held = [];
try {
  for (;;) held.push(openSync('/dev/null', 'r'));
} catch (error) {
  if (error.code !== 'EMFILE') throw error;
}
const outcome = await q.socket(4).then((fd) => 'fd ' + fd, (error) => error.code + ' ' + error.syscall);
for (const fd of held) closeSync(fd);
await q.destroy();
console.log(outcome);
`,
        { limits: { descriptors: 64 } },
      );
      assertExited(r, 0);
      assert.equal(r.stdout.trim(), 'EMFILE socket');
    },
  },
  {
    name: 'memory: a buffer a recv is using cannot be transferred away; the data lands in it',
    needs: [...PAIR, 'send', 'recv'],
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const buffer = new Uint8Array(new ArrayBuffer(64));
      const receiving = outcome(q.recv(accepted, buffer), 'the recv');
      await new Promise((resolve) => setImmediate(resolve));
      let clone: ArrayBuffer | undefined;
      try {
        clone = structuredClone(buffer.buffer, { transfer: [buffer.buffer] });
      } catch (error) {
        // Later Node versions refuse the transfer of an untransferable buffer outright.
        assert.equal((error as Error).name, 'DataCloneError');
      }
      assert.equal(buffer.byteLength, 64, 'the buffer was not detached');
      await q.send(client, Buffer.from('landed'));
      assert.deepEqual(await receiving, { ok: true, value: 6 });
      assert.equal(Buffer.from(buffer.buffer, 0, 6).toString(), 'landed');
      if (clone !== undefined) {
        assert.equal(clone.byteLength, 64);
        assert.equal(Buffer.from(clone, 0, 6).toString('hex'), '000000000000', 'the copy is not written to');
      }
    },
  },
  {
    name: 'files: a file operation on a descriptor far above any open one fails with EBADF',
    needs: ['read', 'fstat'],
    async run(t) {
      const q = t.queue();
      await rejectsWith(q.read(0x7fffffff, Buffer.alloc(4)), { code: 'EBADF', syscall: 'read' });
      await rejectsWith(q.fstat(0x7ffffffe), { code: 'EBADF', syscall: 'fstat' });
    },
  },
];
