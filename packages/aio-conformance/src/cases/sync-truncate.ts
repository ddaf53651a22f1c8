import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import type { ConformanceCase } from '../case.js';
import { fixture, pattern, rejectsWith, withFd } from './expect.js';

/** An fd number no case has open (the same one open-close uses for 'never open'). */
const NOT_OPEN = 1_000_000;

export const syncTruncateCases: ConformanceCase[] = [
  {
    name: 'fsync: a file written through the queue syncs and resolves undefined',
    needs: ['open', 'write', 'fsync', 'close'],
    async run(t) {
      const path = t.path('fsync.bin');
      const data = pattern(65_536, 31);
      const q = t.queue();
      await withFd(q, path, 'w', async (fd) => {
        assert.equal(await q.write(fd, data, 0, data.length, 0), data.length);
        assert.equal(await q.fsync(fd), undefined);
      });
      assert.ok(readFileSync(path).equals(data));
    },
  },
  {
    name: 'fdatasync: a file written through the queue syncs and resolves undefined',
    needs: ['open', 'write', 'fdatasync', 'close'],
    async run(t) {
      const path = t.path('fdatasync.bin');
      const data = pattern(65_536, 32);
      const q = t.queue();
      await withFd(q, path, 'w', async (fd) => {
        assert.equal(await q.write(fd, data, 0, data.length, 0), data.length);
        assert.equal(await q.fdatasync(fd), undefined);
      });
      assert.ok(readFileSync(path).equals(data));
    },
  },
  {
    name: 'fsync: an fd that is not open rejects with EBADF',
    needs: ['fsync'],
    async run(t) {
      const q = t.queue();
      await rejectsWith(q.fsync(NOT_OPEN), { code: 'EBADF', syscall: 'fsync' });
    },
  },
  {
    name: 'fdatasync: an fd that is not open rejects with EBADF',
    needs: ['fdatasync'],
    async run(t) {
      const q = t.queue();
      await rejectsWith(q.fdatasync(NOT_OPEN), { code: 'EBADF', syscall: 'fdatasync' });
    },
  },
  {
    name: 'ftruncate: a shorter length cuts the file there and keeps the start',
    needs: ['open', 'ftruncate', 'close'],
    async run(t) {
      const path = fixture(t, 'shrink.txt', 'abcdefghij');
      const q = t.queue();
      await withFd(q, path, 'r+', async (fd) => {
        assert.equal(await q.ftruncate(fd, 4), undefined);
      });
      assert.equal(readFileSync(path, 'utf8'), 'abcd');
    },
  },
  {
    name: 'ftruncate: a longer length extends the file with zeros',
    needs: ['open', 'ftruncate', 'close'],
    async run(t) {
      const path = fixture(t, 'extend.bin', 'abc');
      const q = t.queue();
      await withFd(q, path, 'r+', (fd) => q.ftruncate(fd, 70_000));
      const data = readFileSync(path);
      assert.equal(data.length, 70_000);
      assert.equal(data.subarray(0, 3).toString(), 'abc');
      assert.ok(
        data.subarray(3).every((b) => b === 0),
        'the extension reads as zeros',
      );
    },
  },
  {
    name: 'ftruncate: without a length the file is emptied',
    needs: ['open', 'ftruncate', 'close'],
    async run(t) {
      const path = fixture(t, 'empty-me.txt', 'some content');
      const q = t.queue();
      await withFd(q, path, 'r+', (fd) => q.ftruncate(fd));
      assert.equal(statSync(path).size, 0);
    },
  },
  {
    name: 'ftruncate: the file offset stays where it was, so a later write leaves a hole',
    needs: ['open', 'write', 'ftruncate', 'close'],
    async run(t) {
      const path = t.path('offset.bin');
      const q = t.queue();
      await withFd(q, path, 'w', async (fd) => {
        assert.equal(await q.write(fd, Buffer.from('abcdef')), 6);
        await q.ftruncate(fd, 2);
        assert.equal(await q.write(fd, Buffer.from('Z')), 1);
      });
      assert.deepEqual([...readFileSync(path)], [0x61, 0x62, 0, 0, 0, 0, 0x5a]);
    },
  },
  {
    name: 'ftruncate: a read-only fd rejects and the file keeps its size',
    needs: ['open', 'ftruncate', 'close'],
    async run(t) {
      const path = fixture(t, 'ro.txt', 'read only');
      const q = t.queue();
      await withFd(q, path, 'r', async (fd) => {
        // POSIX says EINVAL (some systems EBADF); Windows reports access denied as EPERM.
        await rejectsWith(q.ftruncate(fd, 2), { code: ['EINVAL', 'EBADF', 'EPERM'], syscall: 'ftruncate' });
      });
      assert.equal(readFileSync(path, 'utf8'), 'read only');
    },
  },
];
