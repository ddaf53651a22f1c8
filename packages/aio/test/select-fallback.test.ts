// The fallback on a real machine: with io_uring denied by a seccomp filter (what Docker's default
// profile does), createQueue() selects epoll, and explain() says why io_uring was skipped. The
// filter comes from aio-uring's deny_io_uring test helper (x86-64 Linux, built with its addon).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { directIoUnavailable } from '@proactor/aio-conformance';
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

/**
 * Runs createQueue() in a child under the seccomp filter denying io_uring (EPERM), does direct
 * reads of `path` (O_DIRECT, page-aligned memory) on the queue it made, and reports the engine's
 * Linux AIO counters (the load hook hands the engine out; the selection is createQueue()'s own).
 */
function directReadsUnder(path: string) {
  const script = `
import { createQueue } from '@proactor/aio';
import { constants } from 'node:fs';
let engine;
let engineInfo;
const q = await createQueue({
  async load(specifier) {
    const mod = await import(specifier);
    if (specifier !== '@proactor/aio-epoll') return mod;
    engineInfo = mod.engineInfo;
    const backend = mod.default;
    return { ...mod, default: { ...backend, attach(ring) { engine = backend.attach(ring); return engine; } } };
  },
});
const fd = await q.open(${JSON.stringify(path)}, constants.O_RDONLY | constants.O_DIRECT);
const memory = Buffer.from(new WebAssembly.Memory({ initial: 1 }).buffer, 0, 16 * 4096);
const counts = await Promise.all(Array.from({ length: 16 }, (_, i) => q.read(fd, memory.subarray(i * 4096, (i + 1) * 4096), 0, 4096, i * 4096)));
await q.close(fd);
const info = engineInfo(engine);
console.log(JSON.stringify({ backend: q.backend.name, explain: q.selection.explain(), counts, digest: memory.reduce((a, b) => (a * 31 + b) >>> 0, 0), info }));
await q.destroy();
`;
  const run = spawnSync(denyIoUring, ['EPERM', process.execPath, '--input-type=module', '-e', script], {
    cwd: packageDir,
    encoding: 'utf8',
    env: { ...process.env, PROACTOR_BACKEND: '' },
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim()) as {
    backend: string;
    explain: string;
    counts: number[];
    digest: number;
    info: { linuxAio: string; linuxAioReason: string; aioSubmitted: number; aioCompleted: number };
  };
}

const noDirect = missing ?? directIoUnavailable();

describe.skipIf(noDirect !== undefined)(
  `io_uring denied by seccomp, direct I/O${noDirect ? ` [skipped: ${noDirect}]` : ''}`,
  () => {
    it('createQueue() picks epoll, whose direct reads go through Linux AIO, and explain() says so', () => {
      const dir = mkdtempSync(join(tmpdir(), 'proactor-select-direct-'));
      try {
        const data = Buffer.alloc(16 * 4096);
        for (let i = 0; i < data.length; i++) data[i] = (i * 13 + (i >> 12)) & 0xff;
        writeFileSync(join(dir, 'data.bin'), data);
        const result = directReadsUnder(join(dir, 'data.bin'));
        expect(result.backend).toBe('epoll');
        expect(result.counts).toEqual(Array(16).fill(4096));
        expect(result.digest).toBe(data.reduce((a, b) => (a * 31 + b) >>> 0, 0));
        expect(result.info).toMatchObject({ linuxAio: 'active', aioSubmitted: 16, aioCompleted: 16 });
        expect(result.explain).toMatch(/^selected +epoll .*direct I\/O: Linux AIO runs direct I\/O/m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
