// Each native package builds only on the OS it serves and says why it skips elsewhere, so that
// `pnpm install && pnpm build && pnpm test` works on every OS. Proven here by running each
// package's build entry (scripts/build-native.mjs) and its npm install step (scripts/install.mjs,
// in the layout an npm package has) with process.platform forced to another OS, and with no
// cmake or compiler on PATH: a skip succeeds with one line, anything else would fail.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { nativeBuildPlan } from '../build-native.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const buildEntry = join(root, 'scripts', 'build-native.mjs');
const platforms = ['linux', 'darwin', 'freebsd', 'win32'];
const nativePackages = readdirSync(join(root, 'packages'))
  .filter((name) => existsSync(join(root, 'packages', name, 'CMakeLists.txt')))
  .map((name) => {
    const dir = join(root, 'packages', name);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      os?: string[];
    };
    return { dir, name: manifest.name, os: manifest.os ?? [] };
  });

const temporary: string[] = [];
afterEach(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'proactor-platforms-'));
  temporary.push(dir);
  return dir;
}

/** Runs `script` with Node, process.platform forced to `platform`, PATH empty. */
function runAs(platform: string, script: string, cwd: string, env: Record<string, string> = {}) {
  const force = `data:text/javascript,Object.defineProperty(process,'platform',{value:${JSON.stringify(platform)}})`;
  const run = spawnSync(process.execPath, ['--import', force, script], {
    cwd,
    encoding: 'utf8',
    env: { HOME: process.env.HOME ?? tmpdir(), PATH: '', ...env },
    timeout: 30_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

it('finds the native packages', () => {
  expect(nativePackages.map((p) => p.name)).toContain('@proactor/aio-uring');
  for (const p of nativePackages) expect(p.os.length, `${p.name} has an "os" field`).toBeGreaterThan(0);
});

for (const pkg of nativePackages) {
  const others = platforms.filter((platform) => !pkg.os.includes(platform));

  describe(`${pkg.name}`, () => {
    it(`builds on the OS it serves (${pkg.os.join(', ')})`, () => {
      // aio-iocp's MSVC build is opt-in until it has been verified (see build-native.mjs).
      const optIn = pkg.name === '@proactor/aio-iocp';
      const before = process.env.PROACTOR_IOCP_MSVC;
      try {
        if (optIn) {
          delete process.env.PROACTOR_IOCP_MSVC;
          for (const platform of pkg.os)
            expect(nativeBuildPlan(pkg.dir, platform)).toMatchObject({
              build: false,
              reason: expect.stringContaining('PROACTOR_IOCP_MSVC=1'),
            });
          process.env.PROACTOR_IOCP_MSVC = '1';
        }
        for (const platform of pkg.os)
          expect(nativeBuildPlan(pkg.dir, platform)).toMatchObject({ build: true });
      } finally {
        if (before === undefined) delete process.env.PROACTOR_IOCP_MSVC;
        else process.env.PROACTOR_IOCP_MSVC = before;
      }
    });

    for (const platform of others) {
      it(`build entry on ${platform}: one line saying why, success, no build attempted`, () => {
        // An empty cache: the Linux variant of aio-kqueue then finds no built libkqueue.
        const run = runAs(platform, buildEntry, pkg.dir, {
          XDG_CACHE_HOME: tempDir(),
          PROACTOR_LIBKQUEUE: '',
        });
        expect(run.stderr).toBe('');
        expect(run.status).toBe(0);
        const lines = run.stdout.split('\n').filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(
          new RegExp(`^skipped: ${pkg.name} serves ${pkg.os.join(', ')} \\(package.json "os"\\)`),
        );
        expect(lines[0]).toMatch(
          platform === 'linux' && pkg.name === '@proactor/aio-kqueue'
            ? /libkqueue/
            : new RegExp(`on ${platform}$`),
        );
      });

      it(`npm install step on ${platform}: one line saying why, success`, () => {
        const installed = packedLayout(pkg.dir);
        const run = runAs(platform, join('scripts', 'install.mjs'), installed);
        expect(run.stderr).toBe('');
        expect(run.status).toBe(0);
        expect(run.stdout).toBe(
          `${pkg.name}: serves ${pkg.os.join(', ')} only: no addon to build on ${platform}\n`,
        );
      });
    }

    it.skipIf(!pkg.os.includes(process.platform))(
      `npm install step on ${process.platform}, which it serves: tries to build, and says what is missing`,
      () => {
        const run = runAs(process.platform, join('scripts', 'install.mjs'), packedLayout(pkg.dir));
        expect(run.status).toBe(1);
        expect(run.stderr).toMatch(/cmake, make \(or ninja\), a C\+\+17 compiler .* not found on PATH/);
      },
    );

    it('npm install step in the repository: nothing to do (pnpm build builds)', () => {
      const run = runAs(process.platform, join('scripts', 'install.mjs'), pkg.dir);
      expect([run.status, run.stdout, run.stderr]).toEqual([0, '', '']);
    });
  });
}

/** The files of the package that its install step reads, laid out as npm installs them. */
function packedLayout(packageDir: string): string {
  const dir = tempDir();
  cpSync(join(packageDir, 'package.json'), join(dir, 'package.json'));
  cpSync(join(packageDir, 'scripts', 'install.mjs'), join(dir, 'scripts', 'install.mjs'));
  mkdirSync(join(dir, 'native', 'cmake'), { recursive: true });
  cpSync(
    join(root, 'native', 'cmake', 'install-addon.mjs'),
    join(dir, 'native', 'cmake', 'install-addon.mjs'),
  );
  return dir;
}
