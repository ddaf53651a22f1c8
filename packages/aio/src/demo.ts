#!/usr/bin/env node
/**
 * proactor demo: real file I/O through a queue on the best backend this machine has.
 * Writes a file in a batch, reads it back at random offsets with many reads in flight,
 * verifies every byte, and reports what it did and how long it took.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from '@proactor/aio-core';
import { selectBackend } from './select.js';

const FILE_SIZE = 32 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const BLOCK = 4096;
const READS = 50_000;
const DEPTH = 64;

function content(size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) buf.writeUInt32LE((i * 2654435761) >>> 0, i);
  return buf;
}

async function main(): Promise<void> {
  const selection = await selectBackend();
  process.stdout.write(`backend: ${selection.backend.name}\n${selection.explain().replace(/^/gm, '  ')}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'proactor-demo-'));
  const path = join(dir, 'data.bin');
  await using q = new Queue(selection.backend, { entries: 256 });
  try {
    const expected = content(FILE_SIZE);

    // 1. Write the file as one batch of 1 MiB writes (one submit call), then fsync.
    let t0 = performance.now();
    const fd = await q.open(path, 'w+', 0o644);
    const writes: Promise<number>[] = [];
    for (let off = 0; off < FILE_SIZE; off += CHUNK) writes.push(q.write(fd, expected, off, CHUNK, off));
    const written = (await Promise.all(writes)).reduce((a, b) => a + b, 0);
    await q.fsync(fd);
    const writeMs = performance.now() - t0;
    const stats = await q.fstat(fd);
    if (written !== FILE_SIZE || stats.size !== FILE_SIZE)
      throw new Error(`wrote ${written}, file has ${stats.size}`);
    process.stdout.write(
      `wrote   ${FILE_SIZE / CHUNK} x 1 MiB + fsync in ${writeMs.toFixed(1)} ms (${(FILE_SIZE / 1048576 / (writeMs / 1000)).toFixed(0)} MiB/s)\n`,
    );

    // 2. Random 4 KiB reads, DEPTH in flight through the callback form, each block verified.
    const blocks = FILE_SIZE / BLOCK;
    let issued = 0;
    let completed = 0;
    let mismatches = 0;
    t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const issue = () => {
        const block = Math.floor(Math.random() * blocks);
        const buf = Buffer.allocUnsafe(BLOCK);
        issued++;
        q.read(fd, buf, 0, BLOCK, block * BLOCK, (err, n) => {
          if (err) return reject(err);
          if (n !== BLOCK || buf.compare(expected, block * BLOCK, block * BLOCK + BLOCK) !== 0) mismatches++;
          completed++;
          if (issued < READS) issue();
          else if (completed === READS) resolve();
        });
      };
      for (let i = 0; i < DEPTH; i++) issue();
    });
    const readMs = performance.now() - t0;
    process.stdout.write(
      `read    ${READS} x 4 KiB at random offsets, ${DEPTH} in flight, in ${readMs.toFixed(1)} ms (${Math.round(READS / (readMs / 1000)).toLocaleString('en-US')} reads/s)\n`,
    );
    if (mismatches > 0) throw new Error(`${mismatches} blocks read back differently`);
    process.stdout.write(`verify  ${READS} blocks match what was written\n`);

    // 3. Whole-file read back in one vectored read, then clean up through the queue.
    const parts = Array.from({ length: 32 }, () => Buffer.allocUnsafe(FILE_SIZE / 32));
    const n = await q.readv(fd, parts, 0);
    if (n !== FILE_SIZE || !Buffer.concat(parts).equals(expected))
      throw new Error('vectored read-back differs');
    process.stdout.write(`readv   ${FILE_SIZE / 1048576} MiB in 32 buffers, identical\n`);
    await q.close(fd);
    await q.unlink(path);
    process.stdout.write('done: the file was written, read, verified and removed through the queue\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
