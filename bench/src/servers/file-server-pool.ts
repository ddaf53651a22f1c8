/**
 * examples/file-server on io_uring with sendfile forced onto the blocking pool (sendfile(2) on a
 * pool thread instead of splice through a pipe): the A/B of the two in-kernel paths.
 */

import { Opcode } from '@proactor/aio-core';
import { createBackend } from '@proactor/aio-uring';

const port = Number(process.argv[2] ?? 0);
const root = process.argv[3] ?? process.cwd();
// A runtime path: the example is no dependency of the bench package.
const example = new URL('../../../examples/file-server/dist/server.js', import.meta.url).href;
const { startFileServer } = (await import(example)) as {
  startFileServer(options: {
    root: string;
    port: number;
    backend: unknown;
  }): Promise<{ close(): Promise<void> }>;
};
const server = await startFileServer({
  root,
  port,
  backend: createBackend({ blockingOps: [Opcode.SENDFILE] }),
});
process.stdout.write(`listening on ${port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
