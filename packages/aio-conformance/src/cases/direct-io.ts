/**
 * Direct I/O: files opened with O_DIRECT, read and written in whole blocks from page-aligned
 * memory, bypassing the page cache (what databases and storage engines do). Backends take
 * different paths for it (io_uring's requests, Linux AIO on the epoll backend, a thread pool,
 * node:fs); every one must give the kernel's answer, including its refusal of a misaligned
 * transfer.
 *
 * Sizes and positions are multiples of 4096, which every logical block size divides. The cases
 * run where the case directory's file system accepts O_DIRECT (ext4, xfs, btrfs; tmpfs only
 * since Linux 6.6) and are skipped elsewhere with the reason.
 */
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from '@proactor/aio-core';
import type { CaseContext, ConformanceCase } from '../case.js';
import { assertSystemError, fixture, pattern, rejectsWith } from './expect.js';
import { runWorker, workerModule } from './workers.js';

const BLOCK = 4096;

/**
 * `size` bytes of zeroed, page-aligned memory without an addon: a WebAssembly memory's buffer
 * starts on a page boundary (V8 maps it with mmap), which JavaScript cannot arrange for a Buffer
 * otherwise since it never sees addresses. Views at multiples of 4096 stay aligned.
 */
export function pageAlignedBuffer(size: number): Buffer {
  const pages = Math.max(1, Math.ceil(size / 65536));
  return Buffer.from(new wasm.Memory({ initial: pages }).buffer, 0, size);
}

/** The part of the WebAssembly API used here (this package compiles without DOM or wasm types). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };
  }
).WebAssembly;

/** `content` copied into page-aligned memory. */
function alignedCopy(content: Uint8Array): Buffer {
  const buf = pageAlignedBuffer(content.length);
  buf.set(content);
  return buf;
}

let directReason: string | undefined | null = null;

/**
 * Why O_DIRECT cannot be used here, or undefined: not Linux, or the file system of the temporary
 * directory (where cases and differential scripts make their files) refuses it. Probed once.
 */
export function directIoUnavailable(): string | undefined {
  if (directReason !== null) return directReason;
  const flag = constants.O_DIRECT;
  if (process.platform !== 'linux' || flag === undefined) {
    directReason = `O_DIRECT is Linux's (fs.constants.O_DIRECT is ${String(flag)} on ${process.platform})`;
    return directReason;
  }
  const probe = join(tmpdir(), `proactor-direct-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, constants.O_CREAT | constants.O_RDWR | flag, 0o600));
    directReason = undefined;
  } catch (error) {
    directReason = `the file system of ${tmpdir()} refuses O_DIRECT (${(error as { code?: string }).code})`;
  } finally {
    try {
      unlinkSync(probe);
    } catch {}
  }
  return directReason;
}

const directSkip = directIoUnavailable;

const O_DIRECT = constants.O_DIRECT ?? 0;
const READ_DIRECT = constants.O_RDONLY | O_DIRECT;
const RW_DIRECT = constants.O_RDWR | O_DIRECT;
const CREATE_DIRECT = constants.O_RDWR | constants.O_CREAT | O_DIRECT;

/** Opens `path` through `q` with `flags` (0o644 when it creates), closed after the case (the
 * case's queues are destroyed before its deferred cleanups run, so with node:fs). */
async function openDirect(t: CaseContext, q: Queue, path: string, flags: number): Promise<number> {
  const fd = await q.open(path, flags, 0o644);
  t.defer(() => {
    try {
      closeSync(fd);
    } catch {}
  });
  return fd;
}

export const directIoCases: ConformanceCase[] = [
  {
    name: 'direct I/O: reads of whole blocks at block-aligned positions return the file bytes there',
    needs: ['open', 'read', 'close'],
    skip: directSkip,
    async run(t) {
      const data = pattern(16 * BLOCK, 31);
      const path = fixture(t, 'direct-read.bin', data);
      const q = t.queue();
      const fd = await openDirect(t, q, path, READ_DIRECT);
      for (const [position, length] of [
        [0, BLOCK],
        [8 * BLOCK, BLOCK],
        [15 * BLOCK, BLOCK],
        [2 * BLOCK, 4 * BLOCK],
      ]) {
        const buf = pageAlignedBuffer(length);
        assert.equal(await q.read(fd, buf, 0, length, position), length);
        assert.ok(buf.equals(data.subarray(position, position + length)), `the bytes at ${position}`);
      }
    },
  },
  {
    name: 'direct I/O: writes of whole blocks reach the file, and read back through the page cache',
    needs: ['open', 'write', 'close'],
    skip: directSkip,
    async run(t) {
      const path = t.path('direct-write.bin');
      const q = t.queue();
      const fd = await openDirect(t, q, path, CREATE_DIRECT);
      const head = pattern(3 * BLOCK, 5);
      const tail = pattern(BLOCK, 6);
      assert.equal(await q.write(fd, alignedCopy(head), 0, head.length, 0), head.length);
      // Past the end, leaving a hole of one block that reads as zeros.
      assert.equal(await q.write(fd, alignedCopy(tail), 0, tail.length, 4 * BLOCK), tail.length);
      const file = readFileSync(path);
      assert.equal(file.length, 5 * BLOCK);
      assert.ok(file.subarray(0, 3 * BLOCK).equals(head));
      assert.ok(file.subarray(3 * BLOCK, 4 * BLOCK).equals(Buffer.alloc(BLOCK)), 'the hole reads as zeros');
      assert.ok(file.subarray(4 * BLOCK).equals(tail));
    },
  },
  {
    name: 'direct I/O: readv and writev move aligned buffers in order',
    needs: ['open', 'readv', 'writev', 'close'],
    skip: directSkip,
    async run(t) {
      const path = t.path('direct-vectored.bin');
      const q = t.queue();
      const fd = await openDirect(t, q, path, CREATE_DIRECT);
      const parts = [pattern(BLOCK, 1), pattern(2 * BLOCK, 2), pattern(BLOCK, 3)];
      assert.equal(await q.writev(fd, parts.map(alignedCopy), BLOCK), 4 * BLOCK);
      const file = readFileSync(path);
      assert.ok(file.subarray(BLOCK).equals(Buffer.concat(parts)), 'writev put the buffers in order');
      const back = [pageAlignedBuffer(2 * BLOCK), pageAlignedBuffer(BLOCK), pageAlignedBuffer(2 * BLOCK)];
      // Five blocks asked for, four there after the first: the last buffer gets one.
      assert.equal(await q.readv(fd, back, 0), 5 * BLOCK);
      assert.ok(
        Buffer.concat(back)
          .subarray(0, 5 * BLOCK)
          .equals(file),
      );
    },
  },
  {
    name: 'direct I/O: fsync and fdatasync on a direct descriptor resolve, after the writes before them',
    needs: ['open', 'write', 'fsync', 'fdatasync', 'close'],
    skip: directSkip,
    async run(t) {
      const path = t.path('direct-sync.bin');
      const q = t.queue();
      const fd = await openDirect(t, q, path, CREATE_DIRECT);
      const data = pattern(2 * BLOCK, 9);
      assert.equal(await q.write(fd, alignedCopy(data), 0, data.length, 0), data.length);
      assert.equal(await q.fsync(fd), undefined);
      assert.equal(await q.write(fd, alignedCopy(data), 0, BLOCK, 2 * BLOCK), BLOCK);
      assert.equal(await q.fdatasync(fd), undefined);
      assert.equal(readFileSync(path).length, 3 * BLOCK);
    },
  },
  {
    name: 'direct I/O: a read across the end of the file returns the bytes there, and 0 past it',
    needs: ['open', 'read', 'close'],
    skip: directSkip,
    async run(t) {
      const data = pattern(BLOCK + 904, 12);
      const path = fixture(t, 'direct-short.bin', data);
      const q = t.queue();
      const fd = await openDirect(t, q, path, READ_DIRECT);
      const buf = pageAlignedBuffer(4 * BLOCK);
      assert.equal(await q.read(fd, buf, 0, buf.length, 0), data.length);
      assert.ok(buf.subarray(0, data.length).equals(data));
      assert.equal(await q.read(fd, buf, 0, BLOCK, 2 * BLOCK), 0);
    },
  },
  {
    name: 'direct I/O: reads at the current position (null) read there and advance it',
    needs: ['open', 'read', 'close'],
    // (On Linux 6.18 a read at offset -1 that io_uring completes asynchronously, as direct I/O
    // does, leaves the file position where it was: aio-uring runs these on its pool.)
    skip: directSkip,
    async run(t) {
      const data = pattern(3 * BLOCK, 14);
      const path = fixture(t, 'direct-current.bin', data);
      const q = t.queue();
      const fd = await openDirect(t, q, path, READ_DIRECT);
      const buf = pageAlignedBuffer(BLOCK);
      for (let block = 0; block < 3; block++) {
        assert.equal(await q.read(fd, buf, 0, BLOCK, null), BLOCK);
        assert.ok(buf.equals(data.subarray(block * BLOCK, (block + 1) * BLOCK)), `block ${block}`);
      }
      assert.equal(await q.read(fd, buf, 0, BLOCK, null), 0);
    },
  },
  {
    name: 'direct I/O: writes, writev and readv at the current position (null) move it by what they moved',
    needs: ['open', 'write', 'writev', 'readv', 'close'],
    skip: directSkip,
    async run(t) {
      const path = t.path('direct-current-write.bin');
      const q = t.queue();
      const fd = await openDirect(t, q, path, CREATE_DIRECT);
      const blocks = [pattern(BLOCK, 31), pattern(2 * BLOCK, 32), pattern(BLOCK, 33), pattern(BLOCK, 34)];
      assert.equal(await q.write(fd, alignedCopy(blocks[0]), 0, BLOCK, null), BLOCK);
      assert.equal(await q.write(fd, alignedCopy(blocks[1]), 0, 2 * BLOCK, null), 2 * BLOCK);
      assert.equal(await q.writev(fd, [alignedCopy(blocks[2]), alignedCopy(blocks[3])], null), 2 * BLOCK);
      const file = readFileSync(path);
      assert.equal(file.length, 5 * BLOCK, 'each write went where the one before it ended');
      assert.ok(file.equals(Buffer.concat(blocks)));
      // The position is at the end now: a read there finds nothing, one at 0 does not move it.
      const back = [pageAlignedBuffer(BLOCK), pageAlignedBuffer(BLOCK)];
      assert.equal(await q.readv(fd, back, null), 0);
      assert.equal(await q.readv(fd, back, 0), 2 * BLOCK);
      assert.equal(await q.readv(fd, back, null), 0, 'a positioned readv left the position at the end');
    },
  },
  {
    name: 'direct I/O: a misaligned buffer, length or position gets the answer pread and pwrite get from the kernel (EINVAL on ext4, xfs, btrfs)',
    needs: ['open', 'read', 'write', 'close'],
    skip: directSkip,
    async run(t) {
      const data = pattern(4 * BLOCK, 21);
      const path = fixture(t, 'direct-misaligned.bin', data);
      const q = t.queue();
      const fd = await openDirect(t, q, path, RW_DIRECT);
      const memory = pageAlignedBuffer(3 * BLOCK);
      // The kernel's own answer for each transfer, from plain pread(2) / pwrite(2) on a second
      // descriptor (tmpfs since Linux 6.6 accepts any alignment; block file systems refuse).
      const oracle = openSync(path, RW_DIRECT);
      t.defer(() => closeSync(oracle));
      const answer = (call: () => number): number | string => {
        try {
          return call();
        } catch (error) {
          return (error as { code: string }).code;
        }
      };
      const transfers: [string, Buffer, number, number][] = [
        ['a buffer one byte off', memory.subarray(1), BLOCK, 0],
        ['a length of 100 bytes', memory, 100, 0],
        ['a position of 100', memory, BLOCK, 100],
      ];
      for (const [what, buf, length, position] of transfers) {
        const read = answer(() => readSync(oracle, buf, 0, length, position));
        if (typeof read === 'string') {
          await rejectsWith(q.read(fd, buf, 0, length, position), { code: read, syscall: 'read' });
        } else assert.equal(await q.read(fd, buf, 0, length, position), read, `read: ${what}`);
        const write = answer(() => writeSync(oracle, buf, 0, length, position));
        if (typeof write === 'string') {
          await rejectsWith(q.write(fd, buf, 0, length, position), { code: write, syscall: 'write' });
        } else assert.equal(await q.write(fd, buf, 0, length, position), write, `write: ${what}`);
      }
      // Whatever the kernel said, an aligned transfer works afterwards (block 3: no misaligned
      // write above reaches it).
      assert.equal(await q.read(fd, memory, 0, BLOCK, 3 * BLOCK), BLOCK);
      assert.ok(memory.subarray(0, BLOCK).equals(data.subarray(3 * BLOCK)));
    },
  },
  {
    name: 'direct I/O: 64 reads in flight at once each return their own block',
    needs: ['open', 'read', 'close'],
    skip: directSkip,
    async run(t) {
      const blocks = 96;
      const data = pattern(blocks * BLOCK, 44);
      const path = fixture(t, 'direct-many.bin', data);
      const q = t.queue({ entries: 64 });
      const fd = await openDirect(t, q, path, READ_DIRECT);
      const memory = pageAlignedBuffer(64 * BLOCK);
      const order = Array.from({ length: 64 }, (_, i) => (i * 37) % blocks);
      const counts = await Promise.all(
        order.map((block, i) =>
          q.read(fd, memory.subarray(i * BLOCK, (i + 1) * BLOCK), 0, BLOCK, block * BLOCK),
        ),
      );
      assert.deepEqual(
        counts,
        order.map(() => BLOCK),
      );
      order.forEach((block, i) => {
        assert.ok(
          memory
            .subarray(i * BLOCK, (i + 1) * BLOCK)
            .equals(data.subarray(block * BLOCK, (block + 1) * BLOCK)),
          `read ${i} holds block ${block}`,
        );
      });
    },
  },
  {
    name: 'direct I/O: reads aborted in flight each end once, with every byte or AbortError',
    needs: ['open', 'read', 'close'],
    skip: directSkip,
    async run(t) {
      const data = pattern(64 * BLOCK, 17);
      const path = fixture(t, 'direct-abort.bin', data);
      const q = t.queue();
      const fd = await openDirect(t, q, path, READ_DIRECT);
      const memory = pageAlignedBuffer(32 * 2 * BLOCK);
      const outcomes = await Promise.all(
        Array.from({ length: 32 }, async (_, i) => {
          const ac = new AbortController();
          const buf = memory.subarray(i * 2 * BLOCK, (i + 1) * 2 * BLOCK);
          const read = q.read(fd, buf, { position: i * 2 * BLOCK, signal: ac.signal });
          if (i % 2 === 0) {
            q.submit();
            ac.abort();
          } else setImmediate(() => ac.abort());
          try {
            return { n: await read, buf, i };
          } catch (error) {
            assert.equal((error as Error).name, 'AbortError');
            return undefined;
          }
        }),
      );
      for (const o of outcomes) {
        if (o === undefined) continue;
        assert.equal(o.n, 2 * BLOCK, 'a read that won the race returns every byte');
        assert.ok(o.buf.equals(data.subarray(o.i * 2 * BLOCK, (o.i + 1) * 2 * BLOCK)));
      }
      assert.equal(q.inFlight, 0);
    },
  },
  {
    name: 'direct I/O: destroy() with direct reads in flight waits for them, then every buffer holds its block',
    needs: ['open', 'read', 'close'],
    skip: directSkip,
    async run(t) {
      const data = pattern(64 * BLOCK, 23);
      const path = fixture(t, 'direct-destroy.bin', data);
      const q = t.queue();
      const fd = openSync(path, READ_DIRECT);
      t.defer(() => closeSync(fd));
      const memory = pageAlignedBuffer(64 * BLOCK);
      const reads = Array.from({ length: 64 }, (_, i) =>
        q.read(fd, memory.subarray(i * BLOCK, (i + 1) * BLOCK), 0, BLOCK, i * BLOCK).then(
          (n) => n,
          (error: unknown) => error,
        ),
      );
      q.submit();
      await q.destroy();
      const outcomes = await Promise.all(reads);
      outcomes.forEach((outcome, i) => {
        // Cancelled by destroy() (ECANCELED), or run to its end with every byte.
        if (typeof outcome !== 'number') assertSystemError(outcome, { code: 'ECANCELED', syscall: 'read' });
        else {
          assert.equal(outcome, BLOCK, `read ${i}`);
          assert.ok(
            memory.subarray(i * BLOCK, (i + 1) * BLOCK).equals(data.subarray(i * BLOCK, (i + 1) * BLOCK)),
          );
        }
      });
    },
  },
  {
    name: 'direct I/O: a worker terminated with 64 direct reads in flight takes nothing down',
    needs: ['open', 'read', 'close'],
    skip: directSkip,
    timeoutMs: 30_000,
    async run(t) {
      const data = pattern(256 * BLOCK, 8);
      const path = fixture(t, 'direct-worker.bin', data);
      const url = workerModule(
        t,
        'direct-worker.mjs',
        `
const memory = Buffer.from(new WebAssembly.Memory({ initial: 4 }).buffer);
const q = new Queue(backend, { entries: 64 });
const fd = await q.open(workerData.path, ${READ_DIRECT});
let told = false;
for (let round = 0; ; round++) {
  const reads = [];
  for (let i = 0; i < 64; i++) {
    reads.push(q.read(fd, memory.subarray(i * 4096, (i + 1) * 4096), 0, 4096, ((round * 64 + i) % 256) * 4096));
  }
  q.submit();
  if (!told) {
    told = true;
    parentPort.postMessage({ inFlight: q.inFlight, fd });
  }
  await Promise.all(reads);
}
`,
      );
      for (let attempt = 0; attempt < 3; attempt++) {
        const run = await runWorker(t, url, { path }, (_message, worker) => {
          void worker.terminate();
        });
        assert.equal(run.error, undefined, String(run.error?.stack));
        assert.equal(run.exitCode, 1, 'terminate() ended the worker');
        const [first] = run.messages as { inFlight: number; fd: number }[];
        assert.equal(first.inFlight, 64, 'the worker had its reads in flight');
        try {
          closeSync(first.fd);
        } catch {}
      }
      // The process and the backend still work.
      const q = t.queue();
      const fd = await q.open(path, READ_DIRECT);
      const buf = pageAlignedBuffer(BLOCK);
      assert.equal(await q.read(fd, buf, 0, BLOCK, 5 * BLOCK), BLOCK);
      assert.ok(buf.equals(data.subarray(5 * BLOCK, 6 * BLOCK)));
      await q.close(fd);
    },
  },
];
