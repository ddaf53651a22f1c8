/**
 * Receiving on IOCP: aio-iocp's multishot recvs() (zero-byte WSARecvs that hold no buffer, then a
 * WSARecv into the queue's receive pool once data is there) against a loop of single recv() calls
 * into a 64 KiB and a 16 KiB buffer (one WSARecv pending at a time, a buffer of its own per
 * connection) and a node:net server, for a stream and for small request/response messages. Any
 * backend with multishot runs it too (give its dist/index.js; without --server-node the servers
 * are this node): on Linux, io_uring's and the reactor's recvs() against the same loops.
 *
 *   node bench/dist/iocp-recvs.js <path of a backend's dist/index.js, e.g. @proactor/aio-iocp's>
 *       [--server-node "<command>"] [--runs 5] [--seconds 3]
 *
 * As bench/src/iocp-accepts.ts: each server in a child process started with `--server-node` (on
 * Linux: the Windows node.exe under Wine), interleaved over the runs; the clients are this
 * process's (on Linux: Linux sockets, which cost the server under Wine nothing).
 * - stream: 8 connections each send 32 MiB as fast as they can; the server counts what arrives.
 *   MiB/s from the server's first byte to its last.
 * - echo: 16 connections each send 64 bytes and wait for them to come back, again and again for
 *   `seconds`; the server sends back what it receives. Round trips per second (the clients').
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
    seconds: { type: 'string', default: '3' },
    'server-node': { type: 'string' },
    'ab-addon': { type: 'string' },
    serve: { type: 'string' },
    workload: { type: 'string' },
    'port-file': { type: 'string' },
    out: { type: 'string' },
  },
});
const seconds = Number(values.seconds);

const WORKLOADS = {
  stream: { connections: 8, bytes: 32 << 20, unit: 'MiB/s' },
  echo: { connections: 16, bytes: 64, unit: 'round trips/s' },
} as const;
type Workload = keyof typeof WORKLOADS;
// The backend's package name, from its path (.../packages/aio-iocp/dist/index.js: aio-iocp).
const pkg = /([^/\\]+)[/\\]dist[/\\][^/\\]+$/.exec(positionals[0] ?? '')?.[1] ?? 'the backend';
const VARIANTS = [
  { name: 'recvs', label: `${pkg} recvs() (multishot), 16 KiB pool buffers (the default)` },
  { name: 'recvs-64k', label: `${pkg} recvs() (multishot), 64 KiB pool buffers` },
  { name: 'recv-loop-16k', label: `${pkg} recv() loop, 16 KiB buffer` },
  { name: 'recv-loop', label: `${pkg} recv() loop, 64 KiB buffer` },
  { name: 'net', label: 'node:net server' },
];
// --ab-addon <another build of aio-iocp's addon>: recvs() with that build too (PROACTOR_IOCP_ADDON),
// for an A/B of a change to the addon in the same runs.
const abAddon = values['ab-addon'];
if (abAddon !== undefined)
  VARIANTS.splice(1, 0, {
    name: 'recvs',
    label: `${pkg} recvs() (multishot), 16 KiB pool buffers, addon ${abAddon}`,
  });

/** Sends all of `data` on `fd` (a send may take part of it). */
async function sendAll(q: Queue, fd: number, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length; ) at += await q.send(fd, data.subarray(at));
}

/** A server child: serves `workload.connections` connections with `variant`, then writes the
 * stream's rate (MiB/s) or nothing (echo: the clients count). */
async function serve(variant: string, workload: Workload, portFile: string, out: string): Promise<void> {
  const { connections } = WORKLOADS[workload];
  let bytes = 0;
  let first = 0;
  let last = 0;
  const got = (n: number) => {
    last = performance.now();
    if (bytes === 0) first = last;
    bytes += n;
  };
  if (variant === 'net') {
    let ended = 0;
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        got(chunk.length);
        if (workload === 'echo') socket.write(chunk);
      });
      socket.on('end', () => {
        socket.end();
        ended++;
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, () => r()));
    writeFileSync(portFile, String((server.address() as net.AddressInfo).port));
    while (ended < connections) await new Promise((r) => setTimeout(r, 5));
  } else {
    const { backend } = (await import(pathToFileURL(resolve(positionals[0] ?? '')).href)) as {
      backend: Backend;
    };
    const q = new Queue(backend, {
      entries: 512,
      ...(variant === 'recvs-64k' ? { recvBufferSize: 65536 } : {}),
    });
    const fd = await q.socket(4);
    await q.bind(fd, { address: '127.0.0.1', port: 0 });
    await q.listen(fd, 1024);
    const address = await q.localAddress(fd);
    writeFileSync(portFile, String('port' in address ? address.port : 0));
    const serving: Promise<void>[] = [];
    for (let i = 0; i < connections; i++) {
      const { fd: conn } = await q.accept(fd);
      await q.setsockopt(conn, 'nodelay', true);
      serving.push(
        (async () => {
          if (variant.startsWith('recvs')) {
            for await (const chunk of q.recvs(conn)) {
              got(chunk.length);
              if (workload === 'echo') await sendAll(q, conn, chunk);
            }
          } else {
            const buffer = Buffer.alloc(variant === 'recv-loop-16k' ? 16 * 1024 : 64 * 1024);
            for (;;) {
              const n = await q.recv(conn, buffer);
              if (n === 0) break;
              got(n);
              if (workload === 'echo') await sendAll(q, conn, buffer.subarray(0, n));
            }
          }
          await q.close(conn);
        })(),
      );
    }
    await Promise.all(serving);
    await q.close(fd);
    await q.destroy();
  }
  if (workload === 'stream') writeFileSync(out, String((bytes / 2 ** 20) * (1000 / (last - first))));
  process.exit(0);
}

/** The stream's clients: each sends its bytes, ends, and waits for the server's end. */
async function streamClients(port: number): Promise<undefined> {
  const { connections, bytes } = WORKLOADS.stream;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((done, fail) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.on('error', fail);
          socket.on('close', () => done());
          socket.resume();
          let sent = 0;
          const more = () => {
            while (sent < bytes) {
              sent += chunk.length;
              if (!socket.write(chunk)) return void socket.once('drain', more);
            }
            socket.end();
          };
          socket.once('connect', more);
        }),
    ),
  );
  return undefined;
}

/** The echo's clients: round trips per second over `seconds`. */
async function echoClients(port: number): Promise<number> {
  const { connections, bytes } = WORKLOADS.echo;
  const message = Buffer.alloc(bytes, 0x62);
  let trips = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((done, fail) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.setNoDelay(true);
          socket.on('error', fail);
          socket.on('close', () => done());
          let got = 0;
          socket.on('data', (data) => {
            got += data.length;
            if (got < bytes) return;
            got -= bytes;
            trips++;
            if (performance.now() < until) socket.write(message);
            else socket.end();
          });
          socket.once('connect', () => socket.write(message));
        }),
    ),
  );
  return trips / seconds;
}

if (values.serve !== undefined) {
  await serve(values.serve, values.workload as Workload, values['port-file'] ?? '', values.out ?? '');
} else {
  if (positionals[0] === undefined) {
    console.error("iocp-recvs: give the path of a backend's dist/index.js (e.g. @proactor/aio-iocp's)");
    process.exit(2);
  }
  const loadBefore = loadText();
  const dir = mkdtempSync(join(tmpdir(), 'proactor-bench-recvs-'));
  const workloads = Object.keys(WORKLOADS) as Workload[];
  const rates = workloads.map(() => VARIANTS.map((): number[] => []));
  try {
    let index = 0;
    for (let r = 0; r < Number(values.runs); r++) {
      for (const [w, workload] of workloads.entries()) {
        for (const [v, variant] of VARIANTS.entries()) {
          const rate = await serverChildRun(
            {
              label: `${variant.label}, ${workload}`,
              command: values['server-node'] ?? process.execPath,
              args: [
                fileURLToPath(import.meta.url),
                resolve(positionals[0]),
                ...['--serve', variant.name, '--workload', workload],
              ],
              env: variant.label.includes(', addon ') ? { PROACTOR_IOCP_ADDON: abAddon } : {},
            },
            workload === 'stream' ? streamClients : echoClients,
            dir,
            index++,
          );
          rates[w]?.[v]?.push(rate);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const lines = [
    `${pkg} receives: ${values.runs} runs, ${cpus().length} CPUs, load ${loadBefore} -> ${loadText()}, ` +
      `servers: ${values['server-node'] ?? process.execPath} (${process.platform} clients)`,
    '',
    '| workload | server | median | min - max | x node:net |',
    '|---|---|---:|---:|---:|',
    ...workloads.flatMap((workload, w) => {
      const base = median(rates[w]?.[VARIANTS.length - 1] ?? []);
      return VARIANTS.map((variant, v) => {
        const xs = rates[w]?.[v] ?? [];
        const { connections, bytes, unit } = WORKLOADS[workload];
        const what =
          workload === 'stream' ? `${connections} x ${bytes >> 20} MiB` : `${connections} x ${bytes} B`;
        return `| ${workload} (${what}), ${unit} | ${variant.label} | ${Math.round(median(xs))} | ${Math.round(Math.min(...xs))} - ${Math.round(Math.max(...xs))} | ${(median(xs) / base).toFixed(2)} |`;
      });
    }),
  ];
  console.log(lines.join('\n'));
}
