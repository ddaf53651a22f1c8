#!/usr/bin/env node
/** Starts the echo server: `node dist/main.js [port]` (or PORT=...); prints the port it listens on. */
import { startEchoServer } from './server.js';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const server = await startEchoServer({ port, host });
console.log(`echo server listening on ${host}:${server.port} (backend: ${server.backend})`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing`);
  void server.close().then(() => console.log('closed'));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
