/**
 * 4 KiB reads at random positions of a 16 MiB file (in the page cache) through aio-iocp, against
 * node:fs's fs.read in the same process: reads per second with 1 and 32 in flight. Runs where node
 * is the Windows node.exe (on Linux: under Wine):
 *
 *   node.exe bench/dist/iocp-reads.js <path of @proactor/aio-iocp's dist/index.js> [--runs 5] [--seconds 2]
 *
 * The two alternate within each run; medians over the runs, and the ratio of medians.
 */
import { closeSync, openSync, read, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Backend, Queue } from '@proactor/aio-core';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '5' }, seconds: { type: 'string', default: '2' } },
});
if (positionals[0] === undefined) {
  console.error('iocp-reads: give the path of @proactor/aio-iocp (dist/index.js)');
  process.exit(2);
}
const { backend } = (await import(pathToFileURL(resolve(positionals[0])).href)) as { backend: Backend };
const seconds = Number(values.seconds);
const FILE_SIZE = 16 << 20;
const BLOCK = 4096;
const path = join(tmpdir(), `proactor-iocp-reads-${process.pid}.bin`);
writeFileSync(path, Buffer.alloc(FILE_SIZE, 0x5a));
const position = () => Math.floor(Math.random() * (FILE_SIZE / BLOCK)) * BLOCK;

/** Reads per second with `depth` reads in flight, each issued by `readAt` into its own buffer. */
async function rate(depth: number, readAt: (buf: Buffer, at: number) => Promise<number>): Promise<number> {
  const until = Date.now() + seconds * 1000;
  let reads = 0;
  await Promise.all(
    Array.from({ length: depth }, async () => {
      const buf = Buffer.alloc(BLOCK);
      while (Date.now() < until) {
        if ((await readAt(buf, position())) !== BLOCK) throw new Error('a short read');
        reads++;
      }
    }),
  );
  return reads / seconds;
}

const q = new Queue(backend, { entries: 256 });
const qfd = await q.open(path, 'r');
const fsfd = openSync(path, 'r');
const viaQueue = (buf: Buffer, at: number) => q.read(qfd, buf, 0, BLOCK, at);
const viaFs = (buf: Buffer, at: number) =>
  new Promise<number>((done, fail) => read(fsfd, buf, 0, BLOCK, at, (e, n) => (e ? fail(e) : done(n))));
const depths = [1, 32];
const samples = depths.map(() => ({ iocp: [] as number[], fs: [] as number[] }));
try {
  for (let run = 0; run < Number(values.runs); run++) {
    for (const [i, depth] of depths.entries()) {
      samples[i]?.iocp.push(await rate(depth, viaQueue));
      samples[i]?.fs.push(await rate(depth, viaFs));
    }
  }
} finally {
  await q.close(qfd);
  await q.destroy();
  closeSync(fsfd);
  rmSync(path, { force: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
console.log(
  `4 KiB random reads of a 16 MiB file, ${values.runs} runs of ${seconds} s, ${cpus().length} CPUs, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (0 on Windows), node ${process.version}\n`,
);
console.log('| in flight | aio-iocp reads/s | fs.read reads/s | ratio |\n|---|---|---|---|');
for (const [i, depth] of depths.entries()) {
  const iocp = median(samples[i]?.iocp ?? []);
  const fs = median(samples[i]?.fs ?? []);
  console.log(`| ${depth} | ${Math.round(iocp)} | ${Math.round(fs)} | ${(iocp / fs).toFixed(2)}x |`);
}
