import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import type { ConformanceCase } from '../case.js';
import { fixture, pattern, throwsArgError, withFd } from './expect.js';
import { instrument } from './instrumented-backend.js';

const isWindows = process.platform === 'win32';

export const registrationCases: ConformanceCase[] = [
  {
    name: 'registered buffers: reads into registered buffers give the bytes plain reads give',
    needs: ['open', 'read', 'close', 'registeredBuffers'],
    async run(t) {
      const data = pattern(256 * 1024, 31);
      const path = fixture(t, 'reg-read.bin', data);
      const q = t.queue();
      const registered = [Buffer.alloc(64 * 1024), Buffer.alloc(64 * 1024)];
      q.registerBuffers(registered);
      await withFd(q, path, 'r', async (fd) => {
        assert.equal(await q.read(fd, registered[0], 0, 65536, 0), 65536);
        assert.equal(await q.read(fd, registered[1], 1000, 4096, 100_000), 4096);
        // A view inside a registered buffer, and a buffer that is not registered, side by side.
        const inner = registered[0].subarray(8192, 12288);
        const plain = Buffer.alloc(4096);
        const [a, b] = await Promise.all([
          q.read(fd, inner, 0, 4096, 200_000),
          q.read(fd, plain, 0, 4096, 200_000),
        ]);
        assert.equal(a, 4096);
        assert.equal(b, 4096);
        assert.ok(inner.equals(plain));
        assert.ok(inner.equals(data.subarray(200_000, 204_096)));
      });
      assert.ok(registered[0].subarray(0, 8192).equals(data.subarray(0, 8192)));
      assert.ok(registered[1].subarray(1000, 5096).equals(data.subarray(100_000, 104_096)));
    },
  },
  {
    name: 'registered buffers: writes from a registered buffer and from a view inside one land intact',
    needs: ['open', 'write', 'close', 'registeredBuffers'],
    async run(t) {
      const path = t.path('reg-write.bin');
      const q = t.queue();
      const source = pattern(128 * 1024, 32);
      q.registerBuffers([source]);
      await withFd(q, path, 'w', async (fd) => {
        assert.equal(await q.write(fd, source, 0, 65536, 0), 65536);
        assert.equal(await q.write(fd, source.subarray(65536), 0, 65536, 65536), 65536);
      });
      assert.ok(readFileSync(path).equals(source));
    },
  },
  {
    name: 'registered buffers: after unregistering or re-registering, operations still work',
    needs: ['open', 'read', 'close', 'registeredBuffers'],
    async run(t) {
      const data = pattern(16384, 33);
      const path = fixture(t, 'reg-again.bin', data);
      const q = t.queue();
      const first = Buffer.alloc(8192);
      const second = Buffer.alloc(8192);
      await withFd(q, path, 'r', async (fd) => {
        q.registerBuffers([first]);
        q.registerBuffers([second]);
        assert.equal(await q.read(fd, second, 0, 8192, 8192), 8192);
        assert.equal(await q.read(fd, first, 0, 8192, 0), 8192);
        q.unregisterBuffers();
        q.unregisterBuffers();
        const plain = Buffer.alloc(100);
        assert.equal(await q.read(fd, plain, 0, 100, 50), 100);
        assert.ok(plain.equals(data.subarray(50, 150)));
      });
      assert.ok(first.equals(data.subarray(0, 8192)));
      assert.ok(second.equals(data.subarray(8192)));
    },
  },
  {
    name: 'registered buffers: invalid lists throw before anything is registered or submitted',
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      throwsArgError(
        () => q.registerBuffers('buffers' as unknown as Buffer[]),
        TypeError,
        'ERR_INVALID_ARG_TYPE',
      );
      throwsArgError(
        () => q.registerBuffers([Buffer.alloc(1), 7 as unknown as Buffer]),
        TypeError,
        'ERR_INVALID_ARG_TYPE',
      );
      throwsArgError(() => q.registerBuffers([Buffer.alloc(0)]), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(
        () => q.registerBuffers(Array.from({ length: 1025 }, () => Buffer.alloc(1))),
        RangeError,
        'ERR_OUT_OF_RANGE',
      );
      throwsArgError(() => q.registerFiles([-1]), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.registerFiles('0' as unknown as number[]), TypeError, 'ERR_INVALID_ARG_TYPE');
      assert.equal(counts.entries, 0);
    },
  },
  {
    name: 'registered buffers and files: a backend without them throws ERR_PROACTOR_UNSUPPORTED',
    skip: (b) =>
      b.capabilities.registeredBuffers && b.capabilities.registeredFiles
        ? `the ${b.name} backend supports both`
        : undefined,
    async run(t) {
      const q = t.queue();
      if (!q.capabilities.registeredBuffers) {
        assert.throws(() => q.registerBuffers([Buffer.alloc(16)]), { code: 'ERR_PROACTOR_UNSUPPORTED' });
      }
      if (!q.capabilities.registeredFiles) {
        assert.throws(() => q.registerFiles([0]), { code: 'ERR_PROACTOR_UNSUPPORTED' });
      }
      // Dropping a registration that was never made is not an error.
      q.unregisterBuffers();
      q.unregisterFiles();
    },
  },
  {
    name: 'registered files: operations on registered descriptors work as on plain ones',
    needs: ['open', 'read', 'write', 'fstat', 'fsync', 'ftruncate', 'close', 'registeredFiles'],
    async run(t) {
      const path = fixture(t, 'reg-fd.bin', pattern(8192, 34));
      const q = t.queue();
      const fd = await q.open(path, 'r+');
      const other = await q.open(path, 'r');
      q.registerFiles([fd, other]);
      const chunk = pattern(4096, 35);
      assert.equal(await q.write(fd, chunk, 0, 4096, 4096), 4096);
      await q.fsync(fd);
      const back = Buffer.alloc(4096);
      assert.equal(await q.read(other, back, 0, 4096, 4096), 4096);
      assert.ok(back.equals(chunk));
      await q.ftruncate(fd, 6000);
      assert.equal((await q.fstat(other)).size, 6000);
      q.unregisterFiles();
      assert.equal((await q.fstat(fd)).size, 6000);
      await q.close(fd);
      await q.close(other);
    },
  },
  {
    name: 'registered files: closing a registered descriptor through the queue releases the file',
    needs: ['write', 'close', 'registeredFiles'],
    skip: () => (isWindows ? 'needs a FIFO (mkfifo)' : undefined),
    async run(t) {
      const fifo = t.path('fifo');
      execFileSync('mkfifo', [fifo]);
      const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      t.defer(() => closeSync(reader));
      const writer = openSync(fifo, constants.O_WRONLY);
      const q = t.queue();
      q.registerFiles([writer]);
      assert.equal(await q.write(writer, Buffer.from('x')), 1);
      await q.close(writer);
      assert.throws(() => fstatSync(writer), { code: 'EBADF' });
      const buf = Buffer.alloc(8);
      assert.equal(readSync(reader, buf), 1);
      // EOF, not EAGAIN: no writer is left, so the registration let go of the file too.
      assert.equal(readSync(reader, buf), 0);
    },
  },
];
