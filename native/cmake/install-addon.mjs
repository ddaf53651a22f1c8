// npm's install step of every native proactor package, shipped in the package's native/ (the
// package's scripts/install.mjs runs it when present). On an OS the package does not serve
// (package.json "os": npm refuses a direct install there, but an install with --force, or an
// optional dependency resolved by hand, still runs this) it prints one line and succeeds: the
// package's import then says why it cannot load. Otherwise it keeps the prebuilt addon when one
// for this platform, architecture and libc loads here, and else builds the addon from the native
// sources the package ships, with cmake-js, into build/Release (where the loader looks first).
// `npm rebuild <package> --build-from-source` forces the build.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// This file is <package>/native/cmake/install-addon.mjs.
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(join(packageDir, 'package.json'));
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const name = manifest.name;
const served = manifest.os ?? [];

if (!served.includes(process.platform)) {
  process.stdout.write(
    `${name}: serves ${served.join(', ')} only: no addon to build on ${process.platform}\n`,
  );
  process.exit(0);
}

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
  process.stderr.write(`${name}: ${problem}; building the addon from source for ${target}\n`);
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
  `${name}: no addon for ${target}: ${problem}, and building it from the shipped sources failed (${failure}). ` +
    `Install cmake, make and a C++17 compiler, then run \`npm rebuild ${name}\`; ` +
    'or depend on @proactor/aio alone, which falls back to another backend.\n',
);
process.exit(1);
