/** A node:net server that reads and discards everything: the far end of the file-to-socket runs. */
import net from 'node:net';

const port = Number(process.argv[2] ?? 0);
const server = net.createServer((socket) => {
  socket.on('data', () => {});
  socket.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening on ${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
