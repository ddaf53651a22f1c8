/**
 * A/B of two builds of @proactor/aio-uring (JavaScript and addon together) on the workloads a
 * native change can move: 4 KiB random reads from the page cache (64 in flight, callback form),
 * nop round trips (batches of 128), HTTP keep-alive (examples/http-server, wrk -t1 -c100) and
 * echo latency (examples/echo-server, 1 and 100 connections).
 *
 *   node bench/dist/addon-ab.js --before <dir of a built aio-uring package> [--rounds 5] [--seconds 3]
 *
 * "after" is the workspace's package; "before" replaces it, for every process started, through a
 * module resolve hook (so the examples, which reach it through @proactor/aio, load it too).
 * Rounds interleave the two (A B, then B A, ...) so that drift on a shared machine hits both
 * alike; medians, min and max per build are printed as a markdown table. Then, per build, what
 * an echo round trip costs the server in counts that the machine's load does not move
 * (echo-counters.js: wakeups and io_uring_enter calls per message), with its CPU time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requireWrk, stop, waitForPort } from './server-process.js';
import { uringOverrideImport } from './uring-override.js';

const benchDir = new URL('..', import.meta.url).pathname;
const root = join(benchDir, '..');
const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
  },
});
if (!values.before) throw new Error('--before <dir of a built aio-uring package> is required');
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
requireWrk();

// Every process of the "before" build imports that package instead of the workspace's.
const beforeImport = uringOverrideImport(values.before);
type Build = 'before' | 'after';
const execArgv = (build: Build): string[] => (build === 'before' ? ['--import', beforeImport] : []);

const file = join(tmpdir(), 'proactor-bench-256m.bin');
if (!existsSync(file) || statSync(file).size !== 256 << 20) {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20, 7);
  for (let i = 0; i < 256; i++) writeSync(fd, chunk);
  closeSync(fd);
}

function variant(build: Build, name: string, params: object): number {
  const out = spawnSync(
    process.execPath,
    [...execArgv(build), join(benchDir, 'dist', 'variant.js'), name, JSON.stringify(params)],
    { encoding: 'utf8', cwd: benchDir },
  );
  if (out.status !== 0) throw new Error(`${name} (${build}) failed: ${out.stderr}`);
  const r = JSON.parse(out.stdout.trim().split('\n').pop()!) as { ops: number; seconds: number };
  return r.ops / r.seconds;
}

let nextPort = 18_900;
async function server<T>(build: Build, example: string, run: (port: number) => T): Promise<T> {
  const port = nextPort++;
  const child = spawn(
    process.execPath,
    [...execArgv(build), join(root, 'examples', example, 'dist', 'main.js'), String(port)],
    { env: { ...process.env, PROACTOR_BACKEND: 'io_uring' }, stdio: 'ignore' },
  );
  try {
    await waitForPort(port);
    return run(port);
  } finally {
    await stop(child);
  }
}

function wrk(port: number): number {
  const out = spawnSync('wrk', ['-t1', '-c100', `-d${seconds}s`, `http://127.0.0.1:${port}/`], {
    encoding: 'utf8',
  });
  const m = out.stdout.match(/Requests\/sec:\s+([\d.]+)/);
  if (!m) throw new Error(`wrk printed no rate: ${out.stdout}${out.stderr}`);
  return Number(m[1]);
}

function latency(port: number, connections: number): { p50: number; p99: number } {
  const out = spawnSync(
    process.execPath,
    [join(benchDir, 'dist/latency-client.js'), String(port), String(connections), String(seconds)],
    { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
  );
  return JSON.parse(out.stdout.trim()) as { p50: number; p99: number };
}

interface Metric {
  label: string;
  unit: string;
  /** true when bigger is better (throughput), false for latency. */
  higherIsBetter: boolean;
  measure(build: Build): Promise<number[]>;
}

const metrics: Metric[] = [
  {
    label: '4 KiB random reads, page cache, 64 in flight (callback)',
    unit: 'reads/s',
    higherIsBetter: true,
    measure: async (b) => [
      variant(b, 'proactor-callback', {
        file,
        block: 4096,
        depth: 64,
        seconds,
        backend: '@proactor/aio-uring',
      }),
    ],
  },
  {
    label: 'nop round trips, batches of 128',
    unit: 'nops/s',
    higherIsBetter: true,
    measure: async (b) => [
      variant(b, 'proactor-nop-batch', {
        file,
        block: 0,
        depth: 128,
        seconds,
        backend: '@proactor/aio-uring',
      }),
    ],
  },
  {
    label: 'HTTP keep-alive, examples/http-server, wrk -t1 -c100',
    unit: 'req/s',
    higherIsBetter: true,
    measure: async (b) => [await server(b, 'http-server', wrk)],
  },
  {
    label: 'echo latency, 1 connection',
    unit: 'µs',
    higherIsBetter: false,
    measure: async (b) => {
      const r = await server(b, 'echo-server', (port) => latency(port, 1));
      return [r.p50, r.p99];
    },
  },
  {
    label: 'echo latency, 100 connections',
    unit: 'µs',
    higherIsBetter: false,
    measure: async (b) => {
      const r = await server(b, 'echo-server', (port) => latency(port, 100));
      return [r.p50, r.p99];
    },
  },
];

const load = (): string =>
  loadavg()
    .map((v) => v.toFixed(1))
    .join(' / ');
const loadAtStart = load();

// samples[metric][build][figure] = values over rounds
const samples = metrics.map(() => ({ before: [] as number[][], after: [] as number[][] }));
for (let round = 0; round < rounds; round++) {
  const order: Build[] = round % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
  for (let m = 0; m < metrics.length; m++) {
    for (const build of order) {
      const figures = await metrics[m].measure(build);
      figures.forEach((v, i) => {
        samples[m][build][i] ??= [];
        samples[m][build][i].push(v);
      });
      process.stdout.write('.');
    }
  }
}
process.stdout.write('\n');

function stats(values: number[]): { median: number; min: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] };
}
const fmt = (v: number): string => (v >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));

const lines = [
  `| workload | before: median (min-max) | after: median (min-max) | after / before | change |`,
  `|---|---|---|---|---|`,
];
metrics.forEach((metric, m) => {
  const figures = metric.higherIsBetter ? [''] : [' p50', ' p99'];
  figures.forEach((suffix, i) => {
    const a = stats(samples[m].before[i]);
    const b = stats(samples[m].after[i]);
    const ratio = b.median / a.median;
    const better = metric.higherIsBetter ? ratio >= 1 : ratio <= 1;
    const change = Math.abs(ratio - 1) * 100;
    lines.push(
      `| ${metric.label}${suffix} (${metric.unit}) | ${fmt(a.median)} (${fmt(a.min)}-${fmt(a.max)}) | ${fmt(b.median)} (${fmt(b.min)}-${fmt(b.max)}) | ${ratio.toFixed(3)} | ${change.toFixed(1)}% ${better ? 'better' : 'worse'} |`,
    );
  });
});
process.stdout.write(
  `${rounds} rounds of ${seconds} s, before/after interleaved (ABBA); load average (1/5/15 min) ${loadAtStart} at the start, ${load()} at the end\n\n${lines.join('\n')}\n`,
);

// Per echo round trip, 1 connection: deterministic counts first, CPU time as measured.
const counterLines = [
  '| build | wakeups / message | io_uring_enter / message | server CPU µs / message (user + system) |',
  '|---|---|---|---|',
];
for (const build of ['before', 'after'] as Build[]) {
  const out = spawnSync(
    process.execPath,
    [...execArgv(build), join(benchDir, 'dist', 'echo-counters.js'), '20000'],
    {
      encoding: 'utf8',
      cwd: benchDir,
    },
  );
  if (out.status !== 0) throw new Error(`echo-counters (${build}) failed: ${out.stderr}`);
  const c = JSON.parse(out.stdout.trim().split('\n').pop() as string) as {
    wakeups: number;
    enterCalls: number;
    userUs: number;
    systemUs: number;
  };
  counterLines.push(
    `| ${build} | ${c.wakeups} | ${c.enterCalls} | ${(c.userUs + c.systemUs).toFixed(1)} (${c.userUs.toFixed(1)} + ${c.systemUs.toFixed(1)}) |`,
  );
}
process.stdout.write(`\necho round trip, 1 connection, 20,000 messages\n\n${counterLines.join('\n')}\n`);
