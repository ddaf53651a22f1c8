// The build entry of @proactor/aio-epoll (`pnpm build`): the addon with cmake-js, then the
// TypeScript. epoll is Linux's: elsewhere the addon is skipped with one line saying so, and only
// the TypeScript is compiled (importing the package there throws a coded error).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const platform = process.env.PROACTOR_BUILD_PLATFORM || process.platform;

function run(script, args) {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: packageDir, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (platform === 'linux') {
  const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');
  run(cmakeJs, ['compile', '--parallel', '2', ...process.argv.slice(2)]);
} else {
  console.log(`@proactor/aio-epoll: skipping the epoll addon: epoll is Linux only (this is ${platform})`);
}
run(join(require.resolve('typescript/package.json'), '..', 'bin', 'tsc'), ['-b']);
