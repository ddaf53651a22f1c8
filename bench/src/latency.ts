/**
 * Echo ping-pong latency: examples/echo-server on each backend against a node:net echo server, with
 * 1 and 100 connections, each one message in flight (64 bytes). Loopback only, bounded in time.
 * Each server is started fresh for each run; p50 and p99 round trips, medians over the runs.
 *
 *   node bench/dist/latency.js [--runs 3] [--seconds 3] [--backends io_uring,epoll,epoll-poll,node]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { availableBackends } from './backends.js';
import { type Row, renderMarkdown, type Workload } from './report.js';
import { saveWorkloads, startExample, stop, waitForPort } from './server-process.js';

const benchDir = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    /** Comma-separated backend ids (backends.ts) of the example server. */
    backends: { type: 'string', default: 'io_uring,epoll,epoll-poll,node' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
let nextPort = 18_600;

interface Server {
  label: string;
  kind: 'proactor' | 'baseline';
  start(port: number): ChildProcess;
}
const { available, skipped } = await availableBackends(values.backends);
for (const line of skipped) process.stdout.write(`(${line})\n`);
const servers: Server[] = [
  ...available.map(
    (b): Server => ({
      label: `proactor ${b.label} (examples/echo-server)`,
      kind: 'proactor',
      start: (port) => startExample(benchDir, 'echo-server', b, port),
    }),
  ),
  {
    label: 'node:net echo server',
    kind: 'baseline',
    start: (port) =>
      spawn(process.execPath, [join(benchDir, 'dist/servers/net-echo.js'), String(port)], {
        stdio: 'ignore',
      }),
  },
];

async function measure(server: Server, connections: number): Promise<{ p50: number; p99: number }> {
  const port = nextPort++;
  const child = server.start(port);
  try {
    await waitForPort(port);
    const out = spawnSync(
      process.execPath,
      [join(benchDir, 'dist/latency-client.js'), String(port), String(connections), String(seconds)],
      { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
    );
    return JSON.parse(out.stdout.trim()) as { p50: number; p99: number };
  } finally {
    await stop(child);
  }
}

function row(label: string, kind: Row['kind'], values: number[]): Row {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { label, kind, median, min: sorted[0], max: sorted[sorted.length - 1], samples: values };
}

const workloads: Workload[] = [];
for (const connections of [1, 100]) {
  process.stdout.write(`echo ping-pong, ${connections} connection(s) `);
  const loadBefore = loadavg()[0];
  const p50 = servers.map(() => [] as number[]);
  const p99 = servers.map(() => [] as number[]);
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < servers.length; k++) {
      const i = (k + run) % servers.length;
      const r = await measure(servers[i], connections);
      p50[i].push(r.p50);
      p99[i].push(r.p99);
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  const measured = new Date().toISOString();
  const loadAverage: [number, number] = [loadBefore, loadavg()[0]];
  for (const [name, values] of [
    ['p50', p50],
    ['p99', p99],
  ] as const) {
    workloads.push({
      id: `echo-${name}-${connections}`,
      title: `Echo ping-pong round trip ${name}, ${connections} connection(s), 64 B (lower is better)`,
      unit: 'µs',
      rows: servers.map((s, i) => row(s.label, s.kind, values[i])),
      measured,
      loadAverage,
    });
  }
}

saveWorkloads(benchDir, workloads);
process.stdout.write(renderMarkdown({ date: new Date().toISOString() }, workloads));
