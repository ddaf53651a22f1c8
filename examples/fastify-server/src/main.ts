#!/usr/bin/env node
/** Starts the fastify example: `node dist/main.js [port]` (or PORT=...); prints the URL it serves. */
import { startFastifyServer } from './server.js';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const server = await startFastifyServer({ port, host });
console.log(`fastify over proactor listening on http://${host}:${server.port}/ (backend: ${server.backend})`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing`);
  void server.close().then(() => console.log('closed'));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
