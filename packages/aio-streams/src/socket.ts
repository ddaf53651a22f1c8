/**
 * A stream socket of a proactor queue as a Duplex that behaves like net.Socket where code
 * touches it, so node:tls, node:http and the frameworks on them run over it unchanged.
 *
 * Receiving: one `recvs()` in its callback form per socket (on io_uring one multishot request
 * receiving into the queue's shared buffer pool, no promise per chunk). When push() says the
 * readable buffer is full, the request is aborted; chunks that arrive before its final
 * completion are still pushed (nothing is lost: data the kernel has not handed over stays in
 * the socket), and _read() starts a new one. Sending: one send at a time; writes queued
 * meanwhile reach _writev() and go out as one send.
 */
import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { Duplex, type DuplexOptions } from 'node:stream';
import {
  invalidArgType,
  invalidArgValue,
  type Queue,
  type SocketAddress,
  type SocketAddressInput,
  type SocketFamily,
} from '@proactor/aio-core';
import { closeThrough, QueueRef } from './queue-refs.js';

/** Largest chunk a receive hands to push() (the recvs() size). */
const DEFAULT_RECV_SIZE = 65536;

/** The options of a {@link Socket}. */
export interface SocketOptions
  extends Pick<DuplexOptions, 'readableHighWaterMark' | 'writableHighWaterMark' | 'signal'> {
  /** The queue every operation of this socket goes through. */
  queue: Queue;
  /** A connected stream socket of `queue` (e.g. accepted) to wrap; without it, call connect(). */
  fd?: number;
  /** Keep the writable side open after the peer ended (default false, as node:net). */
  allowHalfOpen?: boolean;
  /** Largest chunk one receive delivers (default 64 KiB). */
  recvSize?: number;
  /** TCP_NODELAY at connect (default false, as node:net). */
  noDelay?: boolean;
  /** SO_KEEPALIVE at connect (default false). */
  keepAlive?: boolean;
  /** With `fd`: the peer and the local address, as accept() and getsockname() named them. */
  remote?: SocketAddress;
  local?: SocketAddress;
}

/** connect()'s options: node:net's TCP and IPC forms. */
export interface ConnectOptions {
  port?: number;
  host?: string;
  path?: string;
  family?: 0 | 4 | 6;
  noDelay?: boolean;
  keepAlive?: boolean;
  /** Bounds the connect (e.g. AbortSignal.timeout(ms)); the socket is destroyed with an AbortError. */
  signal?: AbortSignal;
}

type Pending = { chunk: Buffer | null; callback: (error?: Error | null) => void };

/**
 * A stream socket of the queue as a Duplex that behaves like net.Socket where users touch it:
 * connect(), write()/end()/destroy(), 'connect', 'ready', 'data', 'end', 'close', 'error',
 * half-open, setNoDelay/setKeepAlive/setTimeout, addresses, byte counts, ref/unref, and
 * backpressure through write()'s return and 'drain'.
 */
export class Socket extends Duplex {
  readonly queue: Queue;
  /** Bytes received (pushed to the readable side). */
  bytesRead = 0;
  #bytesSent = 0;
  #fd = -1;
  /** True from connect() until the socket is connected or destroyed. */
  connecting = false;
  #remote: SocketAddress | undefined;
  #local: SocketAddress | undefined;
  readonly #recvSize: number;
  readonly #ref: QueueRef;
  /** The receive in progress (undefined when none): aborting it pauses or stops receiving. */
  #receiving: AbortController | undefined;
  /** Whether the readable side wants data (set by _read, cleared when push() says stop). */
  #wantData = false;
  /** The connect in progress, so destroy() can cancel it. */
  #connectAbort: AbortController | undefined;
  /** A write or end that came before the socket was connected. */
  #beforeConnect: Pending[] = [];
  /** destroy() waits for the receive to finish before closing the descriptor. */
  #closeWhenIdle: (() => void) | undefined;
  /**
   * Operations on the descriptor in flight (send, shutdown, setsockopt). The descriptor is
   * closed only once they finished: an operation still queued when close() frees the number
   * could otherwise act on the next socket that gets it (seen on io_uring: a shutdown issued
   * just before close reached the next connection).
   */
  #busy = 0;
  #noDelay: boolean;
  #keepAlive: boolean;
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SocketOptions) {
    if (options === null || typeof options !== 'object')
      throw invalidArgType('options', 'of type object', options);
    if (options.queue === null || typeof options.queue !== 'object')
      throw invalidArgType('options.queue', 'a proactor Queue', options.queue);
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark,
      signal: options.signal,
      // 'close' is emitted by _destroy once the descriptor is closed, with net.Socket's
      // `hadError` argument (node:stream's own 'close' has none).
      emitClose: false,
      autoDestroy: true,
    });
    this.queue = options.queue;
    this.#recvSize = options.recvSize ?? DEFAULT_RECV_SIZE;
    this.#noDelay = options.noDelay ?? false;
    this.#keepAlive = options.keepAlive ?? false;
    this.#ref = new QueueRef(this.queue);
    if (options.fd !== undefined) {
      this.#fd = options.fd;
      this.#remote = options.remote;
      this.#local = options.local;
      if (this.#noDelay) this.setNoDelay(true);
      if (this.#keepAlive) this.setKeepAlive(true);
    }
  }

  /** The descriptor (-1 before connect and after close). */
  get fd(): number {
    return this.#fd;
  }

  get remoteAddress(): string | undefined {
    return this.#remote && 'address' in this.#remote ? this.#remote.address : undefined;
  }
  get remotePort(): number | undefined {
    return this.#remote && 'port' in this.#remote ? this.#remote.port : undefined;
  }
  get remoteFamily(): string | undefined {
    return this.#remote && 'family' in this.#remote ? this.#remote.family : undefined;
  }
  get localAddress(): string | undefined {
    return this.#local && 'address' in this.#local ? this.#local.address : undefined;
  }
  get localPort(): number | undefined {
    return this.#local && 'port' in this.#local ? this.#local.port : undefined;
  }
  get localFamily(): string | undefined {
    return this.#local && 'family' in this.#local ? this.#local.family : undefined;
  }
  /** net.Socket's address(): the local address as `{ address, family, port }`, or {} for unix / before connect. */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    const local = this.#local;
    return local && 'address' in local
      ? { address: local.address, family: local.family, port: local.port }
      : {};
  }

  /** Bytes handed to the kernel, plus those still waiting in the writable buffer (as net.Socket counts). */
  get bytesWritten(): number {
    return this.#bytesSent + this.writableLength;
  }

  get pending(): boolean {
    return this.#fd < 0;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed || this.#fd < 0) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** Connects as net.Socket#connect does: (port[, host][, listener]), (path[, listener]) or (options[, listener]). */
  connect(options: ConnectOptions, listener?: () => void): this;
  connect(port: number, host?: string, listener?: () => void): this;
  connect(port: number, listener?: () => void): this;
  connect(path: string, listener?: () => void): this;
  connect(...args: unknown[]): this {
    const [options, listener] = normalizeConnectArgs(args);
    if (this.connecting || this.#fd >= 0) {
      throw Object.assign(new Error('Socket is already connected or connecting'), {
        code: 'ERR_SOCKET_CONNECTION_IN_PROGRESS',
      });
    }
    if (listener) this.once('connect', listener);
    if (options.noDelay !== undefined) this.#noDelay = options.noDelay;
    if (options.keepAlive !== undefined) this.#keepAlive = options.keepAlive;
    this.connecting = true;
    const abort = new AbortController();
    this.#connectAbort = abort;
    options.signal?.addEventListener('abort', () => abort.abort(options.signal!.reason), { once: true });
    resolveAddress(options, (error, address, family) => {
      if (this.destroyed) return;
      if (error) {
        this.destroy(error);
        return;
      }
      this.queue.socket(family!, 'stream', (socketError, fd) => {
        if (socketError) {
          this.destroy(socketError);
          return;
        }
        if (this.destroyed) {
          closeThrough(this.queue, fd);
          return;
        }
        this.#fd = fd;
        if (this.#noDelay) this.#setOption('nodelay', true);
        if (this.#keepAlive) this.#setOption('keepalive', true);
        this.#busy++;
        this.queue.connect(fd, address!, { signal: abort.signal }, (connectError) => {
          this.#idle();
          if (this.destroyed) return;
          if (connectError) {
            this.destroy(connectError);
            return;
          }
          this.#busy++;
          this.queue.localAddress(fd, (_e, local) => {
            this.#idle();
            if (this.destroyed) return;
            this.#remote =
              'path' in address!
                ? { path: String(address!.path) }
                : { address: address!.address, port: address!.port, family: family === 6 ? 'IPv6' : 'IPv4' };
            this.#local = local;
            this.#connected();
          });
        });
      });
    });
    return this;
  }

  #connected(): void {
    this.connecting = false;
    this.#connectAbort = undefined;
    this.#touch();
    this.emit('connect');
    this.emit('ready');
    if (this.#wantData) this.#receive();
    const queued = this.#beforeConnect;
    this.#beforeConnect = [];
    for (const { chunk, callback } of queued) {
      if (chunk === null) this._final(callback);
      else this.#send(chunk, 0, callback);
    }
  }

  /** @internal node:stream's implementation hook. */
  override _read(): void {
    this.#wantData = true;
    if (this.#fd >= 0 && this.#receiving === undefined && !this.connecting) this.#receive();
  }

  #receive(): void {
    const receiving = new AbortController();
    this.#receiving = receiving;
    this.queue.recvs(this.#fd, { size: this.#recvSize, signal: receiving.signal }, (error, chunk) => {
      if (error === null && chunk !== null) {
        if (this.destroyed) return;
        this.bytesRead += chunk.length;
        this.#touch();
        if (!this.push(chunk) && !receiving.signal.aborted) {
          this.#wantData = false;
          receiving.abort();
        }
        return;
      }
      // The receive's final completion: end of stream, an error, or our own abort.
      this.#receiving = undefined;
      if (this.#closeWhenIdle) {
        if (this.#busy === 0) this.#closeWhenIdle();
        return;
      }
      if (this.destroyed) return;
      if (error === null) this.push(null);
      else if (receiving.signal.aborted && error.name === 'AbortError') {
        // Paused for backpressure: go on if _read() asked for more meanwhile.
        if (this.#wantData) this.#receive();
      } else this.destroy(error);
    });
  }

  /** @internal node:stream's implementation hook. */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#fd < 0 || this.connecting) {
      this.#beforeConnect.push({ chunk, callback });
      return;
    }
    this.#send(chunk, 0, callback);
  }

  /** @internal node:stream's implementation hook. */
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    // aio-core has no sendmsg with an iovec (and aio-node's sockets refuse writev), so the
    // writes queued behind the one in flight go out as one send of their concatenation: one
    // operation instead of one per write, for a copy of small chunks.
    const data = chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this._write(data, 'binary', callback);
  }

  /** Sends `data` from `offset` to its end, looping over partial sends. */
  #send(data: Buffer, offset: number, callback: (error?: Error | null) => void): void {
    this.#busy++;
    this.queue.send(this.#fd, data, offset, data.length - offset, (error, sent) => {
      this.#idle();
      if (error) {
        callback(error);
        return;
      }
      this.#bytesSent += sent;
      this.#touch();
      if (offset + sent < data.length && this.#fd >= 0) this.#send(data, offset + sent, callback);
      else callback();
    });
  }

  /** @internal node:stream's implementation hook. */
  override _final(callback: (error?: Error | null) => void): void {
    if (this.#fd < 0 || this.connecting) {
      this.#beforeConnect.push({ chunk: null, callback });
      return;
    }
    this.#busy++;
    this.queue.shutdown(this.#fd, 'write', (error) => {
      this.#idle();
      // The peer may have gone already: there is nothing left to end then.
      callback(error && error.code !== 'ENOTCONN' ? error : null);
    });
  }

  /** @internal node:stream's implementation hook. */
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    // node:stream emits 'error' on the next tick after `done`; 'close' follows it, as
    // net.Socket's does, with whether the socket was destroyed by an error.
    const callback = (e?: Error | null) => {
      done(e);
      process.nextTick(() => this.emit('close', error != null));
    };
    this.#clearTimer();
    this.#ref.release();
    this.connecting = false;
    this.#connectAbort?.abort();
    this.#connectAbort = undefined;
    for (const pending of this.#beforeConnect.splice(0)) pending.callback(error ?? closedError());
    const fd = this.#fd;
    if (fd < 0) {
      callback(error);
      return;
    }
    this.#fd = -1;
    const close = () => {
      this.#closeWhenIdle = undefined;
      closeThrough(this.queue, fd, () => callback(error));
    };
    // On io_uring a receive holds the socket until it ends: end it, then close (and after
    // whatever else is in flight on the descriptor; see #busy).
    if (this.#receiving !== undefined || this.#busy > 0) {
      this.#closeWhenIdle = close;
      this.#receiving?.abort();
    } else close();
  }

  /** TCP_NODELAY. Before the socket is connected, applied at connect. */
  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (this.#fd >= 0 && !this.connecting) this.#setOption('nodelay', noDelay);
    return this;
  }

  /**
   * SO_KEEPALIVE. `initialDelay` is accepted for node:net's signature but not applied: aio-core's
   * setsockopt has no TCP_KEEPIDLE, so the system's default idle time stays.
   */
  setKeepAlive(enable = false, _initialDelay?: number): this {
    this.#keepAlive = enable;
    if (this.#fd >= 0 && !this.connecting) this.#setOption('keepalive', enable);
    return this;
  }

  #setOption(option: 'nodelay' | 'keepalive', value: boolean): void {
    this.#busy++;
    this.queue.setsockopt(this.#fd, option, value, () => this.#idle());
  }

  /** An operation on the descriptor finished: close it if destroy() is waiting for that. */
  #idle(): void {
    this.#busy--;
    if (this.#busy === 0 && this.#receiving === undefined) this.#closeWhenIdle?.();
  }

  /** Emits 'timeout' after `ms` without activity (received or sent bytes); 0 disables it. */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) {
      throw invalidArgValue('msecs', ms, 'must be a non-negative finite number');
    }
    this.#timeoutMs = ms;
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.#clearTimer();
    if (ms > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.emit('timeout');
      }, ms);
      this.#timer.unref();
    }
    return this;
  }

  get timeout(): number | undefined {
    return this.#timeoutMs === 0 ? undefined : this.#timeoutMs;
  }

  #touch(): void {
    this.#timer?.refresh();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Lets the process exit while this socket waits (at the queue's granularity: the queue is
   * unref'd while all of its sockets and servers are; see QueueRef).
   */
  unref(): this {
    this.#ref.unref();
    return this;
  }

  /** Keeps the process alive while the socket is open (the default). */
  ref(): this {
    this.#ref.ref();
    return this;
  }

  /** net.Socket#resetAndDestroy's cousin without SO_LINGER (aio-core has no such option): destroys. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }
}

function closedError(): Error {
  return Object.assign(new Error('Cannot call write after a stream was destroyed'), {
    code: 'ERR_STREAM_DESTROYED',
  });
}

function normalizeConnectArgs(args: unknown[]): [ConnectOptions, (() => void) | undefined] {
  const last = args[args.length - 1];
  const listener = typeof last === 'function' ? (last as () => void) : undefined;
  const first = args[0];
  if (first !== null && typeof first === 'object') return [first as ConnectOptions, listener];
  if (typeof first === 'string' && !/^\d+$/.test(first)) return [{ path: first }, listener];
  if (typeof first === 'number' || typeof first === 'string') {
    const host = typeof args[1] === 'string' ? args[1] : undefined;
    return [{ port: Number(first), host }, listener];
  }
  throw invalidArgType('options', 'an object, a port number or a path', first);
}

/** The address to connect to: unix path, IP literal, or a name looked up with dns.lookup (as node:net). */
function resolveAddress(
  options: ConnectOptions,
  callback: (error: Error | null, address?: SocketAddressInput, family?: SocketFamily) => void,
): void {
  if (options.path !== undefined) {
    if (typeof options.path !== 'string')
      throw invalidArgType('options.path', 'of type string', options.path);
    queueMicrotask(() => callback(null, { path: options.path! }, 'unix'));
    return;
  }
  const port = options.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw Object.assign(
      new RangeError(`options.port should be >= 0 and < 65536. Received ${String(port)}.`),
      {
        code: 'ERR_SOCKET_BAD_PORT',
      },
    );
  }
  const host = options.host ?? 'localhost';
  const literal = isIP(host);
  if (literal !== 0) {
    queueMicrotask(() => callback(null, { address: host, port }, literal as 4 | 6));
    return;
  }
  lookup(host, { family: options.family ?? 0 }, (error, address, family) => {
    if (error) callback(error);
    else callback(null, { address, port }, family as 4 | 6);
  });
}

/** net.connect(): a new Socket on `queue`, connecting. */
export function connect(
  queue: Queue,
  options: ConnectOptions & Omit<SocketOptions, 'queue' | 'fd'>,
  listener?: () => void,
): Socket {
  const socket = new Socket({ ...options, queue });
  return socket.connect(options, listener);
}
