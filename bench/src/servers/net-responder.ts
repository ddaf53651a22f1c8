/**
 * Baseline: the smallest HTTP/1.1 keep-alive responder node:net allows: count the request heads
 * in each chunk (CRLFCRLF) and write that many copies of a fixed response. No parsing beyond that.
 */
import net from 'node:net';
import { countHeads } from './heads.js';

const body = 'Hello, World!';
const response = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`,
);
const port = Number(process.argv[2] ?? 0);
const server = net.createServer((socket) => {
  const state = { tail: 0 };
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    const heads = countHeads(chunk, chunk.length, state);
    if (heads === 1) socket.write(response);
    else if (heads > 1) socket.write(Buffer.concat(new Array(heads).fill(response)));
  });
  socket.on('error', () => socket.destroy());
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on ${(server.address() as net.AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
