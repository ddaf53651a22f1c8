import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { ConformanceCase } from '../case.js';
import { fixture, rejectsWith } from './expect.js';

const isWindows = process.platform === 'win32';
const noPermissionBits = () => (isWindows ? 'Windows has no POSIX permission bits' : undefined);

export const directoryEntryCases: ConformanceCase[] = [
  // ---- unlink ----------------------------------------------------------------------------
  {
    name: 'unlink: a file is removed from its directory',
    needs: ['unlink'],
    async run(t) {
      const path = fixture(t, 'doomed.txt', 'x');
      const keep = fixture(t, 'keep.txt', 'y');
      const q = t.queue();
      assert.equal(await q.unlink(path), undefined);
      assert.equal(existsSync(path), false);
      assert.equal(existsSync(keep), true, 'only the named file is removed');
    },
  },
  {
    name: "unlink: a missing file rejects with ENOENT naming the path and syscall 'unlink'",
    needs: ['unlink'],
    async run(t) {
      const q = t.queue();
      const path = t.path('never-existed.txt');
      await rejectsWith(q.unlink(path), { code: 'ENOENT', syscall: 'unlink', path });
    },
  },
  {
    name: 'unlink: a directory rejects with EISDIR or EPERM and stays',
    needs: ['unlink'],
    async run(t) {
      const path = t.path('a-dir');
      mkdirSync(path);
      const q = t.queue();
      // Linux says EISDIR; macOS, the BSDs and Windows say EPERM (Windows may say EACCES).
      await rejectsWith(q.unlink(path), { code: ['EISDIR', 'EPERM', 'EACCES'], syscall: 'unlink', path });
      assert.equal(statSync(path).isDirectory(), true);
    },
  },

  // ---- rmdir -----------------------------------------------------------------------------
  {
    name: 'rmdir: an empty directory is removed',
    needs: ['rmdir'],
    async run(t) {
      const path = t.path('empty');
      mkdirSync(path);
      const q = t.queue();
      assert.equal(await q.rmdir(path), undefined);
      assert.equal(existsSync(path), false);
    },
  },
  {
    name: 'rmdir: a non-empty directory rejects with ENOTEMPTY and keeps its content',
    needs: ['rmdir'],
    async run(t) {
      const path = t.path('full');
      mkdirSync(path);
      fixture(t, 'full/inside.txt', 'content');
      const q = t.queue();
      // POSIX allows EEXIST for this too (AIX, Solaris).
      await rejectsWith(q.rmdir(path), { code: ['ENOTEMPTY', 'EEXIST'], syscall: 'rmdir', path });
      assert.deepEqual(readdirSync(path), ['inside.txt']);
    },
  },
  {
    name: "rmdir: a missing directory rejects with ENOENT naming the path and syscall 'rmdir'",
    needs: ['rmdir'],
    async run(t) {
      const q = t.queue();
      const path = t.path('no-dir');
      await rejectsWith(q.rmdir(path), { code: 'ENOENT', syscall: 'rmdir', path });
    },
  },
  {
    name: 'rmdir: a regular file rejects with ENOTDIR and stays',
    needs: ['rmdir'],
    async run(t) {
      const path = fixture(t, 'not-a-dir.txt', 'x');
      const q = t.queue();
      await rejectsWith(q.rmdir(path), { code: ['ENOTDIR', 'ENOENT'], syscall: 'rmdir', path });
      assert.equal(readFileSync(path, 'utf8'), 'x');
    },
  },

  // ---- rename ----------------------------------------------------------------------------
  {
    name: 'rename: a file moves to the new name with its content and identity',
    needs: ['rename'],
    async run(t) {
      const from = fixture(t, 'from.txt', 'moving');
      const ino = statSync(from).ino;
      const to = t.path('to.txt');
      const q = t.queue();
      assert.equal(await q.rename(from, to), undefined);
      assert.equal(existsSync(from), false);
      assert.equal(readFileSync(to, 'utf8'), 'moving');
      assert.equal(statSync(to).ino, ino, 'the same file, not a copy');
    },
  },
  {
    name: 'rename: an existing target file is replaced',
    needs: ['rename'],
    async run(t) {
      const from = fixture(t, 'new.txt', 'new content');
      const to = fixture(t, 'old.txt', 'old content that is longer');
      const q = t.queue();
      await q.rename(from, to);
      assert.equal(readFileSync(to, 'utf8'), 'new content');
      assert.deepEqual(readdirSync(t.dir), ['old.txt']);
    },
  },
  {
    name: 'rename: a directory moves with its content',
    needs: ['rename'],
    async run(t) {
      mkdirSync(t.path('src'));
      fixture(t, 'src/child.txt', 'child');
      const q = t.queue();
      await q.rename(t.path('src'), t.path('dst'));
      assert.equal(existsSync(t.path('src')), false);
      assert.equal(readFileSync(t.path('dst/child.txt'), 'utf8'), 'child');
    },
  },
  {
    name: 'rename: a missing source rejects with ENOENT carrying path, dest and "-> \'dest\'"',
    needs: ['rename'],
    async run(t) {
      const from = t.path('ghost.txt');
      const to = t.path('target.txt');
      const q = t.queue();
      const error = await rejectsWith(q.rename(from, to), {
        code: 'ENOENT',
        syscall: 'rename',
        path: from,
        dest: to,
      });
      assert.ok(error.message.includes(`'${from}' -> '${to}'`), error.message);
      assert.equal(existsSync(to), false);
    },
  },

  // ---- mkdir -----------------------------------------------------------------------------
  {
    name: 'mkdir: a directory is created, empty',
    needs: ['mkdir'],
    async run(t) {
      const path = t.path('made');
      const q = t.queue();
      assert.equal(await q.mkdir(path), undefined);
      assert.equal(statSync(path).isDirectory(), true);
      assert.deepEqual(readdirSync(path), []);
    },
  },
  {
    name: 'mkdir: the mode is applied, less the umask',
    needs: ['mkdir'],
    skip: noPermissionBits,
    async run(t) {
      const path = t.path('private');
      const q = t.queue();
      await q.mkdir(path, 0o710);
      assert.equal(statSync(path).mode & 0o777, 0o710 & ~process.umask());
    },
  },
  {
    name: 'mkdir: the options form { mode } creates the directory with that mode',
    needs: ['mkdir'],
    async run(t) {
      const path = t.path('with-options');
      const q = t.queue();
      await q.mkdir(path, { mode: 0o750 });
      const s = statSync(path);
      assert.equal(s.isDirectory(), true);
      if (!isWindows) assert.equal(s.mode & 0o777, 0o750 & ~process.umask());
    },
  },
  {
    name: 'mkdir: a mode given as an octal string is applied like the number',
    needs: ['mkdir'],
    skip: noPermissionBits,
    async run(t) {
      const path = t.path('string-mode');
      const q = t.queue();
      await q.mkdir(path, '700');
      assert.equal(statSync(path).mode & 0o777, 0o700 & ~process.umask());
    },
  },
  {
    name: "mkdir: an existing path rejects with EEXIST naming the path and syscall 'mkdir'",
    needs: ['mkdir'],
    async run(t) {
      const q = t.queue();
      const dir = t.path('exists');
      mkdirSync(dir);
      await rejectsWith(q.mkdir(dir), { code: 'EEXIST', syscall: 'mkdir', path: dir });
      const file = fixture(t, 'file.txt', 'x');
      await rejectsWith(q.mkdir(file), { code: 'EEXIST', syscall: 'mkdir', path: file });
      assert.equal(readFileSync(file, 'utf8'), 'x');
    },
  },
  {
    name: 'mkdir: a missing parent rejects with ENOENT (mkdir is not recursive)',
    needs: ['mkdir'],
    async run(t) {
      const q = t.queue();
      const path = t.path('no-parent/child');
      await rejectsWith(q.mkdir(path), { code: 'ENOENT', syscall: 'mkdir', path });
      assert.equal(existsSync(t.path('no-parent')), false);
    },
  },
];
