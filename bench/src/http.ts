/**
 * HTTP benchmark: wrk (loopback only, bounded in time) against the proactor example HTTP server
 * (examples/http-server, written only against aio-core) on each backend, a minimal node:net
 * responder, node:http, and nginx with one worker returning the same fixed response (the C limit).
 * Each server is started fresh for each run and stopped after; variants are interleaved.
 *
 *   node bench/dist/http.js [--runs 5] [--seconds 5] [--connections 100,1000]
 *                           [--backends io_uring,epoll,epoll-poll,node] (ids of bench/src/backends.ts)
 *
 * Needs `apt-get install wrk nginx` (nginx is left out when missing). Writes the http workloads into
 * bench/results/latest.json and re-renders bench/results/README.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { availableBackends } from './backends.js';
import { type Row, renderMarkdown, type Workload } from './report.js';
import { requireWrk, saveWorkloads, startExample, stop, waitForPort } from './server-process.js';

const benchDir = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100,1000' },
    /** Comma-separated backend ids (backends.ts) of the example server. */
    backends: { type: 'string', default: 'io_uring,epoll,epoll-poll,node' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const connectionCounts = values.connections!.split(',').map(Number);

requireWrk();
const hasNginx = !spawnSync('nginx', ['-v']).error;
let nextPort = 18_100;

interface Server {
  label: string;
  kind: 'proactor' | 'baseline';
  start(port: number): ChildProcess;
}

const node = process.execPath;
const { available, skipped } = await availableBackends(values.backends);
for (const line of skipped) process.stdout.write(`(${line})\n`);
const servers: Server[] = [
  ...available.map(
    (b): Server => ({
      label: `proactor ${b.label} (examples/http-server)`,
      kind: 'proactor',
      start: (port) => startExample(benchDir, 'http-server', b, port),
    }),
  ),
  {
    label: 'node:net minimal responder',
    kind: 'baseline',
    start: (port) =>
      spawn(node, [join(benchDir, 'dist/servers/net-responder.js'), String(port)], { stdio: 'ignore' }),
  },
  {
    label: 'node:http',
    kind: 'baseline',
    start: (port) =>
      spawn(node, [join(benchDir, 'dist/servers/node-http.js'), String(port)], { stdio: 'ignore' }),
  },
];
if (hasNginx) {
  servers.push({
    label: 'nginx, 1 worker',
    kind: 'baseline',
    start(port) {
      const dir = mkdtempSync(join(tmpdir(), 'proactor-nginx-'));
      writeFileSync(
        join(dir, 'nginx.conf'),
        `worker_processes 1;
error_log ${dir}/error.log;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 "Hello, World!"; }
  }
}
`,
      );
      const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
        stdio: 'ignore',
      });
      child.on('exit', () => rmSync(dir, { recursive: true, force: true }));
      return child;
    },
  });
}

/** One wrk run against a fresh server: requests per second, and any errors wrk reported. */
async function measure(server: Server, connections: number): Promise<{ rps: number; errors: string }> {
  const port = nextPort++;
  const child = server.start(port);
  try {
    await waitForPort(port);
    const wrk = spawnSync(
      'wrk',
      ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', `http://127.0.0.1:${port}/`],
      { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
    );
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1] ?? Number.NaN);
    const errors = [/Socket errors:.*/.exec(wrk.stdout)?.[0], /Non-2xx.*/.exec(wrk.stdout)?.[0]]
      .filter(Boolean)
      .join('; ');
    if (!Number.isFinite(rps)) throw new Error(`wrk printed no rate:\n${wrk.stdout}${wrk.stderr}`);
    return { rps, errors };
  } finally {
    await stop(child);
  }
}

const workloads: Workload[] = [];
for (const connections of connectionCounts) {
  process.stdout.write(`HTTP keep-alive, wrk -t1 -c${connections} `);
  const loadBefore = loadavg()[0];
  const samples = servers.map(() => [] as number[]);
  const errors = servers.map(() => new Set<string>());
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < servers.length; k++) {
      const i = (k + run) % servers.length;
      const r = await measure(servers[i], connections);
      samples[i].push(r.rps);
      if (r.errors) errors[i].add(r.errors);
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  const rows: Row[] = servers.map((s, i) => {
    const sorted = [...samples[i]].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    const label = errors[i].size ? `${s.label} (wrk: ${[...errors[i]].join('; ')})` : s.label;
    return {
      label,
      kind: s.kind,
      median,
      min: sorted[0],
      max: sorted[sorted.length - 1],
      samples: samples[i],
    };
  });
  workloads.push({
    id: `http-${connections}`,
    title: `HTTP/1.1 keep-alive, fixed response, wrk -t1 -c${connections}, ${seconds} s`,
    unit: 'requests/s',
    rows,
    measured: new Date().toISOString(),
    loadAverage: [loadBefore, loadavg()[0]],
  });
}

saveWorkloads(benchDir, workloads);
process.stdout.write(renderMarkdown({ date: new Date().toISOString() }, workloads));
