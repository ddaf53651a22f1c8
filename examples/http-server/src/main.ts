#!/usr/bin/env node
/** Starts the HTTP responder: `node dist/main.js [port]` (or PORT=...); prints the URL it serves. */
import { startHttpServer } from './server.js';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const server = await startHttpServer({ port, host });
console.log(`http server listening on http://${host}:${server.port}/ (backend: ${server.backend})`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing`);
  void server.close().then(() => console.log('closed'));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
