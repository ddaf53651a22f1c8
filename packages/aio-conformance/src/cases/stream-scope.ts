/** What the stream cases share: a scope that closes their sockets and servers, and event recorders. */
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { once } from 'node:events';
import type { Queue } from '@proactor/aio-core';
import {
  createNet,
  type ProactorNet,
  type Server,
  type ServerOptions,
  type Socket,
} from '@proactor/aio-streams';
import type { CaseContext, Need } from '../case.js';

/** What a case needs to run sockets as streams. */
export const STREAM_SOCKETS: Need[] = [
  'socket',
  'bind',
  'listen',
  'getsockname',
  'accept',
  'connect',
  'recv',
  'send',
  'shutdown',
  'setsockopt',
  'close',
];

/**
 * Sockets and servers of one case, all closed (and their 'close' awaited) before the case's
 * queue is destroyed: a queue destroyed under a live socket would fail its operations with
 * ECANCELED, an 'error' nobody listens to.
 */
export class StreamScope {
  readonly net: ProactorNet;
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();

  constructor(readonly queue: Queue) {
    this.net = createNet(queue);
  }

  /** A server on 127.0.0.1, listening; every connection it accepts is tracked too. */
  async listen(
    onConnection: (socket: Socket) => void,
    options: ServerOptions = {},
  ): Promise<{ server: Server; port: number }> {
    const server = this.net.createServer(options, (socket) => {
      this.track(socket);
      onConnection(socket);
    });
    this.#servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    return { server, port: address.port };
  }

  /** A server made elsewhere, closed with the scope; its connections are tracked. */
  adopt(server: Server): Server {
    this.#servers.push(server);
    server.on('connection', (socket: Socket) => this.track(socket));
    return server;
  }

  track<S extends Socket>(socket: S): S {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  }

  /** Connects to 127.0.0.1:port and waits for 'connect'. */
  async connect(
    port: number,
    options: { allowHalfOpen?: boolean; writableHighWaterMark?: number } = {},
  ): Promise<Socket> {
    const socket = this.track(this.net.connect({ port, host: '127.0.0.1', ...options }));
    await once(socket, 'connect');
    return socket;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      // A case that failed may leave a socket erroring: its error is not this cleanup's.
      socket.on('error', () => {});
      socket.destroy();
    }
    await Promise.all(
      [...this.#sockets].map((socket) => (socket.closed ? undefined : once(socket, 'close'))),
    );
    await Promise.all(
      this.#servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.on('error', () => {});
            server.close(() => resolve());
          }),
      ),
    );
  }
}

/** A scope on a new queue of the case, closed after the case (before the queue is destroyed). */
export async function withStreams(t: CaseContext, body: (s: StreamScope) => Promise<void>): Promise<void> {
  const scope = new StreamScope(t.queue());
  try {
    await body(scope);
  } finally {
    await scope.close();
  }
}

/**
 * Records the events `emitter` emits from now on, by name, and fails if any comes after
 * 'close' (Node's stream contract: 'close' is the last event).
 */
export function recordEvents(emitter: EventEmitter): string[] {
  const seen: string[] = [];
  const emit = emitter.emit;
  emitter.emit = function (this: EventEmitter, name: string | symbol, ...args: unknown[]): boolean {
    if (seen.includes('close'))
      assert.fail(`'${String(name)}' emitted after 'close' (events: ${seen.join(', ')})`);
    seen.push(String(name));
    return emit.call(this, name, ...args);
  } as typeof emitter.emit;
  return seen;
}

/** Reads `socket` to its end. */
export async function readAll(socket: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
