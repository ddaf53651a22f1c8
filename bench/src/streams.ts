/**
 * The stream layer (@proactor/aio-streams) against what it replaces, each run in a process of its
 * own, variants interleaved:
 *
 * - node:http over proactor Duplex connections vs node:http over node:net, and the raw proactor
 *   example server (what the stream layer costs), wrk -t1 keep-alive;
 * - the same over TLS (node:https; wrk speaks TLS);
 * - a 1 GiB page-cached file: pipeline() to /dev/null and to a socket vs fs.createReadStream,
 *   readFile vs fs.promises.readFile, copyFile vs fs.promises.copyFile.
 *
 *   node bench/dist/streams.js [--runs 5] [--seconds 5] [--connections 100] [--only http,https,files]
 *
 * Needs wrk and openssl (for a throwaway certificate). Writes into bench/results/latest.json.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Row, renderMarkdown, rowFrom, type Workload } from './report.js';
import { requireWrk, saveWorkloads, stop, waitForPort } from './server-process.js';

const benchDir = new URL('..', import.meta.url).pathname;
const root = join(benchDir, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100' },
    only: { type: 'string', default: 'http,https,files' },
    size: { type: 'string', default: String(1 << 30) },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const only = new Set(values.only!.split(','));
const node = process.execPath;
let nextPort = 18_400;

const work = mkdtempSync(join(tmpdir(), 'proactor-streams-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

interface Variant {
  label: string;
  kind: 'proactor' | 'baseline';
}

function summarize(variants: Variant[], samples: number[][]): Row[] {
  return variants.map((v, i) => rowFrom(v.label, v.kind, samples[i]));
}

/** Runs every variant `runs` times, rotating the order each round. */
async function interleave<V extends Variant>(
  variants: V[],
  measure: (v: V) => Promise<number>,
): Promise<number[][]> {
  const samples = variants.map(() => [] as number[]);
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + run) % variants.length;
      samples[i].push(await measure(variants[i]));
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  return samples;
}

interface ServerVariant extends Variant {
  start(port: number): ChildProcess;
}

function streamsServer(label: string, kind: Variant['kind'], args: string[]): ServerVariant {
  return {
    label,
    kind,
    start: (port) =>
      spawn(node, [join(benchDir, 'dist/servers/http-streams.js'), String(port), ...args], {
        stdio: 'ignore',
      }),
  };
}

async function wrk(server: ServerVariant, scheme: 'http' | 'https'): Promise<number> {
  const port = nextPort++;
  const child = server.start(port);
  try {
    await waitForPort(port);
    const out = spawnSync(
      'wrk',
      ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', `${scheme}://127.0.0.1:${port}/`],
      { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
    );
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out.stdout)?.[1] ?? Number.NaN);
    if (!Number.isFinite(rps) || /Socket errors|Non-2xx/.test(out.stdout))
      throw new Error(`${server.label}: wrk reported a failure:\n${out.stdout}${out.stderr}`);
    return rps;
  } finally {
    await stop(child);
  }
}

const workloads: Workload[] = [];
const machineLoad = () =>
  `load average at the start: ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim()}`;

if (only.has('http')) {
  requireWrk();
  const variants = [
    streamsServer('node:http over proactor Duplex (io_uring)', 'proactor', ['proactor', 'http', 'io_uring']),
    streamsServer('node:http over node:net', 'baseline', ['net', 'http']),
    {
      label: 'raw proactor responder, io_uring (examples/http-server)',
      kind: 'proactor' as const,
      start: (port: number) =>
        spawn(node, [join(root, 'examples/http-server/dist/main.js'), String(port)], {
          env: { ...process.env, PROACTOR_BACKEND: 'io_uring' },
          stdio: 'ignore',
        }),
    },
  ];
  const notes = [machineLoad()];
  process.stdout.write(`node:http over proactor vs node:net, wrk -t1 -c${connections} `);
  const samples = await interleave(variants, (v) => wrk(v, 'http'));
  workloads.push({
    id: `streams-http-${connections}`,
    title: `node:http keep-alive over proactor Duplex connections vs node:net, wrk -t1 -c${connections}, ${seconds} s`,
    unit: 'requests/s',
    rows: summarize(variants, samples),
    notes,
  });
}

if (only.has('https')) {
  requireWrk();
  const certDir = join(work, 'cert');
  spawnSync('mkdir', ['-p', certDir]);
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(certDir, 'key.pem'),
    '-out',
    join(certDir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
  ]);
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  const variants = [
    streamsServer('node:https over proactor Duplex (io_uring)', 'proactor', [
      'proactor',
      'https',
      'io_uring',
      certDir,
    ]),
    streamsServer('node:https over node:net', 'baseline', ['net', 'https', 'node', certDir]),
  ];
  const notes = [machineLoad()];
  process.stdout.write(`node:https over proactor vs node:net, wrk -t1 -c${connections} `);
  const samples = await interleave(variants, (v) => wrk(v, 'https'));
  workloads.push({
    id: `streams-https-${connections}`,
    title: `node:https keep-alive (TLS 1.3, ECDSA P-256) over proactor Duplex connections vs node:net, wrk -t1 -c${connections}, ${seconds} s`,
    unit: 'requests/s',
    rows: summarize(variants, samples),
    notes,
  });
}

if (only.has('files')) {
  const size = Number(values.size);
  const file = join(work, 'big.bin');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(1 << 20, 7);
  for (let written = 0; written < size; written += block.length) writeSync(fd, block);
  closeSync(fd);
  spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] }); // into the page cache
  const sinkPort = nextPort++;
  const sink = spawn(node, [join(benchDir, 'dist/servers/discard-sink.js'), String(sinkPort)], {
    stdio: 'ignore',
  });
  await waitForPort(sinkPort);
  const runOnce = (label: string) => {
    const out = spawnSync(node, [join(benchDir, 'dist/file-stream-run.js'), label, file, String(sinkPort)], {
      encoding: 'utf8',
    });
    const ms = Number(out.stdout.trim());
    if (out.status !== 0 || !Number.isFinite(ms)) throw new Error(`${label}: ${out.stdout}${out.stderr}`);
    return size / (1 << 20) / (ms / 1000); // MiB/s
  };
  const pairs: [string, string, string, string][] = [
    [
      'streams-file-devnull',
      'pipeline() of a 1 GiB page-cached file to /dev/null',
      'proactor pipeline to /dev/null',
      'fs pipeline to /dev/null',
    ],
    [
      'streams-file-socket',
      'pipeline() of a 1 GiB page-cached file to a loopback socket',
      'proactor pipeline to a socket',
      'node:fs + node:net pipeline to a socket',
    ],
    ['streams-readfile', 'readFile of a 1 GiB page-cached file', 'proactor readFile', 'fs.promises.readFile'],
    [
      'streams-copyfile',
      'copyFile of a 1 GiB page-cached file (same file system)',
      'proactor copyFile',
      'fs.promises.copyFile',
    ],
  ];
  for (const [id, title, ours, theirs] of pairs) {
    const variants: Variant[] = [
      { label: ours, kind: 'proactor' },
      { label: theirs, kind: 'baseline' },
    ];
    // copyFile: sendfile in the kernel (the default on io_uring) against the read + write path.
    if (id === 'streams-copyfile')
      variants.splice(1, 0, { label: 'proactor copyFile, read + write', kind: 'proactor' });
    const notes = [machineLoad(), `file of ${size} bytes in ${tmpdir()}`];
    process.stdout.write(`${title} `);
    const samples = await interleave(variants, async (v) => runOnce(v.label));
    workloads.push({ id, title, unit: 'MiB/s', rows: summarize(variants, samples), notes });
  }
  await stop(sink);
}

saveWorkloads(benchDir, workloads);
process.stdout.write(renderMarkdown({ date: new Date().toISOString() }, workloads));
