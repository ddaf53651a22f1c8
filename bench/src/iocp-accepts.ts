/**
 * Accept throughput on IOCP: how fast a server takes connections that arrive in a stream, with
 * aio-iocp's accepts() keeping several AcceptEx calls in the port (the default) against one at a
 * time (PROACTOR_IOCP_ACCEPTS=1, read once per process: how accepts() ran before), a loop of
 * single accept() calls, and node:net's server (what a user would pick instead; libuv keeps
 * several AcceptEx calls pending for a server too).
 *
 *   node bench/dist/iocp-accepts.js <path of @proactor/aio-iocp's dist/index.js>
 *       [--server-node "<command>"] [--runs 5] [--connections 2000] [--concurrency 64]
 *
 * The servers run in child processes started with `--server-node` (default: this node; on
 * Linux, the Windows node.exe under Wine: "/usr/lib/wine/wine64 <cache>/node.exe", WINEPREFIX in
 * the environment), one per variant and run, interleaved (run 1: every variant, run 2: ...). The
 * clients run in this process: `concurrency` connections open at any time, each until the server
 * closed it (then the next is made), `connections` in all: a closed loop, so that connections
 * never pile up in the listener's backlog (a full backlog drops SYNs, and a dropped SYN waits a
 * second for its retry). On Linux they are Linux sockets, so that
 * under Wine the clients cost the server's side nothing (node.exe's own clients under Wine
 * connect at about 300 a second, below what the server takes). The server closes every
 * connection it takes; its rate is connections taken per second from its first to its last.
 * Medians over the runs, with min-max.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Backend, Queue } from '@proactor/aio-core';
import { loadText, median, serverChildRun } from './child-runs.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '5' },
    connections: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '64' },
    'server-node': { type: 'string' },
    serve: { type: 'string' },
    'port-file': { type: 'string' },
    out: { type: 'string' },
  },
});
const connections = Number(values.connections);
const concurrency = Number(values.concurrency);

const VARIANTS = [
  { name: 'accepts', label: 'aio-iocp accepts(), several AcceptEx in the port (default)', env: {} },
  {
    name: 'accepts',
    label: 'aio-iocp accepts(), one AcceptEx at a time (PROACTOR_IOCP_ACCEPTS=1)',
    env: { PROACTOR_IOCP_ACCEPTS: '1' },
  },
  { name: 'accept-loop', label: 'aio-iocp accept() loop', env: {} },
  { name: 'net', label: 'node:net server', env: {} },
] as const;

/** A server child: listens, writes its port, takes `connections` connections and writes its rate. */
async function serve(variant: string, portFile: string, out: string): Promise<void> {
  let accepted = 0;
  let first = 0;
  let last = 0;
  const took = () => {
    last = performance.now();
    if (accepted++ === 0) first = last;
  };
  if (variant === 'net') {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.destroy();
      took();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, () => r()));
    writeFileSync(portFile, String((server.address() as net.AddressInfo).port));
    while (accepted < connections) await new Promise((r) => setTimeout(r, 5));
  } else {
    const { backend } = (await import(pathToFileURL(resolve(positionals[0] ?? '')).href)) as {
      backend: Backend;
    };
    const q = new Queue(backend, { entries: 512 });
    const fd = await q.socket(4);
    await q.bind(fd, { address: '127.0.0.1', port: 0 });
    await q.listen(fd, 1024);
    const address = await q.localAddress(fd);
    writeFileSync(portFile, String('port' in address ? address.port : 0));
    if (variant === 'accepts') {
      for await (const { fd: conn } of q.accepts(fd)) {
        took();
        void q.close(conn).catch(() => {});
        if (accepted === connections) break;
      }
    } else {
      while (accepted < connections) {
        const { fd: conn } = await q.accept(fd);
        took();
        void q.close(conn).catch(() => {});
      }
    }
  }
  writeFileSync(out, String(((accepted - 1) * 1000) / (last - first)));
  process.exit(0);
}

/** `connections` connections to `port`, `concurrency` at once, each until the server closed it. */
async function clients(port: number): Promise<void> {
  let started = 0;
  const one = async (): Promise<void> => {
    while (started < connections) {
      started++;
      await new Promise<void>((done) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => done());
        socket.once('close', () => done());
        socket.resume();
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
}

/** One run of `variant`: its server child, this process's clients; the server's rate. */
function run(variant: (typeof VARIANTS)[number], dir: string, index: number): Promise<number> {
  return serverChildRun(
    {
      label: variant.label,
      command: values['server-node'] ?? process.execPath,
      args: [
        fileURLToPath(import.meta.url),
        resolve(positionals[0] ?? ''),
        '--serve',
        variant.name,
        '--connections',
        String(connections),
      ],
      env: variant.env,
    },
    async (port) => {
      await clients(port);
      return undefined;
    },
    dir,
    index,
  );
}

if (values.serve !== undefined) {
  await serve(values.serve, values['port-file'] ?? '', values.out ?? '');
} else {
  if (positionals[0] === undefined) {
    console.error('iocp-accepts: give the path of @proactor/aio-iocp (dist/index.js)');
    process.exit(2);
  }
  const loadBefore = loadText();
  const dir = mkdtempSync(join(tmpdir(), 'proactor-bench-accepts-'));
  const rates: number[][] = VARIANTS.map(() => []);
  try {
    for (let r = 0; r < Number(values.runs); r++) {
      for (const [v, variant] of VARIANTS.entries()) {
        rates[v]?.push(await run(variant, dir, r * VARIANTS.length + v));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(rates[3] ?? []);
  const lines = [
    `IOCP accepts: ${connections} connections, ${concurrency} open at once (closed loop), ${values.runs} runs, ` +
      `${cpus().length} CPUs, load ${loadBefore} -> ${loadText()}, servers: ${values['server-node'] ?? process.execPath} (${process.platform} clients)`,
    '',
    '| server | connections taken/s, median | min - max | x node:net |',
    '|---|---:|---:|---:|',
    ...VARIANTS.map((variant, v) => {
      const xs = rates[v] ?? [];
      return `| ${variant.label} | ${Math.round(median(xs))} | ${Math.round(Math.min(...xs))} - ${Math.round(Math.max(...xs))} | ${(median(xs) / base).toFixed(2)} |`;
    }),
  ];
  console.log(lines.join('\n'));
}
