/**
 * C10K benchmark: 10,000 concurrent loopback TCP connections held open, each exchanging a 64-byte
 * message with an echo server once a second for 30 s, against a proactor echo server
 * (servers/aio-echo.ts: aio-core on aio-uring, receiving with queue.recvs(), in its `for await` and
 * callback forms), a node:net echo server (servers/net-echo.ts) and the thread-per-connection model
 * that completion-based I/O replaces (c/thread_echo.c: one pthread per connection, blocking
 * read/write, with the default stack and with a 64 KiB stack). The client (c10k-client.ts,
 * node:net) is its own process and verifies every echoed byte.
 *
 * Every server is measured from outside, in /proc, so the C server (an executable, no IPC) is
 * measured as the others: VmRSS and Threads (/proc/<pid>/status) once idle before the client
 * connects, then every `--sample-ms` while every connection is held; RSS per connection is
 * (held median - idle) / open connections. Over the held phase (from the client's 'connected' to
 * its result): CPU time (utime + stime of /proc/<pid>/stat) per message echoed and verified in
 * that phase, and voluntary / involuntary context switches per second summed over
 * /proc/<pid>/task/<tid>/status. The Node servers also answer process.memoryUsage() over IPC (the
 * V8 heap per connection). Each run starts fresh processes; servers are interleaved.
 *
 *   node dist/c10k.js [--connections 10000] [--seconds 30] [--runs 3] [--batch 500] [--recv-size 4096] [--gc]
 *                     [--semi-space MiB] [--pool-count 1024] [--servers iterator,callback,net,threads,threads-64k]
 *                     (also: epoll-iterator, epoll-callback, epoll-poll-iterator, epoll-poll-callback)
 *                     [--before DIR]
 *
 * --before DIR adds both proactor servers as another build had them, in the same run (an A/B):
 * DIR/servers/aio-echo.js (with its memory-ipc.js) and DIR/aio-uring (a built @proactor/aio-uring
 * package: dist, build/Release, package.json, node_modules), which a module resolve hook makes the
 * package those servers import. Results of such a run are saved with a -ab suffix.
 *
 * Limits: every connection is a descriptor in both the server and the client, so RLIMIT_NOFILE
 * bounds --connections (checked before anything starts); the client connects from 127.0.0.1, so
 * the ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range) is the next bound; the
 * thread servers need a thread (a pid: kernel.pid_max, kernel.threads-max) and two mappings
 * (stack and guard page: vm.max_map_count) per connection.
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
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Row, renderMarkdown, type Workload } from './report.js';
import { saveWorkloads, stop, waitForPort } from './server-process.js';
import { uringOverrideImport } from './uring-override.js';

const benchDir = new URL('..', import.meta.url).pathname;
const DEFAULT_SERVERS = 'iterator,callback,net,threads,threads-64k';
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
    servers: { type: 'string', default: DEFAULT_SERVERS },
    before: { type: 'string' },
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
  /** The name --servers selects it by. */
  id: string;
  label: string;
  kind: 'proactor' | 'baseline';
  /** A Node script (forked, with an IPC channel for process.memoryUsage()) or an executable. */
  run: { script: string; importFirst?: string } | { executable: string };
  args: string[];
}
// One slot per connection's multishot recv, plus sends and the accept (at most 65536).
const entries = Math.max(16384, 2 ** Math.ceil(Math.log2(connections + 1024)));
const threadEcho = join(benchDir, 'build', 'Release', 'thread_echo');
const allServers: Server[] = [
  {
    id: 'iterator',
    label: `proactor io_uring (servers/aio-echo, recvs() size ${recvSize})`,
    kind: 'proactor',
    run: { script: join(benchDir, 'dist/servers/aio-echo.js') },
    args: [String(recvSize), String(entries), 'iterator', String(poolCount)],
  },
  {
    id: 'callback',
    label: `proactor io_uring, callback form (servers/aio-echo, recvs(fd, options, callback) size ${recvSize})`,
    kind: 'proactor',
    run: { script: join(benchDir, 'dist/servers/aio-echo.js') },
    args: [String(recvSize), String(entries), 'callback', String(poolCount)],
  },
  {
    id: 'net',
    label: 'node:net echo server',
    kind: 'baseline',
    run: { script: join(benchDir, 'dist/servers/net-echo.js') },
    args: [],
  },
  {
    id: 'threads',
    label: 'C, thread per connection, default stack (c/thread_echo)',
    kind: 'baseline',
    run: { executable: threadEcho },
    args: ['0'],
  },
  {
    id: 'threads-64k',
    label: 'C, thread per connection, 64 KiB stack (c/thread_echo 64)',
    kind: 'baseline',
    run: { executable: threadEcho },
    args: ['64'],
  },
];
// The same server on the readiness reactor (aio-epoll over epoll, and over poll(2)).
for (const [id, backend, label] of [
  ['epoll', 'epoll', 'epoll'],
  ['epoll-poll', 'epoll-poll', 'epoll package, poll(2)'],
] as const) {
  allServers.push(
    {
      id: `${id}-iterator`,
      label: `proactor ${label} (servers/aio-echo, recvs() size ${recvSize})`,
      kind: 'proactor',
      run: { script: join(benchDir, 'dist/servers/aio-echo.js') },
      args: [String(recvSize), String(entries), 'iterator', String(poolCount), backend],
    },
    {
      id: `${id}-callback`,
      label: `proactor ${label}, callback form (servers/aio-echo, recvs(fd, options, callback) size ${recvSize})`,
      kind: 'proactor',
      run: { script: join(benchDir, 'dist/servers/aio-echo.js') },
      args: [String(recvSize), String(entries), 'callback', String(poolCount), backend],
    },
  );
}
const before = values.before === undefined ? undefined : resolve(values.before);
if (before !== undefined) {
  const hook = uringOverrideImport(join(before, 'aio-uring'));
  for (const form of ['iterator', 'callback']) {
    const after = allServers.find((s) => s.id === form)!;
    allServers.push({
      ...after,
      id: `${form}-before`,
      label: `before: ${after.label}`,
      run: { script: join(before, 'servers', 'aio-echo.js'), importFirst: hook },
    });
  }
}
const selected = [
  ...values.servers!.split(','),
  ...(before === undefined ? [] : ['iterator-before', 'callback-before']),
];
const servers = allServers.filter((s) => selected.includes(s.id));
if (servers.length !== selected.length)
  throw new Error(`--servers: unknown name in ${values.servers} (${allServers.map((s) => s.id).join(', ')})`);
if (servers.some((s) => 'executable' in s.run) && !existsSync(threadEcho))
  throw new Error(`${threadEcho} is not built: pnpm --filter @proactor/bench build (Linux, needs cc)`);

/** Soft RLIMIT_NOFILE of this process (the servers and the client inherit it). */
function openFilesLimit(): number {
  const line = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return line === null || line[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line[1]);
}
// A Node process holds a few dozen descriptors of its own (the loop, the ring, stdio, IPC).
if (connections + 64 > openFilesLimit())
  throw new Error(
    `--connections ${connections} needs RLIMIT_NOFILE of at least ${connections + 64} in the server and the client; ` +
      `this process has ${openFilesLimit()} (raise it with ulimit -n / prlimit; raising the hard limit needs CAP_SYS_RESOURCE)`,
  );

type MemoryUsage = NodeJS.MemoryUsage;
interface Sample {
  rss: number;
  threads: number;
  /** From inside a Node server (over IPC); absent for an executable. */
  memory?: MemoryUsage;
  /** Bytes V8 committed for the young generation (Node servers). */
  youngGeneration?: number;
}

/** VmRSS (bytes) and Threads of `pid`. */
function statusOf(pid: number): { rss: number; threads: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  const threads = /Threads:\s+(\d+)/.exec(status)?.[1];
  if (kb === undefined || threads === undefined) throw new Error(`no VmRSS or Threads for ${pid}`);
  return { rss: Number(kb) * 1024, threads: Number(threads) };
}

/** RSS and threads from outside and, for a Node server, process.memoryUsage() from inside, at the same moment. */
function sample(child: ChildProcess): Promise<Sample> {
  if (!child.connected) return Promise.resolve(statusOf(child.pid!));
  return new Promise((resolve, reject) => {
    // An overloaded server answers late (its loop is seconds behind at 10,000 connections on a
    // busy machine): 5 s ended a run of 15 in the session of 2026-12-02, and the run's results.
    const timer = setTimeout(
      () => reject(new Error('the server did not answer a memory query in 30 s')),
      30_000,
    );
    const onMessage = (m: unknown) => {
      const { memory, youngGeneration } = m as { memory?: MemoryUsage; youngGeneration?: number };
      if (!memory) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve({ ...statusOf(child.pid!), memory, youngGeneration });
    };
    child.on('message', onMessage);
    child.send(gc ? 'memory-gc' : 'memory');
  });
}

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** What the kernel counted for a process up to one moment. */
interface Counters {
  /** performance.now() when read. */
  at: number;
  /** utime + stime of every thread, exited ones included, in seconds. */
  cpuSeconds: number;
  /** Summed over the threads alive when read. */
  voluntarySwitches: number;
  involuntarySwitches: number;
}

function countersOf(pid: number): Counters {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / clockTicks;
  let voluntarySwitches = 0;
  let involuntarySwitches = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread exited since the listing
    }
    voluntarySwitches += Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    involuntarySwitches += Number(/\nnonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return { at: performance.now(), cpuSeconds, voluntarySwitches, involuntarySwitches };
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
  /** Verified during the held phase (after 'connected'): the messages the held-phase CPU time served. */
  heldVerified: number;
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
  /** Per open connection, from the held medians: RSS, heapUsed, external (arrayBuffers is part of external). */
  perConnection: { rss: number; rssMax: number; heapUsed?: number; external?: number; arrayBuffers?: number };
  /** Threads of the server process (median of the held samples). */
  threads: number;
  /** V8's young generation (Node servers; median of the held samples), bytes. */
  youngGeneration?: number;
  /** Over the held phase: wall seconds, CPU microseconds per verified message, context switches per second. */
  heldSeconds: number;
  cpuMicrosPerMessage: number;
  voluntaryPerSecond: number;
  involuntaryPerSecond: number;
}

function start(server: Server, port: number): ChildProcess {
  if ('executable' in server.run)
    return spawn(server.run.executable, [String(port), ...server.args], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  return fork(server.run.script, [String(port), ...server.args], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [
      ...(server.run.importFirst === undefined ? [] : ['--import', server.run.importFirst]),
      ...(gc ? ['--expose-gc'] : []),
      ...(semiSpace !== undefined ? [`--max-semi-space-size=${semiSpace}`] : []),
    ],
  });
}

async function measure(server: Server): Promise<RunResult> {
  const port = nextPort++;
  const child = start(server, port);
  try {
    await waitForPort(port, 30_000);
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
    let heldFrom: Counters | undefined;
    let heldTo: Counters | undefined;
    client.on('message', (m: { phase: string } & ClientResult) => {
      // The kernel's counters are read as the message arrives: the held phase is the client's.
      if (m.phase === 'connected') {
        connected = true;
        heldFrom = countersOf(child.pid!);
      } else if (m.phase === 'result') {
        heldTo = countersOf(child.pid!);
        result = m;
        client.send('close');
      }
    });
    const exited = new Promise<void>((resolve) => client.on('exit', () => resolve()));
    // Bounded: the client finishes (or is killed) by the deadline. Connecting may take each batch
    // up to the client's 30 s; once connected, the held phase and the last echoes.
    let deadline = Date.now() + (Math.ceil(connections / batch) * 30 + 60) * 1000;
    let connectedAt = 0;
    while (result === undefined && client.exitCode === null && Date.now() < deadline) {
      await sleep(sampleMs);
      if (!connected || result !== undefined) continue;
      if (connectedAt === 0) {
        connectedAt = Date.now();
        deadline = connectedAt + (seconds + 90) * 1000;
      }
      // The held phase: skip the first second after the last connection opened.
      if (Date.now() - connectedAt >= 1000) held.push(await sample(child));
    }
    if (result === undefined || heldFrom === undefined || heldTo === undefined) {
      client.kill('SIGKILL');
      throw new Error('the c10k client gave no result');
    }
    await Promise.race([exited, sleep(10_000)]);
    if (held.length === 0) throw new Error('no memory sample in the held phase (--seconds too short?)');
    const open = result.openAtStart;
    const perConn = (pick: (s: Sample) => number) => (median(held.map(pick)) - pick(idle)) / open;
    const heldSeconds = (heldTo.at - heldFrom.at) / 1000;
    return {
      server: server.label,
      idle,
      held,
      client: result,
      perConnection: {
        rss: perConn((s) => s.rss),
        rssMax: (Math.max(...held.map((s) => s.rss)) - idle.rss) / open,
        ...(idle.memory && {
          heapUsed: perConn((s) => s.memory!.heapUsed),
          external: perConn((s) => s.memory!.external),
          arrayBuffers: perConn((s) => s.memory!.arrayBuffers),
        }),
      },
      threads: median(held.map((s) => s.threads)),
      ...(idle.youngGeneration !== undefined && {
        youngGeneration: median(held.map((s) => s.youngGeneration!)),
      }),
      heldSeconds,
      cpuMicrosPerMessage: ((heldTo.cpuSeconds - heldFrom.cpuSeconds) * 1e6) / result.heldVerified,
      voluntaryPerSecond: (heldTo.voluntarySwitches - heldFrom.voluntarySwitches) / heldSeconds,
      involuntaryPerSecond: (heldTo.involuntarySwitches - heldFrom.involuntarySwitches) / heldSeconds,
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
const loadBefore = loadavg()[0];
process.stdout.write(
  `C10K: ${connections} connections x ${seconds} s, ${runs} run(s) per server (proactor queue entries ${entries})\n`,
);
for (let run = 0; run < runs; run++) {
  for (let k = 0; k < servers.length; k++) {
    const i = (k + run) % servers.length;
    const r = await measure(servers[i]);
    all[i].push(r);
    const c = r.client;
    const held = median(r.held.map((s) => s.rss));
    const heap =
      r.perConnection.heapUsed === undefined
        ? ''
        : ` (heapUsed ${Math.round(r.perConnection.heapUsed)}, external ${Math.round(r.perConnection.external!)}, young generation ${mib(r.youngGeneration!)})`;
    process.stdout.write(
      `  ${servers[i].label}: RSS idle ${mib(r.idle.rss)}, held ${mib(held)} -> ${Math.round(r.perConnection.rss)} B/connection${heap};` +
        ` threads ${r.threads}, cs/s ${Math.round(r.voluntaryPerSecond)} voluntary ${Math.round(r.involuntaryPerSecond)} involuntary,` +
        ` CPU ${r.cpuMicrosPerMessage.toFixed(1)} us/message;` +
        ` open ${c.openAtStart}/${connections}, sent ${c.sent}, verified ${c.verified}, lost ${c.lost},` +
        ` mismatched ${c.mismatched}, errors ${JSON.stringify(c.errors)}, rtt p50 ${c.rttP50Ms.toFixed(2)} ms p99 ${c.rttP99Ms.toFixed(2)} ms\n`,
    );
  }
}

const measured = new Date().toISOString();
const loadAverage: [number, number] = [loadBefore, loadavg()[0]];
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

/** One server's medians over its runs: a row of the models table. */
interface Summary {
  label: string;
  rssPerConnection: number;
  heapPerConnection?: number;
  youngGeneration?: number;
  threads: number;
  voluntaryPerSecond: number;
  involuntaryPerSecond: number;
  cpuMicrosPerMessage: number;
  rttP50Ms: number;
  rttP99Ms: number;
  sent: number;
  verified: number;
  problems: number;
}
const summaries: Summary[] = servers.map((s, i) => {
  const rs = all[i];
  const of = (pick: (r: RunResult) => number) => median(rs.map(pick));
  return {
    label: s.label,
    rssPerConnection: of((r) => r.perConnection.rss),
    ...(rs[0].perConnection.heapUsed !== undefined && {
      heapPerConnection: of((r) => r.perConnection.heapUsed! + r.perConnection.external!),
      youngGeneration: of((r) => r.youngGeneration!),
    }),
    threads: of((r) => r.threads),
    voluntaryPerSecond: of((r) => r.voluntaryPerSecond),
    involuntaryPerSecond: of((r) => r.involuntaryPerSecond),
    cpuMicrosPerMessage: of((r) => r.cpuMicrosPerMessage),
    rttP50Ms: of((r) => r.client.rttP50Ms),
    rttP99Ms: of((r) => r.client.rttP99Ms),
    ...totals[i],
  };
});

const title = `${connections.toLocaleString('en-US')} connections held ${seconds} s, one 64 B echo per connection per second${recvSize === 4096 ? '' : `, proactor recvs() size ${recvSize}`}${gc ? ', full GC before each sample' : ''}${semiSpace !== undefined ? `, both servers with --max-semi-space-size=${semiSpace}` : ''}${poolCount === 1024 ? '' : `, proactor pool ${poolCount} buffers`}`;
// Non-default settings are saved beside the default run rather than over it.
const variant = `${connections === 10_000 ? '' : `-n${connections}`}${gc ? '-gc' : ''}${recvSize === 4096 ? '' : `-recv${recvSize}`}${semiSpace !== undefined ? `-semi${semiSpace}` : ''}${poolCount === 1024 ? '' : `-pool${poolCount}`}${values.servers === DEFAULT_SERVERS ? '' : `-${values.servers!.split(',').join('-')}`}${before === undefined ? '' : '-ab'}`;
const nodeServers = servers.flatMap((s, i) => ('script' in s.run ? [i] : []));
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
    loadAverage,
    notes,
  },
  {
    id: `c10k-heap${variant}`,
    title: `C10K server memory: V8 heapUsed + external per connection, ${title} (bytes, lower is better)`,
    unit: 'B/connection',
    rows: nodeServers.map((i) =>
      row(
        servers[i].label,
        servers[i].kind,
        all[i].map((r) => r.perConnection.heapUsed! + r.perConnection.external!),
      ),
    ),
    measured,
    loadAverage,
  },
];

const resultsDir = join(benchDir, 'results');
writeFileSync(
  join(resultsDir, `c10k${variant}.json`),
  `${JSON.stringify({ measured, connections, seconds, runs, batch, recvSize, sampleMs, gc, entries, before, summaries, servers: servers.map((s, i) => ({ label: s.label, runs: all[i] })) }, null, 2)}\n`,
);
saveWorkloads(benchDir, workloads);
process.stdout.write(renderMarkdown({ date: measured }, workloads));

/**
 * bench/results/c10k-models.md: every model at every connection count measured with the default
 * settings (c10k.json, c10k-n<N>.json, runs of some of the servers (-iterator-callback-net...),
 * and their -ab A/B runs), one table, connection counts ascending. A server measured again at the
 * same count (same label) shows its newest run only.
 */
function renderModelsTable(): string {
  const serverIds = allServers.map((s) => s.id).join('|');
  const defaults = new RegExp(`^c10k(-n\\d+)?(-(${serverIds}))*(-ab)?\\.json$`);
  const files = readdirSync(resultsDir).filter((f) => defaults.test(f));
  const saved = files
    .map(
      (f) =>
        JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as {
          measured: string;
          connections: number;
          seconds: number;
          runs: number;
          summaries?: Summary[];
        },
    )
    .filter((r) => r.summaries !== undefined)
    .sort((a, b) => a.connections - b.connections || a.measured.localeCompare(b.measured));
  // Newest first wins: an older file keeps only the servers no newer one measured at its count.
  const newer = new Set<string>();
  for (const r of [...saved].reverse()) {
    r.summaries = r.summaries!.filter((s) => {
      const key = `${r.connections} ${s.label}`;
      if (newer.has(key)) return false;
      newer.add(key);
      return true;
    });
  }
  const kb = (n: number) => `${(n / 1000).toFixed(2)} KB`;
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const lines = [
    '# C10K: the server models side by side',
    '',
    'Generated by `bench:c10k` (bench/src/c10k.ts) from the default-settings results files. Each',
    'connection echoes one 64 B message per second. Medians of the runs. RSS and threads are robust',
    'on a shared machine; context switches, CPU time and round trips depend on what else runs on its',
    '2 cores (the servers are interleaved run by run, so they share the same conditions).',
    '',
    '| connections | server | RSS / connection | V8 heap / connection | V8 young generation | threads | voluntary cs/s | involuntary cs/s | CPU µs / message | echo p50 | echo p99 | verified / sent, errors |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of saved)
    for (const s of r.summaries!)
      lines.push(
        `| ${int(r.connections)} | ${s.label} | ${kb(s.rssPerConnection)} | ${s.heapPerConnection === undefined ? '' : kb(s.heapPerConnection)} | ${s.youngGeneration === undefined ? '' : mib(s.youngGeneration)} | ${int(s.threads)} | ${int(s.voluntaryPerSecond)} | ${int(s.involuntaryPerSecond)} | ${s.cpuMicrosPerMessage.toFixed(1)} | ${s.rttP50Ms.toFixed(2)} ms | ${s.rttP99Ms.toFixed(2)} ms | ${int(s.verified)} / ${int(s.sent)}, ${s.problems} |`,
      );
  lines.push(
    '',
    ...saved
      .filter((r) => r.summaries!.length > 0)
      .map(
        (r) =>
          `- ${int(r.connections)} connections: ${r.runs} runs of ${r.seconds} s, measured ${r.measured} (${r.summaries!.map((s) => s.label.split(' (')[0]).join('; ')}).`,
      ),
  );
  return `${lines.join('\n')}\n`;
}
writeFileSync(join(resultsDir, 'c10k-models.md'), renderModelsTable());
