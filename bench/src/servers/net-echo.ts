/** Baseline: a node:net echo server (what a user would write without proactor). */
import net from 'node:net';
import { answerMemoryQueries } from './memory-ipc.js';

const port = Number(process.argv[2] ?? 0);
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
});
answerMemoryQueries();
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () =>
  process.stdout.write(`listening on ${port}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
