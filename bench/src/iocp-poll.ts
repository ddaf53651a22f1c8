/**
 * IOCP's poll, measured both ways the issue allowed: AFD's poll (IOCTL_AFD_POLL) through the
 * completion port, aio-iocp's default, against WSAPoll on the blocking pool
 * (PROACTOR_IOCP_POLL=pool, read once per process). Runs where node is the Windows node.exe
 * (on Linux: under Wine, as scripts/windows-test.sh runs it):
 *
 *   node.exe bench/dist/iocp-poll.js <path of @proactor/aio-iocp's dist/index.js> [--runs 3] [--seconds 2]
 *
 * Each run starts one child process per variant (interleaved), each child measures, in one
 * process with node:net clients on loopback:
 * - echo: C connections (1 and 64), each a loop of poll(POLL_IN), recv, send of 64 bytes on the
 *   server side and one message in flight from its client: round trips per second;
 * - idle: 64 connections whose server side waits in poll(POLL_IN) and never gets a byte, and one
 *   more that echoes as above: its round trips per second (a poll that holds a pool thread while it
 *   waits leaves none for the active connection once the idle ones outnumber the threads).
 * Medians over the runs (children interleaved, reporting through a file: child-runs.ts).
 */
import * as net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Backend, POLL_IN, Queue } from '@proactor/aio-core';
import { interleavedChildResults } from './child-runs.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '2' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const MESSAGE = Buffer.alloc(64, 0x61);

interface ChildResult {
  /** Round trips per second, by workload name. */
  [workload: string]: number;
}

const WORKLOADS = ['echo, 1 connection', 'echo, 64 connections', 'idle: 64 polls waiting + 1 echo'];

/** Serves `fd` until `until`: poll(POLL_IN), recv, send back. Round trips done. */
async function serve(q: Queue, fd: number, until: number): Promise<number> {
  const buf = Buffer.alloc(MESSAGE.length);
  let trips = 0;
  while (Date.now() < until) {
    const events = await q
      .poll(fd, POLL_IN, { signal: AbortSignal.timeout(Math.max(1, until - Date.now())) })
      .catch(() => 0);
    if ((events & POLL_IN) === 0) break;
    const n = await q.recv(fd, buf).catch(() => 0);
    if (n === 0) break;
    if ((await q.send(fd, buf.subarray(0, n)).catch(() => 0)) === 0) break;
    trips++;
  }
  return trips;
}

/** A client that sends a message and waits for its echo, again and again, until it is destroyed. */
function pingPong(socket: net.Socket): void {
  let got = 0;
  socket.on('data', (chunk) => {
    got += chunk.length;
    if (got >= MESSAGE.length) {
      got -= MESSAGE.length;
      socket.write(MESSAGE);
    }
  });
  socket.on('error', () => {});
  socket.write(MESSAGE);
}

/** `count` connected pairs: the server side's descriptor in `q`, the client a node:net socket. */
async function connections(q: Queue, count: number): Promise<{ fds: number[]; clients: net.Socket[] }> {
  const listener = await q.socket(4);
  await q.bind(listener, { address: '127.0.0.1', port: 0 });
  await q.listen(listener, 1024);
  const address = await q.localAddress(listener);
  const port = 'port' in address ? address.port : 0;
  const fds: number[] = [];
  const clients: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    const accepted = q.accept(listener);
    const client = net.connect(port, '127.0.0.1');
    client.setNoDelay(true);
    clients.push(client);
    fds.push((await accepted).fd);
  }
  await q.close(listener);
  return { fds, clients };
}

async function measure(backend: Backend): Promise<ChildResult> {
  const result: ChildResult = {};
  for (const [workload, active, idle] of [
    [WORKLOADS[0], 1, 0],
    [WORKLOADS[1], 64, 0],
    [WORKLOADS[2], 1, 64],
  ] as const) {
    const q = new Queue(backend, { entries: 512 });
    const { fds, clients } = await connections(q, active + idle);
    const until = Date.now() + seconds * 1000;
    // The idle connections' polls first, so that they hold whatever they hold when the echo starts.
    const idlePolls = fds
      .slice(active)
      .map((fd) => q.poll(fd, POLL_IN, { signal: AbortSignal.timeout(seconds * 1000) }).catch(() => 0));
    await new Promise((r) => setTimeout(r, 50));
    for (const client of clients.slice(0, active)) pingPong(client);
    // At the end every client goes: a poll that no abort ends (WSAPoll on a pool thread runs to
    // its end) then sees the connection's end, and everything unwinds.
    const end = setTimeout(() => {
      for (const client of clients) client.destroy();
    }, until - Date.now());
    const trips = await Promise.all(fds.slice(0, active).map((fd) => serve(q, fd, until)));
    clearTimeout(end);
    for (const client of clients) client.destroy();
    await Promise.all(idlePolls);
    for (const fd of fds) await q.close(fd).catch(() => {});
    await q.destroy();
    result[workload] = trips.reduce((a, b) => a + b, 0) / seconds;
  }
  return result;
}

if (values.child !== undefined) {
  const { writeFileSync } = await import('node:fs');
  const mod = (await import(pathToFileURL(resolve(positionals[0] ?? '')).href)) as { backend: Backend };
  writeFileSync(values.out ?? '', JSON.stringify(await measure(mod.backend)));
  process.exit(0);
}

if (positionals[0] === undefined) {
  console.error('iocp-poll: give the path of @proactor/aio-iocp (dist/index.js)');
  process.exit(2);
}
const scriptPath = new URL(import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, '$1');
const variants = [
  { label: "AFD's poll through the port (default)", env: {} },
  { label: 'WSAPoll on the blocking pool (PROACTOR_IOCP_POLL=pool)', env: { PROACTOR_IOCP_POLL: 'pool' } },
];
const results = interleavedChildResults<ChildResult>(
  Number(values.runs),
  variants.map((variant, v) => ({
    label: variant.label,
    args: [scriptPath, positionals[0] ?? '', '--child', String(v), '--seconds', String(seconds)],
    env: variant.env,
  })),
  (seconds * 3 + 60) * 1000,
);
const samples = results.map((runs) =>
  WORKLOADS.map((workload) => runs.map((result) => result[workload] ?? 0)),
);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const lines = [
  `IOCP poll, ${values.runs} runs of ${seconds} s per workload, ${cpus().length} CPUs, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (0 on Windows), node ${process.version}`,
  '',
  `| workload | ${variants.map((v) => v.label).join(' | ')} | ratio |`,
  '|---|---|---|---|',
  ...WORKLOADS.map((workload, w) => {
    const [afd, pool] = variants.map((_, v) => median(samples[v]?.[w] ?? []));
    const ratio = pool === 0 ? '(pool: 0)' : `${((afd ?? 0) / (pool ?? 1)).toFixed(2)}x`;
    return `| ${workload}: round trips/s | ${Math.round(afd ?? 0)} | ${Math.round(pool ?? 0)} | ${ratio} |`;
  }),
];
console.log(lines.join('\n'));
