/**
 * Static file benchmark: wrk (loopback, keep-alive, bounded in time) fetching one file over and over
 * from examples/file-server (sendfile, open-file cache) on io_uring (splice through a pipe), on
 * io_uring with sendfile forced onto the blocking pool (sendfile(2)), on epoll (non-blocking
 * sendfile(2), retried when the socket becomes writable), on aio-node (read and write through a buffer), against nginx with one worker and `sendfile on` (the C limit) and node:http
 * with fs.createReadStream().pipe(res). Each server is started fresh for each run and stopped after;
 * the variants are interleaved (the machine is shared: medians, and ratios within one run).
 *
 *   node bench/dist/file-server.js [--runs 3] [--seconds 5] [--connections 50,500] [--sizes 4096,1048576]
 *
 * Needs `apt-get install wrk nginx-light` (nginx is left out when missing). Writes the workloads into
 * bench/results/latest.json and re-renders bench/results/README.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Row, renderMarkdown, type Workload } from './report.js';
import { freePort, requireWrk, saveWorkloads, stop, waitForPort } from './server-process.js';

const benchDir = new URL('..', import.meta.url).pathname;
const root = join(benchDir, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50,500' },
    sizes: { type: 'string', default: '4096,1048576' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const connectionCounts = values.connections!.split(',').map(Number);
const sizes = values.sizes!.split(',').map(Number);

requireWrk();
const hasNginx = !spawnSync('nginx', ['-v']).error;

const docroot = mkdtempSync(join(tmpdir(), 'proactor-file-bench-'));
// nginx's worker runs as nobody: it must be able to enter the directory.
chmodSync(docroot, 0o755);
for (const size of sizes) writeFileSync(join(docroot, `f${size}.bin`), randomBytes(size));

interface Server {
  label: string;
  kind: 'proactor' | 'baseline';
  start(port: number): ChildProcess;
}

const node = process.execPath;
const example = join(root, 'examples/file-server/dist/main.js');
/** examples/file-server on the backend PROACTOR_BACKEND names. */
function exampleServer(label: string, backend: string): Server {
  return {
    label,
    kind: 'proactor',
    start: (port) =>
      spawn(node, [example, docroot, String(port)], {
        env: { ...process.env, PROACTOR_BACKEND: backend },
        stdio: 'ignore',
      }),
  };
}
const servers: Server[] = [
  exampleServer('proactor io_uring (examples/file-server: splice)', 'io_uring'),
  {
    label: 'proactor io_uring, sendfile(2) on the pool',
    kind: 'proactor',
    start: (port) =>
      spawn(node, [join(benchDir, 'dist/servers/file-server-pool.js'), String(port), docroot], {
        stdio: 'ignore',
      }),
  },
  exampleServer('proactor epoll (examples/file-server: non-blocking sendfile(2))', 'epoll'),
  exampleServer('proactor node (examples/file-server: read + write)', 'node'),
  {
    label: 'node:http + createReadStream',
    kind: 'baseline',
    start: (port) =>
      spawn(node, [join(benchDir, 'dist/servers/node-http-files.js'), String(port), docroot], {
        stdio: 'ignore',
      }),
  },
];
if (hasNginx) {
  servers.push({
    label: 'nginx, 1 worker, sendfile on',
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
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${port};
    root ${docroot};
    default_type application/octet-stream;
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
async function measure(
  server: Server,
  size: number,
  connections: number,
): Promise<{ rps: number; errors: string }> {
  const port = await freePort();
  const child = server.start(port);
  try {
    await waitForPort(port);
    const wrk = spawnSync(
      'wrk',
      [
        '-t1',
        `-c${connections}`,
        `-d${seconds}s`,
        '--timeout',
        '5s',
        `http://127.0.0.1:${port}/f${size}.bin`,
      ],
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

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const workloads: Workload[] = [];
try {
  for (const size of sizes) {
    for (const connections of connectionCounts) {
      process.stdout.write(`file ${size} B, wrk -t1 -c${connections} `);
      const samples = servers.map(() => [] as number[]);
      const errors = servers.map(() => new Set<string>());
      for (let run = 0; run < runs; run++) {
        for (let k = 0; k < servers.length; k++) {
          const i = (k + run) % servers.length;
          const r = await measure(servers[i], size, connections);
          samples[i].push(r.rps);
          if (r.errors) errors[i].add(r.errors);
          process.stdout.write('.');
        }
      }
      process.stdout.write('\n');
      const rows: Row[] = servers.map((s, i) => ({
        label: errors[i].size ? `${s.label} (wrk: ${[...errors[i]].join('; ')})` : s.label,
        kind: s.kind,
        median: median(samples[i]),
        min: Math.min(...samples[i]),
        max: Math.max(...samples[i]),
        samples: samples[i],
      }));
      workloads.push({
        id: `file-server-${size}-c${connections}`,
        title: `static file of ${size} B, HTTP/1.1 keep-alive, wrk -t1 -c${connections}, ${seconds} s`,
        unit: 'requests/s',
        rows,
        measured: new Date().toISOString(),
      });
    }
  }
} finally {
  rmSync(docroot, { recursive: true, force: true });
}

saveWorkloads(benchDir, workloads);
process.stdout.write(renderMarkdown({ date: new Date().toISOString() }, workloads));
