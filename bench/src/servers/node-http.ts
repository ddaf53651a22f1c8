/** Baseline: node:http answering the same fixed response with keep-alive. */
import http from 'node:http';

const body = 'Hello, World!';
const port = Number(process.argv[2] ?? 0);
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on ${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
