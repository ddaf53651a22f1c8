/**
 * The socket operations of a Queue (socket, bind, accept, recv, send, ..., and the accepts()
 * and recvs() iterators): their signatures, argument checks and how each becomes an Operation
 * for the queue core.
 */
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  Opcode,
  POLL_ERR,
  POLL_HUP,
  POLL_IN,
  POLL_OUT,
  POLL_RDHUP,
  SEND_F_ZEROCOPY,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO_KEEPALIVE,
  SO_NODELAY,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_DGRAM,
  SOCK_STREAM,
} from './abi.js';
import {
  type AddressRecord,
  type SocketAddress,
  type SocketAddressInput,
  validateSocketAddress,
} from './address.js';
import { checkCallback, isOptionsObject, popCallback, setBufferRange } from './call-arguments.js';
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';
import { FileOperations, fdOperation } from './file-operations.js';
import { pump } from './multishot.js';
import { type AnyCallback, Operation } from './operation.js';
import { OPERATION_FACTS } from './operation-table.js';
import type {
  AcceptResult,
  Callback,
  OpOptions,
  PolledOptions,
  RecvFromResult,
  RecvOptions,
  RecvsOptions,
  SendfileOptions,
  SendOptions,
  ShutdownHow,
  SocketFamily,
  SocketOption,
  SocketType,
} from './options.js';
import { QUEUE_CORE, type QueueCore } from './queue-core.js';
import {
  IO_MAX_LENGTH,
  SENDFILE_MAX_LENGTH,
  validateAbortSignal,
  validateBuffer,
  validateFd,
  validateInteger,
  validateObject,
  validatePosition,
} from './validate.js';

const INT32_MAX = 2 ** 31 - 1;
const POLL_WANTED = POLL_IN | POLL_OUT | POLL_RDHUP | POLL_ERR | POLL_HUP;
// Maps, not object literals: a user's string must never find Object.prototype's 'constructor',
// '__proto__' or 'toString' in a table.
const SHUTDOWN_HOW: ReadonlyMap<string, number> = new Map([
  ['read', SHUT_RD],
  ['write', SHUT_WR],
  ['both', SHUT_RDWR],
]);
const SOCKET_OPTIONS: ReadonlyMap<string, number> = new Map([
  ['reuseaddr', SO_REUSEADDR],
  ['reuseport', SO_REUSEPORT],
  ['nodelay', SO_NODELAY],
  ['keepalive', SO_KEEPALIVE],
]);

/**
 * The socket operations of `Queue`, which extends this class; it is not a queue by
 * itself. See Queue for what every operation method has in common.
 */
export abstract class SocketOperations extends FileOperations {
  /**
   * Creates a socket: `family` 4 (the default), 6 or 'unix'; `type` 'stream' (the default: TCP,
   * or a unix stream socket) or 'dgram' (UDP). Resolves with its descriptor, which `close()` closes.
   */
  socket(family: SocketFamily | undefined, type: SocketType | undefined, options: PolledOptions): void;
  socket(family?: SocketFamily, type?: SocketType, options?: OpOptions): Promise<number>;
  socket(callback: Callback<number>): void;
  socket(family: SocketFamily | undefined, callback: Callback<number>): void;
  socket(family: SocketFamily | undefined, type: SocketType | undefined, callback: Callback<number>): void;
  socket(
    family: SocketFamily | undefined,
    type: SocketType | undefined,
    options: OpOptions | undefined,
    callback: Callback<number>,
  ): void;
  socket(...rest: unknown[]): Promise<number> | undefined {
    const callback = popCallback(rest, 3);
    const op = new Operation(OPERATION_FACTS[Opcode.SOCKET]);
    op.opFlags = parseFamily(rest[0]);
    const type = rest[1];
    if (type !== undefined && type !== 'stream' && type !== 'dgram') {
      if (typeof type !== 'string') throw invalidArgType('type', 'of type string', type);
      throw invalidArgValue('type', type, "must be 'stream' or 'dgram'");
    }
    op.mode = type === 'dgram' ? SOCK_DGRAM : SOCK_STREAM;
    return this[QUEUE_CORE].issue(op, rest[2], callback) as Promise<number> | undefined;
  }

  /** Binds a socket to a local address: `{ address, port }` (port 0: any free port) or `{ path }`. */
  bind(fd: number, address: SocketAddressInput, options: PolledOptions): void;
  bind(fd: number, address: SocketAddressInput, options?: OpOptions): Promise<void>;
  bind(fd: number, address: SocketAddressInput, callback: Callback<void>): void;
  bind(
    fd: number,
    address: SocketAddressInput,
    options: OpOptions | undefined,
    callback: Callback<void>,
  ): void;
  bind(
    fd: number,
    address: SocketAddressInput,
    options?: unknown,
    callback?: unknown,
  ): Promise<void> | undefined {
    return addressOperation(this[QUEUE_CORE], Opcode.BIND, fd, address, 0, options, callback) as
      | Promise<void>
      | undefined;
  }

  /** Starts accepting connections on a bound socket; `backlog` defaults to 511, as in node:net. */
  listen(fd: number, backlog: number | undefined, options: PolledOptions): void;
  listen(fd: number, backlog?: number, options?: OpOptions): Promise<void>;
  listen(fd: number, callback: Callback<void>): void;
  listen(fd: number, backlog: number | undefined, callback: Callback<void>): void;
  listen(
    fd: number,
    backlog: number | undefined,
    options: OpOptions | undefined,
    callback: Callback<void>,
  ): void;
  listen(fd: number, ...rest: unknown[]): Promise<void> | undefined {
    const callback = popCallback(rest, 2);
    const op = new Operation(OPERATION_FACTS[Opcode.LISTEN]);
    op.fd = validateFd(fd);
    op.len = rest[0] === undefined ? 511 : validateInteger(rest[0], 'backlog', 0, INT32_MAX);
    return this[QUEUE_CORE].issue(op, rest[1], callback) as Promise<void> | undefined;
  }

  /**
   * The connections accepted on listening socket `fd`, one after another, as an async iterator:
   * `for await (const { fd, address } of q.accepts(server)) ...`. It ends with the error that
   * ends accepting (an AbortError when `options.signal` aborts, ECANCELED once the socket is
   * closed through the queue). Every backend gives the same sequence; with multishot
   * (`capabilities.multishot`) one kernel request serves it, accepting ahead of the consumer (at
   * most 128 connections wait, then it pauses); connections accepted ahead and not taken when
   * the loop ends go to the next accept() or accepts() on `fd`, as from the kernel's backlog
   * (closing `fd` through the queue closes them). Elsewhere one accept is issued after another.
   */
  accepts(fd: number, options?: { signal?: AbortSignal }): AsyncGenerator<AcceptResult, void, undefined>;
  accepts(fd: number, callback: Callback<AcceptResult>): void;
  accepts(fd: number, options: { signal?: AbortSignal } | undefined, callback: Callback<AcceptResult>): void;
  accepts(
    fd: number,
    options?: unknown,
    callback?: unknown,
  ): AsyncGenerator<AcceptResult, void, undefined> | undefined {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    // Arguments are checked now, not at the first next().
    validateFd(fd);
    const signal = validateAbortSignal(validateObject(options ?? {}, 'options').signal);
    const sink = checkCallback(callback) as Callback<AcceptResult> | undefined;
    const core = this[QUEUE_CORE];
    const multishot = core.destroying ? undefined : core.multishot;
    const iterator = multishot !== undefined ? multishot.accepts(fd, signal) : acceptLoop(this, fd, signal);
    if (sink === undefined) return iterator;
    // Never called with null: accepting ends only with an error.
    pump(iterator, sink as (err: Error | null, item?: AcceptResult | null) => void, false);
    return undefined;
  }

  /**
   * The data received on connected socket `fd`, chunk by chunk, as an async iterator of Buffers
   * of at most `options.size` bytes (default 64 KiB), until the peer shuts its side down (the
   * iterator ends) or an error ends it (an AbortError when `options.signal` aborts, ECANCELED
   * once the socket is closed through the queue). Each chunk is a fresh Buffer the caller may
   * keep. With multishot (`capabilities.multishot`) one kernel request serves the iterator,
   * receiving into the queue's shared buffer pool (see QueueOptions.recvBufferSize) and copying
   * out, so an idle connection holds no buffer; it receives ahead of the consumer up to 1 MiB,
   * then pauses. Elsewhere one recv into a fresh buffer is issued after another.
   */
  recvs(fd: number, options?: RecvsOptions): AsyncGenerator<Buffer, void, undefined>;
  recvs(fd: number, callback: Callback<Buffer | null>): void;
  recvs(fd: number, options: RecvsOptions | undefined, callback: Callback<Buffer | null>): void;
  recvs(
    fd: number,
    options?: unknown,
    callback?: unknown,
  ): AsyncGenerator<Buffer, void, undefined> | undefined {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    validateFd(fd);
    const opts = validateObject(options ?? {}, 'options') as RecvsOptions;
    const size =
      opts.size === undefined ? 65536 : validateInteger(opts.size, 'options.size', 1, IO_MAX_LENGTH);
    const signal = validateAbortSignal(opts.signal);
    const sink = checkCallback(callback) as AnyCallback | undefined;
    const core = this[QUEUE_CORE];
    const iterator =
      (core.destroying ? undefined : core.multishot?.recvs(fd, size, signal)) ??
      recvLoop(this, fd, size, signal);
    if (sink === undefined) return iterator;
    pump(iterator, sink, true);
    return undefined;
  }

  /** Waits for the next connection on a listening socket: its descriptor and the peer's address. */
  accept(fd: number, options: PolledOptions): void;
  accept(fd: number, options?: OpOptions): Promise<AcceptResult>;
  accept(fd: number, callback: Callback<AcceptResult>): void;
  accept(fd: number, options: OpOptions | undefined, callback: Callback<AcceptResult>): void;
  accept(fd: number, options?: unknown, callback?: unknown): Promise<AcceptResult> | undefined {
    return fdOperation(this[QUEUE_CORE], Opcode.ACCEPT, fd, options, callback) as
      | Promise<AcceptResult>
      | undefined;
  }

  /** Connects a socket to `address`; an AbortSignal (e.g. AbortSignal.timeout(ms)) bounds the wait. */
  connect(fd: number, address: SocketAddressInput, options: PolledOptions): void;
  connect(fd: number, address: SocketAddressInput, options?: OpOptions): Promise<void>;
  connect(fd: number, address: SocketAddressInput, callback: Callback<void>): void;
  connect(
    fd: number,
    address: SocketAddressInput,
    options: OpOptions | undefined,
    callback: Callback<void>,
  ): void;
  connect(
    fd: number,
    address: SocketAddressInput,
    options?: unknown,
    callback?: unknown,
  ): Promise<void> | undefined {
    return addressOperation(this[QUEUE_CORE], Opcode.CONNECT, fd, address, 1, options, callback) as
      | Promise<void>
      | undefined;
  }

  /**
   * Waits until `fd` is ready for `events` (POLL_IN, POLL_OUT, POLL_RDHUP, or'ed) and resolves
   * with the events that are (POLL_ERR and POLL_HUP are reported whether asked for or not): the
   * readiness model as one completion, for code that reads or writes through other means.
   */
  poll(fd: number, events: number, options: PolledOptions): void;
  poll(fd: number, events: number, options?: OpOptions): Promise<number>;
  poll(fd: number, events: number, callback: Callback<number>): void;
  poll(fd: number, events: number, options: OpOptions | undefined, callback: Callback<number>): void;
  poll(fd: number, events: number, options?: unknown, callback?: unknown): Promise<number> | undefined {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const op = new Operation(OPERATION_FACTS[Opcode.POLL]);
    op.fd = validateFd(fd);
    const wanted = validateInteger(events, 'events', 0, 0xffff);
    if ((wanted & ~POLL_WANTED) !== 0) {
      throw invalidArgValue('events', events, 'must be POLL_IN, POLL_OUT and POLL_RDHUP or-ed together');
    }
    op.opFlags = wanted;
    return this[QUEUE_CORE].issue(op, options, checkCallback(callback)) as Promise<number> | undefined;
  }

  /** Receives up to `length` bytes into `buffer` at `offset`; resolves with the count, 0 once the peer
   * shut its side down. */
  recv(fd: number, buffer: ArrayBufferView, options: RecvOptions & PolledOptions): void;
  recv(fd: number, buffer: ArrayBufferView, options?: RecvOptions): Promise<number>;
  recv(fd: number, buffer: ArrayBufferView, offset: number, length?: number): Promise<number>;
  recv(fd: number, buffer: ArrayBufferView, callback: Callback<number>): void;
  recv(fd: number, buffer: ArrayBufferView, options: RecvOptions, callback: Callback<number>): void;
  recv(
    fd: number,
    buffer: ArrayBufferView,
    offset: number | undefined,
    length: number | undefined,
    callback: Callback<number>,
  ): void;
  recv(
    fd: number,
    buffer: ArrayBufferView,
    a?: unknown,
    b?: unknown,
    c?: unknown,
  ): Promise<number> | undefined {
    return stream(this[QUEUE_CORE], Opcode.RECV, fd, buffer, a, b, c) as Promise<number> | undefined;
  }

  /** Sends bytes (a string is sent as UTF-8, or in the encoding given); resolves with the count. */
  send(fd: number, data: ArrayBufferView | string, options: SendOptions & PolledOptions): void;
  send(fd: number, data: ArrayBufferView | string, options?: SendOptions): Promise<number>;
  send(fd: number, data: ArrayBufferView | string, offset: number, length?: number): Promise<number>;
  send(fd: number, data: string, encoding: BufferEncoding, options?: OpOptions): Promise<number>;
  send(fd: number, data: ArrayBufferView | string, callback: Callback<number>): void;
  send(fd: number, data: ArrayBufferView | string, options: SendOptions, callback: Callback<number>): void;
  send(
    fd: number,
    data: ArrayBufferView | string,
    offset: number | undefined,
    length: number | undefined,
    callback: Callback<number>,
  ): void;
  send(
    fd: number,
    data: ArrayBufferView | string,
    a?: unknown,
    b?: unknown,
    c?: unknown,
  ): Promise<number> | undefined {
    let view: unknown = data;
    if (typeof data === 'string') {
      let encoding: BufferEncoding = 'utf8';
      if (typeof a === 'string') {
        if (!Buffer.isEncoding(a)) throw invalidArgValue('encoding', a, 'is not a valid Buffer encoding');
        encoding = a;
        [a, b, c] = [b, c, undefined];
      }
      view = Buffer.from(data, encoding);
    }
    let opFlags = 0;
    if (isOptionsObject(a) && a.zeroCopy !== undefined) {
      if (typeof a.zeroCopy !== 'boolean')
        throw invalidArgType('options.zeroCopy', 'of type boolean', a.zeroCopy);
      if (a.zeroCopy && this[QUEUE_CORE].capabilities.zeroCopySend) opFlags = SEND_F_ZEROCOPY;
    }
    return stream(this[QUEUE_CORE], Opcode.SEND, fd, view, a, b, c, undefined, opFlags) as
      | Promise<number>
      | undefined;
  }

  /**
   * Sends bytes of the file `inFd` to `outFd` (a connected stream socket, or on Linux a regular
   * file), as sendfile(2) does: `length` bytes (default: to the end of the input) from input
   * position `position` (default 0). The input's own file position does not move; a regular
   * file output is written at its own position, which advances. Resolves with the number of
   * bytes sent: fewer than asked at the end of the input, or when the output failed after part
   * of them went out (the error then comes with the next call). Cancelling (its signal) or
   * closing `outFd` through the queue ends it with ECANCELED / AbortError even when part of the
   * bytes went out. `capabilities.zeroCopySendfile` says whether the bytes stay in the kernel;
   * elsewhere the backend reads and writes them through a buffer. An input that cannot be read
   * at a position (a pipe, a socket) fails with ESPIPE (a socket may give EINVAL); an output
   * opened for appending with EINVAL. `position` beyond 2 ** 53 - 1 or `length` above
   * {@link SENDFILE_MAX_LENGTH} throw ERR_OUT_OF_RANGE before anything is submitted.
   */
  sendfile(outFd: number, inFd: number, options: SendfileOptions & PolledOptions): void;
  sendfile(outFd: number, inFd: number, options?: SendfileOptions): Promise<number>;
  sendfile(outFd: number, inFd: number, callback: Callback<number>): void;
  sendfile(
    outFd: number,
    inFd: number,
    options: SendfileOptions | undefined,
    callback: Callback<number>,
  ): void;
  sendfile(outFd: number, inFd: number, options?: unknown, callback?: unknown): Promise<number> | undefined {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const op = new Operation(OPERATION_FACTS[Opcode.SENDFILE]);
    op.fd = validateFd(outFd, 'outFd');
    op.fdIn = validateFd(inFd, 'inFd');
    let position: unknown;
    let length: unknown;
    if (options !== undefined && options !== null) {
      if (!isOptionsObject(options)) throw invalidArgType('options', 'of type object', options);
      position = options.position;
      length = options.length;
    }
    if (position === null) throw invalidArgType('options.position', 'of type number or bigint', position);
    if (position === -1 || position === -1n) {
      throw outOfRange('options.position', '>= 0 (sendfile never uses the file position)', position);
    }
    op.offset = position === undefined ? 0 : validatePosition(position, 'options.position');
    op.len =
      length === undefined
        ? SENDFILE_MAX_LENGTH
        : validateInteger(length, 'options.length', 0, SENDFILE_MAX_LENGTH);
    return this[QUEUE_CORE].issue(op, options, checkCallback(callback)) as Promise<number> | undefined;
  }

  /**
   * Receives one datagram into `buffer` at `offset` (up to `length` bytes; a longer datagram is
   * truncated to them and the rest discarded, as recvfrom(2) does). Resolves with the bytes copied
   * and the sender's address. Errors carry syscall 'recvmsg', as node:dgram's do.
   */
  recvfrom(fd: number, buffer: ArrayBufferView, options: RecvOptions & PolledOptions): void;
  recvfrom(fd: number, buffer: ArrayBufferView, options?: RecvOptions): Promise<RecvFromResult>;
  recvfrom(fd: number, buffer: ArrayBufferView, offset: number, length?: number): Promise<RecvFromResult>;
  recvfrom(fd: number, buffer: ArrayBufferView, callback: Callback<RecvFromResult>): void;
  recvfrom(
    fd: number,
    buffer: ArrayBufferView,
    options: RecvOptions,
    callback: Callback<RecvFromResult>,
  ): void;
  recvfrom(
    fd: number,
    buffer: ArrayBufferView,
    offset: number | undefined,
    length: number | undefined,
    callback: Callback<RecvFromResult>,
  ): void;
  recvfrom(
    fd: number,
    buffer: ArrayBufferView,
    a?: unknown,
    b?: unknown,
    c?: unknown,
  ): Promise<RecvFromResult> | undefined {
    return stream(this[QUEUE_CORE], Opcode.RECVFROM, fd, buffer, a, b, c) as
      | Promise<RecvFromResult>
      | undefined;
  }

  /**
   * Sends one datagram to `address` (`{ address, port }`, or `{ path }` for a unix datagram
   * socket): bytes of `data` from `offset`, `length` of them (a string is sent as UTF-8).
   * Resolves with the bytes sent. The address comes right after the data, before the optional
   * range, as in node:dgram's send(msg, port, address) where the destination is required and
   * the range is not. Errors are node:dgram's: 'send EMSGSIZE 127.0.0.1:41234' with address and
   * port properties.
   */
  sendto(
    fd: number,
    data: ArrayBufferView | string,
    address: SocketAddressInput,
    options: RecvOptions & PolledOptions,
  ): void;
  sendto(
    fd: number,
    data: ArrayBufferView | string,
    address: SocketAddressInput,
    options?: RecvOptions,
  ): Promise<number>;
  sendto(
    fd: number,
    data: ArrayBufferView | string,
    address: SocketAddressInput,
    offset: number,
    length?: number,
  ): Promise<number>;
  sendto(
    fd: number,
    data: ArrayBufferView | string,
    address: SocketAddressInput,
    callback: Callback<number>,
  ): void;
  sendto(
    fd: number,
    data: ArrayBufferView | string,
    address: SocketAddressInput,
    options: RecvOptions,
    callback: Callback<number>,
  ): void;
  sendto(
    fd: number,
    data: ArrayBufferView | string,
    address: SocketAddressInput,
    offset: number | undefined,
    length: number | undefined,
    callback: Callback<number>,
  ): void;
  sendto(
    fd: number,
    data: ArrayBufferView | string,
    address: SocketAddressInput,
    a?: unknown,
    b?: unknown,
    c?: unknown,
  ): Promise<number> | undefined {
    const view: unknown = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const target = validateSocketAddress(address, 'address', 1);
    return stream(this[QUEUE_CORE], Opcode.SENDTO, fd, view, a, b, c, target) as Promise<number> | undefined;
  }

  /** Shuts down one or both directions: 'write' (the default) sends the peer an end of stream. */
  shutdown(fd: number, how: ShutdownHow | undefined, options: PolledOptions): void;
  shutdown(fd: number, how?: ShutdownHow, options?: OpOptions): Promise<void>;
  shutdown(fd: number, callback: Callback<void>): void;
  shutdown(fd: number, how: ShutdownHow | undefined, callback: Callback<void>): void;
  shutdown(
    fd: number,
    how: ShutdownHow | undefined,
    options: OpOptions | undefined,
    callback: Callback<void>,
  ): void;
  shutdown(fd: number, ...rest: unknown[]): Promise<void> | undefined {
    const callback = popCallback(rest, 2);
    const op = new Operation(OPERATION_FACTS[Opcode.SHUTDOWN]);
    op.fd = validateFd(fd);
    const how = rest[0] === undefined ? 'write' : rest[0];
    if (typeof how !== 'string') throw invalidArgType('how', 'of type string', how);
    const value = SHUTDOWN_HOW.get(how);
    if (value === undefined) throw invalidArgValue('how', how, "must be 'read', 'write' or 'both'");
    op.opFlags = value;
    return this[QUEUE_CORE].issue(op, rest[1], callback) as Promise<void> | undefined;
  }

  /** Sets a boolean socket option: 'reuseaddr', 'reuseport', 'nodelay' or 'keepalive'. */
  setsockopt(fd: number, option: SocketOption, value: boolean, options: PolledOptions): void;
  setsockopt(fd: number, option: SocketOption, value: boolean, options?: OpOptions): Promise<void>;
  setsockopt(fd: number, option: SocketOption, value: boolean, callback: Callback<void>): void;
  setsockopt(
    fd: number,
    option: SocketOption,
    value: boolean,
    options: OpOptions | undefined,
    callback: Callback<void>,
  ): void;
  setsockopt(fd: number, ...rest: unknown[]): Promise<void> | undefined {
    const callback = popCallback(rest, 3);
    const op = new Operation(OPERATION_FACTS[Opcode.SETSOCKOPT]);
    op.fd = validateFd(fd);
    const option = rest[0];
    if (typeof option !== 'string') throw invalidArgType('option', 'of type string', option);
    const code = SOCKET_OPTIONS.get(option);
    if (code === undefined) {
      throw invalidArgValue('option', option, "must be 'reuseaddr', 'reuseport', 'nodelay' or 'keepalive'");
    }
    if (typeof rest[1] !== 'boolean') throw invalidArgType('value', 'of type boolean', rest[1]);
    op.opFlags = code;
    op.len = rest[1] ? 1 : 0;
    return this[QUEUE_CORE].issue(op, rest[2], callback) as Promise<void> | undefined;
  }

  /** The address a socket is bound to (getsockname): after binding to port 0, the port chosen. */
  localAddress(fd: number, options: PolledOptions): void;
  localAddress(fd: number, options?: OpOptions): Promise<SocketAddress>;
  localAddress(fd: number, callback: Callback<SocketAddress>): void;
  localAddress(fd: number, options: OpOptions | undefined, callback: Callback<SocketAddress>): void;
  localAddress(fd: number, options?: unknown, callback?: unknown): Promise<SocketAddress> | undefined {
    return fdOperation(this[QUEUE_CORE], Opcode.GETSOCKNAME, fd, options, callback) as
      | Promise<SocketAddress>
      | undefined;
  }
}

/** accepts() without multishot: one accept after another. */
async function* acceptLoop(
  queue: SocketOperations,
  fd: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<AcceptResult, void, undefined> {
  for (;;) yield await queue.accept(fd, { signal });
}

/** recvs() without multishot: one recv into a fresh buffer after another. */
async function* recvLoop(
  queue: SocketOperations,
  fd: number,
  size: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer, void, undefined> {
  for (;;) {
    const buffer = Buffer.allocUnsafe(size);
    const n = await queue.recv(fd, buffer, { signal });
    if (n === 0) return;
    yield n === size ? buffer : buffer.subarray(0, n);
  }
}

function parseFamily(family: unknown): number {
  switch (family) {
    case undefined:
    case 4:
    case 'IPv4':
      return AF_INET;
    case 6:
    case 'IPv6':
      return AF_INET6;
    case 'unix':
      return AF_UNIX;
    default:
      if (typeof family !== 'number' && typeof family !== 'string') {
        throw invalidArgType('family', 'of type number or string', family);
      }
      throw invalidArgValue('family', family, "must be 4, 6 or 'unix'");
  }
}

/** bind and connect: an fd and a Node-style address. */
function addressOperation(
  core: QueueCore,
  opcode: typeof Opcode.BIND | typeof Opcode.CONNECT,
  fd: unknown,
  address: unknown,
  minPort: number,
  options: unknown,
  callback: unknown,
): Promise<unknown> | undefined {
  if (typeof options === 'function') {
    callback = options;
    options = undefined;
  }
  const op = new Operation(OPERATION_FACTS[opcode]);
  op.fd = validateFd(fd);
  op.address = validateSocketAddress(address, 'address', minPort);
  return core.issue(op, options, checkCallback(callback));
}

/** recv, send, recvfrom and sendto: (buffer, options?, cb?) or (buffer, offset, length?, cb?). */
function stream(
  core: QueueCore,
  opcode: typeof Opcode.RECV | typeof Opcode.SEND | typeof Opcode.RECVFROM | typeof Opcode.SENDTO,
  fd: unknown,
  buffer: unknown,
  a: unknown,
  b: unknown,
  c: unknown,
  address?: AddressRecord,
  opFlags = 0,
): Promise<unknown> | undefined {
  const op = new Operation(OPERATION_FACTS[opcode]);
  op.fd = validateFd(fd);
  op.address = address;
  op.opFlags = opFlags;
  const view = validateBuffer(buffer);
  let offset: unknown;
  let length: unknown;
  let options: unknown;
  let callback: unknown;
  if (typeof a === 'function') callback = a;
  else if (isOptionsObject(a)) {
    options = a;
    offset = a.offset;
    length = a.length;
    callback = b;
  } else {
    offset = a;
    if (typeof b === 'function') callback = b;
    else {
      length = b;
      callback = c;
    }
  }
  setBufferRange(op, view, offset, length);
  op.offset = -1;
  return core.issue(op, options, checkCallback(callback));
}
