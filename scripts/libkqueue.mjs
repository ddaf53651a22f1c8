#!/usr/bin/env node
// libkqueue for the Linux variant of @proactor/aio-kqueue: `node scripts/libkqueue.mjs` builds it
// with CMake into a cache directory outside the repository and prints where; a later run (and
// scripts/build-native.mjs) reuses what is there. Where no libkqueue source is available it
// prints one line saying so and succeeds: the kqueue-over-libkqueue step is then skipped.
//
// What it builds, first match wins:
// - PROACTOR_LIBKQUEUE=<dir>: an installed libkqueue (<dir>/include/kqueue/sys/event.h and
//   <dir>/lib/libkqueue.a), used as it is;
// - PROACTOR_LIBKQUEUE=<file.tar.gz>: that source tarball;
// - the project's pinned tarball, vendor/libkqueue-f966089.tar.gz in the "shared" directory
//   next to the repository, looked for next to this checkout, next to the main checkout of a
//   git worktree, and next to the repository a clone was made from (a local `origin`).
// The cache is $XDG_CACHE_HOME/proactor (default ~/.cache/proactor)/libkqueue-<version>/, a
// static, position-independent libkqueue.a (linked into the addon: nothing to find at run time)
// and its headers. It is filled under a temporary name and renamed when complete, so a present
// directory is a complete build.
//
// The sources stay where they are: nothing of libkqueue is copied into the project.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const LIBKQUEUE_TARBALL = 'libkqueue-f966089.tar.gz';
const repository = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Whether `dir` holds an installed libkqueue: the header and the static library. */
function isInstalled(dir) {
  return (
    existsSync(join(dir, 'include', 'kqueue', 'sys', 'event.h')) &&
    existsSync(join(dir, 'lib', 'libkqueue.a'))
  );
}

function cacheRoot() {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'proactor');
}

/** The cache directory a tarball builds into: libkqueue-<version> from its file name. */
function cachePrefix(tarball) {
  return join(cacheRoot(), basename(tarball).replace(/\.(tar\.gz|tgz)$/, ''));
}

function git(...args) {
  const run = spawnSync('git', args, { cwd: repository, encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/** The places the pinned tarball is looked for, in order. */
function tarballCandidates() {
  const roots = [repository];
  const common = git('rev-parse', '--path-format=absolute', '--git-common-dir');
  if (common !== undefined) roots.push(dirname(common));
  const origin = git('config', '--get', 'remote.origin.url');
  if (origin !== undefined && !/^[\w+.-]+:\/\/|^[^/]+@[^/]+:/.test(origin)) {
    const local = origin.startsWith('file://') ? fileURLToPath(origin) : resolve(repository, origin);
    roots.push(basename(local) === '.git' ? dirname(local) : local);
  }
  return [...new Set(roots)].map((root) => join(root, '..', 'shared', 'vendor', LIBKQUEUE_TARBALL));
}

/** Where a libkqueue source tarball is, or why there is none: `{ tarball }` or `{ reason }`. */
function findTarball() {
  const given = process.env.PROACTOR_LIBKQUEUE;
  if (given) {
    if (existsSync(given) && statSync(given).isFile()) return { tarball: resolve(given) };
    return { reason: `PROACTOR_LIBKQUEUE=${given} is neither an installed libkqueue nor a tarball` };
  }
  const candidates = tarballCandidates();
  const tarball = candidates.find((path) => existsSync(path));
  if (tarball !== undefined) return { tarball };
  return {
    reason: `no ${LIBKQUEUE_TARBALL} (looked in ${candidates.map((path) => dirname(path)).join(', ')}; set PROACTOR_LIBKQUEUE to a tarball or an installed prefix)`,
  };
}

/**
 * A built libkqueue, without building one: `{ prefix }`, or `{ reason }` saying what is missing.
 */
export function findLibkqueue() {
  const given = process.env.PROACTOR_LIBKQUEUE;
  if (given && isInstalled(given)) return { prefix: resolve(given) };
  const source = findTarball();
  if (source.tarball === undefined) return { reason: source.reason };
  const prefix = cachePrefix(source.tarball);
  if (isInstalled(prefix)) return { prefix };
  return { reason: `${prefix} is not built yet (node scripts/libkqueue.mjs builds it)` };
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status === 0) return;
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
  throw new Error(
    `${command} ${args.join(' ')} failed (${result.error?.message ?? `status ${result.status}`})\n${output}`,
  );
}

/** Builds the tarball's libkqueue into its cache directory (static, PIC) and returns that. */
function build(tarball) {
  const prefix = cachePrefix(tarball);
  mkdirSync(dirname(prefix), { recursive: true });
  const work = mkdtempSync(`${prefix}.building-`);
  try {
    run('tar', ['xzf', tarball, '-C', work], work);
    const source = join(work, 'libkqueue');
    if (!existsSync(join(source, 'CMakeLists.txt')))
      throw new Error(`${tarball} has no libkqueue/CMakeLists.txt`);
    const staged = join(work, 'prefix');
    run(
      'cmake',
      [
        '-S',
        source,
        '-B',
        join(work, 'build'),
        '-DCMAKE_BUILD_TYPE=Release',
        '-DENABLE_SHARED=OFF',
        '-DENABLE_STATIC=ON',
        '-DCMAKE_POSITION_INDEPENDENT_CODE=ON',
        `-DCMAKE_INSTALL_PREFIX=${staged}`,
        '-DCMAKE_INSTALL_LIBDIR=lib',
      ],
      work,
    );
    run('cmake', ['--build', join(work, 'build'), '--parallel', '2'], work);
    run('cmake', ['--install', join(work, 'build')], work);
    if (!isInstalled(staged)) throw new Error(`the install in ${staged} lacks event.h or libkqueue.a`);
    try {
      renameSync(staged, prefix);
    } catch (error) {
      // Another build finished first: its result is as good as ours.
      if (!isInstalled(prefix)) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return prefix;
}

function main() {
  if (process.platform !== 'linux') {
    process.stdout.write(`libkqueue: not needed on ${process.platform} (kqueue is the system's)\n`);
    return 0;
  }
  const found = findLibkqueue();
  if (found.prefix !== undefined) {
    process.stdout.write(`libkqueue: ${found.prefix} (built before)\n`);
    return 0;
  }
  const source = findTarball();
  if (source.tarball === undefined) {
    process.stdout.write(`libkqueue: skipped, ${source.reason}\n`);
    return 0;
  }
  const started = performance.now();
  const prefix = build(source.tarball);
  process.stdout.write(
    `libkqueue: built ${basename(source.tarball)} into ${prefix} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main();
}
