/**
 * A TCP echo server written only against aio-core's Queue: one accept loop, and one async loop per
 * connection (recv -> send everything received, until recv returns 0, then close).
 */
import { selectBackend } from '@proactor/aio';
import { type Backend, type InetSocketAddress, Queue } from '@proactor/aio-core';

export interface EchoServerOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** The backend; default: @proactor/aio's selectBackend() (PROACTOR_BACKEND overrides). */
  backend?: Backend;
  /** Bytes per connection buffer (default 64 KiB). */
  bufferSize?: number;
}

export interface EchoServer {
  readonly port: number;
  readonly backend: string;
  /** Connections open right now. */
  readonly connections: number;
  /** Stops accepting, ends every connection, closes the listener and destroys the queue. */
  close(): Promise<void>;
}

export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const backend = options.backend ?? (await selectBackend()).backend;
  const queue = new Queue(backend, { entries: 4096 });
  const bufferSize = options.bufferSize ?? 65536;
  const host = options.host ?? '127.0.0.1';
  const listener = await queue.socket(host.includes(':') ? 6 : 4);
  await queue.setsockopt(listener, 'reuseaddr', true);
  await queue.bind(listener, { address: host, port: options.port ?? 0 });
  await queue.listen(listener, 1024);
  const { port } = (await queue.localAddress(listener)) as InetSocketAddress;

  const open = new Set<number>();
  const loops = new Set<Promise<void>>();
  const stop = new AbortController();

  async function serve(fd: number): Promise<void> {
    const buffer = Buffer.allocUnsafe(bufferSize);
    try {
      for (;;) {
        const n = await queue.recv(fd, buffer, 0, bufferSize);
        if (n === 0) break;
        let sent = 0;
        while (sent < n) sent += await queue.send(fd, buffer, sent, n - sent);
      }
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
        // Out of descriptors or a connection reset before accept: keep serving the others.
        if (code === 'EMFILE' || code === 'ENFILE') await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      open.add(fd);
      const loop = serve(fd);
      loops.add(loop);
      void loop.finally(() => loops.delete(loop));
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    port,
    backend: backend.name,
    get connections() {
      return open.size;
    },
    close() {
      closing ??= (async () => {
        stop.abort();
        await acceptLoop;
        await queue.close(listener).catch(() => undefined);
        // Ends pending recvs with 0 so each loop closes its own descriptor.
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
