// npm's install step for @proactor/aio-epoll (package.json "install"). Keeps the prebuilt addon
// when one for this platform, architecture and libc loads here; otherwise builds the addon from
// the native sources the package ships, with cmake-js, into build/Release (where the loader looks
// first). `npm rebuild @proactor/aio-epoll --build-from-source` forces the build.
//
// In the repository (no native/ next to CMakeLists.txt) it does nothing: `pnpm build` builds there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

if (!existsSync(join(packageDir, 'native', 'include', 'proactor', 'abi.h'))) process.exit(0);

const libc = process.report?.getReport()?.header?.glibcVersionRuntime === undefined ? 'musl' : 'glibc';
const target = `${process.platform}-${process.arch} (${libc}, Node-API 8)`;
const prebuilds = join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`);

/** Why the prebuilt binary is not used, or undefined when it loads. */
function prebuiltProblem() {
  if (process.env.npm_config_build_from_source === 'true') return 'a build from source was asked for';
  let path;
  try {
    path = require('node-gyp-build').path(packageDir);
  } catch {
    return `no prebuilt binary for it in ${prebuilds}`;
  }
  try {
    require(path);
    return undefined;
  } catch (error) {
    return `the prebuilt ${path} does not load here: ${String(error.message).split('\n')[0]}`;
  }
}

function onPath(names) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return names.some((name) => dirs.some((dir) => existsSync(join(dir, name))));
}

const problem = prebuiltProblem();
if (problem === undefined) process.exit(0);

const missing = [];
if (!onPath(['cmake'])) missing.push('cmake');
if (!onPath(['make', 'ninja'])) missing.push('make (or ninja)');
if (!(process.env.CXX && existsSync(process.env.CXX)) && !onPath(['c++', 'g++', 'clang++']))
  missing.push('a C++17 compiler (g++ 8 or clang 7 and later)');
let failure;
if (missing.length > 0) failure = `${missing.join(', ')} not found on PATH`;
else {
  process.stderr.write(
    `@proactor/aio-epoll: ${problem}; building the epoll addon from source for ${target}\n`,
  );
  const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');
  const build = spawnSync(process.execPath, [cmakeJs, 'compile', '--parallel', '2'], {
    cwd: packageDir,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status === 0) process.exit(0);
  failure = build.error
    ? build.error.message
    : `cmake-js exited with status ${build.status} (its output is above)`;
}
process.stderr.write(
  `@proactor/aio-epoll: no epoll addon for ${target}: ${problem}, and building it from the shipped sources failed (${failure}). ` +
    'Install cmake, make and a C++17 compiler, then run `npm rebuild @proactor/aio-epoll`; ' +
    'or depend on @proactor/aio alone, which falls back to another backend.\n',
);
process.exit(1);
