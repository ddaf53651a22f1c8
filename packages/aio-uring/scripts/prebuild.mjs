// Packing step (package.json "prepack"; "postpack" runs it with --clean). Builds the addon for
// this machine into prebuilds/<platform>-<arch>/proactor_uring.napi.<libc>.node, the layout
// node-gyp-build reads, and copies the repository's native/ sources next to CMakeLists.txt so an
// installed package can build the addon itself when no prebuilt binary fits. Prebuilds for other
// targets already in prebuilds/ (the release workflow downloads them there) are kept.
// Neither directory is committed (.gitignore).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repositoryNative = join(packageDir, '..', '..', 'native');
const shippedNative = join(packageDir, 'native');

if (process.argv.includes('--clean')) {
  if (existsSync(repositoryNative)) rmSync(shippedNative, { recursive: true, force: true });
  rmSync(join(packageDir, 'prebuilds'), { recursive: true, force: true });
  process.exit(0);
}
if (process.platform !== 'linux') {
  process.stderr.write(`prebuild: io_uring is Linux only; nothing to build on ${process.platform}\n`);
  process.exit(0);
}

const require = createRequire(import.meta.url);
const out = join(packageDir, 'build', 'prebuild');
const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');
const build = spawnSync(
  process.execPath,
  [cmakeJs, 'compile', '--out', out, '--parallel', '2', '--CDPROACTOR_TEST_FIXTURES=OFF'],
  { cwd: packageDir, stdio: ['ignore', 'inherit', 'inherit'] },
);
if (build.status !== 0) process.exit(build.status ?? 1);

const libc = process.report.getReport().header.glibcVersionRuntime === undefined ? 'musl' : 'glibc';
const dir = join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const binary = join(dir, `proactor_uring.napi.${libc}.node`);
copyFileSync(join(out, 'Release', 'proactor_uring.node'), binary);
process.stdout.write(`prebuild: ${binary}\n`);

// The sources an install builds from: everything under native/ but other engines' platforms.
if (existsSync(repositoryNative)) {
  rmSync(shippedNative, { recursive: true, force: true });
  cpSync(repositoryNative, shippedNative, {
    recursive: true,
    filter: (source) => !/[\\/](iocp|kqueue)([\\/]|$)/.test(source.slice(repositoryNative.length)),
  });
}
