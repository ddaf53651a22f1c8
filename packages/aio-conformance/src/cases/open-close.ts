import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { ConformanceCase } from '../case.js';
import { fixture, rejectsWith, throwsArgError } from './expect.js';
import { instrument } from './instrumented-backend.js';
import { underWine } from './wine.js';

const isWindows = process.platform === 'win32';

export const openCloseCases: ConformanceCase[] = [
  {
    name: 'open: an existing file opens for reading and its fd reads the content',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'a.txt', 'hello');
      const q = t.queue();
      const fd = await q.open(path, 'r');
      assert.ok(Number.isInteger(fd) && fd >= 0, `fd ${fd}`);
      const buf = Buffer.alloc(5);
      assert.equal(await q.read(fd, buf, 0, 5, 0), 5);
      assert.equal(buf.toString(), 'hello');
      await q.close(fd);
    },
  },
  {
    name: 'open: a missing file rejects with ENOENT naming the syscall and path',
    needs: ['open'],
    async run(t) {
      const q = t.queue();
      const path = t.path('missing.txt');
      await rejectsWith(q.open(path, 'r'), { code: 'ENOENT', syscall: 'open', path });
    },
  },
  {
    name: "open: 'wx' on an existing file rejects with EEXIST",
    needs: ['open'],
    async run(t) {
      const path = fixture(t, 'exists.txt', 'x');
      const q = t.queue();
      await rejectsWith(q.open(path, 'wx'), { code: 'EEXIST', syscall: 'open', path });
    },
  },
  {
    name: "open: 'w' creates a missing file and truncates an existing one",
    needs: ['open', 'close'],
    async run(t) {
      const q = t.queue();
      const created = t.path('new.txt');
      await q.close(await q.open(created, 'w'));
      assert.equal(statSync(created).size, 0);
      const existing = fixture(t, 'old.txt', 'previous content');
      await q.close(await q.open(existing, 'w'));
      assert.equal(statSync(existing).size, 0);
    },
  },
  {
    name: "open: 'a' makes every write land at the end of the file",
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = fixture(t, 'log.txt', 'one\n');
      const q = t.queue();
      const fd = await q.open(path, 'a');
      await q.write(fd, Buffer.from('two\n'));
      await q.write(fd, Buffer.from('three\n'));
      await q.close(fd);
      assert.equal(readFileSync(path, 'utf8'), 'one\ntwo\nthree\n');
    },
  },
  {
    name: 'open: numeric flags from fs.constants work like their string forms',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = t.path('numeric.txt');
      const q = t.queue();
      const fd = await q.open(path, constants.O_CREAT | constants.O_WRONLY | constants.O_TRUNC, 0o644);
      assert.equal(await q.write(fd, Buffer.from('abc')), 3);
      await q.close(fd);
      assert.equal(readFileSync(path, 'utf8'), 'abc');
    },
  },
  {
    name: 'open: the mode of a created file is applied (less the umask)',
    needs: ['open', 'close'],
    skip: () => (isWindows ? 'Windows has no POSIX permission bits' : undefined),
    async run(t) {
      const path = t.path('mode.txt');
      const q = t.queue();
      await q.close(await q.open(path, 'w', 0o600));
      assert.equal(statSync(path).mode & 0o777, 0o600 & ~process.umask());
    },
  },
  {
    name: 'open: a directory opened for writing rejects with EISDIR',
    needs: ['open'],
    skip: () =>
      underWine
        ? 'Wine opens a directory for writing (CreateFileW succeeds; Windows refuses: EISDIR from node:fs too)'
        : undefined,
    async run(t) {
      const q = t.queue();
      await rejectsWith(q.open(t.dir, 'r+'), {
        code: ['EISDIR', 'EPERM', 'EACCES'],
        syscall: 'open',
        path: t.dir,
      });
    },
  },
  {
    name: 'open: a path through a regular file rejects with ENOTDIR',
    needs: ['open'],
    async run(t) {
      const file = fixture(t, 'plain', 'x');
      const q = t.queue();
      const path = `${file}/child`;
      await rejectsWith(q.open(path, 'r'), { code: ['ENOTDIR', 'ENOENT'], syscall: 'open', path });
    },
  },
  {
    name: 'open: Buffer and file: URL paths open the same file as a string path',
    needs: ['open', 'fstat', 'close'],
    async run(t) {
      const path = fixture(t, 'same.txt', 'same');
      const q = t.queue();
      const fds = [await q.open(path), await q.open(Buffer.from(path)), await q.open(pathToFileURL(path))];
      const inodes = await Promise.all(fds.map(async (fd) => (await q.fstat(fd)).ino));
      assert.equal(new Set(inodes).size, 1);
      await Promise.all(fds.map((fd) => q.close(fd)));
    },
  },
  {
    name: 'open: a path with a NUL byte throws ERR_INVALID_ARG_VALUE and submits nothing',
    needs: ['open'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      throwsArgError(() => q.open(t.path('a\u0000b')), TypeError, 'ERR_INVALID_ARG_VALUE');
      throwsArgError(() => q.open(42 as unknown as string), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsArgError(() => q.open(t.path('x'), 'no-such-flag'), TypeError, 'ERR_INVALID_ARG_VALUE');
      await q.nop();
      assert.equal(counts.entries, 1, 'only the nop was submitted');
    },
  },
  {
    name: 'close: a closed fd can no longer be read (EBADF)',
    needs: ['open', 'close', 'read'],
    async run(t) {
      const path = fixture(t, 'c.txt', 'content');
      const q = t.queue();
      const fd = await q.open(path);
      await q.close(fd);
      await rejectsWith(q.read(fd, Buffer.alloc(4), 0, 4, 0), { code: 'EBADF', syscall: 'read' });
    },
  },
  {
    name: 'close: an fd that was never open rejects with EBADF',
    needs: ['close'],
    async run(t) {
      const q = t.queue();
      await rejectsWith(q.close(1_000_000), { code: 'EBADF', syscall: 'close' });
    },
  },
  {
    name: 'close: an fd opened by node:fs is closed through the queue',
    needs: ['close'],
    async run(t) {
      const path = fixture(t, 'shared.txt', 'x');
      const fd = openSync(path, 'r+');
      const q = t.queue();
      await q.close(fd);
      assert.throws(() => writeSync(fd, 'y'), { code: 'EBADF' });
      assert.throws(() => closeSync(fd), { code: 'EBADF' });
    },
  },
];
