#!/usr/bin/env node
// The build entry of every native package (its package.json "build" runs
// `node ../../scripts/build-native.mjs && tsc -b` in the package's directory): builds the
// package's addon with cmake-js where the package serves this OS, and elsewhere prints one line
// saying why not and succeeds, so that `pnpm build` works on Linux, macOS, FreeBSD and Windows
// alike. Arguments are passed on to `cmake-js compile`.
//
// Which OS a package serves is its package.json "os" (the field npm also checks on install).
// One exception: @proactor/aio-kqueue also builds on Linux, against libkqueue (the kqueue API
// over epoll), when scripts/libkqueue.mjs has built one or PROACTOR_LIBKQUEUE names one; that
// variant exists to run the kqueue engine here, not to ship.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findLibkqueue } from './libkqueue.mjs';

/**
 * Whether the native package in `packageDir` builds its addon on `platform`, and how:
 * `{ build: true, cmakeArgs }` (extra cmake-js arguments) or `{ build: false, reason }`.
 */
export function nativeBuildPlan(packageDir, platform = process.platform) {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const served = manifest.os ?? [];
  // @proactor/aio-iocp's MSVC build has not been verified yet (its addon is cross-built with
  // mingw-w64 by scripts/windows-build.sh and tested under Wine): on Windows it is opt-in.
  if (
    manifest.name === '@proactor/aio-iocp' &&
    platform === 'win32' &&
    process.env.PROACTOR_IOCP_MSVC !== '1'
  )
    return {
      build: false,
      reason: `${manifest.name}: its MSVC build is not enabled yet (PROACTOR_IOCP_MSVC=1 tries it); cross-build it with scripts/windows-build.sh`,
    };
  if (served.includes(platform)) return { build: true, cmakeArgs: [] };
  const only = `${manifest.name} serves ${served.join(', ')} (package.json "os")`;
  if (manifest.name === '@proactor/aio-kqueue' && platform === 'linux') {
    const libkqueue = findLibkqueue();
    if (libkqueue.prefix !== undefined)
      return { build: true, cmakeArgs: [`--CDPROACTOR_LIBKQUEUE=${libkqueue.prefix}`] };
    return {
      build: false,
      reason: `${only}; its Linux variant needs libkqueue: ${libkqueue.reason}`,
    };
  }
  return { build: false, reason: `${only}: no addon to build on ${platform}` };
}

function main() {
  const packageDir = process.cwd();
  const plan = nativeBuildPlan(packageDir);
  if (!plan.build) {
    process.stdout.write(`skipped: ${plan.reason}\n`);
    return 0;
  }
  const require = createRequire(join(packageDir, 'package.json'));
  const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');
  const build = spawnSync(
    process.execPath,
    [cmakeJs, 'compile', '--parallel', '2', ...plan.cmakeArgs, ...process.argv.slice(2)],
    { cwd: packageDir, stdio: 'inherit' },
  );
  if (build.error) process.stderr.write(`build-native: ${build.error.message}\n`);
  return build.status ?? 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main();
}
