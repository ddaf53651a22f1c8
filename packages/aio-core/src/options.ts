/**
 * The option and result types of the queue's operations: what `Queue` methods take besides
 * their positional arguments, and what they resolve with.
 */
import type { SocketAddress } from './address.js';
import type { AbortError, ProactorError, SystemError } from './errors.js';
import type { Stats } from './stats.js';
import type { SENDFILE_MAX_LENGTH } from './validate.js';

/**
 * What a failed operation hands its callback or rejects with: a {@link SystemError} from the
 * operating system (`code` 'ENOENT', negative `errno`, `syscall`, `path`), an {@link AbortError}
 * (`code` 'ABORT_ERR') when its signal fired, or a {@link ProactorError} (`code`
 * 'ERR_PROACTOR_...'). Each carries `code`.
 */
export type OperationError = SystemError | AbortError | ProactorError;

/**
 * Node-style completion callback: `(error)` with an {@link OperationError} (it has `code`), or
 * `(null, result)`. Typed as `@types/node` types `fs` callbacks: `result` is `T`, so it needs no
 * check once `err` was ruled out, and it is `undefined` when `err` is set. (A union of argument
 * tuples would tie the two together, but TypeScript then refuses the common `(err) => ...`.)
 */
export type Callback<T> = (err: OperationError | null, result: T) => void;

/** Options every operation takes. */
export interface OpOptions {
  /** Cancels the operation: it rejects with an AbortError unless it completed first. */
  signal?: AbortSignal;
  /**
   * Links this operation to the next one issued on this queue before the queue flushes (in the
   * same tick): the next one starts only after this one succeeded, and is cancelled (ECANCELED)
   * if this one fails or transfers fewer bytes than asked.
   */
  link?: boolean;
}

/** Options that select the polled form: no promise or callback; the completion is collected
 * by the queue and read with `drain()` / `peek()` / `waitSync()`. */
export interface PolledOptions extends OpOptions {
  /** Any number; it comes back with the completion. */
  userData: number;
}

/** read and write: where in the buffer, how many bytes, and where in the file. */
export interface ReadOptions extends OpOptions {
  /** Where in the buffer to start (default 0). */
  offset?: number;
  /** How many bytes (default: the rest of the buffer after offset). */
  length?: number;
  /** File position; null or -1 means the file's current position (the default). */
  position?: number | bigint | null;
}
/** write's options: the same as {@link ReadOptions} (offset and length in the buffer, file position). */
export type WriteOptions = ReadOptions;

/** recv and send: where in the buffer, and how many bytes. */
export interface RecvOptions extends OpOptions {
  /** Where in the buffer to start (default 0). */
  offset?: number;
  /** How many bytes (default: the rest of the buffer after offset). */
  length?: number;
}

/** send: where in the buffer, how many bytes, and whether to send without copying. */
export interface SendOptions extends RecvOptions {
  /**
   * Zero-copy send (a hint): the kernel sends straight from the buffer, and the operation
   * completes only once the kernel let go of it (io_uring posts the result, then a release
   * notification; the queue keeps the buffer until the second). Worth it for large buffers;
   * on loopback the kernel copies anyway. Backends without `capabilities.zeroCopySend` copy.
   */
  zeroCopy?: boolean;
}

/** sendfile: which bytes of the input. */
export interface SendfileOptions extends OpOptions {
  /** Where in the input to start, in bytes (default 0). The input's own file position never moves. */
  position?: number | bigint;
  /**
   * How many bytes (default: to the end of the input, at most {@link SENDFILE_MAX_LENGTH}). Give
   * it when the operation is linked: a chain goes on only after all the bytes asked for were sent.
   */
  length?: number;
}

/** What `socket()` creates: IPv4 (4, the default), IPv6 (6) or a unix domain socket. */
export type SocketFamily = 4 | 6 | 'unix';
/** What `socket()` creates: 'stream' (TCP, the default) or 'dgram' (UDP). */
export type SocketType = 'stream' | 'dgram';
/** Which direction `shutdown()` ends: receiving ('read'), sending ('write', the peer then
 * reads the end of stream) or both, as shutdown(2)'s SHUT_RD, SHUT_WR and SHUT_RDWR. */
export type ShutdownHow = 'read' | 'write' | 'both';
/**
 * The options `setsockopt()` sets, each on (true) or off (false): SO_REUSEADDR, SO_REUSEPORT
 * (several sockets bound to one port, the kernel spreading connections among them),
 * TCP_NODELAY (no Nagle delay on small sends) and SO_KEEPALIVE.
 */
export type SocketOption = 'reuseaddr' | 'reuseport' | 'nodelay' | 'keepalive';

/** recvs(): the largest chunk (default 64 KiB), and a signal that ends it. */
export interface RecvsOptions {
  /** The largest chunk, in bytes: an integer from 1 to IO_MAX_LENGTH (default 65536). */
  size?: number;
  /** Ends the iteration: the iterator throws an AbortError. */
  signal?: AbortSignal;
}

/** What `recvfrom()` resolves with: the bytes copied into the buffer and the sender's address. */
export interface RecvFromResult {
  /** Bytes of the datagram copied into the buffer (a longer datagram is cut to the buffer). */
  bytes: number;
  /**
   * The sender. undefined when the kernel names none: on a connected TCP socket (recvfrom(2)
   * leaves the address empty there; `remoteAddress`-style lookups are the caller's), from an
   * unnamed unix socket that has no address, and for the 0 that ends a shut-down socket.
   */
  address: SocketAddress | undefined;
}

/** What `accept()` resolves with: the new connection's descriptor and the peer's address. */
export interface AcceptResult {
  /** The connected socket's descriptor; `close()` it when done. */
  fd: number;
  /** The peer: `{ address, port, family }` for TCP, `{ path }` for unix (usually '': unnamed). */
  address: SocketAddress;
}

/** readv and writev: the file position. */
export interface VectorOptions extends OpOptions {
  /** File position in bytes; null or -1 means the file's current position (the default). */
  position?: number | bigint | null;
}

/** mkdir: the new directory's permissions. */
export interface MkdirOptions extends OpOptions {
  /** Permission bits, an integer or an octal string (default 0o777), less the umask. */
  mode?: number | string;
}

/** The sizes `new Queue()` takes; all optional. */
export interface QueueOptions {
  /** Slots: how many operations may be in flight at once; more wait in the queue (default 256). */
  entries?: number;
  /** Completion entries delivered per batch (default: 2 * entries). */
  completionEntries?: number;
  /**
   * Backends with multishot receive (`capabilities.multishot`): `recvs()` iterators of this
   * queue receive into a pool of `recvBufferCount` buffers of `recvBufferSize` bytes shared by
   * all of them, allocated at the first `recvs()`, instead of a buffer per connection. Defaults:
   * 16384 bytes, 256 buffers (4 MiB). The count is a power of two up to 32768. A chunk is at most
   * one buffer: for bulk streams, 65536 (as node:net reads) moves about 1.5x the bytes per second
   * of 16384 on io_uring, as a recv() loop with a 64 KiB buffer does against a 16 KiB one
   * (bench/results/recvs-linux.md); the default favours many connections with small messages.
   */
  recvBufferSize?: number;
  /** Buffers in the receive pool: a power of two from 1 to 32768 (default 256). */
  recvBufferCount?: number;
}

/** A completion of the polled form. */
export interface Completion {
  /** The `userData` the operation was issued with. */
  userData: number;
  /** >= 0: the operation's value (bytes, fd, 0). < 0: a negative errno; see `Queue.errorOf`. */
  result: number;
  /** The result of a polled stat, lstat or fstat. */
  stats?: Stats;
  /** The peer of a polled accept (its fd is `result`), the sender of a polled recvfrom, or the
   * address of a polled localAddress. */
  address?: SocketAddress;
}
