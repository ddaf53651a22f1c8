// The fallback on a real machine: with io_uring denied by a seccomp filter (what Docker's default
// profile does), createQueue() selects epoll, and explain() says why io_uring was skipped. The
// filter comes from aio-uring's deny_io_uring test helper (x86-64 Linux, built with its addon).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const denyIoUring = join(packageDir, '..', 'aio-uring', 'build', 'Release', 'deny_io_uring');
const epollBuilt = existsSync(join(packageDir, '..', 'aio-epoll', 'build', 'Release', 'proactor_epoll.node'));
const missing =
  process.platform !== 'linux'
    ? 'io_uring and epoll are Linux only'
    : !existsSync(denyIoUring)
      ? `no ${denyIoUring} (x86-64 only, built with aio-uring)`
      : !epollBuilt
        ? 'aio-epoll is not built'
        : undefined;

/** Runs createQueue() in a child under the seccomp filter answering `errno` for io_uring. */
function selectUnder(errno: 'EPERM' | 'ENOSYS') {
  const script = `
import { createQueue } from '@proactor/aio';
const q = await createQueue();
const stat = await q.stat(${JSON.stringify(fileURLToPath(import.meta.url))});
console.log(JSON.stringify({ backend: q.backend.name, outcomes: q.selection.outcomes, explain: q.selection.explain(), isFile: stat.isFile() }));
await q.destroy();
`;
  const env = { ...process.env };
  delete env.PROACTOR_BACKEND;
  const run = spawnSync(denyIoUring, [errno, process.execPath, '--input-type=module', '-e', script], {
    cwd: packageDir,
    encoding: 'utf8',
    env,
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim()) as {
    backend: string;
    outcomes: { name: string; status: string; reason: string }[];
    explain: string;
    isFile: boolean;
  };
}

describe.skipIf(missing !== undefined)(
  `io_uring denied by seccomp${missing ? ` [skipped: ${missing}]` : ''}`,
  () => {
    it('with EPERM (Docker): createQueue() selects epoll, does I/O on it, and explain() says why', () => {
      const result = selectUnder('EPERM');
      expect(result.backend).toBe('epoll');
      expect(result.isFile).toBe(true);
      expect(result.outcomes.map((o) => [o.name, o.status])).toEqual([
        ['io_uring', 'unavailable'],
        ['epoll', 'selected'],
        ['node', 'not tried'],
      ]);
      expect(result.outcomes[0].reason).toMatch(/io_uring_setup failed with EPERM.*seccomp filter blocks/);
      expect(result.outcomes[1].reason).toMatch(/io_uring came first .* but was unavailable/);
      expect(result.explain).toMatch(/^unavailable io_uring .*EPERM/m);
      expect(result.explain).toMatch(/^selected +epoll +@proactor\/aio-epoll: /m);
    });

    it('with ENOSYS (gVisor, some sandboxes): the same fallback, naming ENOSYS', () => {
      const result = selectUnder('ENOSYS');
      expect(result.backend).toBe('epoll');
      expect(result.outcomes[0]).toMatchObject({ name: 'io_uring', status: 'unavailable' });
      expect(result.outcomes[0].reason).toMatch(/ENOSYS/);
    });
  },
);
