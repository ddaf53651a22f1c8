import type { Server as HttpServer } from 'node:http';
import type { Queue } from '@proactor/aio-core';
import { createServer, type Server, type ServerOptions } from './server.js';

/**
 * A proactor server that hands every connection to `httpServer` (node:http's, or a framework's
 * underlying one) as `httpServer.emit('connection', socket)`. The connections are half-open
 * capable, as node:http's own server accepts them: it ends a connection itself once the
 * responses to the requests that came before the peer's end are written. Call `listen()` on
 * the result; `httpServer.listen()` is not called. Once it listens, `httpServer` gets
 * 'listening' too: node:http starts tracking connections then, which its request and headers
 * timeouts and `closeIdleConnections()` / `closeAllConnections()` rely on.
 */
export function serveHttp(queue: Queue, httpServer: HttpServer, options: ServerOptions = {}): Server {
  const server = createServer(queue, { ...options, allowHalfOpen: true }, (socket) => {
    httpServer.emit('connection', socket);
  });
  server.on('listening', () => httpServer.emit('listening'));
  return server;
}
