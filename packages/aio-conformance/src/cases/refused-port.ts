import type { Queue } from '@proactor/aio-core';

/**
 * Ports for a connect that must be refused are taken from here: below every system's default
 * ephemeral range (Linux 32768-60999; Windows, macOS and FreeBSD 49152-65535), so that no
 * listen(0) or connect() of another test, in this process or another, can be handed the port
 * between our check and the connect. (A port from bind(0), released, was reused that way under
 * load in CI: the connect reached another test's listener and ended with ECONNRESET.)
 */
const LOWEST = 20_000;
const COUNT = 12_000;
const ATTEMPTS = 32;

/**
 * A loopback port nothing listens on: a port outside the ephemeral range, checked free by binding
 * it with a socket of `q`'s (closed again before this returns). Another port is tried while one
 * is in use (EADDRINUSE); any other failure of the check is thrown.
 */
export async function portNobodyListensOn(q: Queue, family: 4 | 6 = 4): Promise<number> {
  const address = family === 6 ? '::1' : '127.0.0.1';
  for (let attempt = 1; ; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * COUNT);
    const fd = await q.socket(family);
    try {
      await q.bind(fd, { address, port });
      return port;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt === ATTEMPTS) throw error;
    } finally {
      await q.close(fd);
    }
  }
}
