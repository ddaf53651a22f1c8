/**
 * C10K memory benchmark: 10,000 concurrent loopback TCP connections held open, each exchanging a
 * 64-byte message with an echo server once a second for 30 s, against a proactor echo server
 * (servers/aio-echo.ts: aio-core on aio-uring, receiving with queue.recvs()) and a node:net echo
 * server (servers/net-echo.ts). The client (c10k-client.ts, node:net) is its own process and
 * verifies every echoed byte. The server's memory is measured from outside (VmRSS in
 * /proc/<pid>/status) and inside (process.memoryUsage() over IPC): once idle before the client
 * connects, then every `--sample-ms` while every connection is held. Per connection:
 * (held median - idle) / connections. Each run starts fresh processes; servers are interleaved.
 *
 *   node dist/c10k.js [--connections 10000] [--seconds 30] [--runs 3] [--batch 500] [--recv-size 4096] [--gc]
 *                     [--semi-space MiB] [--pool-count 1024]
 *
 * --gc starts the servers with --expose-gc and runs a full collection before each sample, so the
 * samples show live memory rather than garbage waiting for the next collection. --semi-space N
 * starts both servers with --max-semi-space-size=N: V8 grows its young generation under the
 * allocation burst of 10,000 connects (tens of MiB of heap it keeps), which otherwise dominates
 * the per-connection figure of either server.
 *
 * Writes the c10k workloads into bench/results/latest.json (details in bench/results/c10k.json) and
 * re-renders bench/results/README.md.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Row, renderMarkdown, type Workload } from './report.js';
import { saveWorkloads, stop, waitForPort } from './server-process.js';

const benchDir = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '30' },
    runs: { type: 'string', default: '3' },
    batch: { type: 'string', default: '500' },
    'recv-size': { type: 'string', default: '4096' },
    'sample-ms': { type: 'string', default: '500' },
    gc: { type: 'boolean', default: false },
    'semi-space': { type: 'string', default: '' },
    'pool-count': { type: 'string', default: '1024' },
  },
});
const connections = Number(values.connections);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const batch = Number(values.batch);
const recvSize = Number(values['recv-size']);
const sampleMs = Number(values['sample-ms']);
const gc = values.gc!;
/** V8's --max-semi-space-size (MiB) for both servers; default V8's own. */
const semiSpace = values['semi-space'] ? Number(values['semi-space']) : undefined;
/** Provided buffers of the proactor servers' receive pool (of --recv-size bytes each). */
const poolCount = Number(values['pool-count']);
let nextPort = 18_900;

interface Server {
  label: string;
  kind: 'proactor' | 'baseline';
  script: string;
  args: string[];
}
const servers: Server[] = [
  {
    label: `proactor io_uring (servers/aio-echo, recvs() size ${recvSize})`,
    kind: 'proactor',
    script: join(benchDir, 'dist/servers/aio-echo.js'),
    args: [String(recvSize), '16384', 'iterator', String(poolCount)],
  },
  {
    label: `proactor io_uring, callback form (servers/aio-echo, recvs(fd, options, callback) size ${recvSize})`,
    kind: 'proactor',
    script: join(benchDir, 'dist/servers/aio-echo.js'),
    args: [String(recvSize), '16384', 'callback', String(poolCount)],
  },
  {
    label: 'node:net echo server',
    kind: 'baseline',
    script: join(benchDir, 'dist/servers/net-echo.js'),
    args: [],
  },
];

type MemoryUsage = NodeJS.MemoryUsage;
interface Sample {
  rss: number;
  memory: MemoryUsage;
}

/** VmRSS of `pid` in bytes. */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/** RSS from outside and process.memoryUsage() from inside the server, at the same moment. */
function sample(child: ChildProcess): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the server did not answer a memory query in 5 s')),
      5000,
    );
    const onMessage = (m: unknown) => {
      const memory = (m as { memory?: MemoryUsage }).memory;
      if (!memory) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve({ rss: rssOf(child.pid!), memory });
    };
    child.on('message', onMessage);
    child.send(gc ? 'memory-gc' : 'memory');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface ClientResult {
  openAtStart: number;
  openAtEnd: number;
  connectMs: number;
  sent: number;
  verified: number;
  lost: number;
  mismatched: number;
  unexpectedBytes: number;
  closedEarly: number;
  errors: Record<string, number>;
  rttP50Ms: number;
  rttP99Ms: number;
  rttMaxMs: number;
}

interface RunResult {
  server: string;
  idle: Sample;
  held: Sample[];
  client: ClientResult;
  /** Per connection, from the held medians: RSS, heapUsed, external (arrayBuffers is part of external). */
  perConnection: { rss: number; rssMax: number; heapUsed: number; external: number; arrayBuffers: number };
}

async function measure(server: Server): Promise<RunResult> {
  const port = nextPort++;
  const child = fork(server.script, [String(port), ...server.args], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [
      ...(gc ? ['--expose-gc'] : []),
      ...(semiSpace !== undefined ? [`--max-semi-space-size=${semiSpace}`] : []),
    ],
  });
  try {
    await waitForPort(port);
    await sleep(1000);
    const idleSamples: Sample[] = [];
    for (let i = 0; i < 3; i++) {
      idleSamples.push(await sample(child));
      await sleep(200);
    }
    const idle = idleSamples.sort((a, b) => a.rss - b.rss)[1];

    const client = fork(
      join(benchDir, 'dist/c10k-client.js'),
      [String(port), String(connections), String(seconds), String(batch)],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    const held: Sample[] = [];
    let connected = false;
    let result: ClientResult | undefined;
    client.on('message', (m: { phase: string } & ClientResult) => {
      if (m.phase === 'connected') connected = true;
      else if (m.phase === 'result') result = m;
    });
    const exited = new Promise<void>((resolve) => client.on('exit', () => resolve()));
    const deadline = Date.now() + (seconds + 120) * 1000;
    let connectedAt = 0;
    // Bounded: the client finishes (or is killed) by the deadline.
    while (result === undefined && client.exitCode === null && Date.now() < deadline) {
      await sleep(sampleMs);
      if (!connected || result !== undefined) continue;
      connectedAt ||= Date.now();
      // The held phase: skip the first second after the last connection opened.
      if (Date.now() - connectedAt >= 1000) held.push(await sample(child));
    }
    if (result === undefined) {
      client.kill('SIGKILL');
      throw new Error('the c10k client gave no result');
    }
    await Promise.race([exited, sleep(10_000)]);
    if (held.length === 0) throw new Error('no memory sample in the held phase (--seconds too short?)');
    const perConn = (pick: (s: Sample) => number) => (median(held.map(pick)) - pick(idle)) / connections;
    return {
      server: server.label,
      idle,
      held,
      client: result,
      perConnection: {
        rss: perConn((s) => s.rss),
        rssMax: (Math.max(...held.map((s) => s.rss)) - idle.rss) / connections,
        heapUsed: perConn((s) => s.memory.heapUsed),
        external: perConn((s) => s.memory.external),
        arrayBuffers: perConn((s) => s.memory.arrayBuffers),
      },
    };
  } finally {
    await stop(child);
  }
}

function row(label: string, kind: Row['kind'], values: number[]): Row {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    label,
    kind,
    median: median(values),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    samples: values,
  };
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const all: RunResult[][] = servers.map(() => []);
process.stdout.write(`C10K: ${connections} connections x ${seconds} s, ${runs} run(s) per server\n`);
for (let run = 0; run < runs; run++) {
  for (let k = 0; k < servers.length; k++) {
    const i = (k + run) % servers.length;
    const r = await measure(servers[i]);
    all[i].push(r);
    const c = r.client;
    const held = median(r.held.map((s) => s.rss));
    process.stdout.write(
      `  ${servers[i].label}: RSS idle ${mib(r.idle.rss)}, held ${mib(held)} -> ${Math.round(r.perConnection.rss)} B/connection` +
        ` (heapUsed ${Math.round(r.perConnection.heapUsed)}, external ${Math.round(r.perConnection.external)});` +
        ` open ${c.openAtStart}/${connections}, sent ${c.sent}, verified ${c.verified}, lost ${c.lost},` +
        ` mismatched ${c.mismatched}, errors ${JSON.stringify(c.errors)}, rtt p50 ${c.rttP50Ms.toFixed(2)} ms p99 ${c.rttP99Ms.toFixed(2)} ms\n`,
    );
  }
}

const measured = new Date().toISOString();
const totals = all.map((rs) =>
  rs.reduce(
    (t, r) => ({
      sent: t.sent + r.client.sent,
      verified: t.verified + r.client.verified,
      problems:
        t.problems +
        r.client.mismatched +
        r.client.unexpectedBytes +
        r.client.closedEarly +
        Object.values(r.client.errors).reduce((a, b) => a + b, 0) +
        (connections - r.client.openAtStart),
    }),
    { sent: 0, verified: 0, problems: 0 },
  ),
);
const notes = servers.map((s, i) => {
  const t = totals[i];
  const rtt = median(all[i].map((r) => r.client.rttP99Ms));
  return `${s.label}: messages sent ${t.sent.toLocaleString('en-US')}, echoed and verified ${t.verified.toLocaleString('en-US')}, errors ${t.problems} (all runs); echo round trip p99 ${rtt.toFixed(2)} ms (median of runs).`;
});
const title = `${connections.toLocaleString('en-US')} connections held ${seconds} s, one 64 B echo per connection per second${recvSize === 4096 ? '' : `, proactor recvs() size ${recvSize}`}${gc ? ', full GC before each sample' : ''}${semiSpace !== undefined ? `, both servers with --max-semi-space-size=${semiSpace}` : ''}${poolCount === 1024 ? '' : `, proactor pool ${poolCount} buffers`}`;
// Non-default settings are saved beside the default run rather than over it.
const variant = `${gc ? '-gc' : ''}${recvSize === 4096 ? '' : `-recv${recvSize}`}${semiSpace !== undefined ? `-semi${semiSpace}` : ''}${poolCount === 1024 ? '' : `-pool${poolCount}`}`;
const workloads: Workload[] = [
  {
    id: `c10k-rss${variant}`,
    title: `C10K server memory: RSS per connection, ${title} (bytes, lower is better)`,
    unit: 'B/connection',
    rows: servers.map((s, i) =>
      row(
        s.label,
        s.kind,
        all[i].map((r) => r.perConnection.rss),
      ),
    ),
    measured,
    notes,
  },
  {
    id: `c10k-heap${variant}`,
    title: `C10K server memory: V8 heapUsed + external per connection, ${title} (bytes, lower is better)`,
    unit: 'B/connection',
    rows: servers.map((s, i) =>
      row(
        s.label,
        s.kind,
        all[i].map((r) => r.perConnection.heapUsed + r.perConnection.external),
      ),
    ),
    measured,
  },
];

writeFileSync(
  join(benchDir, 'results', `c10k${variant}.json`),
  `${JSON.stringify({ measured, connections, seconds, runs, batch, recvSize, sampleMs, gc, servers: servers.map((s, i) => ({ label: s.label, runs: all[i] })) }, null, 2)}\n`,
);
saveWorkloads(benchDir, workloads);
process.stdout.write(renderMarkdown({ date: measured }, workloads));
