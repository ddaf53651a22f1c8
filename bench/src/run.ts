/**
 * proactor benchmarks. `pnpm bench` (or `node bench/dist/run.js [--quick] [--only W]`).
 *
 * Each variant runs in its own process, several times, interleaved with the others so that
 * drift hits every variant alike; medians, min and max are reported, and every proactor variant
 * is compared with the baselines measured in the same run. Results: bench/results/latest.json,
 * bench/results/README.md (tables) and bench/results/randread.svg.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { availableBackends } from './backends.js';
import { describeMachine, type Row, renderMarkdown, renderSvg, type Workload } from './report.js';
import type { Params } from './variant.js';

const benchDir = new URL('..', import.meta.url).pathname;
const resultsDir = join(benchDir, 'results');
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    seconds: { type: 'string' },
    /** Comma-separated backend ids (backends.ts); default: every one that loads here. */
    backends: { type: 'string' },
  },
});
const runs = Number(values.runs ?? (values.quick ? 3 : 5));
const seconds = Number(values.seconds ?? (values.quick ? 1 : 2));

// ---- environment -------------------------------------------------------------------------

const { available: backends, skipped } = await availableBackends(values.backends);
for (const line of skipped) process.stdout.write(`(${line}: its variants are left out)\n`);

function have(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
const hasFio = have('fio', ['--version']);
// Built by the bench package's build (c/build.mjs) on Linux.
const cBench = join(benchDir, 'build', 'Release', 'uring_bench');
const hasC = existsSync(cBench);
if (!hasC) process.stdout.write(`(${cBench} is not built: the C io_uring variants are left out)\n`);

const file = join(tmpdir(), 'proactor-bench-1g.bin');
const FILE_SIZE = 1 << 30;
if (!existsSync(file) || statSync(file).size !== FILE_SIZE) {
  process.stdout.write(`creating ${file} (1 GiB)\n`);
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let off = 0; off < FILE_SIZE; off += chunk.length)
    writeSync(fd, randomFillSync(chunk), 0, chunk.length, off);
  closeSync(fd);
}
function warmPageCache(): void {
  const fd = openSync(file, 'r');
  const chunk = Buffer.alloc(1 << 20);
  while (readSync(fd, chunk) > 0);
  closeSync(fd);
}

// ---- measuring ---------------------------------------------------------------------------

interface Variant {
  label: string;
  kind: 'proactor' | 'baseline';
  measure(): number; // ops per second
}

function nodeVariant(name: string, params: Params): () => number {
  return () => {
    const out = execFileSync(
      process.execPath,
      [join(benchDir, 'dist', 'variant.js'), name, JSON.stringify(params)],
      {
        encoding: 'utf8',
        cwd: benchDir,
      },
    );
    const r = JSON.parse(out.trim().split('\n').pop()!) as { ops: number; seconds: number };
    return r.ops / r.seconds;
  };
}

function cVariant(args: string[]): () => number {
  return () => {
    const out = execFileSync(cBench, args, { encoding: 'utf8' });
    return (JSON.parse(out) as { opsPerSec: number }).opsPerSec;
  };
}

function fioVariant(engine: string, depth: number, direct: boolean): () => number {
  return () => {
    const args = [
      '--name=bench',
      `--filename=${file}`,
      '--rw=randread',
      '--bs=4k',
      `--ioengine=${engine}`,
      `--iodepth=${depth}`,
      `--direct=${direct ? 1 : 0}`,
      '--invalidate=0',
      '--time_based',
      `--runtime=${seconds}`,
      '--size=1G',
      '--output-format=json',
      '--norandommap',
      '--randrepeat=0',
    ];
    if (engine === 'io_uring' && depth > 1)
      args.push(`--iodepth_batch_submit=${Math.min(depth, 32)}`, '--iodepth_batch_complete_min=1');
    const json = JSON.parse(execFileSync('fio', args, { encoding: 'utf8' })) as {
      jobs: { read: { iops: number } }[];
    };
    return json.jobs[0].read.iops;
  };
}

function measure(variants: Variant[]): Row[] {
  const samples = variants.map(() => [] as number[]);
  for (let run = 0; run < runs; run++) {
    // Rotate the order each run so no variant always follows the same neighbour.
    for (let k = 0; k < variants.length; k++) {
      const i = (k + run) % variants.length;
      samples[i].push(variants[i].measure());
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  return variants.map((v, i) => {
    const sorted = [...samples[i]].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return {
      label: v.label,
      kind: v.kind,
      median,
      min: sorted[0],
      max: sorted[sorted.length - 1],
      samples: samples[i],
    };
  });
}

// ---- workloads ---------------------------------------------------------------------------

function randreadVariants(depth: number, direct: boolean): Variant[] {
  const params: Params = { file, block: 4096, depth, seconds, direct };
  const list: Variant[] = [];
  for (const b of backends) {
    const forms = direct ? ['callback', 'batch'] : ['callback', 'promise', 'batch'];
    if (b.id === 'io_uring') forms.splice(1, 0, 'callback-registered');
    for (const form of forms) {
      list.push({
        label: `proactor ${b.label} ${form}`,
        kind: 'proactor',
        measure: nodeVariant(`proactor-${form}`, { ...params, backend: b.id }),
      });
    }
  }
  list.push({
    label: 'node fs.read callbacks',
    kind: 'baseline',
    measure: nodeVariant('node-fs-read', params),
  });
  if (!direct) {
    list.push({
      label: 'node fs.promises FileHandle.read',
      kind: 'baseline',
      measure: nodeVariant('node-fs-promises', params),
    });
    list.push({
      label: 'node fs.readSync loop',
      kind: 'baseline',
      measure: nodeVariant('node-readsync', params),
    });
  }
  if (hasC) {
    const args = ['randread', file, '4096', String(depth), String(seconds)];
    if (direct) args.push('direct');
    list.push({ label: 'C io_uring (raw syscalls)', kind: 'baseline', measure: cVariant(args) });
  }
  if (hasFio) {
    list.push({ label: 'fio io_uring', kind: 'baseline', measure: fioVariant('io_uring', depth, direct) });
    if (!direct) list.push({ label: 'fio psync', kind: 'baseline', measure: fioVariant('psync', 1, false) });
  }
  return list;
}

/**
 * Direct reads on the epoll backend, Linux AIO against its own thread pool, with the C limit of
 * that interface (fio's libaio engine: io_submit and io_getevents with 64 in flight), fio's
 * io_uring engine and aio-uring for scale. Callback form, as the others' best.
 */
function directAioVariants(depth: number): Variant[] {
  const params: Params = { file, block: 4096, depth, seconds, direct: true };
  const list: Variant[] = [];
  if (backends.some((b) => b.id === 'epoll')) {
    list.push({
      label: 'proactor epoll Linux AIO callback',
      kind: 'proactor',
      measure: nodeVariant('proactor-callback', { ...params, backend: 'epoll' }),
    });
    list.push({
      label: 'proactor epoll thread pool callback',
      kind: 'proactor',
      measure: nodeVariant('proactor-callback', {
        ...params,
        backend: join(benchDir, 'dist', 'epoll-pool-backend.js'),
      }),
    });
  }
  if (backends.some((b) => b.id === 'io_uring')) {
    list.push({
      label: 'proactor io_uring callback',
      kind: 'proactor',
      measure: nodeVariant('proactor-callback', { ...params, backend: 'io_uring' }),
    });
  }
  if (hasFio) {
    list.push({ label: 'fio libaio', kind: 'baseline', measure: fioVariant('libaio', depth, true) });
    list.push({ label: 'fio io_uring', kind: 'baseline', measure: fioVariant('io_uring', depth, true) });
  }
  return list;
}

function nopVariants(): Variant[] {
  const depth = 128;
  const list: Variant[] = [];
  for (const b of backends) {
    const params: Params = { file, block: 0, depth, seconds, backend: b.id };
    list.push({
      label: `proactor ${b.label} nop batch`,
      kind: 'proactor',
      measure: nodeVariant('proactor-nop-batch', params),
    });
    list.push({
      label: `proactor ${b.label} nop promise`,
      kind: 'proactor',
      measure: nodeVariant('proactor-nop-promise', params),
    });
  }
  if (hasC)
    list.push({
      label: 'C io_uring nop (batches of 128)',
      kind: 'baseline',
      measure: cVariant(['nop', '128', String(seconds)]),
    });
  return list;
}

function seqwriteVariants(): Variant[] {
  const target = join(tmpdir(), 'proactor-bench-seqwrite.bin');
  const params: Params = {
    file: target,
    block: 0,
    depth: 8,
    seconds,
    writeSize: 1 << 20,
    totalBytes: 256 << 20,
  };
  const list: Variant[] = backends.map((b) => ({
    label: `proactor ${b.label} 1 MiB writes + fsync`,
    kind: 'proactor' as const,
    measure: nodeVariant('proactor-seqwrite', { ...params, backend: b.id }),
  }));
  list.push({
    label: 'node fs.promises 1 MiB writes + fsync',
    kind: 'baseline',
    measure: nodeVariant('node-fs-promises-seqwrite', params),
  });
  return list;
}

const workloads: {
  id: string;
  title: string;
  unit: string;
  before?: () => void;
  variants: () => Variant[];
}[] = [
  {
    id: 'randread-64',
    title: '4 KiB random reads, page cache, 64 in flight',
    unit: 'reads/s',
    before: warmPageCache,
    variants: () => randreadVariants(64, false),
  },
  {
    id: 'randread-1',
    title: '4 KiB random reads, page cache, 1 in flight',
    unit: 'reads/s',
    before: warmPageCache,
    variants: () => randreadVariants(1, false),
  },
  {
    id: 'randread-256',
    title: '4 KiB random reads, page cache, 256 in flight',
    unit: 'reads/s',
    before: warmPageCache,
    variants: () => randreadVariants(256, false),
  },
  {
    id: 'randread-direct-64',
    title: '4 KiB random reads, O_DIRECT, 64 in flight',
    unit: 'reads/s',
    variants: () => randreadVariants(64, true),
  },
  {
    id: 'randread-direct-epoll-64',
    title:
      '4 KiB random reads, O_DIRECT, 64 in flight, epoll backend: Linux AIO against its thread pool and fio libaio',
    unit: 'reads/s',
    variants: () => directAioVariants(64),
  },
  { id: 'nop', title: 'nop round trips (binding overhead)', unit: 'nops/s', variants: nopVariants },
  {
    id: 'seqwrite',
    title: '256 MiB as 1 MiB writes (8 in flight) + fsync',
    unit: 'writes/s',
    variants: seqwriteVariants,
  },
];

const results: Workload[] = [];
for (const w of workloads) {
  if (values.only && !w.id.startsWith(values.only)) continue;
  process.stdout.write(`${w.title} `);
  w.before?.();
  const loadBefore = loadavg()[0];
  const rows = measure(w.variants());
  results.push({
    id: w.id,
    title: w.title,
    unit: w.unit,
    rows,
    loadAverage: [loadBefore, loadavg()[0]],
    cpus: describeMachine().cpus,
  });
}

const machine = {
  ...describeMachine(),
  date: new Date().toISOString(),
  runs,
  secondsPerRun: seconds,
  backends: backends.map((b) => b.id),
  fio: hasFio,
  c: hasC,
};
mkdirSync(resultsDir, { recursive: true });
const latestPath = join(resultsDir, 'latest.json');
// The workloads measured now replace their saved results; the others (this benchmark's left out by
// --only, and the other benchmarks') are kept, each with its own date.
let saved: Workload[] = [];
if (existsSync(latestPath)) {
  saved = (JSON.parse(readFileSync(latestPath, 'utf8')) as { results: Workload[] }).results;
}
for (const w of results) w.measured = machine.date;
const merged = [...results, ...saved.filter((w) => !results.some((r) => r.id === w.id))];
// This benchmark's workloads first, in its order; the other benchmarks' after them, as they were.
const order = (id: string) => {
  const i = workloads.findIndex((w) => w.id === id);
  return i < 0 ? workloads.length : i;
};
merged.sort((a, b) => order(a.id) - order(b.id));
writeFileSync(latestPath, `${JSON.stringify({ machine, results: merged }, null, 2)}\n`);
writeFileSync(join(resultsDir, 'README.md'), renderMarkdown(machine, merged));
const chart = merged.find((r) => r.id === 'randread-64');
if (chart) writeFileSync(join(resultsDir, 'randread.svg'), renderSvg(chart));
process.stdout.write(renderMarkdown(machine, results));
