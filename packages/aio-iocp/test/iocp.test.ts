// The IOCP backend: where it cannot load, one coded error that says why; on Windows, the whole
// conformance suite (scripts/windows-test.sh runs the same suite under Wine from Linux).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe.skipIf(process.platform === 'win32')('outside Windows', () => {
  it('fails to import with ERR_PROACTOR_IOCP_UNAVAILABLE naming the platform and the fallback', () => {
    const url = pathToFileURL(`${packageDir}/dist/index.js`).href;
    const script = `import(${JSON.stringify(url)}).then(
  () => console.log(JSON.stringify({ loaded: true })),
  (e) => console.log(JSON.stringify({ code: e.code, message: e.message })),
);`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim());
    expect(result.code).toBe('ERR_PROACTOR_IOCP_UNAVAILABLE');
    expect(result.message).toContain(`this is ${process.platform}`);
    expect(result.message).toContain('@proactor/aio');
  });
});

// On Windows, with the addon built (the MSVC build is opt-in so far: scripts/build-native.mjs).
const built = existsSync(join(packageDir, 'build', 'Release', 'aio_iocp.node'));
if (process.platform === 'win32' && !built) {
  describe('on Windows without the addon', () => {
    it.skip('the conformance suite (the IOCP addon is not built here: PROACTOR_IOCP_MSVC=1 pnpm build)', () => {});
  });
} else if (process.platform === 'win32') {
  const { conformance } = await import('@proactor/aio-conformance/vitest');
  await conformance('@proactor/aio-iocp', packageDir);
}
