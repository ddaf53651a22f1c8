/**
 * Memory per idle connection on IOCP: C connections waiting in recvs() for their next message,
 * with multishot (aio-iocp's default: zero-byte WSARecvs that hold no buffer, the queue's
 * receive pool lent only while data is taken) against the same backend with `multishot: false`
 * (aio-core's fallback: one recv into a fresh buffer of `size` bytes per connection, pending).
 * Runs where node is the Windows node.exe (on Linux: under Wine, as scripts/windows-test.sh runs
 * it):
 *
 *   node.exe bench/dist/iocp-idle-memory.js <path of @proactor/aio-iocp's dist/index.js>
 *       [--connections 1000] [--runs 3] [--size 65536] [--form callback|iterator]
 *
 * Each run starts one server child per variant (interleaved, with --expose-gc), and the server
 * child starts a client child (node:net, its own process, so that the clients' memory is not
 * the server's). The server accepts C connections, receives one 64-byte message on each through
 * recvs() (counted and dropped: a kept chunk of a single recv would keep its whole buffer), and,
 * once every connection waits for its next one, samples process.memoryUsage() after a full
 * collection (5 samples, 200 ms apart; the median). Per connection: (held - before the first
 * connection) / C, for the resident set and for V8's heap plus its external memory (array buffers
 * included: the queue's receive pool, 4 MiB by default, and the buffers of pending recvs).
 * Medians over the runs, the children interleaved and reporting through a file (child-runs.ts).
 *
 * The resident set is process.memoryUsage().rss: the working set, as Windows (or Wine) reports it.
 * Under Wine a pending WSARecv's buffer is ordinary process memory; Windows also locks the pages
 * of a pending receive's buffer for its whole wait, so there the single-operation figure costs
 * more than it shows here.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Backend, type Engine, Queue, type RingContext } from '@proactor/aio-core';
import { interleavedChildResults } from './child-runs.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    connections: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    size: { type: 'string', default: '65536' },
    form: { type: 'string', default: 'callback' },
    child: { type: 'string' },
    client: { type: 'string' },
    out: { type: 'string' },
  },
});
const connections = Number(values.connections);
const size = Number(values.size);
const MESSAGE = Buffer.alloc(64, 0x61);
const scriptPath = new URL(import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, '$1');

interface ChildResult {
  rssPerConnection: number;
  heapPerConnection: number;
  multishotItems: number;
}

/** The client process: `connections` sockets to `port`, one message each, held until killed. */
async function runClient(port: number): Promise<void> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < connections; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(MESSAGE);
    sockets.push(socket);
  }
  await new Promise(() => {});
}

function sample(): { rss: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external }; // (external includes arrayBuffers)
}

async function settledSample(): Promise<{ rss: number; heap: number }> {
  const samples: { rss: number; heap: number }[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 200));
    samples.push(sample());
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2] ?? 0;
  return { rss: median(samples.map((s) => s.rss)), heap: median(samples.map((s) => s.heap)) };
}

async function runServer(
  backend: Backend,
  engineInfo: (engine: Engine) => { multishotItems: number },
): Promise<ChildResult> {
  // The queue's engine, caught as the queue attaches it (for its multishot item count).
  let engine: Engine | undefined;
  const watched: Backend = Object.create(backend, {
    attach: { value: (ring: RingContext) => (engine = backend.attach(ring)) },
  });
  const q = new Queue(watched, { entries: 4096 });
  const listener = await q.socket(4);
  await q.bind(listener, { address: '127.0.0.1', port: 0 });
  await q.listen(listener, 1024);
  const address = await q.localAddress(listener);
  const port = 'port' in address ? address.port : 0;
  const before = await settledSample();
  let firstMessages = 0;
  let allFirst: () => void = () => {};
  const allIn = new Promise<void>((r) => {
    allFirst = r;
  });
  let received = 0;
  const onChunk = (chunk: Buffer) => {
    // One message per connection, counted and dropped: what stays is what waits for the next.
    received += chunk.length;
    if (++firstMessages === connections) allFirst();
  };
  const client = spawn(
    process.execPath,
    [scriptPath, '--client', String(port), '--connections', String(connections)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let clientError = '';
  client.stderr?.on('data', (chunk: Buffer) => {
    clientError += chunk.toString();
  });
  // A client that ends early fails the run rather than leaving the server waiting.
  const clientEnded = new Promise<never>((_, reject) =>
    client.once('exit', (code) => reject(new Error(`the client ended (${code}): ${clientError}`))),
  );
  clientEnded.catch(() => {});
  try {
    for (let i = 0; i < connections; i++) {
      const { fd } = await Promise.race([q.accept(listener), clientEnded]);
      if (values.form === 'iterator') {
        void (async () => {
          for await (const chunk of q.recvs(fd, { size })) onChunk(chunk);
        })().catch(() => {});
      } else {
        q.recvs(fd, { size }, (error, chunk) => {
          if (error === null && chunk) onChunk(chunk);
        });
      }
    }
    await Promise.race([allIn, clientEnded]);
    if (received !== connections * MESSAGE.length) throw new Error(`received ${received} bytes`);
    const held = await settledSample();
    return {
      rssPerConnection: (held.rss - before.rss) / connections,
      heapPerConnection: (held.heap - before.heap) / connections,
      multishotItems: engineInfo(engine as Engine).multishotItems,
    };
  } finally {
    client.kill();
  }
}

if (values.client !== undefined) {
  await runClient(Number(values.client));
} else if (values.child !== undefined) {
  const mod = (await import(pathToFileURL(resolve(positionals[0] ?? '')).href)) as {
    backend: Backend;
    engineInfo(engine: Engine): { multishotItems: number };
  };
  const backend: Backend =
    values.child === 'single'
      ? Object.freeze({ ...mod.backend, capabilities: { ...mod.backend.capabilities, multishot: false } })
      : mod.backend;
  const result = await runServer(backend, mod.engineInfo);
  writeFileSync(values.out ?? '', JSON.stringify(result));
  process.exit(0);
} else {
  if (positionals[0] === undefined) {
    console.error('iocp-idle-memory: give the path of @proactor/aio-iocp (dist/index.js)');
    process.exit(2);
  }
  const variants = [
    { key: 'multishot', label: 'multishot recvs() (default)' },
    { key: 'single', label: 'one recv per connection (multishot: false)' },
  ];
  const options = [
    '--connections',
    String(connections),
    '--size',
    String(size),
    '--form',
    String(values.form),
  ];
  const results = interleavedChildResults<ChildResult>(
    Number(values.runs),
    variants.map((variant) => ({
      label: variant.label,
      args: ['--expose-gc', scriptPath, positionals[0] ?? '', '--child', variant.key, ...options],
    })),
    600_000,
  );
  const samples = results.map((runs) => ({
    rss: runs.map((r) => r.rssPerConnection),
    heap: runs.map((r) => r.heapPerConnection),
    items: runs.map((r) => r.multishotItems),
  }));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const kb = (n: number) => (n / 1024).toFixed(2);
  const [multi, single] = samples.map((s) => ({
    rss: median(s.rss),
    heap: median(s.heap),
    items: median(s.items),
  }));
  const lines = [
    `IOCP idle connections: ${connections} waiting in recvs() (${values.form} form, size ${size}), ${values.runs} runs, ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (0 on Windows), node ${process.version}`,
    '',
    `| per idle connection | ${variants.map((v) => v.label).join(' | ')} | ratio |`,
    '|---|---|---|---|',
    `| resident set (KiB) | ${kb(multi!.rss)} | ${kb(single!.rss)} | ${(multi!.rss / single!.rss).toFixed(2)}x |`,
    `| V8 heap + external (KiB) | ${kb(multi!.heap)} | ${kb(single!.heap)} | ${(multi!.heap / single!.heap).toFixed(2)}x |`,
    '',
    `runs: resident set KiB ${variants.map((v, i) => `${v.key} ${samples[i]!.rss.map(kb).join(', ')}`).join('; ')}; multishot items ${multi!.items} / ${single!.items}`,
  ];
  console.log(lines.join('\n'));
}
