/**
 * The proactor HTTP responder of the SO_REUSEPORT benchmark: `workers` worker threads in one
 * process, each with its own aio-core Queue on aio-uring and its own listening socket bound to the
 * same port with SO_REUSEPORT, so the kernel spreads incoming connections over the threads. Each
 * connection is answered like servers/net-responder.ts (the node:net reference): count the request
 * heads (CRLFCRLF) in what arrived and send that many copies of one fixed keep-alive response, from
 * a buffer built once.
 *
 *   node dist/servers/aio-http-reuseport.js <port> [workers, default 2]
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type InetSocketAddress, Queue } from '@proactor/aio-core';
import backend from '@proactor/aio-uring';
import { countHeads } from './heads.js';

const body = 'Hello, World!';
const response = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`,
);
/** Most responses sent in one send; a longer pipelined run takes several. */
const BATCH = 64;
const BUFFER_SIZE = 16384;

async function serveWorker(port: number): Promise<void> {
  const batch = Buffer.alloc(response.length * BATCH);
  for (let i = 0; i < BATCH; i++) response.copy(batch, i * response.length);
  const queue = new Queue(backend, { entries: 4096 });
  const listener = await queue.socket(4);
  await queue.setsockopt(listener, 'reuseaddr', true);
  await queue.setsockopt(listener, 'reuseport', true);
  await queue.bind(listener, { address: '127.0.0.1', port });
  await queue.listen(listener, 1024);
  const bound = (await queue.localAddress(listener)) as InetSocketAddress;
  let accepted = 0;

  async function sendResponses(fd: number, count: number): Promise<void> {
    while (count > 0) {
      const n = Math.min(count, BATCH);
      const length = n * response.length;
      let sent = 0;
      while (sent < length) sent += await queue.send(fd, batch, sent, length - sent);
      count -= n;
    }
  }

  async function handle(fd: number): Promise<void> {
    const buf = Buffer.allocUnsafe(BUFFER_SIZE);
    const state = { tail: 0 };
    try {
      await queue.setsockopt(fd, 'nodelay', true);
      for (;;) {
        const n = await queue.recv(fd, buf, 0, BUFFER_SIZE);
        if (n === 0) return;
        const heads = countHeads(buf, n, state);
        if (heads > 0) await sendResponses(fd, heads);
      }
    } catch {
      // A reset peer: the connection ends either way.
    } finally {
      await queue.close(fd).catch(() => undefined);
    }
  }

  parentPort?.on('message', (m) => {
    if (m === 'stats') parentPort!.postMessage({ accepted });
  });
  parentPort?.postMessage({ listening: bound.port });
  // Bounded restarts: a stray accept error (ECONNABORTED, EMFILE) is reported, accepting resumes.
  for (let restarts = 0; restarts < 100; restarts++) {
    try {
      for await (const { fd } of queue.accepts(listener)) {
        accepted++;
        void handle(fd);
      }
    } catch (error) {
      process.stderr.write(`accept: ${(error as Error).message}\n`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

if (isMainThread) {
  const port = Number(process.argv[2]);
  const count = Number(process.argv[3] ?? 2);
  if (!(port > 0)) throw new RangeError('a fixed port is needed: every worker binds it');
  const url = new URL(import.meta.url);
  const workers = Array.from({ length: count }, () => new Worker(url, { workerData: { port } }));
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
    ),
  );
  for (const w of workers) {
    w.on('error', (e) => {
      process.stderr.write(`worker: ${e.message}\n`);
      process.exit(1);
    });
  }
  process.stdout.write(`listening on ${port} with ${count} worker(s)\n`);
  // On SIGTERM, print how many connections each worker accepted (the kernel's spread), then exit.
  process.on('SIGTERM', () => {
    const counts: number[] = [];
    for (const w of workers) {
      w.on('message', (m: { accepted?: number }) => {
        if (m.accepted === undefined) return;
        counts.push(m.accepted);
        if (counts.length === workers.length) {
          process.stdout.write(`accepted per worker: ${counts.join(' ')}\n`);
          process.exit(0);
        }
      });
      w.postMessage('stats');
    }
    setTimeout(() => process.exit(0), 1000).unref();
  });
} else {
  await serveWorker((workerData as { port: number }).port);
}
