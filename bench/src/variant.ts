/**
 * One benchmark variant, run in its own process so JIT state and heap of one variant never
 * affect another: `node variant.js <name> <params as JSON>`. Prints {"ops","seconds"} as JSON.
 */
import * as fs from 'node:fs';
import { type Backend, Queue } from '@proactor/aio-core';
import { BENCH_BACKENDS, loadBenchBackend } from './backends.js';

export interface Params {
  file: string;
  block: number;
  depth: number;
  seconds: number;
  /** Backend id (backends.ts: 'node', 'io_uring', 'epoll', 'epoll-poll', 'kqueue'), or a module default-exporting a Backend, for proactor variants. */
  backend?: string;
  direct?: boolean;
  /** Bytes per write and total bytes, for the sequential write workload. */
  writeSize?: number;
  totalBytes?: number;
}

interface Result {
  ops: number;
  seconds: number;
}

/** xorshift32: cheap, and the same sequence in every variant. */
let x = 88172645;
function random(): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

async function loadBackend(id: string | undefined): Promise<Backend> {
  if (!id) throw new Error('params.backend is required');
  if (BENCH_BACKENDS.some((b) => b.id === id)) return loadBenchBackend(id);
  // Else a module that default-exports a Backend (a path, such as dist/epoll-pool-backend.js).
  return ((await import(id)) as { default: Backend }).default;
}

function openFlags(p: Params): number {
  return fs.constants.O_RDONLY | (p.direct ? fs.constants.O_DIRECT : 0);
}

/**
 * Buffers for the variant. O_DIRECT needs memory aligned to the device's logical block, and
 * JavaScript cannot see addresses: so carve the views out of one allocation at the first offset
 * (in steps of 16 bytes) at which an O_DIRECT read succeeds.
 */
function alignedBuffers(count: number, size: number, directFd?: number): Buffer[] {
  const backing = Buffer.alloc(count * size + 4096);
  let base = 0;
  if (directFd !== undefined) {
    base = -1;
    for (let off = 0; off < 4096; off += 16) {
      try {
        fs.readSync(directFd, backing, off, size, 0);
        base = off;
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
      }
    }
    if (base < 0) throw new Error('found no offset aligned for O_DIRECT');
  }
  return Array.from({ length: count }, (_, i) => backing.subarray(base + i * size, base + (i + 1) * size));
}

/** Page-aligned memory from aio-uring's alignedBuffer(), where it is installed (Linux). */
const alignedBuffer = await import('@proactor/aio-uring').then(
  (m: { alignedBuffer?: (size: number) => Buffer }) => m.alignedBuffer,
  () => undefined,
);

/**
 * Buffers for reads of `p.file`. For O_DIRECT: page-aligned (like the C program's
 * posix_memalign) where aio-uring can tell addresses, else aligned to what O_DIRECT accepts.
 */
function readBuffers(p: Params, count: number): Buffer[] {
  if (!p.direct) return alignedBuffers(count, p.block);
  if (alignedBuffer && p.block % 4096 === 0) {
    const backing = alignedBuffer(count * p.block);
    return Array.from({ length: count }, (_, i) => backing.subarray(i * p.block, (i + 1) * p.block));
  }
  const fd = fs.openSync(p.file, openFlags(p));
  try {
    return alignedBuffers(count, p.block, fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs `issue(i, done)` for slot i with depth slots in flight until the time is up. */
function closedLoop(
  depth: number,
  seconds: number,
  start: (slot: number, done: () => void) => void,
): Promise<Result> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    let ops = 0;
    let inflight = 0;
    let stopping = false;
    const done = (slot: number) => () => {
      ops++;
      inflight--;
      if (!stopping && (ops & 1023) === 0 && performance.now() >= deadline) stopping = true;
      if (!stopping) {
        inflight++;
        start(slot, dones[slot]);
      } else if (inflight === 0) resolve({ ops, seconds: (performance.now() - t0) / 1000 });
    };
    const dones = Array.from({ length: depth }, (_, i) => done(i));
    for (let i = 0; i < depth; i++) {
      inflight++;
      start(i, dones[i]);
    }
  });
}

/** Writes totalBytes in writeSize pieces, in order of position, depth of them in flight. */
async function sequentialWrites(p: Params, write: (position: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < p.totalBytes!) {
      const position = next;
      next += p.writeSize!;
      await write(position);
    }
  };
  await Promise.all(Array.from({ length: p.depth }, lane));
}

/** Random reads in the callback form, depth in flight; with `register`, the buffers and the file are registered. */
async function callbackReads(p: Params, register: boolean): Promise<Result> {
  const q = new Queue(await loadBackend(p.backend), { entries: Math.max(p.depth, 1) });
  const fd = await q.open(p.file, openFlags(p));
  const blocks = Math.floor(fs.fstatSync(fd).size / p.block);
  const bufs = readBuffers(p, p.depth);
  if (register) {
    // One registration covering every buffer (they are views of one allocation) and the file.
    const first = bufs[0];
    q.registerBuffers([Buffer.from(first.buffer, first.byteOffset, p.block * p.depth)]);
    q.registerFiles([fd]);
  }
  const result = await closedLoop(p.depth, p.seconds, (slot, done) => {
    q.read(fd, bufs[slot], 0, p.block, (random() % blocks) * p.block, (err) => {
      if (err) throw err;
      done();
    });
  });
  await q.close(fd);
  await q.destroy();
  return result;
}

const variants: Record<string, (p: Params) => Promise<Result>> = {
  'proactor-callback': (p) => callbackReads(p, false),
  'proactor-callback-registered': (p) => callbackReads(p, true),

  async 'proactor-promise'(p) {
    const q = new Queue(await loadBackend(p.backend), { entries: Math.max(p.depth, 1) });
    const fd = await q.open(p.file, openFlags(p));
    const blocks = Math.floor(fs.fstatSync(fd).size / p.block);
    const bufs = readBuffers(p, p.depth);
    const deadline = performance.now() + p.seconds * 1000;
    const t0 = performance.now();
    let ops = 0;
    let stop = false;
    await Promise.all(
      bufs.map(async (buf) => {
        while (!stop) {
          await q.read(fd, buf, 0, p.block, (random() % blocks) * p.block);
          ops++;
          if ((ops & 255) === 0 && performance.now() >= deadline) stop = true;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await q.close(fd);
    await q.destroy();
    return { ops, seconds };
  },

  async 'proactor-batch'(p) {
    const q = new Queue(await loadBackend(p.backend), { entries: Math.max(p.depth, 1) });
    const fd = await q.open(p.file, openFlags(p));
    const blocks = Math.floor(fs.fstatSync(fd).size / p.block);
    const bufs = readBuffers(p, p.depth);
    const issue = (slot: number) =>
      q.read(fd, bufs[slot], { position: (random() % blocks) * p.block, userData: slot });
    const t0 = performance.now();
    const deadline = t0 + p.seconds * 1000;
    let ops = 0;
    let inflight = p.depth;
    let stopping = false;
    for (let i = 0; i < p.depth; i++) issue(i);
    const onCompletion = (c: { userData: number; result: number }) => {
      if (c.result < 0) throw q.errorOf(c.result, 'read');
      ops++;
      inflight--;
      if (!stopping) {
        inflight++;
        issue(c.userData);
      }
    };
    const blocking = q.capabilities.waitSync;
    while (inflight > 0) {
      if (blocking) q.waitSync(1);
      else {
        q.submit();
        await new Promise((resolve) => setImmediate(resolve));
      }
      q.drain(onCompletion);
      if (!stopping && performance.now() >= deadline) stopping = true;
    }
    const seconds = (performance.now() - t0) / 1000;
    await q.close(fd);
    await q.destroy();
    return { ops, seconds };
  },

  async 'node-fs-read'(p) {
    const fd = fs.openSync(p.file, openFlags(p));
    const blocks = Math.floor(fs.fstatSync(fd).size / p.block);
    const bufs = readBuffers(p, p.depth);
    const result = await closedLoop(p.depth, p.seconds, (slot, done) => {
      fs.read(fd, bufs[slot], 0, p.block, (random() % blocks) * p.block, (err) => {
        if (err) throw err;
        done();
      });
    });
    fs.closeSync(fd);
    return result;
  },

  async 'node-fs-promises'(p) {
    const fh = await fs.promises.open(p.file, openFlags(p));
    const blocks = Math.floor((await fh.stat()).size / p.block);
    const bufs = readBuffers(p, p.depth);
    const deadline = performance.now() + p.seconds * 1000;
    const t0 = performance.now();
    let ops = 0;
    let stop = false;
    await Promise.all(
      bufs.map(async (buf) => {
        while (!stop) {
          await fh.read(buf, 0, p.block, (random() % blocks) * p.block);
          ops++;
          if ((ops & 255) === 0 && performance.now() >= deadline) stop = true;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await fh.close();
    return { ops, seconds };
  },

  async 'node-readsync'(p) {
    const fd = fs.openSync(p.file, openFlags(p));
    const blocks = Math.floor(fs.fstatSync(fd).size / p.block);
    const [buf] = readBuffers(p, 1);
    const t0 = performance.now();
    const deadline = t0 + p.seconds * 1000;
    let ops = 0;
    do {
      for (let i = 0; i < 1024; i++) fs.readSync(fd, buf, 0, p.block, (random() % blocks) * p.block);
      ops += 1024;
    } while (performance.now() < deadline);
    fs.closeSync(fd);
    return { ops, seconds: (performance.now() - t0) / 1000 };
  },

  async 'proactor-nop-batch'(p) {
    const q = new Queue(await loadBackend(p.backend), { entries: p.depth });
    const t0 = performance.now();
    const deadline = t0 + p.seconds * 1000;
    let ops = 0;
    const count = () => {
      ops++;
    };
    do {
      for (let i = 0; i < p.depth; i++) q.nop({ userData: i });
      if (q.capabilities.waitSync) q.waitSync(p.depth);
      else {
        q.submit();
        while (q.ready < p.depth) await new Promise((resolve) => setImmediate(resolve));
      }
      q.drain(count);
    } while (performance.now() < deadline);
    const seconds = (performance.now() - t0) / 1000;
    await q.destroy();
    return { ops, seconds };
  },

  async 'proactor-nop-promise'(p) {
    const q = new Queue(await loadBackend(p.backend), { entries: p.depth });
    const t0 = performance.now();
    const deadline = t0 + p.seconds * 1000;
    let ops = 0;
    const batch: Promise<void>[] = new Array(p.depth);
    do {
      for (let i = 0; i < p.depth; i++) batch[i] = q.nop();
      await Promise.all(batch);
      ops += p.depth;
    } while (performance.now() < deadline);
    const seconds = (performance.now() - t0) / 1000;
    await q.destroy();
    return { ops, seconds };
  },

  async 'proactor-seqwrite'(p) {
    const q = new Queue(await loadBackend(p.backend), { entries: Math.max(p.depth, 1) });
    const size = p.writeSize!;
    const [buf] = alignedBuffers(1, size);
    buf.fill(0x5a);
    const t0 = performance.now();
    const fd = await q.open(p.file, 'w');
    await sequentialWrites(p, (position) => q.write(fd, buf, 0, size, position));
    await q.fsync(fd);
    await q.close(fd);
    const seconds = (performance.now() - t0) / 1000;
    await q.destroy();
    return { ops: p.totalBytes! / size, seconds };
  },

  async 'node-fs-promises-seqwrite'(p) {
    const size = p.writeSize!;
    const [buf] = alignedBuffers(1, size);
    buf.fill(0x5a);
    const t0 = performance.now();
    const fh = await fs.promises.open(p.file, 'w');
    await sequentialWrites(p, (position) => fh.write(buf, 0, size, position));
    await fh.sync();
    await fh.close();
    return { ops: p.totalBytes! / size, seconds: (performance.now() - t0) / 1000 };
  },
};

const [name, json] = process.argv.slice(2);
const run = variants[name];
if (!run) {
  process.stderr.write(`unknown variant ${name}; known: ${Object.keys(variants).join(', ')}\n`);
  process.exit(2);
}
const result = await run(JSON.parse(json) as Params);
process.stdout.write(`${JSON.stringify(result)}\n`);
