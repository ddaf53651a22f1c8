import type { Queue } from '@proactor/aio-core';

/**
 * Ports that a connect must find nobody listening on, or will find a listener of ours on, are
 * taken from here: below every system's default ephemeral range (Linux 32768-60999; Windows,
 * macOS and FreeBSD 49152-65535). No bind(0), listen(2) or connect(2) of anybody, in this process
 * or another, can be handed such a port (an explicit bind can), so a port of ours that closed
 * stays free: a port from bind(0), released, was reused that way under load in CI (the connect
 * reached another test's listener and ended with ECONNRESET), and in the soak run (a connect to a
 * closed listener's port succeeded).
 */
const LOWEST = 20_000;
const COUNT = 12_000;
const ATTEMPTS = 32;

/**
 * Binds socket `fd` to `address` at a port outside the ephemeral range that is not in `avoid`,
 * and returns the port. Another port is tried while one is in use (EADDRINUSE); any other failure
 * (the socket is bound already, closed, ...) is thrown, as the bind's own.
 */
export async function bindOutsideEphemeralRange(
  q: Queue,
  fd: number,
  address: string,
  avoid: ReadonlySet<number> = new Set(),
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * COUNT);
    if (avoid.has(port)) continue;
    try {
      await q.bind(fd, { address, port });
      return port;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt >= ATTEMPTS) throw error;
    }
  }
}

/**
 * A loopback port nothing listens on: one outside the ephemeral range, checked free by binding it
 * with a socket of `q`'s (closed again before this returns).
 */
export async function portNobodyListensOn(q: Queue, family: 4 | 6 = 4): Promise<number> {
  const fd = await q.socket(family);
  try {
    return await bindOutsideEphemeralRange(q, fd, family === 6 ? '::1' : '127.0.0.1');
  } finally {
    await q.close(fd);
  }
}
