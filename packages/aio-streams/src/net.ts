/**
 * node:net's shape over one queue: `const net = createNet(queue)`, then `net.createServer()`,
 * `net.connect()` / `net.createConnection()` with node:net's own signatures, so code written
 * against node:net changes only where it gets `net` from.
 */
import type { Queue } from '@proactor/aio-core';
import { createServer, type Server, type ServerOptions } from './server.js';
import { type ConnectOptions, Socket, type SocketOptions } from './socket.js';

export type NetConnectOptions = ConnectOptions & Omit<SocketOptions, 'queue' | 'fd' | 'remote' | 'local'>;

export interface ProactorNet {
  readonly queue: Queue;
  createServer(listener?: (socket: Socket) => void): Server;
  createServer(options?: ServerOptions, listener?: (socket: Socket) => void): Server;
  connect(options: NetConnectOptions, listener?: () => void): Socket;
  connect(port: number, host?: string, listener?: () => void): Socket;
  connect(port: number, listener?: () => void): Socket;
  connect(path: string, listener?: () => void): Socket;
  createConnection: ProactorNet['connect'];
}

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
