/**
 * Baseline: the smallest HTTP/1.1 keep-alive responder node:net allows: count the request heads
 * in each chunk (CRLFCRLF) and write that many copies of a fixed response. No parsing beyond that.
 */
import net from 'node:net';

const body = 'Hello, World!';
const response = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`,
);
const port = Number(process.argv[2] ?? 0);
const server = net.createServer((socket) => {
  let tail = 0; // bytes of a CRLFCRLF matched at the end of the previous chunk
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    let heads = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if ((tail === 0 || tail === 2) && c === 13) tail++;
      else if ((tail === 1 || tail === 3) && c === 10) tail++;
      else tail = c === 13 ? 1 : 0;
      if (tail === 4) {
        heads++;
        tail = 0;
      }
    }
    if (heads === 1) socket.write(response);
    else if (heads > 1) socket.write(Buffer.concat(new Array(heads).fill(response)));
  });
  socket.on('error', () => socket.destroy());
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on ${(server.address() as net.AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
