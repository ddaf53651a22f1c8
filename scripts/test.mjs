#!/usr/bin/env node
// The test command: every package's vitest tests (the conformance suite among them, through the
// vitest adapter), then the conformance CLI against every backend this machine can run, then the
// differential runner (each native backend against aio-node). Ends with
// one line "N passed, N failed, N skipped" over all of it; exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeBuildPlan } from './build-native.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const totals = { passed: 0, failed: 0, skipped: 0 };
let broken = false;

// Native packages whose addon this OS does not build (scripts/build-native.mjs): vitest.config.ts
// leaves their tests out, and each counts here as one skip with its reason.
const nativePackages = readdirSync(join(root, 'packages'))
  .map((name) => join('packages', name))
  .filter((dir) => existsSync(join(root, dir, 'CMakeLists.txt')));
const builtHere = [];
for (const dir of nativePackages) {
  const plan = nativeBuildPlan(join(root, dir));
  if (plan.build) builtHere.push(dir);
  else {
    process.stdout.write(`skipped: the tests of ${dir}: ${plan.reason}\n`);
    totals.skipped += 1;
  }
}

/** Adds the summary line of a CLI run ("N passed, N failed, N skipped") to the totals and echoes it. */
function count(run) {
  process.stdout.write(run.stdout);
  const summary = run.stdout.match(/^(\d+) passed, (\d+) failed, (\d+) skipped$/m);
  if (!summary) broken = true;
  else {
    totals.passed += Number(summary[1]);
    totals.failed += Number(summary[2]);
    totals.skipped += Number(summary[3]);
  }
  if (run.status !== 0) broken = true;
}

// 1. vitest, all projects, with a JSON report to count from.
const out = mkdtempSync(join(tmpdir(), 'proactor-test-'));
const report = join(out, 'vitest.json');
const vitest = spawnSync(
  'pnpm',
  ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
  // pnpm is pnpm.cmd on Windows, which only a shell runs.
  { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' },
);
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  totals.passed += json.numPassedTests;
  totals.failed += json.numFailedTests;
  totals.skipped += json.numPendingTests + (json.numTodoTests ?? 0);
  if (json.numFailedTestSuites > 0 && json.numFailedTests === 0) broken = true;
} else broken = true;
if (vitest.status !== 0) broken = true;
rmSync(out, { recursive: true, force: true });

// 2. The conformance CLI in plain Node processes, one per backend built here, and one per other
// poller of a reactor package (a module whose default export is that backend).
const backends = [['node', 'packages/aio-node'], ...builtHere.map((dir) => [basename(dir), dir])];
const pollVariant = join(root, 'packages/aio-epoll/test/fixtures/poll-backend.mjs');
if (builtHere.some((dir) => basename(dir) === 'aio-epoll')) {
  backends.push(['aio-epoll over poll(2)', 'packages/aio-epoll', pollVariant]);
}
// The second pollers of the reactor (poll(2), and kqueue over libkqueue on Linux) share the
// engine that epoll's run proves under the full worker load; their runs start 50 loaded workers
// instead of 200 (each worker starts and stops a poller thread), to keep .ci/run's time down.
const secondPoller = (name, module) =>
  module !== undefined || (name === 'aio-kqueue' && process.platform === 'linux');
for (const [name, dir, module] of backends) {
  process.stdout.write(`\n== conformance CLI: ${name} ==\n`);
  const pkg = module ?? JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).name;
  const cli = spawnSync(
    process.execPath,
    [join(root, 'packages/aio-conformance/dist/cli.js'), pkg, '--quiet'],
    {
      cwd: join(root, dir),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: secondPoller(name, module) ? { ...process.env, PROACTOR_LOAD_WORKERS: '50' } : process.env,
    },
  );
  count(cli);
}

// 2b. aio-epoll's direct I/O cases once more with Linux AIO turned off: the thread-pool path they
// take where a seccomp filter blocks io_setup (the run above took Linux AIO where it is allowed).
if (builtHere.some((dir) => basename(dir) === 'aio-epoll')) {
  process.stdout.write('\n== conformance CLI: aio-epoll direct I/O with PROACTOR_EPOLL_LINUX_AIO=0 ==\n');
  const cli = spawnSync(
    process.execPath,
    [
      join(root, 'packages/aio-conformance/dist/cli.js'),
      '@proactor/aio-epoll',
      '--filter',
      'direct I/O',
      '--quiet',
    ],
    {
      cwd: join(root, 'packages/aio-epoll'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, PROACTOR_EPOLL_LINUX_AIO: '0' },
    },
  );
  count(cli);
}

// 3. Differential: random file and socket scripts (TCP over IPv4 and IPv6, unix stream sockets,
// UDP) on each native backend and on aio-node, every result compared; direct-I/O scripts (O_DIRECT)
// on io_uring and on the epoll reactor, whose Linux AIO path they exercise.
for (const [name, dir, module] of backends.filter(([n]) => n !== 'node')) {
  process.stdout.write(`\n== differential: ${name} vs node ==\n`);
  const pkg = module ?? JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).name;
  const diff = spawnSync(
    process.execPath,
    [
      join(root, 'packages/aio-conformance/dist/cli.js'),
      pkg,
      '--differential',
      '--against',
      '@proactor/aio-node',
      '--scripts',
      '10',
      '--kinds',
      dir === 'packages/aio-epoll' || dir === 'packages/aio-uring' ? 'files,direct,sockets' : 'files,sockets',
    ],
    { cwd: join(root, dir), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  count(diff);
}

if (broken && totals.failed === 0) {
  process.stdout.write('\na test run did not complete (see above): counting it as one failure\n');
  totals.failed += 1;
}
process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exitCode = totals.failed > 0 ? 1 : 0;
