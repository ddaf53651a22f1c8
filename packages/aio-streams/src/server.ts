/**
 * A listening socket of a proactor queue shaped like net.Server: 'listening', 'connection'
 * (with a {@link Socket}), 'error', 'close'; listen(), address(), close(), getConnections().
 * Connections come from the queue's `accepts()` in its callback form (one multishot accept on
 * io_uring).
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import {
  type AcceptResult,
  invalidArgType,
  type OperationError,
  type Queue,
  type SocketAddress,
  type SocketAddressInput,
  type SocketFamily,
} from '@proactor/aio-core';
import { closeThrough, QueueRef } from './queue-refs.js';
import { Socket } from './socket.js';

/** createServer()'s options. */
export interface ServerOptions {
  /** Accepted sockets keep their writable side open after the peer ended (default false). */
  allowHalfOpen?: boolean;
  /** TCP_NODELAY on accepted sockets (default false, as node:net). */
  noDelay?: boolean;
  /** SO_KEEPALIVE on accepted sockets (default false). */
  keepAlive?: boolean;
  /** Largest chunk one receive of an accepted socket delivers (default 64 KiB). */
  recvSize?: number;
}

/** Accept errors that pass (descriptors, memory, a connection aborted): accepting resumes after them. */
const TRANSIENT_ACCEPT_ERRORS = new Set([
  'EMFILE',
  'ENFILE',
  'ENOBUFS',
  'ENOMEM',
  'ECONNABORTED',
  'EPERM',
  'EPROTO',
]);
/** How long accepting pauses after a transient accept error, at most. */
const RETRY_ACCEPT_MS = 100;

/** listen()'s options: a TCP port and host, or a unix path, as net.Server#listen takes them. */
export interface ListenOptions {
  port?: number;
  host?: string;
  path?: string;
  backlog?: number;
  /** SO_REUSEPORT (Linux), to share a port between processes or threads. */
  reusePort?: boolean;
}

/** Called with each accepted connection (the 'connection' event). */
export type ConnectionListener = (socket: Socket) => void;

/**
 * A listening socket on the queue whose connections arrive as {@link Socket}s, shaped like
 * net.Server: listen(), address(), close(), getConnections(), 'listening', 'connection', 'close',
 * 'error'.
 */
export class Server extends EventEmitter {
  readonly queue: Queue;
  readonly #options: ServerOptions;
  #fd = -1;
  #address: SocketAddress | undefined;
  /** Bound to a wildcard address: an accepted socket's own address must be asked for. */
  #wildcard = false;
  #accepting: AbortController | undefined;
  /** Accepting paused after a transient accept error: resumes it now. */
  #resumeAccept: (() => void) | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #connections = new Set<Socket>();
  #closing = false;
  #ref: QueueRef | undefined;
  #unrefd = false;

  constructor(queue: Queue, options: ServerOptions = {}, listener?: ConnectionListener) {
    super();
    if (queue === null || typeof queue !== 'object') throw invalidArgType('queue', 'a proactor Queue', queue);
    this.queue = queue;
    this.#options = options;
    if (listener) this.on('connection', listener);
  }

  get listening(): boolean {
    return this.#fd >= 0 && this.#address !== undefined && !this.#closing;
  }

  /** listen(port[, host][, backlog][, callback]), listen(path[, backlog][, callback]) or listen(options[, callback]). */
  listen(options: ListenOptions, callback?: () => void): this;
  listen(port?: number, host?: string, backlog?: number, callback?: () => void): this;
  listen(port: number, host: string, callback?: () => void): this;
  listen(port: number, callback?: () => void): this;
  listen(path: string, callback?: () => void): this;
  listen(...args: unknown[]): this {
    const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    let options: ListenOptions;
    if (args[0] !== null && typeof args[0] === 'object') options = args[0] as ListenOptions;
    else if (typeof args[0] === 'string' && !/^\d+$/.test(args[0]))
      options = { path: args[0], backlog: args[1] as number };
    else
      options = {
        port: args[0] === undefined ? 0 : Number(args[0]),
        host: typeof args[1] === 'string' ? args[1] : undefined,
        backlog: typeof args[1] === 'number' ? args[1] : (args[2] as number | undefined),
      };
    if (this.#fd >= 0) {
      throw Object.assign(new Error('Listen method has been called more than once without closing.'), {
        code: 'ERR_SERVER_ALREADY_LISTEN',
      });
    }
    if (callback) this.once('listening', callback);
    // Where to listen, in order: without a host, node:net's dual-stack '::' first and, where
    // the machine has no IPv6 (socket or bind fails), IPv4's wildcard.
    const candidates: { family: SocketFamily; address: SocketAddressInput }[] = [];
    if (options.path !== undefined) {
      candidates.push({ family: 'unix', address: { path: options.path } });
    } else if (options.host === undefined) {
      const port = options.port ?? 0;
      candidates.push({ family: 6, address: { address: '::', port } });
      candidates.push({ family: 4, address: { address: '0.0.0.0', port } });
    } else {
      const host = options.host === 'localhost' ? '127.0.0.1' : options.host;
      const version = isIP(host);
      if (version === 0) throw invalidArgType('options.host', 'an IP address or localhost', options.host);
      candidates.push({ family: version as 4 | 6, address: { address: host, port: options.port ?? 0 } });
    }
    this.#closing = false;
    const q = this.queue;
    this.#ref = new QueueRef(q);
    if (this.#unrefd) this.#ref.unref();
    this.#fd = 0x7fffffff; // listening in progress: refuses a second listen()
    const attempt = (index: number): void => {
      const { family, address } = candidates[index] as (typeof candidates)[number];
      const fallback = index + 1 < candidates.length;
      // As node:net: a socket or bind that fails on '::' falls back to IPv4; listen's errors do not.
      const fail = (error: OperationError, fd: number, canFallBack = false) => {
        this.#fd = 0x7fffffff;
        if (fd >= 0) closeThrough(q, fd);
        if (canFallBack && fallback && !this.#closing) return attempt(index + 1);
        this.#fd = -1;
        this.#release();
        this.emit('error', error);
      };
      q.socket(family, 'stream', (error, fd) => {
        if (error) return fail(error, -1, true);
        this.#fd = fd;
        if (family !== 'unix') q.setsockopt(fd, 'reuseaddr', true, () => {});
        if (options.reusePort) q.setsockopt(fd, 'reuseport', true, () => {});
        q.bind(fd, address, (bindError) => {
          if (bindError) return fail(bindError, fd, true);
          q.listen(fd, options.backlog ?? 511, (listenError) => {
            if (listenError) return fail(listenError, fd);
            q.localAddress(fd, (nameError, local) => {
              if (nameError) return fail(nameError, fd);
              if (this.#closing) return;
              this.#wildcard =
                'address' in address && (address.address === '0.0.0.0' || address.address === '::');
              this.#address = family === 'unix' ? { path: String(options.path) } : local;
              this.#accept(fd);
              this.emit('listening');
            });
          });
        });
      });
    };
    attempt(0);
    return this;
  }

  #accept(fd: number): void {
    const accepting = new AbortController();
    this.#accepting = accepting;
    this.queue.accepts(fd, { signal: accepting.signal }, (error, accepted) => {
      if (error) {
        this.#accepting = undefined;
        if (accepting.signal.aborted || error.code === 'ECANCELED') {
          // close(), or the listener closed under the server (its queue destroyed): it ends.
          this.#closing = true;
          this.#closeListener(fd);
          return;
        }
        // As node:net: a failed accept is the server's 'error', and the server goes on. The
        // connection that could not be accepted waits in the backlog (nothing is dropped);
        // accepting resumes when one of this server's connections closes (a descriptor is free
        // again) or after RETRY_ACCEPT_MS, whichever comes first.
        if (TRANSIENT_ACCEPT_ERRORS.has(error.code)) this.#retryAccept(fd);
        this.emit('error', error);
        return;
      }
      this.#connection(accepted);
    });
  }

  #retryAccept(fd: number): void {
    const resume = () => {
      clearTimeout(timer);
      this.#resumeAccept = undefined;
      if (!this.#closing && this.#fd === fd) this.#accept(fd);
    };
    const timer = setTimeout(resume, RETRY_ACCEPT_MS);
    // Without operations in flight the queue holds no reference on the loop: the timer is what
    // keeps a ref'd server's process alive meanwhile.
    if (this.#unrefd) timer.unref();
    this.#retryTimer = timer;
    this.#resumeAccept = resume;
  }

  #connection(accepted: AcceptResult): void {
    if (this.#closing) {
      closeThrough(this.queue, accepted.fd);
      return;
    }
    const make = (local: SocketAddress | undefined) => {
      const socket = new Socket({
        queue: this.queue,
        fd: accepted.fd,
        remote: accepted.address,
        local,
        allowHalfOpen: this.#options.allowHalfOpen,
        noDelay: this.#options.noDelay,
        keepAlive: this.#options.keepAlive,
        recvSize: this.#options.recvSize,
      });
      this.#connections.add(socket);
      socket.once('close', () => {
        this.#connections.delete(socket);
        this.#resumeAccept?.();
        this.#maybeClosed();
      });
      this.emit('connection', socket);
    };
    if (!this.#wildcard) make(this.#address);
    else this.queue.localAddress(accepted.fd, (_e, local) => make(local));
  }

  /** The bound address: `{ address, family, port }`, the path for a unix socket, null before listening. */
  address(): { address: string; family: string; port: number } | string | null {
    const a = this.#address;
    if (a === undefined || this.#fd < 0) return null;
    return 'path' in a ? a.path : { address: a.address, family: a.family, port: a.port };
  }

  /** Stops accepting; 'close' once every connection has closed too. */
  close(callback?: (error?: Error) => void): this {
    if (this.#fd < 0 || this.#closing) {
      if (callback)
        process.nextTick(
          callback,
          Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' }),
        );
      return this;
    }
    if (callback) this.once('close', callback);
    this.#closing = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#resumeAccept = undefined;
    if (this.#accepting) this.#accepting.abort();
    else if (this.#fd !== 0x7fffffff) this.#closeListener(this.#fd);
    return this;
  }

  #closeListener(fd: number): void {
    if (this.#fd !== fd) return;
    closeThrough(this.queue, fd, () => {
      this.#fd = -1;
      this.#release();
      this.#maybeClosed();
    });
  }

  #maybeClosed(): void {
    if (this.#closing && this.#fd < 0 && this.#connections.size === 0) {
      this.#closing = false;
      this.#address = undefined;
      this.emit('close');
    }
  }

  #release(): void {
    this.#ref?.release();
    this.#ref = undefined;
  }

  /** The number of open connections, as net.Server#getConnections. */
  getConnections(callback: (error: Error | null, count: number) => void): this {
    process.nextTick(callback, null, this.#connections.size);
    return this;
  }

  /** Keeps the process alive while the server listens (the default). */
  ref(): this {
    this.#unrefd = false;
    this.#ref?.ref();
    this.#retryTimer?.ref();
    return this;
  }

  /** Lets the process exit while the server listens. */
  unref(): this {
    this.#unrefd = true;
    this.#ref?.unref();
    this.#retryTimer?.unref();
    return this;
  }

  /** Closes the server (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#fd < 0) return;
    await new Promise<void>((resolve) => this.close(() => resolve()));
  }
}

/** net.createServer(): a Server on `queue`. */
export function createServer(queue: Queue, listener?: ConnectionListener): Server;
export function createServer(queue: Queue, options?: ServerOptions, listener?: ConnectionListener): Server;
export function createServer(
  queue: Queue,
  options?: ServerOptions | ConnectionListener,
  listener?: ConnectionListener,
): Server {
  if (typeof options === 'function') return new Server(queue, {}, options);
  return new Server(queue, options, listener);
}
