/**
 * sendfile: bytes of a file to a stream socket or to a regular file, on every backend that lists
 * 'sendfile' in `capabilities.ops` (in the kernel where `zeroCopySendfile`, through a buffer
 * elsewhere: the results must not differ). Every wait is bounded by the case's timeout or an
 * AbortSignal.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Queue, SENDFILE_MAX_LENGTH } from '@proactor/aio-core';
import type { CaseContext, ConformanceCase, Need } from '../case.js';
import { assertAbortError, closeLater, fixture, pattern, rejectsWith, throwsArgError } from './expect.js';
import { pair, recvAll } from './sockets.js';

const isWindows = process.platform === 'win32';
const TO_FILE: Need[] = ['open', 'close', 'sendfile'];
const TO_SOCKET: Need[] = [
  'socket',
  'bind',
  'listen',
  'getsockname',
  'accept',
  'connect',
  'recv',
  'send',
  'shutdown',
  'close',
  'open',
  'sendfile',
];

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A connected pair and an open input file holding `data`. */
async function setup(t: CaseContext, q: Queue, data: Buffer) {
  const path = fixture(t, 'input.bin', data);
  const input = closeLater(t, await q.open(path, 'r'));
  const { client, accepted } = await pair(t, q);
  return { input, client, accepted };
}

/** Sends input[position, position + length) with as many calls as it takes; the total. */
async function sendfileAll(q: Queue, out: number, input: number, position: number, length: number) {
  let sent = 0;
  while (sent < length) {
    const n = await q.sendfile(out, input, { position: position + sent, length: length - sent });
    assert.ok(n > 0, 'sendfile made progress before the end of the input');
    sent += n;
  }
  return sent;
}

/** Receives and drops bytes slowly, hashing them, until the peer ends its side. */
async function slowReader(q: Queue, fd: number): Promise<{ bytes: number; hash: string }> {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(16 * 1024);
  let bytes = 0;
  for (let i = 0; ; i++) {
    const n = await q.recv(fd, buf);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    bytes += n;
    if (i % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return { bytes, hash: hash.digest('hex') };
}

export const sendfileCases: ConformanceCase[] = [
  {
    name: 'sendfile: a whole file reaches the peer intact and resolves with its size',
    needs: TO_SOCKET,
    async run(t) {
      const q = t.queue();
      // Not a multiple of a page or of any chunk size.
      const data = pattern(3 * 1024 * 1024 + 4321, 17);
      const { input, client, accepted } = await setup(t, q, data);
      const [sent, received] = await Promise.all([
        q.sendfile(accepted, input).then(async (n) => {
          await q.shutdown(accepted, 'write');
          return n;
        }),
        recvAll(q, client, data.length + 1),
      ]);
      assert.equal(sent, data.length);
      assert.equal(received.length, data.length);
      assert.equal(sha256(received), sha256(data), 'the bytes arrived in order, none lost');
    },
  },
  {
    name: 'sendfile: a range sends exactly those bytes and leaves the input position where it was',
    needs: [...TO_SOCKET, 'read'],
    async run(t) {
      const q = t.queue();
      const data = pattern(200_000, 3);
      const { input, client, accepted } = await setup(t, q, data);
      const position = 1234;
      const length = 150_001;
      const [sent, received] = await Promise.all([
        q.sendfile(accepted, input, { position, length }),
        recvAll(q, client, length),
      ]);
      assert.equal(sent, length);
      assert.ok(received.equals(data.subarray(position, position + length)), 'exactly the range');
      // The input's own position is still 0: a read at the current position starts there.
      const head = Buffer.alloc(16);
      assert.equal(await q.read(input, head, { position: null }), 16);
      assert.ok(head.equals(data.subarray(0, 16)), 'the input position did not move');
    },
  },
  {
    name: 'sendfile: a length past the end of the input sends what is there; at the end it resolves 0',
    needs: TO_SOCKET,
    async run(t) {
      const q = t.queue();
      const data = pattern(70_000, 5);
      const { input, client, accepted } = await setup(t, q, data);
      const [sent, received] = await Promise.all([
        q.sendfile(accepted, input, { position: 1000, length: 1_000_000 }),
        recvAll(q, client, data.length - 1000),
      ]);
      assert.equal(sent, data.length - 1000);
      assert.ok(received.equals(data.subarray(1000)));
      assert.equal(await q.sendfile(accepted, input, { position: data.length }), 0);
      assert.equal(await q.sendfile(accepted, input, { position: data.length + 10 }), 0);
      assert.equal(await q.sendfile(accepted, input, { position: 0, length: 0 }), 0);
    },
  },
  {
    name: 'sendfile: a file larger than the socket buffers reaches a slow reader whole',
    needs: TO_SOCKET,
    timeoutMs: 60_000,
    async run(t) {
      const q = t.queue();
      const data = pattern(24 * 1024 * 1024 + 77, 9);
      const { input, client, accepted } = await setup(t, q, data);
      const reading = slowReader(q, client);
      const sent = await sendfileAll(q, accepted, input, 0, data.length);
      await q.shutdown(accepted, 'write');
      const { bytes, hash } = await reading;
      assert.equal(sent, data.length);
      assert.equal(bytes, data.length);
      assert.equal(hash, sha256(data), 'integrity by hash');
    },
  },
  {
    name: 'sendfile: a peer that closes mid-transfer ends it with part of the bytes, then EPIPE or ECONNRESET',
    needs: TO_SOCKET,
    timeoutMs: 30_000,
    async run(t) {
      const q = t.queue();
      const data = pattern(32 * 1024 * 1024, 11);
      const { input, client, accepted } = await setup(t, q, data);
      const head = Buffer.alloc(64 * 1024);
      const reader = (async () => {
        await recvAll(q, client, head.length);
        // Unread data is waiting: the close resets the connection.
        await q.close(client);
      })();
      let total = 0;
      let failure: unknown;
      const deadline = AbortSignal.timeout(20_000);
      while (failure === undefined) {
        try {
          const n = await q.sendfile(accepted, input, { position: total, signal: deadline });
          assert.ok(n > 0 && total + n < data.length, 'never the whole file');
          total += n;
        } catch (error) {
          failure = error;
        }
      }
      await reader;
      assert.ok(total < data.length);
      await rejectsWith(Promise.reject(failure), { code: ['EPIPE', 'ECONNRESET'], syscall: 'sendfile' });
    },
  },
  {
    name: 'sendfile: cancelled by its signal while the reader never reads, it ends with AbortError',
    needs: TO_SOCKET,
    async run(t) {
      const q = t.queue();
      const data = pattern(16 * 1024 * 1024, 13);
      const { input, accepted } = await setup(t, q, data);
      const ac = new AbortController();
      const reason = new Error('enough');
      setTimeout(() => ac.abort(reason), 100);
      const error = await q.sendfile(accepted, input, { signal: ac.signal }).then(
        (n) => assert.fail(`resolved with ${n}`),
        (e: unknown) => e,
      );
      assertAbortError(error, reason);
      assert.equal(q.inFlight, 0, 'nothing of it is left in flight');
    },
  },
  {
    name: 'sendfile: closing the output through the queue while it waits ends it with ECANCELED',
    needs: TO_SOCKET,
    async run(t) {
      const q = t.queue();
      const data = pattern(16 * 1024 * 1024, 15);
      const { input, accepted } = await setup(t, q, data);
      // Observed from the start: it may settle before the close does.
      const outcome = rejectsWith(q.sendfile(accepted, input), { code: 'ECANCELED', syscall: 'sendfile' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await q.close(accepted);
      await outcome;
    },
  },
  {
    name: 'sendfile: to a regular file it writes at the output position, which advances',
    needs: [...TO_FILE, 'write'],
    async run(t) {
      const q = t.queue();
      const data = pattern(300_000, 19);
      const input = await q.open(fixture(t, 'input.bin', data), 'r');
      const outPath = t.path('out.bin');
      const out = await q.open(outPath, 'w');
      assert.equal(await q.write(out, Buffer.from('head:')), 5);
      assert.equal(await q.sendfile(out, input, { position: 100, length: 200_000 }), 200_000);
      assert.equal(await q.sendfile(out, input, { position: 250_000 }), 50_000);
      await q.close(out);
      await q.close(input);
      const written = readFileSync(outPath);
      const expected = Buffer.concat([
        Buffer.from('head:'),
        data.subarray(100, 200_100),
        data.subarray(250_000),
      ]);
      assert.equal(sha256(written), sha256(expected));
    },
  },
  {
    name: 'sendfile: an input that cannot be read at a position (a FIFO) fails with ESPIPE',
    needs: TO_FILE,
    skip: () => (isWindows ? 'needs a FIFO (mkfifo)' : undefined),
    async run(t) {
      const q = t.queue();
      const fifo = t.path('fifo');
      execFileSync('mkfifo', [fifo]);
      // Read-write: opening does not wait for a writer.
      const input = await q.open(fifo, 'r+');
      const out = await q.open(t.path('out.bin'), 'w');
      await rejectsWith(q.sendfile(out, input, { length: 10 }), { code: 'ESPIPE', syscall: 'sendfile' });
      await q.close(out);
      await q.close(input);
    },
  },
  {
    name: 'sendfile: a socket as the input fails (ESPIPE or EINVAL) and sends nothing',
    needs: TO_SOCKET,
    async run(t) {
      const q = t.queue();
      const { client, accepted } = await pair(t, q);
      const out = await q.open(t.path('out.bin'), 'w');
      await rejectsWith(q.sendfile(out, accepted, { length: 10 }), {
        code: ['ESPIPE', 'EINVAL'],
        syscall: 'sendfile',
      });
      await q.close(out);
      assert.equal(readFileSync(t.path('out.bin')).length, 0);
      // The socket still works.
      assert.equal(await q.send(accepted, Buffer.from('ok')), 2);
      assert.equal((await recvAll(q, client, 2)).toString(), 'ok');
    },
  },
  {
    name: 'sendfile: a descriptor that is not open fails with EBADF',
    needs: [...TO_FILE, 'write'],
    async run(t) {
      const q = t.queue();
      const out = await q.open(t.path('out.bin'), 'w');
      // Above any descriptor limit: never open, whatever the backend opens meanwhile.
      const notOpen = 2 ** 30 - 1;
      await rejectsWith(q.sendfile(out, notOpen), { code: 'EBADF', syscall: 'sendfile' });
      await rejectsWith(q.sendfile(notOpen, out), { code: 'EBADF', syscall: 'sendfile' });
      await q.close(out);
    },
  },
  {
    name: 'sendfile: a linked sendfile with its length given runs before the next operation',
    needs: [...TO_FILE, 'write', 'linkedOperations'],
    async run(t) {
      const q = t.queue();
      const data = pattern(100_000, 21);
      const input = await q.open(fixture(t, 'input.bin', data), 'r');
      const outPath = t.path('out.bin');
      const out = await q.open(outPath, 'w');
      const [sent, wrote] = await Promise.all([
        q.sendfile(out, input, { position: 0, length: data.length, link: true }),
        q.write(out, Buffer.from('tail')),
      ]);
      assert.equal(sent, data.length);
      assert.equal(wrote, 4);
      await q.close(out);
      await q.close(input);
      assert.ok(readFileSync(outPath).equals(Buffer.concat([data, Buffer.from('tail')])));
    },
  },
  {
    name: 'sendfile: invalid arguments throw coded errors and submit nothing',
    needs: ['sendfile'],
    async run(t) {
      const q = t.queue();
      throwsArgError(() => q.sendfile('1' as unknown as number, 0), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsArgError(() => q.sendfile(1, -1), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.sendfile(1, 0, { position: -1 }), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.sendfile(1, 0, { position: 1.5 }), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(
        () => q.sendfile(1, 0, { position: null as unknown as number }),
        TypeError,
        'ERR_INVALID_ARG_TYPE',
      );
      throwsArgError(
        () => q.sendfile(1, 0, { length: SENDFILE_MAX_LENGTH + 1 }),
        RangeError,
        'ERR_OUT_OF_RANGE',
      );
      throwsArgError(
        () => q.sendfile(1, 0, { length: '5' as unknown as number }),
        TypeError,
        'ERR_INVALID_ARG_TYPE',
      );
      throwsArgError(() => q.sendfile(1, 0, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      assert.equal(q.inFlight + q.waiting, 0, 'nothing was submitted');
    },
  },
];
