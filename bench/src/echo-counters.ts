/**
 * What one echo round trip costs the server, in counts that do not depend on the machine's
 * load: examples/echo-server on @proactor/aio-uring in this process, one node:net client in a
 * child process sending a 64-byte message and waiting for it to come back, `messages` times.
 * Prints JSON: per message, the poll callbacks of the server's ring (`wakeups`), its
 * io_uring_enter calls (`enterCalls`) and the server process's CPU time in µs (user, system;
 * this one does depend on the machine).
 *
 *   node dist/echo-counters.js [messages]
 *
 * addon-ab.js runs it once per build ("before" through its resolve hook).
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { Backend, Engine, RingContext } from '@proactor/aio-core';
import { backend, engineInfo } from '@proactor/aio-uring';

const messages = Number(process.argv[2] ?? 20_000);
const root = new URL('../..', import.meta.url).pathname;
const { startEchoServer } = (await import(join(root, 'examples', 'echo-server', 'dist', 'server.js'))) as {
  startEchoServer(options: {
    port: number;
    backend: Backend;
  }): Promise<{ port: number; close(): Promise<void> }>;
};

// The server's engine, caught as the queue attaches it.
let engine: Engine | undefined;
const watched: Backend = Object.create(backend, {
  attach: { value: (ring: RingContext) => (engine = backend.attach(ring)) },
});
const server = await startEchoServer({ port: 0, backend: watched });

const client = fork(new URL('./echo-counters-client.js', import.meta.url).pathname, [
  String(server.port),
  String(messages),
]);
const next = (): Promise<unknown> => new Promise((resolve) => client.once('message', resolve));
await next(); // connected
await new Promise((resolve) => setTimeout(resolve, 100));
const before = engineInfo(engine as Engine);
const cpu = process.cpuUsage();
client.send('go');
await next(); // every message came back
const used = process.cpuUsage(cpu);
const after = engineInfo(engine as Engine);
client.send('end');
await new Promise((resolve) => client.once('exit', resolve));
await server.close();

const per = (n: number): number => Number((n / messages).toFixed(3));
process.stdout.write(
  `${JSON.stringify({
    messages,
    wakeups: per(after.wakeups - before.wakeups),
    enterCalls: per(after.enterCalls - before.enterCalls),
    userUs: per(used.user),
    systemUs: per(used.system),
  })}\n`,
);
