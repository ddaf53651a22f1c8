/**
 * SO_REUSEPORT scaling: the proactor HTTP responder (servers/aio-http-reuseport.ts) with two
 * worker threads in one process, each with its own aio-core Queue on aio-uring and its own
 * listening socket on the same port (SO_REUSEPORT), against the same program with one worker, and
 * the node:net responder (one process) for reference. Measured with wrk on loopback, bounded in
 * time, with one and with two wrk threads; each server is started fresh for each run, variants are
 * interleaved, medians over the runs. The scaling ratio is 2 workers / 1 worker.
 *
 *   node dist/reuseport.js [--runs 5] [--seconds 5] [--connections 100] [--threads 1,2]
 *
 * wrk and the servers share the machine's cores: on 2 cores the ceiling is low. Writes the
 * reuseport workloads into bench/results/latest.json and re-renders bench/results/README.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Row, renderMarkdown, type Workload } from './report.js';
import { requireWrk, saveWorkloads, stop, waitForPort } from './server-process.js';

const benchDir = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100' },
    threads: { type: 'string', default: '1,2' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const threadCounts = values.threads!.split(',').map(Number);

requireWrk();
let nextPort = 19_300;

interface Server {
  label: string;
  kind: 'proactor' | 'baseline';
  args: (port: number) => string[];
}
const reuseport = join(benchDir, 'dist/servers/aio-http-reuseport.js');
const servers: Server[] = [
  {
    label: 'proactor io_uring, 2 worker threads (SO_REUSEPORT)',
    kind: 'proactor',
    args: (port) => [reuseport, String(port), '2'],
  },
  {
    label: 'proactor io_uring, 1 worker thread',
    kind: 'baseline',
    args: (port) => [reuseport, String(port), '1'],
  },
  {
    label: 'node:net responder, 1 process',
    kind: 'baseline',
    args: (port) => [join(benchDir, 'dist/servers/net-responder.js'), String(port)],
  },
];

interface Measured {
  rps: number;
  errors: string;
  /** Connections each worker accepted (the kernel's SO_REUSEPORT spread), when the server says. */
  spread?: number[];
}

async function measure(server: Server, threads: number): Promise<Measured> {
  const port = nextPort++;
  const child: ChildProcess = spawn(process.execPath, server.args(port), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  try {
    await waitForPort(port);
    const wrk = spawnSync(
      'wrk',
      [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', `http://127.0.0.1:${port}/`],
      { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
    );
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1] ?? Number.NaN);
    const errors = [/Socket errors:.*/.exec(wrk.stdout)?.[0], /Non-2xx.*/.exec(wrk.stdout)?.[0]]
      .filter(Boolean)
      .join('; ');
    if (!Number.isFinite(rps)) throw new Error(`wrk printed no rate:\n${wrk.stdout}${wrk.stderr}`);
    await stop(child);
    const spread = /accepted per worker: ([\d ]+)/.exec(out)?.[1].trim().split(' ').map(Number);
    return { rps, errors, spread };
  } finally {
    await stop(child);
  }
}

function row(label: string, kind: Row['kind'], samples: number[]): Row {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { label, kind, median, min: sorted[0], max: sorted[sorted.length - 1], samples };
}

const workloads: Workload[] = [];
for (const threads of threadCounts) {
  process.stdout.write(`HTTP keep-alive, SO_REUSEPORT workers, wrk -t${threads} -c${connections} `);
  const samples = servers.map(() => [] as number[]);
  const errors = servers.map(() => new Set<string>());
  const spreads: string[] = [];
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < servers.length; k++) {
      const i = (k + run) % servers.length;
      const r = await measure(servers[i], threads);
      samples[i].push(r.rps);
      if (r.errors) errors[i].add(r.errors);
      if (i === 0 && r.spread) spreads.push(r.spread.join('/'));
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  const rows = servers.map((s, i) =>
    row(errors[i].size ? `${s.label} (wrk: ${[...errors[i]].join('; ')})` : s.label, s.kind, samples[i]),
  );
  const scaling = rows[0].median / rows[1].median;
  workloads.push({
    id: `reuseport-t${threads}-c${connections}`,
    title: `HTTP/1.1 keep-alive over SO_REUSEPORT worker threads, wrk -t${threads} -c${connections}, ${seconds} s`,
    unit: 'requests/s',
    rows,
    measured: new Date().toISOString(),
    notes: [
      `Scaling, 2 workers / 1 worker: ${scaling.toFixed(2)}x (medians of ${runs} runs).`,
      `Connections accepted per worker with 2 workers, per run: ${spreads.join(', ')}.`,
      `${cpus().length} cores shared by wrk (${threads} thread(s)) and the server.`,
    ],
  });
}

saveWorkloads(benchDir, workloads);
process.stdout.write(renderMarkdown({ date: new Date().toISOString() }, workloads));
