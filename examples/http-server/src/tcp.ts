/**
 * The accept side shared by the HTTP examples (copied, so each example stands alone): a listener
 * on the queue, one async handler per accepted connection, and a clean close.
 */

import type { Backend } from '@proactor/aio-core';
import { type InetSocketAddress, Queue, type QueueOptions } from '@proactor/aio-core';

export interface TcpServer {
  readonly queue: Queue;
  readonly port: number;
  readonly backend: string;
  /** Connections open right now. */
  readonly connections: number;
  /** Stops accepting, ends every connection (shutdown, then the queue's cancellation), destroys the queue. */
  close(): Promise<void>;
}

export interface TcpOptions {
  backend: Backend;
  host: string;
  port: number;
  queue?: QueueOptions;
}

/** Serves each accepted connection with `handle`, which owns the descriptor (it is closed after it returns). */
export async function serveTcp(
  options: TcpOptions,
  handle: (queue: Queue, fd: number) => Promise<void>,
): Promise<TcpServer> {
  const queue = new Queue(options.backend, options.queue ?? { entries: 4096 });
  const listener = await queue.socket(options.host.includes(':') ? 6 : 4);
  await queue.setsockopt(listener, 'reuseaddr', true);
  await queue.bind(listener, { address: options.host, port: options.port });
  await queue.listen(listener, 1024);
  const { port } = (await queue.localAddress(listener)) as InetSocketAddress;
  const open = new Set<number>();
  const loops = new Set<Promise<void>>();
  const stop = new AbortController();

  async function run(fd: number): Promise<void> {
    try {
      await handle(queue, fd);
    } catch {
      // A reset peer or a shutdown: the connection ends either way.
    } finally {
      open.delete(fd);
      await queue.close(fd).catch(() => undefined);
    }
  }

  const acceptLoop = (async () => {
    while (!stop.signal.aborted) {
      let fd: number;
      try {
        ({ fd } = await queue.accept(listener, { signal: stop.signal }));
      } catch (error) {
        if (stop.signal.aborted) return;
        const code = (error as { code?: string }).code;
        // Out of descriptors: back off briefly and keep serving the connections already open.
        if (code === 'EMFILE' || code === 'ENFILE') await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      open.add(fd);
      const loop = run(fd);
      loops.add(loop);
      void loop.finally(() => loops.delete(loop));
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    queue,
    port,
    backend: options.backend.name,
    get connections() {
      return open.size;
    },
    close() {
      closing ??= (async () => {
        stop.abort();
        await acceptLoop;
        await queue.close(listener).catch(() => undefined);
        // Ends pending recvs with 0, so each handler returns and its descriptor is closed.
        await Promise.all([...open].map((fd) => queue.shutdown(fd, 'both').catch(() => undefined)));
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 2000);
        });
        await Promise.race([Promise.all(loops), grace]);
        clearTimeout(timer);
        await queue.destroy();
      })();
      return closing;
    },
  };
}

/** Sends all of `data[0, length)`, looping over partial sends. */
export async function sendAll(queue: Queue, fd: number, data: Buffer, length = data.length): Promise<void> {
  let sent = 0;
  while (sent < length) sent += await queue.send(fd, data, sent, length - sent);
}
