// The packing step of every native package (its package.json "prepack" runs
// `node ../../scripts/prebuild-addon.mjs`, "postpack" the same with --clean), in the package's
// directory. Where the package serves this OS (scripts/build-native.mjs; never the Linux variant
// of aio-kqueue, which is for testing), it builds the addon for this machine into
// prebuilds/<platform>-<arch>/<addon>.napi.<libc>.node, the layout node-gyp-build reads, and it
// always copies the repository's native/ sources next to the package's CMakeLists.txt, so an
// installed package can build the addon itself when no prebuilt binary fits (its install step,
// native/cmake/install-addon.mjs, is among them). Prebuilds for other targets already in
// prebuilds/ (the release workflow downloads them there) are kept. Neither directory is committed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = process.cwd();
const repositoryNative = fileURLToPath(new URL('../native', import.meta.url));
const shippedNative = join(packageDir, 'native');
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));

if (process.argv.includes('--clean')) {
  rmSync(shippedNative, { recursive: true, force: true });
  rmSync(join(packageDir, 'prebuilds'), { recursive: true, force: true });
  process.exit(0);
}

// The sources an install builds from: everything under native/ but other OSes' engines.
const foreign = {
  linux: ['iocp', 'kqueue'],
  darwin: ['iocp', 'uring'],
  freebsd: ['iocp', 'uring'],
  win32: ['uring'],
};
const served = manifest.os ?? [];
const leftOut = ['iocp', 'kqueue', 'uring'].filter((engine) =>
  served.every((os) => foreign[os]?.includes(engine)),
);
rmSync(shippedNative, { recursive: true, force: true });
cpSync(repositoryNative, shippedNative, {
  recursive: true,
  filter: (source) =>
    !leftOut.some((engine) => source.slice(repositoryNative.length).split(/[\\/]/)[1] === engine),
});

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

const addons = readdirSync(join(out, 'Release')).filter((name) => name.endsWith('.node'));
if (addons.length !== 1) {
  process.stderr.write(
    `prebuild: expected one addon in ${join(out, 'Release')}, found ${addons.join(', ') || 'none'}\n`,
  );
  process.exit(1);
}
const libc =
  process.platform !== 'linux'
    ? undefined
    : process.report.getReport().header.glibcVersionRuntime === undefined
      ? 'musl'
      : 'glibc';
const dir = join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const binary = join(dir, `${addons[0].replace(/\.node$/, '')}.napi${libc ? `.${libc}` : ''}.node`);
copyFileSync(join(out, 'Release', addons[0]), binary);
process.stdout.write(`prebuild: ${binary}\n`);
