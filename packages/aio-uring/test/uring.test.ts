import { spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compareBackends, generateScript } from '@proactor/aio-conformance';
import { type Backend, Opcode, Queue } from '@proactor/aio-core';
import nodeBackend from '@proactor/aio-node';
import { afterEach, describe, expect, it } from 'vitest';
import backend, {
  alignedBuffer,
  createBackend,
  engineInfo,
  explainSetupFailure,
  kernelSupport,
  probe,
} from '../src/index.js';
import { watched } from './watched-backend.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const distIndex = pathToFileURL(join(packageDir, 'dist', 'index.js')).href;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'proactor-uring-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function queue(b: Backend = backend, options?: ConstructorParameters<typeof Queue>[1]): Queue {
  const q = new Queue(b, options);
  cleanups.push(() => q.destroy());
  return q;
}

describe('probe', () => {
  it('finds io_uring usable on this machine and lists the kernel opcodes', () => {
    expect(probe.ok).toBe(true);
    if (!probe.ok) return;
    expect(probe.opcodes).toContain(0); // IORING_OP_NOP
    expect(probe.opcodes).toContain(22); // IORING_OP_READ
  });

  it('says for every operation whether the kernel runs it or the thread pool does', () => {
    for (const name of ['nop', 'open', 'read', 'write', 'stat', 'ftruncate', 'timeout']) {
      expect(typeof kernelSupport[name]).toBe('boolean');
    }
    expect(kernelSupport.read).toBe(true);
  });

  it('reports the capabilities io_uring gives', () => {
    expect(backend.name).toBe('io_uring');
    expect(backend.capabilities.waitSync).toBe(true);
    expect(backend.capabilities.linkedOperations).toBe(true);
    expect(backend.capabilities.cancelInFlight).toBe(true);
    expect(backend.capabilities.ops.size).toBe(33);
    expect(backend.capabilities.ops.has('sendfile')).toBe(true);
    // Splice through a pipe, or sendfile(2) on the pool: in the kernel either way.
    expect(backend.capabilities.zeroCopySendfile).toBe(true);
    expect(backend.capabilities.multishot).toBe(probe.ok && probe.multishot);
    expect(backend.capabilities.zeroCopySend).toBe(probe.ok && probe.zeroCopySend);
  });
});

describe('setup failures', () => {
  it('name the cause of EPERM: seccomp, or kernel.io_uring_disabled', () => {
    const failure = { code: 'EPERM', errno: -1, syscall: 'io_uring_setup' };
    expect(explainSetupFailure(failure, {})).toMatch(/seccomp/);
    expect(explainSetupFailure(failure, { ioUringDisabled: 0 })).toMatch(/seccomp/);
    expect(explainSetupFailure(failure, { ioUringDisabled: 2 })).toMatch(/kernel\.io_uring_disabled = 2/);
    expect(explainSetupFailure(failure, { ioUringDisabled: 1 })).toMatch(/io_uring_group/);
  });

  it('name the cause of ENOSYS and of ENOMEM (the memlock limit)', () => {
    expect(explainSetupFailure({ code: 'ENOSYS', errno: -38, syscall: 'io_uring_setup' })).toMatch(
      /no io_uring/,
    );
    const enomem = explainSetupFailure(
      { code: 'ENOMEM', errno: -12, syscall: 'io_uring_setup' },
      { memlockBytes: 65536 },
    );
    expect(enomem).toMatch(/RLIMIT_MEMLOCK is 65536 bytes/);
    expect(enomem).toMatch(/ulimit -l/);
    expect(explainSetupFailure({ code: 'EOPNOTSUPP', errno: -95, syscall: 'io_uring_setup' })).toMatch(
      /Linux 5\.6/,
    );
  });

  const denyHelper = join(packageDir, 'build', 'Release', 'deny_io_uring');
  for (const code of ['EPERM', 'ENOSYS']) {
    it.skipIf(!existsSync(denyHelper))(
      `make the import fail with ERR_PROACTOR_URING_UNAVAILABLE naming the cause when seccomp answers ${code}`,
      () => {
        const script = `import(${JSON.stringify(distIndex)}).then(
  () => console.log(JSON.stringify({ loaded: true })),
  (e) => console.log(JSON.stringify({ code: e.code, errno: e.errno, message: e.message })),
);`;
        const run = spawnSync(denyHelper, [code, process.execPath, '--input-type=module', '-e', script], {
          encoding: 'utf8',
          timeout: 20_000,
        });
        expect(run.status, run.stderr).toBe(0);
        const result = JSON.parse(run.stdout.trim());
        expect(result.code).toBe('ERR_PROACTOR_URING_UNAVAILABLE');
        expect(result.message).toContain(`io_uring_setup failed with ${code}`);
        expect(result.message).toMatch(
          code === 'EPERM' ? /seccomp filter blocks/ : /no io_uring|seccomp filter answers ENOSYS/,
        );
      },
    );
  }

  it('surface as ERR_PROACTOR_URING_UNAVAILABLE from new Queue(), never as a crash', () => {
    // A child process out of descriptors: io_uring_setup fails with EMFILE.
    const script = `
import { openSync } from 'node:fs';
import { Queue } from '@proactor/aio-core';
const { default: backend } = await import(${JSON.stringify(distIndex)});
const fds = [];
try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch {}
try {
  new Queue(backend);
  console.log(JSON.stringify({ attached: true }));
} catch (e) {
  console.log(JSON.stringify({ name: e.name, code: e.code, syscall: e.syscall, message: e.message }));
}
`;
    const dir = tempDir();
    const file = join(packageDir, 'test', `.emfile-${process.pid}.mjs`);
    writeFileSync(file, script);
    cleanups.push(() => rmSync(file, { force: true }));
    const run = spawnSync('sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${file}"`], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim());
    expect(result).toMatchObject({ code: 'ERR_PROACTOR_URING_UNAVAILABLE', syscall: 'io_uring_setup' });
    expect(result.message).toMatch(/EMFILE.*too many open files/);
  });
});

describe('createBackend', () => {
  it('refuses ring sizes and opcodes out of range before any queue exists', () => {
    expect(() => createBackend({ sqEntries: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => createBackend({ cqEntries: 1.5 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => createBackend({ sqEntries: '8' as unknown as number })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => createBackend({ blockingOps: [99] })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });
});

describe('rings', () => {
  it('queues of one environment share one ring; other ring sizes get their own', async () => {
    const { backend: a, engines } = watched(backend);
    const { backend: b, engines: otherEngines } = watched(createBackend({ sqEntries: 64, cqEntries: 128 }));
    const q1 = queue(a);
    const q2 = queue(a);
    const q3 = queue(b);
    await Promise.all([q1.nop(), q2.nop(), q3.nop()]);
    const [i1, i2] = engines.map(engineInfo);
    const i3 = engineInfo(otherEngines[0]);
    expect(i1.ringFd).toBe(i2.ringFd);
    expect(i3.ringFd).not.toBe(i1.ringFd);
    expect(i3.sqEntries).toBe(64);
    expect(i3.cqEntries).toBe(128);
  });

  it('completions of queues sharing a ring reach their own queue', async () => {
    const q1 = queue();
    const q2 = queue();
    const seen: string[] = [];
    for (let i = 0; i < 200; i++) {
      q1.timeout(i % 7, { userData: i });
      q2.nop({ userData: 1000 + i });
    }
    while (q1.ready + q2.ready < 400) await new Promise((r) => setTimeout(r, 5));
    q1.drain((c) => seen.push(`q1:${c.userData}`));
    q2.drain((c) => seen.push(`q2:${c.userData}`));
    expect(seen.filter((x) => x.startsWith('q1:')).every((x) => Number(x.slice(3)) < 1000)).toBe(true);
    expect(seen.filter((x) => x.startsWith('q2:')).every((x) => Number(x.slice(3)) >= 1000)).toBe(true);
    expect(seen.length).toBe(400);
  });
});

describe('workers', () => {
  it('each worker has its own ring, closed with the worker even when it is terminated mid-flight', async () => {
    const dir = tempDir();
    const path = join(dir, 'data.bin');
    writeFileSync(path, Buffer.alloc(1 << 20, 7));
    const script = `
import { parentPort, workerData } from 'node:worker_threads';
import { Queue } from '@proactor/aio-core';
const { default: backend, engineInfo } = await import(${JSON.stringify(distIndex)});
let engine;
const q = new Queue({ ...backend, attach: (ring) => (engine = backend.attach(ring)) });
const fd = await q.open(workerData.path, 'r');
q.timeout(60_000).catch(() => {});
for (let i = 0; i < 16; i++) q.read(fd, Buffer.alloc(4096), 0, 4096, i * 4096).catch(() => {});
q.submit();
parentPort.postMessage({ ringFd: engineInfo(engine).ringFd });
`;
    const file = join(packageDir, 'test', `.worker-${process.pid}.mjs`);
    writeFileSync(file, script);
    cleanups.push(() => rmSync(file, { force: true }));
    const { backend: mainBackend, engines } = watched(backend);
    const q = queue(mainBackend);
    await q.nop();
    const mainRing = engineInfo(engines[0]).ringFd;
    // Descriptors of rings and eventfds; the data file a terminated worker opened stays open
    // (workers share the process's descriptors and Node does not track raw fds).
    const ringAndEventFds = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return /io_uring|eventfd/.test(readlinkSync(`/proc/self/fd/${fd}`));
        } catch {
          return false;
        }
      }).length;
    const fdsBefore = ringAndEventFds();
    const ringFds = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const worker = new Worker(file, { workerData: { path } });
      const message = await new Promise<{ ringFd: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      ringFds.add(message.ringFd);
      await worker.terminate();
    }
    // The main thread's ring is not any worker's, and nothing a worker opened is left behind.
    expect(ringFds.has(mainRing)).toBe(false);
    expect(ringAndEventFds()).toBe(fdsBefore);
    expect(await q.nop()).toBeUndefined();
  });
});

describe('completion delivery', () => {
  it('delivers every completion when far more complete at once than the CQ ring holds', async () => {
    const { backend: small, engines } = watched(createBackend({ sqEntries: 16, cqEntries: 16 }));
    const q = queue(small, { entries: 2048, completionEntries: 64 });
    const info = engineInfo(engines[0]);
    expect(info.cqEntries).toBe(16);
    const nops = await Promise.all(Array.from({ length: 2048 }, () => q.nop()));
    expect(nops.every((r) => r === undefined)).toBe(true);

    // Reads whose results tell their slots apart: read i returns the 8 bytes at i * 8.
    const dir = tempDir();
    const path = join(dir, 'numbers.bin');
    const data = Buffer.alloc(2048 * 8);
    for (let i = 0; i < 2048; i++) data.writeBigUInt64LE(BigInt(i * 7 + 3), i * 8);
    writeFileSync(path, data);
    const fd = await q.open(path, 'r');
    const buffers = Array.from({ length: 2048 }, () => Buffer.alloc(8));
    const counts = await Promise.all(buffers.map((b, i) => q.read(fd, b, 0, 8, i * 8)));
    expect(counts.every((n) => n === 8)).toBe(true);
    const values = buffers.map((b) => b.readBigUInt64LE());
    expect(values).toEqual(buffers.map((_, i) => BigInt(i * 7 + 3)));
    await q.close(fd);
    expect(engineInfo(engines[0]).inFlight).toBe(0);
    expect(engineInfo(engines[0]).overflowFlushes, 'the CQ ring overflowed').toBeGreaterThan(0);
  });

  it('waitSync() blocks until completions arrive and runs their callbacks before returning', () => {
    const q = queue();
    const seen: string[] = [];
    q.timeout(30, (err) => seen.push(err ? `error ${err.message}` : 'fired'));
    const started = performance.now();
    expect(q.waitSync(1, 5_000)).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(seen).toEqual(['fired']);
  });

  it('waitSync() works in code resumed by a completion (a promise continuation)', async () => {
    const q = queue();
    await q.nop();
    q.nop({ userData: 7 });
    expect(q.waitSync(1, 5_000)).toBe(1);
    expect(q.peek()?.userData).toBe(7);
  });

  it('waitSync() from a callback of the same queue and engine calls after close throw coded errors', async () => {
    const q = queue();
    const thrown = await new Promise<unknown>((resolve) =>
      q.nop(() => {
        try {
          q.waitSync(1, 0);
          resolve(undefined);
        } catch (error) {
          resolve(error);
        }
      }),
    );
    expect(thrown).toMatchObject({ code: 'ERR_INVALID_STATE' });
    // The engine itself (below aio-core's own checks) after the queue closed it.
    const { backend: seen, engines } = watched(backend);
    const closed = new Queue(seen);
    await closed.destroy();
    expect(() => engines[0].waitSync!(1, 0)).toThrow(
      expect.objectContaining({ code: 'ERR_PROACTOR_QUEUE_DESTROYED' }),
    );
    expect(() => engines[0].submit(0)).toThrow(
      expect.objectContaining({ code: 'ERR_PROACTOR_QUEUE_DESTROYED' }),
    );
  });

  it('waitSync() gives up after timeoutMs with what it has', () => {
    const q = queue();
    q.timeout(10_000, () => {});
    const started = performance.now();
    expect(q.waitSync(1, 50)).toBe(0);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('waitSync() delivers polled completions in order of arrival', () => {
    const q = queue();
    q.timeout(20, { userData: 2 });
    q.nop({ userData: 1 });
    expect(q.waitSync(2, 5_000)).toBe(2);
    const order: number[] = [];
    q.drain((c) => order.push(c.userData));
    expect(order).toEqual([1, 2]);
  });
});

describe('blocking-pool fallback', () => {
  it('runs the operations a kernel lacks on threads, and says which ones do', async () => {
    const { backend: pooled, engines } = watched(
      createBackend({ blockingOps: [Opcode.FTRUNCATE, Opcode.STAT] }),
    );
    const q = queue(pooled);
    expect(engineInfo(engines[0]).blockingOps).toEqual([Opcode.STAT, Opcode.FTRUNCATE]);
    const dir = tempDir();
    const path = join(dir, 'f.txt');
    const fd = await q.open(path, 'w+');
    // A chain mixing ring members (write, close) and pool members (ftruncate, stat).
    const chain = [
      q.write(fd, Buffer.from('hello world'), { link: true }),
      q.ftruncate(fd, 5, { link: true }),
      q.stat(path, { link: true }),
      q.close(fd),
    ];
    const [written, truncated, stats, closed] = await Promise.all(chain);
    expect(written).toBe(11);
    expect(truncated).toBeUndefined();
    expect((stats as { size: number }).size).toBe(5);
    expect(closed).toBeUndefined();
  });
});

describe('differential', () => {
  it('random operation scripts give the same results as the node backend', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const dirs = { subject: tempDir(), oracle: tempDir() };
      const divergence = await compareBackends(backend, nodeBackend, dirs, generateScript(seed, 150));
      expect(divergence, `seed ${seed}`).toBeUndefined();
    }
  });
});

describe('alignedBuffer', () => {
  it('gives page-aligned memory that O_DIRECT reads accept at every page-multiple offset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proactor-aligned-'));
    try {
      const path = join(dir, 'direct.bin');
      const data = Buffer.alloc(64 * 1024, 7);
      writeFileSync(path, data);
      const buf = alignedBuffer(16 * 4096);
      expect(buf.length).toBe(16 * 4096);
      let fd: number;
      try {
        fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
      } catch {
        return; // a file system without O_DIRECT (tmpfs): nothing to check here
      }
      try {
        for (let page = 0; page < 16; page += 5) {
          expect(readSync(fd, buf, page * 4096, 4096, 0)).toBe(4096);
        }
        // One byte off the alignment, O_DIRECT refuses the buffer: the test can fail.
        expect(() => readSync(fd, buf, 1, 4096, 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an alignment that is not a power of two', () => {
    expect(() => alignedBuffer(10, 3000)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});
