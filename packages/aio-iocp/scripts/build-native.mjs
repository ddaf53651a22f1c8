// Builds the IOCP addon with cmake-js where it can run: on Windows, once the MSVC build is
// enabled (PROACTOR_IOCP_MSVC=1: it has not been verified yet, and it needs libuv's uv.h, which a
// Windows Node installation does not ship: -DPROACTOR_UV_INCLUDE). Elsewhere it says why it skips
// and succeeds, so `pnpm build` works on every machine; on Linux the addon is cross-built with
// mingw-w64 by scripts/windows-build.sh in the repository (and run under Wine by
// scripts/windows-test.sh).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

if (process.platform !== 'win32') {
  console.log(
    `aio-iocp: the IOCP addon builds on Windows only (this is ${process.platform}); skipped. ` +
      'Cross-build it for win32-x64 with scripts/windows-build.sh and test it under Wine with scripts/windows-test.sh.',
  );
  process.exit(0);
}
if (process.env.PROACTOR_IOCP_MSVC !== '1') {
  console.log(
    'aio-iocp: the MSVC build of the IOCP addon is not enabled yet (set PROACTOR_IOCP_MSVC=1 to try it); skipped. ' +
      'The addon is cross-built and tested from Linux: scripts/windows-build.sh, scripts/windows-test.sh.',
  );
  process.exit(0);
}

const require = createRequire(import.meta.url);
const cli = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cli, 'compile', '--parallel', '2'], {
  cwd: fileURLToPath(new URL('..', import.meta.url)),
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
