import assert from 'node:assert/strict';
import {
  chmodSync,
  closeSync,
  existsSync,
  type Stats as FsStats,
  fstatSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Completion, Queue, Stats } from '@proactor/aio-core';
import type { ConformanceCase } from '../case.js';
import { fixture, rejectsWith } from './expect.js';

const isWindows = process.platform === 'win32';

/**
 * Why this system cannot make a symbolic link, found by making one, or undefined. Windows needs a
 * privilege or developer mode (GitHub's runners have it); Wine 8 reports success and makes nothing.
 */
function probeSymlinks(): string | undefined {
  if (!isWindows) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'proactor-symlink-'));
  try {
    writeFileSync(join(dir, 'target'), '');
    try {
      symlinkSync(join(dir, 'target'), join(dir, 'link'), 'file');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return code === 'EPERM'
        ? 'symbolic links need a privilege or developer mode on Windows (symlinkSync: EPERM)'
        : `symlinkSync failed here (${String(code)})`;
    }
    const made = existsSync(join(dir, 'link')) && lstatSync(join(dir, 'link')).isSymbolicLink();
    return made ? undefined : 'symlinkSync succeeded but made no symbolic link (Wine 8 does that)';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let symlinkProbe: { reason: string | undefined } | undefined;
/** probeSymlinks(), once per process. */
function noSymlinks(): string | undefined {
  symlinkProbe ??= { reason: probeSymlinks() };
  return symlinkProbe.reason;
}

/** Two timestamps in ms agree to within a microsecond (both are derived from the same ns). */
function sameTime(actual: number, expected: number, field: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-3, `${field}: ${actual} vs ${expected}`);
}

/** Asserts `s` describes the same file, in the same state, as `expected` from node:fs. */
function assertSameFile(s: Stats, expected: FsStats): void {
  assert.equal(s.ino, expected.ino, 'ino');
  assert.equal(s.dev, expected.dev, 'dev');
  assert.equal(s.mode, expected.mode, 'mode');
  assert.equal(s.nlink, expected.nlink, 'nlink');
  assert.equal(s.uid, expected.uid, 'uid');
  assert.equal(s.gid, expected.gid, 'gid');
  assert.equal(s.size, expected.size, 'size');
  sameTime(s.mtimeMs, expected.mtimeMs, 'mtimeMs');
}

/** Waits, without relying on timing, until the queue holds a polled completion; returns it. */
async function nextPolled(q: Queue): Promise<Completion> {
  while (q.ready === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  let completion: Completion | undefined;
  assert.equal(
    q.drain((c) => {
      completion = c;
    }, 1),
    1,
  );
  return completion!;
}

export const statCases: ConformanceCase[] = [
  {
    name: 'stat: a file reports its size, isFile() and permission bits as fs.statSync does',
    needs: ['stat'],
    async run(t) {
      const path = fixture(t, 'file.txt', 'twelve bytes');
      if (!isWindows) chmodSync(path, 0o640);
      const q = t.queue();
      const s = await q.stat(path);
      const expected = statSync(path);
      assert.equal(s.size, 12);
      assert.equal(s.isFile(), true);
      assert.equal(s.isDirectory(), false);
      assert.equal(s.isSymbolicLink(), false);
      assert.equal(s.mode, expected.mode);
      if (!isWindows) assert.equal(s.mode & 0o777, 0o640);
    },
  },
  {
    name: 'stat: ino, dev, nlink, uid, gid and mtimeMs equal those of fs.statSync',
    needs: ['stat'],
    async run(t) {
      const path = fixture(t, 'ids.txt', 'x');
      const q = t.queue();
      const s = await q.stat(path);
      assertSameFile(s, statSync(path));
      assert.ok(s.ino > 0, 'a real inode number');
      assert.ok(s.blksize >= 0 && s.blocks >= 0);
    },
  },
  {
    name: 'stat: a directory reports isDirectory() and not isFile()',
    needs: ['stat'],
    async run(t) {
      const dir = t.path('sub');
      mkdirSync(dir);
      const q = t.queue();
      const s = await q.stat(dir);
      assert.equal(s.isDirectory(), true);
      assert.equal(s.isFile(), false);
      assert.equal(s.ino, statSync(dir).ino);
    },
  },
  {
    name: "stat: a missing path rejects with ENOENT naming the path and syscall 'stat'",
    needs: ['stat'],
    async run(t) {
      const q = t.queue();
      const path = t.path('nothing-here');
      await rejectsWith(q.stat(path), { code: 'ENOENT', syscall: 'stat', path });
    },
  },
  {
    name: 'stat: a path through a regular file rejects with ENOTDIR',
    needs: ['stat'],
    async run(t) {
      const file = fixture(t, 'plain', 'x');
      const q = t.queue();
      const path = `${file}/child`;
      // Windows reports a regular file used as a directory as ENOENT.
      await rejectsWith(q.stat(path), { code: ['ENOTDIR', 'ENOENT'], syscall: 'stat', path });
    },
  },
  {
    name: 'stat: a symbolic link is followed to its target',
    needs: ['stat'],
    skip: noSymlinks,
    async run(t) {
      const target = fixture(t, 'target.txt', 'the target content');
      const link = t.path('link');
      symlinkSync(target, link);
      const q = t.queue();
      const s = await q.stat(link);
      assert.equal(s.isFile(), true);
      assert.equal(s.isSymbolicLink(), false);
      assert.equal(s.size, 18);
      assert.equal(s.ino, statSync(target).ino);
    },
  },
  {
    name: 'lstat: a symbolic link reports the link itself, not its target',
    needs: ['lstat'],
    skip: noSymlinks,
    async run(t) {
      const target = fixture(t, 'target.txt', 'the target content');
      const link = t.path('link');
      symlinkSync(target, link);
      const q = t.queue();
      const s = await q.lstat(link);
      assert.equal(s.isSymbolicLink(), true);
      assert.equal(s.isFile(), false);
      assert.equal(s.size, Buffer.byteLength(target), 'a link is as long as the path it holds');
      assert.notEqual(s.ino, statSync(target).ino);
    },
  },
  {
    name: "lstat: a missing path rejects with ENOENT naming the path and syscall 'lstat'",
    needs: ['lstat'],
    async run(t) {
      const q = t.queue();
      const path = t.path('no-link');
      await rejectsWith(q.lstat(path), { code: 'ENOENT', syscall: 'lstat', path });
    },
  },
  {
    name: 'fstat: an open fd reports what fs.fstatSync reports for it',
    needs: ['open', 'fstat', 'close'],
    async run(t) {
      const path = fixture(t, 'fstat.txt', 'fstat content');
      const q = t.queue();
      const fd = await q.open(path, 'r');
      try {
        const s = await q.fstat(fd);
        assertSameFile(s, fstatSync(fd));
        assert.equal(s.isFile(), true);
      } finally {
        await q.close(fd);
      }
    },
  },
  {
    name: 'fstat: an fd that is not open rejects with EBADF',
    needs: ['fstat'],
    async run(t) {
      const q = t.queue();
      await rejectsWith(q.fstat(1_000_000), { code: 'EBADF', syscall: 'fstat' });
    },
  },
  {
    name: 'stat: atime, mtime, ctime and birthtime are Dates equal to the *Ms fields',
    needs: ['stat'],
    async run(t) {
      const path = fixture(t, 'dates.txt', 'x');
      const q = t.queue();
      const s = await q.stat(path);
      for (const field of ['atime', 'mtime', 'ctime', 'birthtime'] as const) {
        const date = s[field];
        assert.ok(date instanceof Date, `${field} is a Date`);
        assert.equal(date.getTime(), Math.floor(s[`${field}Ms`]), `${field} matches ${field}Ms`);
      }
      sameTime(s.mtime.getTime(), Math.floor(statSync(path).mtimeMs), 'mtime');
    },
  },
  {
    name: 'stat: the callback form delivers (null, Stats) for stat, lstat and fstat',
    needs: ['stat', 'lstat', 'fstat'],
    async run(t) {
      const path = fixture(t, 'cb.txt', 'callback');
      const q = t.queue();
      const viaCallback = (issue: (cb: (err: Error | null, s?: Stats) => void) => void) =>
        new Promise<Stats>((resolve, reject) => {
          issue((err, s) => {
            if (err) reject(err);
            else if (s === undefined) reject(new Error('no Stats delivered'));
            else resolve(s);
          });
        });
      const expected = statSync(path);
      assertSameFile(await viaCallback((cb) => q.stat(path, cb)), expected);
      assertSameFile(await viaCallback((cb) => q.lstat(path, cb)), expected);
      const fd = openSync(path, 'r');
      try {
        assertSameFile(await viaCallback((cb) => q.fstat(fd, cb)), expected);
      } finally {
        closeSync(fd);
      }
    },
  },
  {
    name: 'stat: the polled form carries the Stats in completion.stats for stat and fstat',
    needs: ['stat', 'fstat'],
    async run(t) {
      const path = fixture(t, 'polled.txt', 'polled stats');
      const expected = statSync(path);
      const q = t.queue();
      q.stat(path, { userData: 7 });
      const byPath = await nextPolled(q);
      assert.equal(byPath.userData, 7);
      assert.equal(byPath.result, 0);
      assert.ok(byPath.stats, 'completion.stats is set');
      assertSameFile(byPath.stats, expected);
      const fd = openSync(path, 'r');
      try {
        q.fstat(fd, { userData: 8 });
        const byFd = await nextPolled(q);
        assert.equal(byFd.userData, 8);
        assert.equal(byFd.result, 0);
        assert.ok(byFd.stats, 'completion.stats is set');
        assertSameFile(byFd.stats, expected);
      } finally {
        closeSync(fd);
      }
    },
  },
  {
    name: 'stat: a failed polled stat has a negative result, no stats, and errorOf() names it',
    needs: ['stat'],
    async run(t) {
      const q = t.queue();
      q.stat(t.path('absent'), { userData: 3 });
      const completion = await nextPolled(q);
      assert.equal(completion.userData, 3);
      assert.ok(completion.result < 0, `result ${completion.result}`);
      assert.equal(completion.stats, undefined);
      const error = q.errorOf(completion.result, 'stat');
      assert.equal(error.code, 'ENOENT');
      assert.equal(error.syscall, 'stat');
    },
  },
];
