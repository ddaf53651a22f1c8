/**
 * One large file to one client: a page-cached file fetched whole with curl from examples/file-server
 * (io_uring splice, io_uring with sendfile(2) on the pool, aio-node's read and write), nginx with one
 * worker and `sendfile on`, and node:http + createReadStream. Reports throughput and the server's CPU
 * time per GiB (user + system of the server process and its children and threads, io_uring's io-wq
 * workers included, from /proc). Servers are started once per round, variants interleaved.
 *
 *   node bench/dist/file-server-bulk.js [--runs 3] [--size 1073741824]
 *
 * Linux only (/proc). Writes the workloads into bench/results/latest.json.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Row, renderMarkdown, type Workload } from './report.js';
import { freePort, saveWorkloads, stop, waitForPort } from './server-process.js';

const benchDir = new URL('..', import.meta.url).pathname;
const root = join(benchDir, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    size: { type: 'string', default: String(1 << 30) },
  },
});
const runs = Number(values.runs);
const size = Number(values.size);
const hasNginx = !spawnSync('nginx', ['-v']).error;

const docroot = mkdtempSync(join(tmpdir(), 'proactor-bulk-bench-'));
chmodSync(docroot, 0o755);
{
  // Written in 16 MiB pieces of one pattern: content does not matter, the page cache does.
  const piece = Buffer.alloc(16 << 20, 0x5a);
  const path = join(docroot, 'big.bin');
  writeFileSync(path, '');
  for (let at = 0; at < size; at += piece.length) {
    writeFileSync(path, piece.subarray(0, Math.min(piece.length, size - at)), { flag: 'a' });
  }
  // Into the page cache before the first round.
  spawnSync('cat', [path], { stdio: ['ignore', 'ignore', 'ignore'] });
}

interface Server {
  label: string;
  kind: 'proactor' | 'baseline';
  start(port: number): ChildProcess;
}

const node = process.execPath;
const example = join(root, 'examples/file-server/dist/main.js');
const servers: Server[] = [
  {
    label: 'proactor io_uring (splice)',
    kind: 'proactor',
    start: (port) =>
      spawn(node, [example, docroot, String(port)], {
        env: { ...process.env, PROACTOR_BACKEND: 'io_uring' },
        stdio: 'ignore',
      }),
  },
  {
    label: 'proactor io_uring, sendfile(2) on the pool',
    kind: 'proactor',
    start: (port) =>
      spawn(node, [join(benchDir, 'dist/servers/file-server-pool.js'), String(port), docroot], {
        stdio: 'ignore',
      }),
  },
  {
    label: 'proactor node (read + write)',
    kind: 'proactor',
    start: (port) =>
      spawn(node, [example, docroot, String(port)], {
        env: { ...process.env, PROACTOR_BACKEND: 'node' },
        stdio: 'ignore',
      }),
  },
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
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${port}; root ${docroot}; default_type application/octet-stream; }
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

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU ticks (user + system) of `pid` and its descendants, threads included. */
function cpuTicks(pid: number): number {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The fields after the command name, which may contain spaces, start after its ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // Gone meanwhile.
    }
  }
  let total = 0;
  for (const [p, t] of ticks) {
    for (let q: number | undefined = p; q !== undefined && q > 1; q = parents.get(q)) {
      if (q === pid) {
        total += t;
        break;
      }
    }
  }
  return total;
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const throughput = servers.map(() => [] as number[]);
const cpuPerGiB = servers.map(() => [] as number[]);
try {
  process.stdout.write(`one ${size}-byte file to one client (curl) `);
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < servers.length; k++) {
      const i = (k + run) % servers.length;
      const port = await freePort();
      const child = servers[i].start(port);
      try {
        await waitForPort(port);
        const before = cpuTicks(child.pid!);
        const started = performance.now();
        const curl = spawnSync(
          'curl',
          ['-s', '-o', '/dev/null', '-w', '%{size_download}', `http://127.0.0.1:${port}/big.bin`],
          { encoding: 'utf8', timeout: 300_000 },
        );
        const seconds = (performance.now() - started) / 1000;
        const after = cpuTicks(child.pid!);
        if (Number(curl.stdout) !== size) throw new Error(`${servers[i].label}: got ${curl.stdout} bytes`);
        throughput[i].push(size / (1 << 20) / seconds);
        cpuPerGiB[i].push(((after - before) / TICKS_PER_SECOND) * 1000 * ((1 << 30) / size));
      } finally {
        await stop(child);
      }
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
} finally {
  rmSync(docroot, { recursive: true, force: true });
}

const rows = (samples: number[][]): Row[] =>
  servers.map((s, i) => ({
    label: s.label,
    kind: s.kind,
    median: median(samples[i]),
    min: Math.min(...samples[i]),
    max: Math.max(...samples[i]),
    samples: samples[i],
  }));
const measured = new Date().toISOString();
const workloads: Workload[] = [
  {
    id: 'file-server-bulk-throughput',
    title: `one ${size}-byte page-cached file to one client (curl), throughput`,
    unit: 'MiB/s',
    rows: rows(throughput),
    measured,
  },
  {
    id: 'file-server-bulk-cpu',
    title: `one ${size}-byte page-cached file to one client: server CPU time per GiB (lower is better)`,
    unit: 'CPU ms per GiB',
    rows: rows(cpuPerGiB),
    measured,
  },
];
saveWorkloads(benchDir, workloads);
process.stdout.write(renderMarkdown({ date: measured }, workloads));
