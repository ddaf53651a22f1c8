/**
 * Starts an example server (examples/http-server or examples/echo-server, as built in the
 * repository) on a backend of backends.ts named by id: for the backends @proactor/aio cannot
 * select through PROACTOR_BACKEND (a poller other than its package's default, such as aio-epoll
 * over poll(2)). The example is the same code either way; only its `backend` option differs.
 *
 *   node dist/servers/example-on-backend.js <http-server|echo-server> <port> <backend id>
 */
import type { Backend } from '@proactor/aio-core';
import { loadBenchBackend } from '../backends.js';

interface Started {
  port: number;
  close(): Promise<void>;
}
type Start = (options: { port: number; host: string; backend: Backend }) => Promise<Started>;

const [example, port, backendId] = process.argv.slice(2);
const entry = { 'http-server': 'startHttpServer', 'echo-server': 'startEchoServer' }[example];
if (entry === undefined || port === undefined || backendId === undefined) {
  process.stderr.write('usage: example-on-backend.js <http-server|echo-server> <port> <backend id>\n');
  process.exit(2);
}
// Loaded by path: the examples are not dependencies of the bench package.
const module = (await import(
  new URL(`../../../examples/${example}/dist/server.js`, import.meta.url).href
)) as Record<string, Start>;
const server = await module[entry]({
  port: Number(port),
  host: '127.0.0.1',
  backend: await loadBenchBackend(backendId),
});
process.stdout.write(`${example} listening on ${server.port} (backend ${backendId})\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
