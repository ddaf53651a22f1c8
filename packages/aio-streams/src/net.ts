/**
 * node:net's shape over one queue: `const net = createNet(queue)`, then `net.createServer()`,
 * `net.connect()` / `net.createConnection()` with node:net's own signatures, so code written
 * against node:net changes only where it gets `net` from.
 */
import type { Queue } from '@proactor/aio-core';
import { createServer, type Server, type ServerOptions } from './server.js';
import { type ConnectOptions, Socket, type SocketOptions } from './socket.js';

/** connect()'s options for {@link createNet}: node:net's, less what only a wrapped descriptor takes. */
export type NetConnectOptions = ConnectOptions & Omit<SocketOptions, 'queue' | 'fd' | 'remote' | 'local'>;

/** node:net's createServer() / connect() / createConnection(), bound to one queue. */
export interface ProactorNet {
  /** The queue every socket and server of this object uses. */
  readonly queue: Queue;
  /** A server whose connections are proactor sockets, as net.createServer(). */
  createServer(listener?: (socket: Socket) => void): Server;
  /** The same, with options for the accepted sockets. */
  createServer(options?: ServerOptions, listener?: (socket: Socket) => void): Server;
  /** A proactor socket connecting to a TCP port or a unix path, as net.connect(). */
  connect(options: NetConnectOptions, listener?: () => void): Socket;
  /** The same, to `host` (default localhost) and `port`. */
  connect(port: number, host?: string, listener?: () => void): Socket;
  /** The same, to `port` on localhost. */
  connect(port: number, listener?: () => void): Socket;
  /** The same, to the unix socket at `path`. */
  connect(path: string, listener?: () => void): Socket;
  /** The same as connect(), under node:net's other name. */
  createConnection: ProactorNet['connect'];
}

/**
 * node:net's createServer(), connect() and createConnection() with node:net's own signatures, on
 * `queue`: code written against node:net runs on proactor sockets by swapping the module.
 */
export function createNet(queue: Queue): ProactorNet {
  function connect(...args: unknown[]): Socket {
    const first = args[0];
    const options = first !== null && typeof first === 'object' ? (first as NetConnectOptions) : {};
    const socket = new Socket({ ...options, queue });
    return (socket.connect as (...a: unknown[]) => Socket)(...args);
  }
  return {
    queue,
    createServer: ((options?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void) =>
      createServer(queue, options as ServerOptions, listener)) as ProactorNet['createServer'],
    connect: connect as ProactorNet['connect'],
    createConnection: connect as ProactorNet['connect'],
  };
}
