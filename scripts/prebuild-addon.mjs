// The packing step of a native backend package (its package.json "prepack"; "postpack" runs it
// with --clean), run in the package's directory:
//   node ../../scripts/prebuild-addon.mjs <addon> <engine> [--clean]
// e.g. `proactor_uring uring`. Copies the native sources an install can build from (include/,
// cmake/ — the shared install step native/cmake/install-addon.mjs among them —, common/ and the
// engine's directory under native/) next to CMakeLists.txt, for machines no prebuilt binary fits.
// Where the package serves this OS (its package.json "os"; never the Linux variant of aio-kqueue,
// which is for testing), it also builds the addon for this machine into
// prebuilds/<platform>-<arch>/<addon>.napi[.<libc>].node, the layout node-gyp-build reads.
// Prebuilds for other targets already in prebuilds/ (the release workflow downloads them there)
// are kept. Neither directory is committed (.gitignore).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [addon, engine] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!addon || !engine) {
  process.stderr.write('usage: prebuild-addon.mjs <addon> <engine directory under native/> [--clean]\n');
  process.exit(2);
}
const packageDir = process.cwd();
const repositoryNative = join(packageDir, '..', '..', 'native');
const shippedNative = join(packageDir, 'native');

if (process.argv.includes('--clean')) {
  if (existsSync(repositoryNative)) rmSync(shippedNative, { recursive: true, force: true });
  rmSync(join(packageDir, 'prebuilds'), { recursive: true, force: true });
  process.exit(0);
}

if (existsSync(repositoryNative)) {
  rmSync(shippedNative, { recursive: true, force: true });
  for (const part of ['include', 'cmake', 'common', engine]) {
    cpSync(join(repositoryNative, part), join(shippedNative, part), { recursive: true });
  }
}

const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const served = manifest.os ?? [];
if (!served.includes(process.platform)) {
  process.stderr.write(
    `prebuild: ${manifest.name} serves ${served.join(', ')}; no prebuild on ${process.platform}\n`,
  );
  process.exit(0);
}

const require = createRequire(join(packageDir, 'package.json'));
const out = join(packageDir, 'build', 'prebuild');
const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');
const build = spawnSync(
  process.execPath,
  [cmakeJs, 'compile', '--out', out, '--parallel', '2', '--CDPROACTOR_TEST_FIXTURES=OFF'],
  { cwd: packageDir, stdio: ['ignore', 'inherit', 'inherit'] },
);
if (build.status !== 0) process.exit(build.status ?? 1);

// The libc tag only where there are two (node-gyp-build matches it on Linux).
const libc =
  process.platform !== 'linux'
    ? ''
    : process.report.getReport().header.glibcVersionRuntime === undefined
      ? '.musl'
      : '.glibc';
const dir = join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const binary = join(dir, `${addon}.napi${libc}.node`);
copyFileSync(join(out, 'Release', `${addon}.node`), binary);
process.stdout.write(`prebuild: ${binary}\n`);
