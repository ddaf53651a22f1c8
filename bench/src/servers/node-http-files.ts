/** Baseline: node:http serving files from a directory with fs.createReadStream().pipe(res), keep-alive. */
import { createReadStream, stat } from 'node:fs';
import http from 'node:http';
import { join, normalize } from 'node:path';

const root = process.argv[3] ?? process.cwd();
const port = Number(process.argv[2] ?? 0);
const server = http.createServer((req, res) => {
  const path = join(root, normalize(decodeURIComponent((req.url ?? '/').split('?')[0])));
  stat(path, (err, stats) => {
    if (err || !stats.isFile()) {
      res.writeHead(404, { 'Content-Length': 0 });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': stats.size });
    createReadStream(path).pipe(res);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on ${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
