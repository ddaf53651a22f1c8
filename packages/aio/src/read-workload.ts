/**
 * The `proactor bench read` workload: 4 KiB reads at random offsets of a 64 MiB file in the page
 * cache, 64 in flight, through a proactor queue (callback form) and through node:fs
 * (fs.read callbacks and FileHandle.read promises), the baselines a user would pick instead.
 * Rounds alternate between the variants so drift on a shared machine hits all of them alike;
 * each variant's figure is the median of its rounds.
 */
import { closeSync, read as fsRead, openSync, writeSync } from 'node:fs';
import { open as openHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { type Backend, Queue } from '@proactor/aio-core';

export interface ReadWorkloadOptions {
  dir: string;
  backend: Backend;
  rounds: number;
  /** Reads per round and variant. */
  reads: number;
  onRound?(done: number, total: number): void;
}

export interface VariantResult {
  name: string;
  /** Median operations per second over the rounds. */
  opsPerSecond: number;
  rounds: number[];
}

const FILE_SIZE = 64 * 1024 * 1024;
const BLOCK = 4096;
const DEPTH = 64;
const BLOCKS = FILE_SIZE / BLOCK;

/** A deterministic pseudo-random block index sequence (xorshift32). */
function offsets(count: number, seed: number): Float64Array {
  const out = new Float64Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x % BLOCKS) * BLOCK;
  }
  return out;
}

/** Runs `start(i, done)` for i < count with DEPTH in flight; resolves with operations per second. */
function closedLoop(count: number, start: (i: number, done: (error?: Error | null) => void) => void) {
  return new Promise<number>((resolve, reject) => {
    const t0 = performance.now();
    let issued = 0;
    let completed = 0;
    const done = (error?: Error | null) => {
      if (error) return reject(error);
      completed++;
      if (issued < count) start(issued++, done);
      else if (completed === count) resolve(count / ((performance.now() - t0) / 1000));
    };
    for (; issued < Math.min(DEPTH, count); ) start(issued++, done);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs the workload; the first result is the proactor queue, the others are node:fs. */
export async function runReadWorkload(options: ReadWorkloadOptions): Promise<VariantResult[]> {
  const path = join(options.dir, 'read-workload.bin');
  const fd = openSync(path, 'w+');
  const chunk = Buffer.alloc(1024 * 1024, 0xa5);
  for (let off = 0; off < FILE_SIZE; off += chunk.length) writeSync(fd, chunk, 0, chunk.length, off);
  const buffers = Array.from({ length: DEPTH }, () => Buffer.alloc(BLOCK));
  const q = new Queue(options.backend, { entries: 256 });
  const handle = await openHandle(path, 'r');
  const variants: { name: string; run(at: Float64Array): Promise<number> }[] = [
    {
      name: `proactor (${options.backend.name}, callbacks)`,
      run: (at) =>
        closedLoop(at.length, (i, done) =>
          q.read(fd, buffers[i % DEPTH], 0, BLOCK, at[i], (err) => done(err)),
        ),
    },
    {
      name: 'node:fs fs.read (callbacks)',
      run: (at) =>
        closedLoop(at.length, (i, done) =>
          fsRead(fd, buffers[i % DEPTH], 0, BLOCK, at[i], (err) => done(err)),
        ),
    },
    {
      name: 'node:fs FileHandle.read (promises)',
      run: (at) =>
        closedLoop(at.length, (i, done) => {
          handle.read(buffers[i % DEPTH], 0, BLOCK, at[i]).then(() => done(), done);
        }),
    },
  ];
  const rounds = variants.map(() => [] as number[]);
  try {
    // One warm-up pass puts the file in the page cache and the code paths through the JIT.
    for (const v of variants) await v.run(offsets(Math.min(options.reads, 20_000), 7));
    for (let r = 0; r < options.rounds; r++) {
      const at = offsets(options.reads, r + 1);
      for (let v = 0; v < variants.length; v++) rounds[v].push(await variants[v].run(at));
      options.onRound?.(r + 1, options.rounds);
    }
  } finally {
    await handle.close();
    await q.destroy();
    closeSync(fd);
  }
  return variants.map((v, i) => ({ name: v.name, opsPerSecond: median(rounds[i]), rounds: rounds[i] }));
}
