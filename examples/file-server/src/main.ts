#!/usr/bin/env node
/**
 * Serves a directory: `node dist/main.js [directory] [port]` (or ROOT=... PORT=...; the directory
 * defaults to the current one); prints the URL it serves.
 */
import { startFileServer } from './server.js';

const root = process.argv[2] ?? process.env.ROOT ?? '.';
const port = Number(process.argv[3] ?? process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const server = await startFileServer({ root, port, host });
console.log(
  `file server for ${server.root} listening on http://${host}:${server.port}/ (backend: ${server.backend})`,
);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing`);
  void server.close().then(() => console.log('closed'));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
