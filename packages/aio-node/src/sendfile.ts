/**
 * sendfile without a kernel path: node has no sendfile(2), so the bytes are read from the input
 * into a buffer and written to the output (a virtual socket through node:net, a real descriptor
 * through node:fs), one chunk at a time, each chunk written whole before the next is read. The
 * results are those of the native backends: bytes sent (fewer at the end of the input, or when
 * the output failed after some went out), the error when nothing went out, ECANCELED when
 * cancelled or when the output socket is closed while a chunk is being written.
 */
import * as fs from 'node:fs';
import { errnoOf } from '@proactor/aio-core';
import type { SocketRequest } from './socket-request.js';
import { isOpenVirtualFd, isVirtualFd, sendToVirtual } from './sockets.js';

const EBADF = errnoOf('EBADF');
const ECANCELED = errnoOf('ECANCELED');
const EINVAL = errnoOf('EINVAL');
const ESPIPE = errnoOf('ESPIPE');

/** Bytes read and written per round: large enough that a big file costs few rounds. */
const CHUNK = 256 * 1024;

/** Runs the sendfile of `req.sub` (fd: the output, fdIn: the input, offset, len). */
export function runSendfile(req: SocketRequest): void {
  const { sub } = req;
  let position = sub.offset;
  let remaining = sub.len;
  let sent = 0;
  let finished = false;
  const finish = (result: number) => {
    if (finished) return;
    finished = true;
    req.onCancel(undefined);
    req.done(result);
  };
  // A failure after some bytes went out is reported by the next call, as sendfile(2) does.
  const fail = (errno: number) => finish(sent > 0 ? sent : errno);
  req.onCancel(() => finish(ECANCELED));

  if (isVirtualFd(sub.fdIn)) {
    // A socket cannot be read at a position.
    setImmediate(finish, isOpenVirtualFd(sub.fdIn) ? ESPIPE : EBADF);
    return;
  }
  if (isVirtualFd(sub.fd) && !isOpenVirtualFd(sub.fd)) {
    setImmediate(finish, EBADF);
    return;
  }
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(remaining, 1)));

  /** Writes buffer[from, to) to the output, then reads the next chunk. */
  const write = (from: number, to: number): void => {
    const wrote = (result: number) => {
      if (finished) return;
      if (result < 0) {
        // Closed through the queue while a chunk was written: ECANCELED, as on every backend,
        // whatever the write itself met (under Wine a closed socket's pending write can end with
        // another error: its server ends a closed handle's pending I/O with STATUS_HANDLES_CLOSED,
        // where Windows says the operation was aborted).
        if (result === ECANCELED || (isVirtualFd(sub.fd) && !isOpenVirtualFd(sub.fd))) finish(ECANCELED);
        else fail(result);
        return;
      }
      sent += result;
      remaining -= result;
      if (from + result < to) write(from + result, to);
      else read();
    };
    if (isVirtualFd(sub.fd)) {
      sendToVirtual(sub.fd, { ...req, done: wrote }, buffer.subarray(from, to));
    } else {
      fs.write(sub.fd, buffer, from, to - from, null, (err, n) => wrote(err ? errnoFrom(err) : n));
    }
  };

  const read = (): void => {
    if (finished) return;
    if (remaining === 0) {
      finish(sent);
      return;
    }
    const n = Math.min(buffer.length, remaining);
    fs.read(sub.fdIn, buffer, 0, n, position, (err, got) => {
      if (finished) return;
      if (err) fail(errnoFrom(err));
      else if (got === 0)
        finish(sent); // the end of the input
      else {
        position += got;
        write(0, got);
      }
    });
  };

  if (remaining === 0) {
    // Nothing to move; both descriptors are still checked, as sendfile(2) does.
    fs.fstat(sub.fdIn, (err) => {
      if (err) finish(errnoFrom(err));
      else if (isVirtualFd(sub.fd)) finish(0);
      else fs.fstat(sub.fd, (outErr) => finish(outErr ? errnoFrom(outErr) : 0));
    });
    return;
  }
  read();
}

function errnoFrom(err: NodeJS.ErrnoException): number {
  return typeof err.errno === 'number' && err.errno < 0 ? err.errno : EINVAL;
}
