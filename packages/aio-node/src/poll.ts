/**
 * poll for the reference backend. Virtual sockets compute their readiness from their state the
 * way Linux's poll(2) would for the same socket (tcp_poll, unix_poll, datagram_poll); a poll that
 * is not ready waits in a PollWaiters list that the socket notifies whenever its state changes
 * (data, end, error, close, drain, an arriving connection, a datagram). Real descriptors: node
 * cannot watch an arbitrary fd, so only regular files and directories (which Linux reports as
 * always ready) are answered; anything else fails with ENOTSUP.
 */
import * as fs from 'node:fs';
import { errnoOf, POLL_ERR, POLL_HUP, POLL_IN, POLL_OUT, type Submission } from '@proactor/aio-core';
import type { SocketRequest } from './socket-request.js';

const ECANCELED = errnoOf('ECANCELED');
const EINVAL = errnoOf('EINVAL');
const ENOTSUP = errnoOf('ENOTSUP');

/** The events a poll reports: those asked for, and ERR and HUP always. */
export function reported(wanted: number, ready: number): number {
  return ready & (wanted | POLL_ERR | POLL_HUP);
}

/** The polls waiting on one socket. */
export class PollWaiters {
  readonly #waiters: SocketRequest[] = [];

  /**
   * `readiness` gives the socket's ready events now; `hold` and `release` keep the event loop
   * alive while a poll waits (as for the socket's other waiting operations).
   */
  constructor(
    readonly readiness: () => number,
    readonly hold: (req: SocketRequest) => void,
    readonly release: (req: SocketRequest) => void,
  ) {}

  /** Completes `req` at once when the socket is ready for it, else waits (cancellable). */
  add(req: SocketRequest): void {
    const ready = reported(req.sub.opFlags, this.readiness());
    if (ready !== 0) {
      req.done(ready);
      return;
    }
    this.#waiters.push(req);
    this.hold(req);
    req.onCancel(() => {
      const index = this.#waiters.indexOf(req);
      if (index < 0) return;
      this.#waiters.splice(index, 1);
      this.release(req);
      req.done(ECANCELED);
    });
  }

  /** The socket's state changed: completes the polls it made ready. */
  notify(): void {
    if (this.#waiters.length === 0) return;
    const now = this.readiness();
    for (let i = 0; i < this.#waiters.length; ) {
      const req = this.#waiters[i];
      const ready = reported(req.sub.opFlags, now);
      if (ready === 0) {
        i++;
        continue;
      }
      this.#waiters.splice(i, 1);
      req.onCancel(undefined);
      this.release(req);
      req.done(ready);
    }
  }

  /** Ends every waiting poll with ECANCELED (the descriptor was closed). */
  cancelAll(): void {
    for (const req of this.#waiters.splice(0)) {
      req.onCancel(undefined);
      this.release(req);
      req.done(ECANCELED);
    }
  }
}

/**
 * poll on a real descriptor: regular files and directories are always ready for reading and
 * writing (Linux's DEFAULT_POLLMASK for files without a poll method); EBADF when `fd` is not
 * open; ENOTSUP for anything else (pipes, ttys, devices, sockets node:net does not own), which
 * node's APIs cannot watch.
 */
export function pollFile(sub: Submission, done: (result: number) => void): void {
  fs.fstat(sub.fd, (error, stats) => {
    if (error) {
      done(typeof error.errno === 'number' && error.errno < 0 ? error.errno : EINVAL);
      return;
    }
    if (stats.isFile() || stats.isDirectory()) done(sub.opFlags & (POLL_IN | POLL_OUT));
    else done(ENOTSUP);
  });
}
