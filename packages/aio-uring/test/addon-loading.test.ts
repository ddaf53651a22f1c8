// What a user sees when the package holds no addon for the machine: one message naming the
// target looked for, the places tried and what to do.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe.skipIf(process.platform !== 'linux')('an install without a usable addon', () => {
  it('fails to import with ERR_PROACTOR_URING_UNAVAILABLE saying what was looked for, where, and what to do', () => {
    dir = mkdtempSync(join(tmpdir(), 'proactor-no-addon-'));
    // The package as installed, minus build/ and prebuilds/.
    cpSync(join(packageDir, 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(packageDir, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(packageDir, 'node_modules'), join(dir, 'node_modules'));
    const script = `import(${JSON.stringify(pathToFileURL(join(dir, 'dist', 'index.js')).href)}).then(
  () => console.log(JSON.stringify({ loaded: true })),
  (e) => console.log(JSON.stringify({ code: e.code, message: e.message })),
);`;
    const env = { ...process.env };
    delete env.PROACTOR_URING_ADDON;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim());
    expect(result.code).toBe('ERR_PROACTOR_URING_UNAVAILABLE');
    expect(result.message).not.toContain('\n');
    expect(result.message).toContain(`no io_uring addon for linux-${process.arch} (`);
    expect(result.message).toContain(join(dir, 'build', 'Release'));
    expect(result.message).toContain(join(dir, 'prebuilds'));
    expect(result.message).toMatch(/install cmake, make and a C\+\+17 compiler/);
    expect(result.message).toContain('npm rebuild @proactor/aio-uring');
  });
});

describe.skipIf(!existsSync(join(packageDir, 'build', 'Release')))('the repository build', () => {
  it('resolves to the io_uring addon, not a test fixture built beside it', () => {
    // node-gyp-build takes the first *.node file in build/Release: fixtures live in a subdirectory.
    const gypBuild = createRequire(import.meta.url)('node-gyp-build') as { path(dir: string): string };
    expect(basename(gypBuild.path(packageDir))).toBe('proactor_uring.node');
  });
});
