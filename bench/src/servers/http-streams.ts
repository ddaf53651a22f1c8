/**
 * node:http (or node:https) answering the fixed response, fed either by node:net (the baseline)
 * or by proactor sockets as Duplex streams (@proactor/aio-streams' serveHttp):
 *
 *   node http-streams.js <port> <net|proactor> <http|https> [backend] [certDir]
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { Queue } from '@proactor/aio-core';
import { serveHttp } from '@proactor/aio-streams';

const [portArg, transport, protocol, backendName = 'io_uring', certDir = ''] = process.argv.slice(2);
const port = Number(portArg);
const body = 'Hello, World!';
const handler: http.RequestListener = (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
};
const server =
  protocol === 'https'
    ? https.createServer(
        { key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) },
        handler,
      )
    : http.createServer(handler);
server.keepAliveTimeout = 60_000;

if (transport === 'proactor') {
  const backend = (await import(backendName === 'node' ? '@proactor/aio-node' : '@proactor/aio-uring'))
    .default;
  const queue = new Queue(backend);
  const listener = serveHttp(queue, server, { noDelay: true });
  listener.listen(port, '127.0.0.1', () => process.stdout.write(`listening on ${port}\n`));
  process.on('SIGTERM', () => process.exit(0));
} else {
  server.listen(port, '127.0.0.1', () => process.stdout.write(`listening on ${port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}
