// Direct I/O through Linux AIO on the epoll backend: which operations take it (engineInfo's
// counters), the switch that turns it off, and the fallbacks to the thread pool where the kernel or
// a seccomp filter refuses it (in child processes under deny_syscalls, built with the addon).
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { directIoUnavailable, pageAlignedBuffer } from '@proactor/aio-conformance';
import { type Backend, type Engine, Queue } from '@proactor/aio-core';
import { afterEach, describe, expect, it } from 'vitest';
import backend, { createBackend, type EngineInfo, engineInfo, linuxAio } from '../src/index.js';

const BLOCK = 4096;
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const denySyscalls = join(packageDir, 'build', 'Release', 'deny_syscalls');

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const noDirect = directIoUnavailable();
const noAio = noDirect ?? (linuxAio.enabled ? undefined : linuxAio.reason);

/** Page-aligned memory (aio-conformance's: a WebAssembly memory's buffer starts on a page). */
const aligned = pageAlignedBuffer;

/** A queue on `inner`, and its engine's info. */
function queue(inner: Backend = backend, entries?: number): { q: Queue; info: () => EngineInfo } {
  let attached: Engine | undefined;
  const q = new Queue(
    {
      name: inner.name,
      capabilities: inner.capabilities,
      attach(ring) {
        attached = inner.attach(ring);
        return attached;
      },
    },
    entries === undefined ? {} : { entries },
  );
  cleanups.push(() => q.destroy());
  return { q, info: () => engineInfo(attached as Engine) };
}

/** A file of `blocks` blocks of known bytes; its path and content. */
function blockFile(blocks: number): { path: string; data: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'proactor-epoll-aio-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const data = Buffer.alloc(blocks * BLOCK);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
  const path = join(dir, 'blocks.bin');
  writeFileSync(path, data);
  return { path, data };
}

describe('Linux AIO: the switch', () => {
  it('is on where the system calls are allowed, and off through createBackend({ linuxAio: false })', () => {
    expect(backend.capabilities.linuxAio).toBe(linuxAio.enabled);
    if (linuxAio.enabled) expect(linuxAio.reason).toMatch(/O_DIRECT/);
    else expect(linuxAio.reason).toMatch(/io_setup failed with/);
    const off = createBackend({ linuxAio: false });
    expect(off.capabilities.linuxAio).toBe(false);
    expect(off.linuxAio.reason).toMatch(
      linuxAio.enabled ? /createBackend\(\{ linuxAio: false \}\)/ : /io_setup/,
    );
    expect(() => createBackend({ linuxAio: 'yes' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe.skipIf(noAio !== undefined)(
  `Linux AIO on this machine${noAio ? ` [skipped: ${noAio}]` : ''}`,
  () => {
    it('sets its context up at the first direct operation, sized from the queue, and reaps through the poller', async () => {
      const { path, data } = blockFile(64);
      const { q, info } = queue(backend, 64);
      expect(info()).toMatchObject({ linuxAio: 'unused', aioEntries: 0, aioSubmitted: 0 });
      const fd = await q.open(path, constants.O_RDONLY | constants.O_DIRECT);
      cleanups.push(() => closeSync(fd));
      const memory = aligned(64 * BLOCK);
      const counts = await Promise.all(
        Array.from({ length: 64 }, (_, i) =>
          q.read(fd, memory.subarray(i * BLOCK, (i + 1) * BLOCK), 0, BLOCK, (63 - i) * BLOCK),
        ),
      );
      expect(counts).toEqual(Array(64).fill(BLOCK));
      for (let i = 0; i < 64; i++) {
        expect(
          memory
            .subarray(i * BLOCK, (i + 1) * BLOCK)
            .equals(data.subarray((63 - i) * BLOCK, (64 - i) * BLOCK)),
        ).toBe(true);
      }
      const after = info();
      expect(after).toMatchObject({
        linuxAio: 'active',
        linuxAioReason: '',
        aioEntries: 64,
        aioInFlight: 0,
        aioRefused: 0,
      });
      expect(after.aioSubmitted).toBe(64);
      expect(after.aioCompleted).toBe(64);
      // One microtask's reads go to the kernel in one io_submit.
      expect(after.aioSubmitCalls).toBeLessThanOrEqual(2);
    });

    it('takes writes, readv, writev, fsync and fdatasync on direct descriptors; buffered ones and the current position stay on the pool', async () => {
      const { path } = blockFile(8);
      const { q, info } = queue();
      const direct = await q.open(path, constants.O_RDWR | constants.O_DIRECT);
      const buffered = await q.open(path, 'r+');
      cleanups.push(() => {
        closeSync(direct);
        closeSync(buffered);
      });
      const block = aligned(2 * BLOCK).fill(0x5a);
      expect(await q.write(direct, block, 0, BLOCK, 0)).toBe(BLOCK);
      expect(await q.writev(direct, [block.subarray(0, BLOCK), block.subarray(BLOCK)], BLOCK)).toBe(
        2 * BLOCK,
      );
      expect(await q.readv(direct, [block.subarray(0, BLOCK), block.subarray(BLOCK)], 0)).toBe(2 * BLOCK);
      await q.fsync(direct);
      await q.fdatasync(direct);
      expect(info().aioSubmitted).toBe(5);
      expect(await q.read(buffered, Buffer.alloc(100), 0, 100, 0)).toBe(100);
      await q.fsync(buffered);
      expect(await q.read(direct, block, 0, BLOCK, null)).toBe(BLOCK);
      const after = info();
      expect(after.aioSubmitted).toBe(5);
      expect(after.aioBufferedOps).toBe(2);
    });

    it('completes a misaligned direct read with EINVAL from the kernel, not as an io_submit refusal', async () => {
      const { path } = blockFile(4);
      const { q, info } = queue();
      const fd = await q.open(path, constants.O_RDONLY | constants.O_DIRECT);
      cleanups.push(() => closeSync(fd));
      const memory = aligned(2 * BLOCK);
      await expect(q.read(fd, memory.subarray(1), 0, BLOCK, 0)).rejects.toMatchObject({
        code: 'EINVAL',
        syscall: 'read',
      });
      await expect(q.read(fd, memory, 0, BLOCK, 100)).rejects.toMatchObject({
        code: 'EINVAL',
        syscall: 'read',
      });
      expect(info()).toMatchObject({ aioSubmitted: 2, aioCompleted: 2, aioRefused: 0 });
    });

    it('asks io_cancel for aborted direct reads, which Linux runs to their end: each ends once, with its bytes', async () => {
      const { path, data } = blockFile(32);
      const { q, info } = queue();
      const fd = await q.open(path, constants.O_RDONLY | constants.O_DIRECT);
      cleanups.push(() => closeSync(fd));
      const memory = aligned(32 * BLOCK);
      const settled: (number | string)[][] = Array.from({ length: 32 }, () => []);
      const controllers = Array.from({ length: 32 }, () => new AbortController());
      const reads = controllers.map((ac, i) =>
        q
          .read(fd, memory.subarray(i * BLOCK, (i + 1) * BLOCK), { position: i * BLOCK, signal: ac.signal })
          .then(
            (n) => settled[i].push(n),
            (error: Error) => settled[i].push(error.name),
          ),
      );
      // In the kernel now (io_submit ran in submit()); nothing is reaped before the loop turns.
      q.submit();
      for (const ac of controllers) ac.abort();
      await Promise.all(reads);
      await new Promise((resolve) => setTimeout(resolve, 50)); // a second result would be here by now
      for (let i = 0; i < 32; i++) {
        expect(settled[i]).toEqual([BLOCK]);
        expect(
          memory.subarray(i * BLOCK, (i + 1) * BLOCK).equals(data.subarray(i * BLOCK, (i + 1) * BLOCK)),
        ).toBe(true);
      }
      expect(info()).toMatchObject({
        aioSubmitted: 32,
        aioCompleted: 32,
        aioInFlight: 0,
        aioCancelCalls: 32,
      });
    });

    it('wakes waitSync() through the completion eventfd in the poller', async () => {
      const { path, data } = blockFile(4);
      const { q, info } = queue();
      const fd = await q.open(path, constants.O_RDONLY | constants.O_DIRECT);
      cleanups.push(() => closeSync(fd));
      const memory = aligned(BLOCK);
      let result: number | undefined;
      q.read(fd, memory, 0, BLOCK, 2 * BLOCK, (error, n) => {
        expect(error).toBeNull();
        result = n;
      });
      q.submit();
      expect(q.waitSync(1, 10_000)).toBe(1);
      expect(result).toBe(BLOCK);
      expect(memory.equals(data.subarray(2 * BLOCK, 3 * BLOCK))).toBe(true);
      expect(info().aioCompleted).toBe(1);
    });

    it('runs direct I/O on the pool with createBackend({ linuxAio: false }), with the same results', async () => {
      const { path, data } = blockFile(8);
      const { q, info } = queue(createBackend({ linuxAio: false }));
      const fd = await q.open(path, constants.O_RDONLY | constants.O_DIRECT);
      cleanups.push(() => closeSync(fd));
      const memory = aligned(BLOCK);
      expect(await q.read(fd, memory, 0, BLOCK, 5 * BLOCK)).toBe(BLOCK);
      expect(memory.equals(data.subarray(5 * BLOCK, 6 * BLOCK))).toBe(true);
      await expect(q.read(fd, memory.subarray(1), 0, BLOCK - 1, 0)).rejects.toMatchObject({ code: 'EINVAL' });
      expect(info()).toMatchObject({ linuxAio: 'off', aioSubmitted: 0 });
      expect(info().linuxAioReason).toMatch(/createBackend\(\{ linuxAio: false \}\)/);
    });
  },
);

/** Runs `script` (an ES module body) under deny_syscalls and returns what it printed as JSON. */
function underFilter(errno: string, names: string, script: string, env: NodeJS.ProcessEnv = {}) {
  const run = spawnSync(denySyscalls, [errno, names, process.execPath, '--input-type=module', '-e', script], {
    cwd: packageDir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim());
}

/** A child's script: a direct read of block 1 of `path` on the default backend; prints what happened. */
function directReadScript(path: string): string {
  return `
import { Queue } from '@proactor/aio-core';
import backend, { engineInfo, linuxAio } from '@proactor/aio-epoll';
import { constants } from 'node:fs';
let engine;
const q = new Queue({ ...backend, attach(ring) { engine = backend.attach(ring); return engine; } });
const fd = await q.open(${JSON.stringify(path)}, constants.O_RDONLY | constants.O_DIRECT);
const memory = Buffer.from(new WebAssembly.Memory({ initial: 1 }).buffer, 0, 4096);
const n = await q.read(fd, memory, 0, 4096, 4096);
await q.close(fd);
const info = engineInfo(engine);
await q.destroy();
console.log(JSON.stringify({ n, first: memory[0], linuxAio, capability: backend.capabilities.linuxAio, info }));
`;
}

const noFilter =
  process.platform !== 'linux'
    ? 'seccomp is Linux only'
    : !existsSync(denySyscalls)
      ? `no ${denySyscalls} (x86-64 and arm64, built with the addon)`
      : noDirect;

describe.skipIf(noFilter !== undefined)(
  `Linux AIO refused${noFilter ? ` [skipped: ${noFilter}]` : ''}`,
  () => {
    it('by a seccomp filter (EPERM): the pool runs direct I/O, and linuxAio and engineInfo say why', () => {
      const { path, data } = blockFile(2);
      const result = underFilter('EPERM', 'linux_aio', directReadScript(path));
      expect(result.n).toBe(BLOCK);
      expect(result.first).toBe(data[BLOCK]);
      expect(result.capability).toBe(false);
      expect(result.linuxAio.enabled).toBe(false);
      expect(result.linuxAio.reason).toMatch(
        /io_setup failed with EPERM: a seccomp filter blocks the Linux AIO system calls/,
      );
      expect(result.info.linuxAio).toBe('off');
      expect(result.info.linuxAioReason).toMatch(/seccomp/);
      expect(result.info.aioSubmitted).toBe(0);
    });

    it('with ENOSYS (no CONFIG_AIO, some sandboxes): the same, naming ENOSYS', () => {
      const { path } = blockFile(2);
      const result = underFilter('ENOSYS', 'io_setup', directReadScript(path));
      expect(result.n).toBe(BLOCK);
      expect(result.linuxAio.reason).toMatch(/ENOSYS: this kernel has no Linux AIO/);
    });

    it('when io_setup answers EAGAIN (fs.aio-max-nr reached): that queue runs direct I/O on the pool and says why', () => {
      const { path, data } = blockFile(2);
      const result = underFilter('EAGAIN', 'io_setup_alloc', directReadScript(path));
      expect(result.n).toBe(BLOCK);
      expect(result.first).toBe(data[BLOCK]);
      // The probe (io_setup of no events) passed: the backend has Linux AIO, this queue could not set it up.
      expect(result.capability).toBe(true);
      expect(result.info.linuxAio).toBe('off');
      expect(result.info.linuxAioReason).toMatch(/io_setup\(256\) failed with EAGAIN: .*fs\.aio-max-nr/);
      expect(result.info.aioSubmitted).toBe(0);
    });

    it('PROACTOR_EPOLL_LINUX_AIO=0 turns it off for the default backend', () => {
      const { path } = blockFile(2);
      const result = underFilter('EPERM', 'io_uring', directReadScript(path), {
        PROACTOR_EPOLL_LINUX_AIO: '0',
      });
      expect(result.n).toBe(BLOCK);
      expect(result.capability).toBe(false);
      expect(result.linuxAio.reason).toMatch(/PROACTOR_EPOLL_LINUX_AIO=0/);
      expect(result.info.linuxAio).toBe('off');
    });
  },
);
