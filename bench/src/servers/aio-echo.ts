/**
 * The proactor echo server of the C10K benchmark, written only against aio-core's Queue and run on
 * aio-uring (or another backend of backends.ts, by id): one accept loop, and per connection one `for await (const chunk of queue.recvs(fd))`
 * loop that sends each chunk back. It holds no receive buffer of its own per connection: on
 * io_uring recvs() is one multishot recv per connection into the queue's shared provided-buffer
 * pool (256 x 16 KiB), copying each chunk out, which is what keeps an idle connection cheap.
 *
 *   node dist/servers/aio-echo.js <port> [recv size in bytes, default 4096] [queue entries, default 16384]
 *                                 [form: 'iterator' (default) or 'callback'] [pool buffers, default 1024]
 *                                 [backend id, default io_uring]
 *
 * On the readiness backends (epoll, kqueue) recvs() is emulated: one parked request per
 * connection, receiving into the same pool only when the connection is readable.
 *
 * The callback form (`queue.recvs(fd, options, callback)`) keeps no promise or async function
 * per connection: each chunk reaches the callback as the completion is delivered.
 *
 * Answers `'memory'` over an IPC channel with process.memoryUsage() (see memory-ipc.ts).
 */
import { type InetSocketAddress, Queue } from '@proactor/aio-core';
import { loadBenchBackend } from '../backends.js';
import { answerMemoryQueries } from './memory-ipc.js';

const port = Number(process.argv[2] ?? 0);
const recvSize = Number(process.argv[3] ?? 4096);
const entries = Number(process.argv[4] ?? 16384);
const form = process.argv[5] === 'callback' ? 'callback' : 'iterator';
const poolCount = Number(process.argv[6] ?? 1024);
const backend = await loadBenchBackend(process.argv[7] ?? 'io_uring');

// One slot per connection's pending recv, plus sends and the accept: 10,000 connections fit. The
// multishot receives share 1,024 buffers of the recv size (4 MiB at 4 KiB, as much memory as the
// default pool of 256 x 16 KiB, in four times as many buffers for many small messages).
const queue = new Queue(backend, { entries, recvBufferSize: recvSize, recvBufferCount: poolCount });
const listener = await queue.socket(4);
await queue.setsockopt(listener, 'reuseaddr', true);
await queue.bind(listener, { address: '127.0.0.1', port });
await queue.listen(listener, 4096);
const bound = (await queue.localAddress(listener)) as InetSocketAddress;

async function serve(fd: number): Promise<void> {
  try {
    await queue.setsockopt(fd, 'nodelay', true);
    for await (const chunk of queue.recvs(fd, { size: recvSize })) {
      let sent = 0;
      while (sent < chunk.length) sent += await queue.send(fd, chunk, sent, chunk.length - sent);
    }
  } catch {
    // A reset peer: the connection ends either way.
  } finally {
    await queue.close(fd).catch(() => undefined);
  }
}

const ignore = (): void => {};

/**
 * The callback form: each chunk is sent back, in order. Per connection it keeps two closures and
 * their context; the chunks that arrive while one is being sent wait in an array made only when
 * that happens (in this benchmark each message is echoed before the next arrives), so an idle
 * connection holds no array.
 */
function serveWithCallbacks(fd: number): void {
  queue.setsockopt(fd, 'nodelay', true, ignore);
  let waiting: Buffer[] | undefined;
  let sending = false;
  const send = (chunk: Buffer, offset: number): void => {
    sending = true;
    queue.send(fd, chunk, offset, chunk.length - offset, (err, n) => {
      if (err) return; // a reset peer: its recvs end too
      if (offset + n! < chunk.length) return send(chunk, offset + n!);
      const next = waiting?.shift();
      if (next !== undefined) send(next, 0);
      else sending = false;
    });
  };
  queue.recvs(fd, { size: recvSize }, (err, chunk) => {
    if (err || chunk === null) {
      waiting = undefined;
      queue.close(fd, ignore);
      return;
    }
    if (!sending) send(chunk!, 0);
    else if (waiting === undefined) waiting = [chunk!];
    else waiting.push(chunk!);
  });
}

const stop = new AbortController();
if (form === 'callback') {
  queue.accepts(listener, { signal: stop.signal }, (err, conn) => {
    if (err) {
      if (!stop.signal.aborted) process.stderr.write(`accept: ${err.message}\n`);
      return;
    }
    serveWithCallbacks(conn!.fd);
  });
} else
  void (async () => {
    // accepts() ends with the error that ends accepting; a stray one (ECONNABORTED, EMFILE) is
    // reported and accepting resumes, a bounded number of times.
    for (let restarts = 0; restarts < 100 && !stop.signal.aborted; restarts++) {
      try {
        for await (const { fd } of queue.accepts(listener, { signal: stop.signal })) void serve(fd);
      } catch (error) {
        if (stop.signal.aborted) return;
        process.stderr.write(`accept: ${(error as Error).message}\n`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  })();

answerMemoryQueries();
process.stdout.write(`listening on ${bound.port}\n`);
process.on('SIGTERM', () => {
  stop.abort();
  // The benchmark is over: the kernel closes every descriptor at exit.
  process.exit(0);
});
