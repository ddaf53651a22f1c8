import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Backend, type Engine, Opcode, Queue } from '@proactor/aio-core';
import { afterEach, describe, expect, it } from 'vitest';
import backend, { createBackend, engineInfo, probe } from '../src/index.js';
import { watched } from './watched-backend.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const isRoot = process.getuid?.() === 0;

/** The plain backend, and an SQPOLL one where the kernel has it. */
const variants: [string, Backend][] = [['plain ring', backend]];
if (probe.ok && probe.sqpoll) variants.push(['SQPOLL ring', createBackend({ sqpoll: { idleMs: 10 } })]);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'proactor-uring-reg-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A queue on `b` and its engine. */
function queue(b: Backend = backend): { q: Queue; engine: Engine } {
  const w = watched(b);
  const q = new Queue(w.backend);
  cleanups.push(() => q.destroy());
  return { q, engine: w.engines[0] };
}

function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

function dataFile(length: number, seed: number): { path: string; data: Buffer } {
  const data = pattern(length, seed);
  const path = join(tempDir(), `data-${seed}.bin`);
  writeFileSync(path, data);
  return { path, data };
}

/** A FIFO opened read-write (never blocks, never sees EOF) and a writer to it. */
function fifo(): { reader: number; writer: number } {
  const path = join(tempDir(), 'fifo');
  execFileSync('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDWR);
  const writer = openSync(path, constants.O_WRONLY);
  cleanups.push(() => {
    closeSync(reader);
    closeSync(writer);
  });
  return { reader, writer };
}

describe('capabilities', () => {
  it('follow the probe: registered buffers and files with sparse tables (Linux 5.19)', () => {
    expect(probe.ok).toBe(true);
    if (!probe.ok) return;
    expect(backend.capabilities.registeredBuffers).toBe(probe.registeredBuffers);
    expect(backend.capabilities.registeredFiles).toBe(probe.registeredFiles);
    expect((backend.capabilities as { sqpoll?: boolean }).sqpoll).toBe(false);
  });
});

describe.runIf(backend.capabilities.registeredBuffers)('registered buffers', () => {
  it('reads and writes inside a registered buffer are issued as READ_FIXED / WRITE_FIXED, others not', async () => {
    const { path, data } = dataFile(64 * 1024, 1);
    const { q, engine } = queue();
    const registered = Buffer.alloc(16384);
    q.registerBuffers([registered]);
    const fd = await q.open(path, 'r+');
    expect(await q.read(fd, registered, 0, 16384, 0)).toBe(16384);
    expect(await q.read(fd, registered.subarray(4096, 8192), 0, 4096, 32768)).toBe(4096);
    expect(engineInfo(engine).fixedBufferOps).toBe(2);
    // Not inside: a plain buffer, and a view that runs past the registered one's end.
    const plain = Buffer.alloc(4096);
    expect(await q.read(fd, plain, 0, 4096, 8192)).toBe(4096);
    const straddling = Buffer.alloc(32768);
    const straddlingReg = straddling.subarray(0, 16384);
    q.registerBuffers([straddlingReg]);
    expect(await q.read(fd, straddling, 8192, 16384, 0)).toBe(16384);
    expect(engineInfo(engine).fixedBufferOps).toBe(2);
    expect(plain.equals(data.subarray(8192, 12288))).toBe(true);
    expect(straddling.subarray(8192, 24576).equals(data.subarray(0, 16384))).toBe(true);
    // Readv / writev never use them.
    expect(await q.readv(fd, [straddlingReg.subarray(0, 100)], 0)).toBe(100);
    expect(engineInfo(engine).fixedBufferOps).toBe(2);
    // A write from the registered buffer.
    straddlingReg.fill(0x5a);
    expect(await q.write(fd, straddlingReg, 0, 1000, 50_000)).toBe(1000);
    expect(engineInfo(engine).fixedBufferOps).toBe(3);
    await q.close(fd);
    expect(
      readFileSync(path)
        .subarray(50_000, 51_000)
        .every((b) => b === 0x5a),
    ).toBe(true);
    expect(registered.subarray(0, 4096).equals(data.subarray(0, 4096))).toBe(true);
    expect(registered.subarray(4096, 8192).equals(data.subarray(32768, 36864))).toBe(true);
    expect(engineInfo(engine).registeredBuffers).toBe(1);
    q.unregisterBuffers();
    expect(engineInfo(engine).registeredBuffers).toBe(0);
  });

  it('overlapping views of one memory, and many buffers, find the buffer holding the range', async () => {
    const { path, data } = dataFile(1 << 20, 2);
    const { q, engine } = queue();
    const big = Buffer.alloc(1 << 20);
    const pieces = Array.from({ length: 200 }, (_, i) => big.subarray(i * 4096, i * 4096 + 8192));
    q.registerBuffers([...pieces, Buffer.alloc(64)]);
    const fd = await q.open(path, 'r');
    const reads: Promise<number>[] = [];
    for (let i = 0; i < 200; i++)
      reads.push(q.read(fd, big.subarray(i * 4096 + 100, i * 4096 + 8000), 0, 7900, i * 4096 + 100));
    expect(await Promise.all(reads)).toEqual(Array(200).fill(7900));
    await q.close(fd);
    expect(engineInfo(engine).fixedBufferOps).toBe(200);
    expect(big.subarray(100, 199 * 4096 + 8000).equals(data.subarray(100, 199 * 4096 + 8000))).toBe(true);
  });

  it('the blocking-pool fallback reads into registered buffers with plain calls', async () => {
    const { path, data } = dataFile(8192, 3);
    const { q, engine } = queue(createBackend({ blockingOps: [Opcode.READ, Opcode.WRITE] }));
    const registered = Buffer.alloc(8192);
    q.registerBuffers([registered]);
    const fd = await q.open(path, 'r');
    expect(await q.read(fd, registered, 0, 8192, 0)).toBe(8192);
    await q.close(fd);
    expect(registered.equals(data)).toBe(true);
    expect(engineInfo(engine).fixedBufferOps).toBe(0);
  });

  for (const [label, b] of variants) {
    it(`unregistering while reads are in flight keeps every result correct (${label})`, async () => {
      const { path, data } = dataFile(256 * 1024, 4);
      const { q, engine } = queue(b);
      const other = queue(b);
      const fd = await q.open(path, 'r');
      for (let round = 0; round < 20; round++) {
        const buffers = Array.from({ length: 8 }, () => Buffer.alloc(32768));
        q.registerBuffers(buffers);
        const reads = buffers.map((b, i) => q.read(fd, b, 0, 32768, i * 32768));
        q.submit();
        // Gone while the reads run; another queue of the ring takes the indexes at once.
        if (round % 2 === 0) q.unregisterBuffers();
        else q.registerBuffers([Buffer.alloc(100)]);
        other.q.registerBuffers(Array.from({ length: 8 }, () => Buffer.alloc(4096)));
        expect(await Promise.all(reads)).toEqual(Array(8).fill(32768));
        for (let i = 0; i < buffers.length; i++) {
          expect(buffers[i].equals(data.subarray(i * 32768, (i + 1) * 32768))).toBe(true);
        }
      }
      await q.close(fd);
      expect(engineInfo(engine).fixedBufferOps).toBe(160);
    });

    it(`a read waiting in the kernel completes into its buffer after the registration is gone (${label})`, async () => {
      const { reader, writer } = fifo();
      const { q, engine } = queue(b);
      const other = queue(b);
      const buffer = Buffer.alloc(4096);
      q.registerBuffers([buffer]);
      q.registerFiles([reader]);
      const read = q.read(reader, buffer, 0, 4096);
      q.submit();
      // In the kernel: an SQPOLL ring's thread took the entry (under load that can take a while;
      // until then the indexes are not free again, and another queue would get others).
      for (let waited = 0; engineInfo(engine).sqPending > 0 && waited < 10_000; waited += 5) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(engineInfo(engine).inFlight).toBe(1);
      q.unregisterBuffers();
      q.unregisterFiles();
      // The freed indexes are reused by another queue (different memory, another descriptor).
      const decoy = Buffer.alloc(4096);
      other.q.registerBuffers([decoy]);
      other.q.registerFiles([writer]);
      expect(engineInfo(other.engine).bufferIndexBase).toBe(engineInfo(engine).bufferIndexBase);
      writeSync(writer, 'hello, fixed');
      expect(await read).toBe(12);
      expect(buffer.subarray(0, 12).toString()).toBe('hello, fixed');
      expect(decoy.every((b) => b === 0)).toBe(true);
      const i = engineInfo(engine);
      expect([i.fixedBufferOps, i.fixedFileOps]).toEqual([1, 1]);
    });
  }

  it('re-registering replaces; close() of the engine frees its indexes for other queues', async () => {
    const a = queue();
    a.q.registerBuffers([Buffer.alloc(10), Buffer.alloc(10), Buffer.alloc(10)]);
    const base = engineInfo(a.engine).bufferIndexBase;
    a.q.registerBuffers([Buffer.alloc(10)]);
    expect(engineInfo(a.engine).registeredBuffers).toBe(1);
    await a.q.destroy();
    const b = queue();
    b.q.registerBuffers([Buffer.alloc(10), Buffer.alloc(10), Buffer.alloc(10), Buffer.alloc(10)]);
    expect(engineInfo(b.engine).bufferIndexBase).toBeLessThanOrEqual(base);
  });

  it('a buffer above 1 GiB (the kernel refuses it) throws ERR_OUT_OF_RANGE and keeps the earlier registration', () => {
    const { q, engine } = queue();
    q.registerBuffers([Buffer.alloc(10)]);
    // Zero-filled pages the test never touches: no gigabyte of memory is used.
    const huge = new Uint8Array(2 ** 30 + 1);
    expect(() => q.registerBuffers([Buffer.alloc(10), huge])).toThrow(
      expect.objectContaining({
        code: 'ERR_OUT_OF_RANGE',
        message: expect.stringContaining('buffers[1].byteLength'),
      }),
    );
    expect(engineInfo(engine).registeredBuffers).toBe(1);
  });
});

describe.runIf(backend.capabilities.registeredFiles)('registered files', () => {
  it('operations on registered descriptors use IOSQE_FIXED_FILE; statx and close take the plain fd', async () => {
    const { path, data } = dataFile(16384, 5);
    const { q, engine } = queue();
    const fd = await q.open(path, 'r+');
    const unregistered = await q.open(path, 'r');
    q.registerFiles([fd, fd]);
    expect(engineInfo(engine).registeredFiles).toBe(1);
    const buf = Buffer.alloc(4096);
    expect(await q.read(fd, buf, 0, 4096, 4096)).toBe(4096);
    expect(await q.readv(fd, [buf.subarray(0, 10)], 0)).toBe(10);
    expect(await q.write(fd, Buffer.from('abc'), 0, 3, 0)).toBe(3);
    await q.fdatasync(fd);
    await q.ftruncate(fd, 10000);
    expect(engineInfo(engine).fixedFileOps).toBe(5);
    expect((await q.fstat(fd)).size).toBe(10000);
    expect(await q.read(unregistered, buf, 0, 3, 0)).toBe(3);
    expect(engineInfo(engine).fixedFileOps).toBe(5);
    expect(buf.subarray(0, 3).toString()).toBe('abc');
    await q.close(fd);
    expect(engineInfo(engine).registeredFiles).toBe(0);
    await q.close(unregistered);
    expect(data.length).toBe(16384);
  });

  it('two queues of one environment register buffers and files independently', async () => {
    const { path, data } = dataFile(64 * 1024, 6);
    const one = queue();
    const two = queue();
    const fd1 = await one.q.open(path, 'r');
    const fd2 = await two.q.open(path, 'r');
    const b1 = [Buffer.alloc(8192), Buffer.alloc(8192)];
    const b2 = [Buffer.alloc(8192), Buffer.alloc(8192), Buffer.alloc(8192)];
    one.q.registerBuffers(b1);
    two.q.registerBuffers(b2);
    one.q.registerFiles([fd1]);
    two.q.registerFiles([fd2, fd1]);
    const i1 = engineInfo(one.engine);
    const i2 = engineInfo(two.engine);
    expect(i1.ringFd).toBe(i2.ringFd);
    // Disjoint index ranges of the shared tables.
    expect(i1.bufferIndexBase + 2 <= i2.bufferIndexBase || i2.bufferIndexBase + 3 <= i1.bufferIndexBase).toBe(
      true,
    );
    expect(i1.fileIndexBase + 1 <= i2.fileIndexBase || i2.fileIndexBase + 2 <= i1.fileIndexBase).toBe(true);
    const r = await Promise.all([
      one.q.read(fd1, b1[1], 0, 8192, 8192),
      two.q.read(fd2, b2[2], 0, 8192, 16384),
      // A buffer registered by the other queue is plain memory to this one.
      one.q.read(fd1, b2[0], 0, 8192, 0),
    ]);
    expect(r).toEqual([8192, 8192, 8192]);
    expect(engineInfo(one.engine).fixedBufferOps).toBe(1);
    expect(engineInfo(two.engine).fixedBufferOps).toBe(1);
    expect(engineInfo(one.engine).fixedFileOps).toBe(2);
    expect(engineInfo(two.engine).fixedFileOps).toBe(1);
    // Dropping one queue's registration leaves the other's working.
    one.q.unregisterBuffers();
    one.q.unregisterFiles();
    expect(await two.q.read(fd1, b2[1], 0, 8192, 24576)).toBe(8192);
    expect(engineInfo(two.engine).fixedBufferOps).toBe(2);
    expect(engineInfo(two.engine).fixedFileOps).toBe(2);
    expect(b1[1].equals(data.subarray(8192, 16384))).toBe(true);
    expect(b2[2].equals(data.subarray(16384, 24576))).toBe(true);
    expect(b2[0].equals(data.subarray(0, 8192))).toBe(true);
    expect(b2[1].equals(data.subarray(24576, 32768))).toBe(true);
    await one.q.close(fd1);
    // fd1 is closed: the other queue's registration of it must not keep it usable by number.
    await two.q.close(fd2);
  });

  it('a close through the queue drops the descriptor, even on the blocking pool; a reused number is not mixed up', async () => {
    const { path, data } = dataFile(4096, 7);
    const { q, engine } = queue(createBackend({ blockingOps: [Opcode.CLOSE] }));
    const fd = await q.open(path, 'r');
    q.registerFiles([fd]);
    await q.close(fd);
    expect(engineInfo(engine).registeredFiles).toBe(0);
    // The kernel hands the same number out again: it is a plain descriptor now.
    const again = await q.open(path, 'r');
    const buf = Buffer.alloc(4096);
    expect(await q.read(again, buf, 0, 4096, 0)).toBe(4096);
    expect(buf.equals(data)).toBe(true);
    expect(engineInfo(engine).fixedFileOps).toBe(0);
    await q.close(again);
  });

  it('a failed registration throws a system error and keeps the earlier one', async () => {
    const { path } = dataFile(4096, 8);
    const { q, engine } = queue();
    const fd = await q.open(path, 'r');
    q.registerFiles([fd]);
    const closed = openSync(path, 'r');
    closeSync(closed);
    expect(() => q.registerFiles([closed])).toThrow(
      expect.objectContaining({
        code: 'EBADF',
        syscall: 'io_uring_register',
        message: expect.stringMatching(/registerFiles/),
      }),
    );
    expect(await q.read(fd, Buffer.alloc(10), 0, 10, 0)).toBe(10);
    expect(engineInfo(engine).fixedFileOps).toBe(1);
    await q.close(fd);
  });
});

describe.runIf(backend.capabilities.registeredBuffers && isRoot)(
  'registered buffers and RLIMIT_MEMLOCK',
  () => {
    it('pinning more than the limit allows is a clear ENOMEM error', () => {
      // As another user (root has CAP_IPC_LOCK, which the kernel does not charge) with 1 MiB,
      // dropped to after the imports: the checkout may sit in a directory only root can enter.
      const script = `
const { Queue } = await import('@proactor/aio-core');
const { default: backend } = await import('./dist/index.js');
process.setgid(65534);
process.setuid(65534);
const q = new Queue(backend);
try { q.registerBuffers([Buffer.alloc(16 << 20)]); console.log(JSON.stringify({ ok: true })); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
await q.destroy();
`;
      const r = spawnSync(
        'sh',
        ['-c', `ulimit -l 1024 && exec "${process.execPath}" --input-type=module -e "$0"`, script],
        {
          cwd: packageDir,
          encoding: 'utf8',
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.code).toBe('ENOMEM');
      expect(out.message).toMatch(/RLIMIT_MEMLOCK/);
    });
  },
);

describe.runIf(probe.ok && probe.sqpoll)('SQPOLL', () => {
  it('is opt-in, validated, and never shares a ring with plain queues', async () => {
    expect(() => createBackend({ sqpoll: 'yes' as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => createBackend({ sqpoll: { idleMs: -1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    const sqpoll = createBackend({ sqpoll: true });
    expect((sqpoll.capabilities as { sqpoll?: boolean }).sqpoll).toBe(true);
    const plain = queue();
    const polled = queue(sqpoll);
    const other = queue(createBackend({ sqpoll: { idleMs: 10 } }));
    await Promise.all([plain.q.nop(), polled.q.nop(), other.q.nop()]);
    const [p, s, o] = [plain.engine, polled.engine, other.engine].map(engineInfo);
    expect(p.sqpoll).toBe(false);
    expect(s.sqpoll).toBe(true);
    expect(o.sqpoll).toBe(true);
    expect(new Set([p.ringFd, s.ringFd, o.ringFd]).size).toBe(3);
    // The default backend and createBackend({ sqpoll: false }) share the plain ring.
    const unpolled = queue(createBackend({ sqpoll: false }));
    await unpolled.q.nop();
    expect(engineInfo(unpolled.engine).ringFd).toBe(p.ringFd);
  });

  it('submits without io_uring_enter while the kernel thread is awake', async () => {
    const { path, data } = dataFile(64 * 1024, 9);
    const polled = queue(createBackend({ sqpoll: { idleMs: 1000 } }));
    const plain = queue(createBackend({ sqEntries: 128 }));
    for (const { q } of [polled, plain]) {
      const fd = await q.open(path, 'r');
      for (let i = 0; i < 100; i++) await q.nop();
      const buf = Buffer.alloc(4096);
      for (let i = 0; i < 16; i++) expect(await q.read(fd, buf, 0, 4096, i * 4096)).toBe(4096);
      expect(buf.equals(data.subarray(15 * 4096))).toBe(true);
      await q.close(fd);
    }
    const polledEnters = engineInfo(polled.engine).enterCalls;
    const plainEnters = engineInfo(plain.engine).enterCalls;
    expect(plainEnters).toBeGreaterThanOrEqual(118);
    expect(polledEnters).toBeLessThan(20);
  });

  it('a batch far bigger than the SQ ring goes through the backlog, with registered buffers', async () => {
    const { path, data } = dataFile(64 * 1024, 10);
    const { q, engine } = queue(createBackend({ sqpoll: { idleMs: 0 }, sqEntries: 8, cqEntries: 16 }));
    const fd = await q.open(path, 'r');
    const registered = Buffer.alloc(64 * 1024);
    q.registerBuffers([registered]);
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 2000; i++)
      ops.push(
        i % 2 ? q.nop() : q.read(fd, registered, ((i >> 1) % 16) * 4096, 4096, ((i >> 1) % 16) * 4096),
      );
    await Promise.all(ops);
    expect(registered.equals(data)).toBe(true);
    expect(engineInfo(engine).fixedBufferOps).toBe(1000);
    q.unregisterBuffers();
    await q.close(fd);
  });

  it('waitSync() still waits for completions', () => {
    const { q } = queue(createBackend({ sqpoll: { idleMs: 0 } }));
    q.timeout(20, { userData: 1 });
    q.nop({ userData: 2 });
    const seen: unknown[] = [];
    while (seen.length < 2) {
      q.waitSync(1, 2000);
      q.drain((c) => seen.push(c.userData));
    }
    expect(seen.sort()).toEqual([1, 2]);
  });

  it.runIf(isRoot)('after process.setuid() operations carry a personality with the new credentials', () => {
    const dir = tempDir();
    const secret = join(dir, 'root-only');
    writeFileSync(secret, 'x', { mode: 0o600 });
    execFileSync('chmod', ['755', dir]);
    const script = `
const { Queue } = await import('@proactor/aio-core');
const { createBackend, engineInfo } = await import('./dist/index.js');
const b = createBackend({ sqpoll: true });
let engine;
const q = new Queue({ ...b, attach(r) { engine = b.attach(r); return engine; } });
const before = await q.open(${JSON.stringify(secret)}, 'r').then(() => 'opened', (e) => e.code);
const p0 = engineInfo(engine).personality;
process.setgid(65534);
process.setuid(65534);
const after = await q.open(${JSON.stringify(secret)}, 'r').then(() => 'opened', (e) => e.code);
console.log(JSON.stringify({ before, after, p0, p1: engineInfo(engine).personality }));
await q.destroy();
`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: packageDir,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.before).toBe('opened');
    expect(out.after).toBe('EACCES');
    expect(out.p0).toBe(0);
    expect(out.p1).toBeGreaterThan(0);
  });
});
