import {
  ADDRESS_SIZE,
  AddressOffset,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  CQE_F_MORE,
  CQE_SIZE,
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
  SLOT_NONE,
  SO_KEEPALIVE,
  SO_NODELAY,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_DGRAM,
  SOCK_STREAM,
  SQE_F_LINK,
  SQE_SIZE,
  STAT_F_NOFOLLOW,
  STAT_FIELDS,
  UNLINK_F_DIR,
} from './abi.js';
import {
  type AddressRecord,
  readAddress,
  type SocketAddress,
  type SocketAddressInput,
  validateSocketAddress,
  writeAddress,
} from './address.js';
import type { Backend, Capabilities, Engine, OperationName, RingContext } from './backend.js';
import {
  AbortError,
  errnoOf,
  invalidArgType,
  invalidArgValue,
  outOfRange,
  ProactorError,
  type SystemError,
  systemError,
} from './errors.js';
import { keepAttached } from './memory.js';
import { Stats } from './stats.js';
import {
  IO_MAX_LENGTH,
  type PathLike,
  parseMode,
  parseOpenFlags,
  validateAbortSignal,
  validateBuffer,
  validateBufferList,
  validateFd,
  validateInteger,
  validateObject,
  validatePath,
  validatePosition,
} from './validate.js';

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
   * 16384 bytes, 256 buffers (4 MiB). The count is a power of two up to 32768.
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

enum Form {
  Promise = 0,
  Callback = 1,
  Polled = 2,
}

enum State {
  Pending = 0,
  InFlight = 1,
  Done = 2,
}

type AnyCallback = (err: Error | null, result?: unknown) => void;

/** One operation from the call that issued it to its final completion. */
class Operation {
  state = State.Pending;
  slot = -1;
  link = false;
  aborted = false;
  cancelRequested = false;
  form = Form.Promise;
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((reason: unknown) => void) | undefined = undefined;
  callback: AnyCallback | undefined = undefined;
  userData = 0;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  fd = 0;
  offset = 0;
  bufOffset = 0;
  len = 0;
  opFlags = 0;
  mode = 0;
  timeoutNs = 0;
  res0: unknown = undefined;
  res1: unknown = undefined;
  path: string | undefined = undefined;
  dest: string | undefined = undefined;
  /** bind, connect and sendto: the address, written into the slot's address area at submission. */
  address: AddressRecord | undefined = undefined;
  /** Multishot operations: the iterator that gets each item and the final result. */
  multishot: MultishotIterator<unknown> | undefined = undefined;

  constructor(
    readonly opcode: Opcode,
    readonly syscall: string,
  ) {}
}

const TWO32 = 0x1_0000_0000;
const SQE_WORDS = SQE_SIZE / 4;
const CQE_WORDS = CQE_SIZE / 4;
const ECANCELED = errnoOf('ECANCELED');
/** Most buffers or files one registration takes (io_uring allows more; this bounds native tables). */
const REGISTERED_MAX = 1024;
/** io_uring refuses registered buffers above 1 GiB. */
const REGISTERED_BUFFER_MAX = 2 ** 30;
const INT32_MAX = 2 ** 31 - 1;
const POLL_WANTED = POLL_IN | POLL_OUT | POLL_RDHUP | POLL_ERR | POLL_HUP;
/** Multishot iterators stop their request while this many items wait for the consumer... */
const ACCEPT_HIGH_WATER = 128;
const RECV_HIGH_WATER = 1024 * 1024;
/** ...and start it again once the consumer took them down to this. */
const ACCEPT_LOW_WATER = 32;
const RECV_LOW_WATER = 256 * 1024;
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

/** What MultishotIterator needs of its queue's private methods (set by Queue's static block). */
interface MultishotAccess {
  arm(queue: Queue, iterator: MultishotIterator<unknown>): Operation;
  recvOnce(queue: Queue, iterator: MultishotIterator<unknown>): Operation;
  /** How often `fd` was closed through `queue`. */
  closes(queue: Queue, fd: number): number;
  abort(queue: Queue, op: Operation): void;
  release(queue: Queue, iterator: MultishotIterator<unknown>, item: unknown): void;
}
let multishotAccess: MultishotAccess;

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

/** Node's net errors: 'connect ECONNREFUSED 127.0.0.1:1', with address and port properties. */
function socketError(errno: number, syscall: string, target: AddressRecord): SystemError {
  const error = systemError(errno, syscall);
  error.message = `${syscall} ${error.code} ${target.display}`;
  const fields = error as SystemError & { address?: string; port?: number };
  fields.address = target.host;
  if (target.family !== AF_UNIX) fields.port = target.port;
  return error;
}

/** What the operations of a batch the engine refused reject with: its error when that carries a
 * code, else ERR_PROACTOR_BACKEND_FAILED with the engine's error as the cause. */
function backendFailure(error: unknown): Error {
  if (error instanceof Error && typeof (error as Error & { code?: unknown }).code === 'string') return error;
  const failure = new ProactorError(
    'ERR_PROACTOR_BACKEND_FAILED',
    `the backend refused the batch: ${error instanceof Error ? error.message : String(error)}`,
  );
  failure.cause = error;
  return failure;
}

function displayPath(path: string | Buffer): string {
  return typeof path === 'string' ? path : path.toString();
}

function isOptionsObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !ArrayBuffer.isView(value);
}

/** Calls a Node-style callback; what it throws is rethrown later, not into the caller. */
function deliverTo<T>(
  callback: (err: Error | null, item?: T | null) => void,
  err: Error | null,
  item?: T | null,
): void {
  try {
    if (err) callback(err);
    else callback(null, item);
  } catch (thrown) {
    rethrowLater(thrown);
  }
}

function rethrowLater(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}

/**
 * A completion queue over one backend: operations are started at once and complete later, by
 * promise, by Node-style callback, or into the queue's polled completion list.
 *
 * Submissions are encoded into a submission buffer and handed to the backend in one call per
 * microtask checkpoint (or at `submit()`); completions come back in batches. At most `entries`
 * operations are in flight; more wait, in order, and are never dropped.
 *
 * Every operation method has the same three forms, chosen by its trailing arguments: without a
 * callback it returns a promise of the result; with a trailing Node-style {@link Callback} it
 * returns nothing and calls back once; with `{ userData }` in its options ({@link PolledOptions})
 * it returns nothing and its {@link Completion} is collected for `drain()` / `peek()` /
 * `waitSync()`. Each operation completes exactly once. A failed one rejects (or calls back) with
 * an {@link OperationError}: a {@link SystemError} named after its syscall, an AbortError when
 * its signal fired, ECANCELED when a linked operation before it failed.
 *
 * Arguments are checked before anything is submitted, and a bad one throws synchronously, in
 * every form: a wrong type throws a TypeError with code ERR_INVALID_ARG_TYPE, a value outside its
 * range a RangeError with ERR_OUT_OF_RANGE (a descriptor must be an integer from 0 to 2^31-1), a
 * name not in its list ERR_INVALID_ARG_VALUE. An operation the backend does not list in
 * `capabilities.ops`, or `link` on a backend without linked operations, throws a
 * {@link ProactorError} with ERR_PROACTOR_UNSUPPORTED; any use of a destroyed queue,
 * ERR_PROACTOR_QUEUE_DESTROYED.
 */
export class Queue implements AsyncDisposable {
  /** The backend this queue runs on; `backend.name` names the mechanism. */
  readonly backend: Backend;
  /** What this queue can do: the backend's capabilities. */
  readonly capabilities: Capabilities;
  /** Slots: the most operations in flight at once (QueueOptions.entries). */
  readonly entries: number;

  readonly #engine: Engine;
  readonly #sq: Uint32Array;
  readonly #cq: Int32Array;
  readonly #resources: unknown[];
  readonly #stats: Float64Array;
  readonly #addresses: Uint8Array;
  readonly #slots: (Operation | undefined)[];
  readonly #free: number[] = [];
  #pending: (Operation | undefined)[] = [];
  #pendingHead = 0;
  /** Consecutive linked operations at the tail of #pending. */
  #openChain = 0;
  #cancels: Operation[] = [];
  #inFlight = 0;
  #flushQueued = false;
  #destroying: Promise<void> | undefined;
  #destroyed: (() => void) | undefined;
  #closed = false;
  readonly #polled: Completion[] = [];
  /** Referenced here while registered, so the memory the kernel maps stays alive. */
  #registeredBuffers: ArrayBufferView[] = [];
  #hasRegisteredFiles = false;
  #polledHead = 0;
  readonly #recvBufferSize: number;
  readonly #recvBufferCount: number;
  /** The provided buffers of multishot recvs(); undefined until the first, null when unusable. */
  #recvPool: Uint8Array | null | undefined;
  /**
   * Connections a multishot accept took after its iterator stopped (or before the consumer
   * asked), per listening descriptor: the next accept() or accepts() on it gets them first, as
   * it would have from the kernel's backlog with single accepts.
   */
  #acceptedAhead: Map<number, AcceptResult[]> | undefined;
  /**
   * With multishot: how often each descriptor number was closed through the queue. An iterator
   * that would start its request again after its descriptor was closed (whose number may
   * already name another socket) ends instead, with ECANCELED, as its request did.
   */
  readonly #closes: Map<number, number> | undefined;

  static {
    multishotAccess = {
      arm: (queue, iterator) => queue.#armMultishot(iterator),
      recvOnce: (queue, iterator) => queue.#recvOnce(iterator),
      closes: (queue, fd) => queue.#closes?.get(fd) ?? 0,
      abort: (queue, op) => queue.#abort(op),
      release: (queue, iterator, item) => queue.#releaseMultishot(iterator, item),
    };
  }

  /**
   * Attaches a new queue to `backend` (a backend package's default export). Throws
   * ERR_INVALID_ARG_TYPE when `backend` is not a Backend, ERR_OUT_OF_RANGE or
   * ERR_INVALID_ARG_VALUE for option values outside their ranges, and whatever the backend's
   * `attach()` throws when the mechanism cannot set up. The rings are allocated here:
   * `entries` x 128 bytes of submissions, `completionEntries` x 16 bytes of completions.
   */
  constructor(backend: Backend, options: QueueOptions = {}) {
    if (backend === null || typeof backend !== 'object' || typeof backend.attach !== 'function') {
      throw invalidArgType('backend', 'a proactor Backend', backend);
    }
    validateObject(options, 'options');
    const entries =
      options.entries === undefined ? 256 : validateInteger(options.entries, 'options.entries', 1, 65536);
    const completionEntries =
      options.completionEntries === undefined
        ? 2 * entries
        : validateInteger(options.completionEntries, 'options.completionEntries', 1, 1 << 20);
    this.#recvBufferSize =
      options.recvBufferSize === undefined
        ? 16384
        : validateInteger(options.recvBufferSize, 'options.recvBufferSize', 1, 1 << 30);
    const count =
      options.recvBufferCount === undefined
        ? 256
        : validateInteger(options.recvBufferCount, 'options.recvBufferCount', 1, 32768);
    if ((count & (count - 1)) !== 0) {
      throw invalidArgValue('options.recvBufferCount', count, 'must be a power of two');
    }
    this.#recvBufferCount = count;
    if (this.#recvBufferSize * count > 2 ** 32) {
      throw outOfRange(
        'options.recvBufferSize * options.recvBufferCount',
        '<= 4 GiB',
        this.#recvBufferSize * count,
      );
    }
    this.backend = backend;
    this.capabilities = backend.capabilities;
    this.entries = entries;
    if (this.capabilities.multishot) this.#closes = new Map();
    const submissions = new ArrayBuffer(2 * entries * SQE_SIZE);
    const completions = new ArrayBuffer(completionEntries * CQE_SIZE);
    this.#sq = new Uint32Array(submissions);
    this.#cq = new Int32Array(completions);
    this.#resources = new Array(2 * entries).fill(undefined);
    this.#stats = new Float64Array(entries * STAT_FIELDS);
    this.#addresses = new Uint8Array(entries * ADDRESS_SIZE);
    this.#slots = new Array(entries).fill(undefined);
    for (let slot = entries - 1; slot >= 0; slot--) this.#free.push(slot);
    const ring: RingContext = {
      entries,
      submissions,
      completions,
      completionEntries,
      resources: this.#resources,
      stats: this.#stats,
      addresses: this.#addresses,
      complete: (count: number) => this.#complete(count),
    };
    this.#engine = backend.attach(ring);
  }

  /** Operations submitted to the backend and not yet completed. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Operations issued but waiting for a slot or for the next flush. */
  get waiting(): number {
    let n = 0;
    for (let i = this.#pendingHead; i < this.#pending.length; i++)
      if (this.#pending[i]?.aborted === false) n++;
    return n;
  }

  /** Polled completions ready to be drained. */
  get ready(): number {
    return this.#polled.length - this.#polledHead;
  }

  // ---- file operations -------------------------------------------------------------------

  /**
   * Opens a file, as `fs.open` does. `flags` is one of Node's flag strings ('r', the default,
   * 'r+', 'w', 'w+', 'wx', 'a', 'ax+', ...) or a number built from `fs.constants.O_*`; `mode` (an
   * integer or an octal string, default 0o666, less the umask) applies when the file is created.
   * Resolves with the new descriptor, which stays open until `close()`; rejects with a
   * {@link SystemError} of syscall 'open' and the `path` (ENOENT, EACCES, EEXIST for 'wx', ...).
   * An unknown flag string throws ERR_INVALID_ARG_VALUE; a path with a NUL byte,
   * ERR_INVALID_ARG_VALUE.
   */
  open(
    path: PathLike,
    flags: string | number | undefined,
    mode: number | string | undefined,
    options: PolledOptions,
  ): void;
  open(path: PathLike, flags?: string | number, mode?: number | string, options?: OpOptions): Promise<number>;
  open(path: PathLike, callback: Callback<number>): void;
  open(path: PathLike, flags: string | number | undefined, callback: Callback<number>): void;
  open(
    path: PathLike,
    flags: string | number | undefined,
    mode: number | string | undefined,
    callback: Callback<number>,
  ): void;
  open(
    path: PathLike,
    flags: string | number | undefined,
    mode: number | string | undefined,
    options: OpOptions | undefined,
    callback: Callback<number>,
  ): void;
  open(path: PathLike, ...rest: unknown[]): Promise<number> | undefined {
    const callback = popCallback(rest, 3);
    const target = validatePath(path);
    const op = new Operation(Opcode.OPEN, 'open');
    op.opFlags = parseOpenFlags(rest[0]);
    op.mode = parseMode(rest[1], 'mode', 0o666);
    op.res0 = target;
    op.path = displayPath(target);
    return this.#issue(op, 'open', rest[2], callback) as Promise<number> | undefined;
  }

  /**
   * Closes descriptor `fd`. Operations of this queue still waiting on a socket `fd` (accept,
   * recv, poll, ...) end with ECANCELED, and connections a multishot `accepts()` took ahead on it
   * are closed too. Rejects with EBADF when `fd` is not open.
   */
  close(fd: number, options: PolledOptions): void;
  close(fd: number, options?: OpOptions): Promise<void>;
  close(fd: number, callback: Callback<void>): void;
  close(fd: number, options: OpOptions | undefined, callback: Callback<void>): void;
  close(fd: number, options?: unknown, callback?: unknown): Promise<void> | undefined {
    if (this.#acceptedAhead?.has(fd)) this.#dropAcceptedAhead(fd);
    if (this.#closes !== undefined && typeof fd === 'number')
      this.#closes.set(fd, (this.#closes.get(fd) ?? 0) + 1);
    return this.#fdOp(Opcode.CLOSE, 'close', 'close', fd, options, callback) as Promise<void> | undefined;
  }

  /**
   * Reads from `fd` into `buffer`, as `fs.read` does: `length` bytes (default: the rest of the
   * buffer) into the buffer at byte `offset` (default 0), from file position `position` (a number
   * or bigint in bytes; null, -1 or absent: the file's current position, which then advances).
   * Takes `(buffer, options)` or Node's positional `(buffer, offset, length, position)`.
   * Resolves with the number of bytes read: 0 at the end of the file, fewer than asked near it.
   * `buffer` stays in use by the backend (and must not be detached) until the operation completed.
   * An offset or length outside the buffer, or a length above {@link IO_MAX_LENGTH}, throws
   * ERR_OUT_OF_RANGE.
   */
  read(fd: number, buffer: ArrayBufferView, options: ReadOptions & PolledOptions): void;
  read(fd: number, buffer: ArrayBufferView, options?: ReadOptions): Promise<number>;
  read(
    fd: number,
    buffer: ArrayBufferView,
    offset: number,
    length?: number,
    position?: number | bigint | null,
  ): Promise<number>;
  read(fd: number, buffer: ArrayBufferView, callback: Callback<number>): void;
  read(fd: number, buffer: ArrayBufferView, options: ReadOptions, callback: Callback<number>): void;
  read(
    fd: number,
    buffer: ArrayBufferView,
    offset: number | undefined,
    length: number | undefined,
    position: number | bigint | null | undefined,
    callback: Callback<number>,
  ): void;
  read(
    fd: number,
    buffer: ArrayBufferView,
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
  ): Promise<number> | undefined {
    return this.#transfer(Opcode.READ, 'read', fd, buffer, a, b, c, d) as Promise<number> | undefined;
  }

  /**
   * Writes to `fd`, as `fs.write` does: `length` bytes (default: the rest of the buffer) of
   * `buffer` from byte `offset` (default 0), at file position `position` (null, -1 or absent: the
   * current position; on Linux a file opened with 'a' appends whatever it says, as with
   * `fs.write`). A string is encoded with `encoding` (default 'utf8') and all its bytes are
   * asked for: `(fd, string, position?, encoding?)`. Resolves with the number of bytes written,
   * which may be fewer than asked (a short write: issue the rest again). `buffer` stays in use
   * until the operation completed; a string is copied at the call. Range errors as for `read()`.
   */
  write(fd: number, buffer: ArrayBufferView, options: WriteOptions & PolledOptions): void;
  write(fd: number, buffer: ArrayBufferView, options?: WriteOptions): Promise<number>;
  write(
    fd: number,
    buffer: ArrayBufferView,
    offset: number,
    length?: number,
    position?: number | bigint | null,
  ): Promise<number>;
  write(
    fd: number,
    data: string,
    position?: number | bigint | null,
    encoding?: BufferEncoding,
  ): Promise<number>;
  write(fd: number, buffer: ArrayBufferView | string, callback: Callback<number>): void;
  write(fd: number, buffer: ArrayBufferView, options: WriteOptions, callback: Callback<number>): void;
  write(
    fd: number,
    buffer: ArrayBufferView,
    offset: number | undefined,
    length: number | undefined,
    position: number | bigint | null | undefined,
    callback: Callback<number>,
  ): void;
  write(
    fd: number,
    data: string,
    position: number | bigint | null | undefined,
    encoding: BufferEncoding | undefined,
    callback: Callback<number>,
  ): void;
  write(
    fd: number,
    buffer: ArrayBufferView | string,
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
  ): Promise<number> | undefined {
    if (typeof buffer === 'string') {
      const callback = [a, b, c].find((x) => typeof x === 'function') as AnyCallback | undefined;
      const position = typeof a === 'function' ? undefined : a;
      const encoding = typeof b === 'function' || b === undefined ? 'utf8' : b;
      if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) {
        throw invalidArgType('encoding', 'a valid Buffer encoding', encoding);
      }
      const data = Buffer.from(buffer, encoding);
      return this.#transfer(Opcode.WRITE, 'write', fd, data, 0, data.length, position, callback) as
        | Promise<number>
        | undefined;
    }
    return this.#transfer(Opcode.WRITE, 'write', fd, buffer, a, b, c, d) as Promise<number> | undefined;
  }

  /**
   * Reads from `fd` into several buffers in one operation, filling each in turn, as
   * `fs.readv` does, from file position `position` (null, -1 or absent: the current position).
   * At most 1024 buffers (ERR_OUT_OF_RANGE beyond, and when their lengths add up to more than
   * {@link IO_MAX_LENGTH}). The array is copied at the call; the buffers stay in use until the
   * operation completed. Resolves with the total number of bytes read (0 at the end of the file).
   */
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    options: PolledOptions,
  ): void;
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position?: number | bigint | null,
    options?: OpOptions,
  ): Promise<number>;
  readv(fd: number, buffers: readonly ArrayBufferView[], callback: Callback<number>): void;
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    callback: Callback<number>,
  ): void;
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    options: OpOptions | undefined,
    callback: Callback<number>,
  ): void;
  readv(fd: number, buffers: readonly ArrayBufferView[], ...rest: unknown[]): Promise<number> | undefined {
    return this.#vector(Opcode.READV, 'read', 'readv', fd, buffers, rest) as Promise<number> | undefined;
  }

  /**
   * Writes several buffers to `fd` in one operation, in order, as `fs.writev` does, at file
   * position `position` (null, -1 or absent: the current position). At most 1024 buffers and
   * {@link IO_MAX_LENGTH} bytes in all (ERR_OUT_OF_RANGE). The array is copied at the call; the
   * buffers stay in use until the operation completed. Resolves with the total number of bytes
   * written, which may be fewer than asked.
   */
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    options: PolledOptions,
  ): void;
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position?: number | bigint | null,
    options?: OpOptions,
  ): Promise<number>;
  writev(fd: number, buffers: readonly ArrayBufferView[], callback: Callback<number>): void;
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    callback: Callback<number>,
  ): void;
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    options: OpOptions | undefined,
    callback: Callback<number>,
  ): void;
  writev(fd: number, buffers: readonly ArrayBufferView[], ...rest: unknown[]): Promise<number> | undefined {
    return this.#vector(Opcode.WRITEV, 'write', 'writev', fd, buffers, rest) as Promise<number> | undefined;
  }

  /**
   * Flushes the data and metadata of file `fd` to its storage device (fsync(2)). Resolves once
   * the device reported them written; rejects with EBADF, EINVAL (a descriptor that cannot be
   * synced, such as a pipe) or EIO.
   */
  fsync(fd: number, options: PolledOptions): void;
  fsync(fd: number, options?: OpOptions): Promise<void>;
  fsync(fd: number, callback: Callback<void>): void;
  fsync(fd: number, options: OpOptions | undefined, callback: Callback<void>): void;
  fsync(fd: number, options?: unknown, callback?: unknown): Promise<void> | undefined {
    return this.#fdOp(Opcode.FSYNC, 'fsync', 'fsync', fd, options, callback) as Promise<void> | undefined;
  }

  /**
   * Flushes the data of file `fd`, and only the metadata needed to read it back (its size, not
   * its times), to its storage device (fdatasync(2)): cheaper than `fsync()` for overwrites.
   */
  fdatasync(fd: number, options: PolledOptions): void;
  fdatasync(fd: number, options?: OpOptions): Promise<void>;
  fdatasync(fd: number, callback: Callback<void>): void;
  fdatasync(fd: number, options: OpOptions | undefined, callback: Callback<void>): void;
  fdatasync(fd: number, options?: unknown, callback?: unknown): Promise<void> | undefined {
    return this.#fdOp(Opcode.FDATASYNC, 'fdatasync', 'fdatasync', fd, options, callback) as
      | Promise<void>
      | undefined;
  }

  /**
   * The status of open descriptor `fd`, as `fs.fstat` gives it: resolves with a {@link Stats}
   * (sizes in bytes, times in milliseconds since the epoch). In the polled form the completion's
   * `stats` holds it.
   */
  fstat(fd: number, options: PolledOptions): void;
  fstat(fd: number, options?: OpOptions): Promise<Stats>;
  fstat(fd: number, callback: Callback<Stats>): void;
  fstat(fd: number, options: OpOptions | undefined, callback: Callback<Stats>): void;
  fstat(fd: number, options?: unknown, callback?: unknown): Promise<Stats> | undefined {
    return this.#fdOp(Opcode.FSTAT, 'fstat', 'fstat', fd, options, callback) as Promise<Stats> | undefined;
  }

  /**
   * Sets the size of file `fd` to `length` bytes (default 0): bytes beyond it are discarded,
   * and a larger size reads back as zeros. `length` is an integer from 0 to
   * `Number.MAX_SAFE_INTEGER` (ERR_OUT_OF_RANGE otherwise). Rejects with EINVAL or EBADF on a
   * descriptor not open for writing.
   */
  ftruncate(fd: number, length: number | undefined, options: PolledOptions): void;
  ftruncate(fd: number, length?: number, options?: OpOptions): Promise<void>;
  ftruncate(fd: number, callback: Callback<void>): void;
  ftruncate(fd: number, length: number | undefined, callback: Callback<void>): void;
  ftruncate(
    fd: number,
    length: number | undefined,
    options: OpOptions | undefined,
    callback: Callback<void>,
  ): void;
  ftruncate(fd: number, ...rest: unknown[]): Promise<void> | undefined {
    const callback = popCallback(rest, 2);
    const op = new Operation(Opcode.FTRUNCATE, 'ftruncate');
    op.fd = validateFd(fd);
    op.offset = rest[0] === undefined ? 0 : validateInteger(rest[0], 'len', 0, Number.MAX_SAFE_INTEGER);
    return this.#issue(op, 'ftruncate', rest[1], callback) as Promise<void> | undefined;
  }

  /**
   * The status of the file at `path`, following symbolic links, as `fs.stat` gives it: resolves
   * with a {@link Stats}; rejects with a {@link SystemError} of syscall 'stat' and the `path`
   * (ENOENT, ENOTDIR, EACCES, ...). In the polled form the completion's `stats` holds it.
   */
  stat(path: PathLike, options: PolledOptions): void;
  stat(path: PathLike, options?: OpOptions): Promise<Stats>;
  stat(path: PathLike, callback: Callback<Stats>): void;
  stat(path: PathLike, options: OpOptions | undefined, callback: Callback<Stats>): void;
  stat(path: PathLike, options?: unknown, callback?: unknown): Promise<Stats> | undefined {
    return this.#pathOp(Opcode.STAT, 'stat', 'stat', 0, path, options, callback) as
      | Promise<Stats>
      | undefined;
  }

  /**
   * As `stat()`, but of a symbolic link itself rather than of what it points to (syscall
   * 'lstat'): for a link, `isSymbolicLink()` of the result is true and `size` is the link's.
   */
  lstat(path: PathLike, options: PolledOptions): void;
  lstat(path: PathLike, options?: OpOptions): Promise<Stats>;
  lstat(path: PathLike, callback: Callback<Stats>): void;
  lstat(path: PathLike, options: OpOptions | undefined, callback: Callback<Stats>): void;
  lstat(path: PathLike, options?: unknown, callback?: unknown): Promise<Stats> | undefined {
    return this.#pathOp(Opcode.STAT, 'lstat', 'lstat', STAT_F_NOFOLLOW, path, options, callback) as
      | Promise<Stats>
      | undefined;
  }

  /**
   * Removes the name `path` from the file system, as `fs.unlink` does (not a directory: EISDIR
   * or EPERM, depending on the OS; use `rmdir()`). The file's data goes once no descriptor
   * holds it open. Rejects with a {@link SystemError} of syscall 'unlink' and the `path`.
   */
  unlink(path: PathLike, options: PolledOptions): void;
  unlink(path: PathLike, options?: OpOptions): Promise<void>;
  unlink(path: PathLike, callback: Callback<void>): void;
  unlink(path: PathLike, options: OpOptions | undefined, callback: Callback<void>): void;
  unlink(path: PathLike, options?: unknown, callback?: unknown): Promise<void> | undefined {
    return this.#pathOp(Opcode.UNLINK, 'unlink', 'unlink', 0, path, options, callback) as
      | Promise<void>
      | undefined;
  }

  /**
   * Removes the empty directory `path`, as `fs.rmdir` does without options. Rejects with
   * ENOTEMPTY when it holds entries, ENOTDIR when it is not a directory.
   */
  rmdir(path: PathLike, options: PolledOptions): void;
  rmdir(path: PathLike, options?: OpOptions): Promise<void>;
  rmdir(path: PathLike, callback: Callback<void>): void;
  rmdir(path: PathLike, options: OpOptions | undefined, callback: Callback<void>): void;
  rmdir(path: PathLike, options?: unknown, callback?: unknown): Promise<void> | undefined {
    return this.#pathOp(Opcode.UNLINK, 'rmdir', 'rmdir', UNLINK_F_DIR, path, options, callback) as
      | Promise<void>
      | undefined;
  }

  /**
   * Creates directory `path` with permission `mode` (an integer or an octal string, default
   * 0o777, less the umask), given directly or as `options.mode`. Not recursive: rejects with
   * ENOENT when the parent is missing and EEXIST when `path` exists.
   */
  mkdir(path: PathLike, options: MkdirOptions & PolledOptions): void;
  mkdir(path: PathLike, mode?: number | string | MkdirOptions): Promise<void>;
  mkdir(path: PathLike, callback: Callback<void>): void;
  mkdir(path: PathLike, mode: number | string | MkdirOptions | undefined, callback: Callback<void>): void;
  mkdir(path: PathLike, mode?: unknown, callback?: unknown): Promise<void> | undefined {
    if (typeof mode === 'function') {
      callback = mode;
      mode = undefined;
    }
    let options: unknown;
    if (isOptionsObject(mode)) {
      options = mode;
      mode = mode.mode;
    }
    const target = validatePath(path);
    const op = new Operation(Opcode.MKDIR, 'mkdir');
    op.mode = parseMode(mode, 'mode', 0o777);
    op.res0 = target;
    op.path = displayPath(target);
    return this.#issue(op, 'mkdir', options, checkCallback(callback)) as Promise<void> | undefined;
  }

  /**
   * Renames `from` to `to`, replacing `to` if it exists (atomically, on POSIX file systems),
   * as `fs.rename` does. Rejects with a {@link SystemError} of syscall 'rename' that carries both
   * `path` and `dest` (EXDEV across file systems, ENOENT, ...).
   */
  rename(from: PathLike, to: PathLike, options: PolledOptions): void;
  rename(from: PathLike, to: PathLike, options?: OpOptions): Promise<void>;
  rename(from: PathLike, to: PathLike, callback: Callback<void>): void;
  rename(from: PathLike, to: PathLike, options: OpOptions | undefined, callback: Callback<void>): void;
  rename(from: PathLike, to: PathLike, options?: unknown, callback?: unknown): Promise<void> | undefined {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const source = validatePath(from, 'oldPath');
    const dest = validatePath(to, 'newPath');
    const op = new Operation(Opcode.RENAME, 'rename');
    op.res0 = source;
    op.res1 = dest;
    op.path = displayPath(source);
    op.dest = displayPath(dest);
    return this.#issue(op, 'rename', options, checkCallback(callback)) as Promise<void> | undefined;
  }

  // ---- socket operations -----------------------------------------------------------------

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
    const op = new Operation(Opcode.SOCKET, 'socket');
    op.opFlags = parseFamily(rest[0]);
    const type = rest[1];
    if (type !== undefined && type !== 'stream' && type !== 'dgram') {
      if (typeof type !== 'string') throw invalidArgType('type', 'of type string', type);
      throw invalidArgValue('type', type, "must be 'stream' or 'dgram'");
    }
    op.mode = type === 'dgram' ? SOCK_DGRAM : SOCK_STREAM;
    return this.#issue(op, 'socket', rest[2], callback) as Promise<number> | undefined;
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
    return this.#addressOp(Opcode.BIND, 'bind', fd, address, 0, options, callback) as
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
    const op = new Operation(Opcode.LISTEN, 'listen');
    op.fd = validateFd(fd);
    op.len = rest[0] === undefined ? 511 : validateInteger(rest[0], 'backlog', 0, INT32_MAX);
    return this.#issue(op, 'listen', rest[1], callback) as Promise<void> | undefined;
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
    const iterator =
      this.capabilities.multishot && !this.#destroying
        ? this.#acceptMultishot(fd, signal)
        : this.#acceptLoop(fd, signal);
    if (sink === undefined) return iterator;
    // Never called with null: accepting ends only with an error.
    this.#pump(iterator, sink as (err: Error | null, item?: AcceptResult | null) => void, false);
    return undefined;
  }

  /**
   * The callback forms of accepts() and recvs(): every item to `sink` as it comes, then the end
   * (recvs: `sink(null, null)` when the peer shut its side down) or the error. A multishot
   * iterator calls it directly, with no promise per item; the others are driven here.
   */
  #pump<T>(
    iterator: AsyncGenerator<T, void, undefined>,
    sink: (err: Error | null, item?: T | null) => void,
    endsWithNull: boolean,
  ): void {
    if (iterator instanceof MultishotIterator) {
      iterator.drive(sink as (err: Error | null, item?: unknown) => void, endsWithNull);
      return;
    }
    const step = (): void => {
      iterator.next().then(
        (r) => {
          if (r.done) {
            if (endsWithNull) deliverTo(sink, null, null);
            return;
          }
          deliverTo(sink, null, r.value);
          step();
        },
        (error: Error) => deliverTo(sink, error),
      );
    };
    step();
  }

  /** accepts() on one multishot request (see MultishotIterator). */
  #acceptMultishot(
    fd: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<AcceptResult, void, undefined> {
    const iterator = new MultishotIterator<AcceptResult>(this, Opcode.ACCEPT_MULTI, fd, signal, 0);
    const ahead = this.#acceptedAhead?.get(fd);
    if (ahead) {
      this.#acceptedAhead!.delete(fd);
      for (const item of ahead) iterator.push(item, 1);
    }
    return iterator;
  }

  #keepAcceptedAhead(listener: number, item: AcceptResult): void {
    if (this.#destroying) {
      this.#closeQuietly(item.fd);
      return;
    }
    this.#acceptedAhead ??= new Map();
    const list = this.#acceptedAhead.get(listener);
    if (list) list.push(item);
    else this.#acceptedAhead.set(listener, [item]);
  }

  /** The listening socket is being closed: so are the connections accepted ahead on it. */
  #dropAcceptedAhead(listener: number): void {
    const list = this.#acceptedAhead?.get(listener);
    if (!list) return;
    this.#acceptedAhead!.delete(listener);
    for (const item of list) this.#closeQuietly(item.fd);
  }

  async *#acceptLoop(
    fd: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<AcceptResult, void, undefined> {
    for (;;) yield await this.accept(fd, { signal });
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
    const iterator =
      this.capabilities.multishot && !this.#destroying && this.#recvBuffers() !== null
        ? new MultishotIterator<Buffer>(this, Opcode.RECV_MULTI, fd, signal, size)
        : this.#recvLoop(fd, size, signal);
    if (sink === undefined) return iterator;
    this.#pump(iterator, sink, true);
    return undefined;
  }

  /** The provided-buffer pool, lent to the engine at first use; null when the engine refused it. */
  #recvBuffers(): Uint8Array | null {
    if (this.#recvPool !== undefined) return this.#recvPool;
    const pool = new Uint8Array(this.#recvBufferSize * this.#recvBufferCount);
    keepAttached(pool);
    try {
      if (this.#engine.provideBuffers === undefined) throw new Error('no provideBuffers');
      this.#engine.provideBuffers(pool, this.#recvBufferSize, this.#recvBufferCount);
      this.#recvPool = pool;
    } catch {
      // Single-shot receives give the same stream.
      this.#recvPool = null;
    }
    return this.#recvPool;
  }

  /** Issues the multishot request of `iterator`. */
  #armMultishot(iterator: MultishotIterator<unknown>): Operation {
    const op = new Operation(iterator.opcode, iterator.opcode === Opcode.RECV_MULTI ? 'read' : 'accept');
    op.fd = iterator.fd;
    op.multishot = iterator;
    // Settled through op.multishot (see #settle): neither a promise nor a callback.
    op.form = Form.Callback;
    this.#issue(
      op,
      iterator.opcode === Opcode.RECV_MULTI ? 'recv' : 'accept',
      { signal: iterator.signal },
      undefined,
    );
    return op;
  }

  /** A single recv into a buffer of its own, for a multishot receive whose pool ran dry. */
  #recvOnce(iterator: MultishotIterator<unknown>): Operation {
    const op = new Operation(Opcode.RECV, 'read');
    op.fd = iterator.fd;
    op.len = Math.min(iterator.size, this.#recvBufferSize);
    op.res0 = Buffer.allocUnsafe(op.len);
    op.offset = -1;
    op.multishot = iterator;
    op.form = Form.Callback;
    this.#issue(op, 'recv', { signal: iterator.signal }, undefined);
    return op;
  }

  /** One completion of a multishot request, before its final one. */
  #multishotItem(op: Operation, result: number, buffer: number, slot: number): void {
    const iterator = op.multishot!;
    if (iterator.opcode === Opcode.ACCEPT_MULTI) {
      const item: AcceptResult = { fd: result, address: readAddress(this.#addresses, slot) ?? { path: '' } };
      if (iterator.stopped) this.#keepAcceptedAhead(iterator.fd, item);
      else iterator.push(item, 1);
      return;
    }
    if (iterator.stopped) return;
    // The data is readable only now: copy it out, in chunks of at most the iterator's size.
    const pool = this.#recvPool!;
    const start = buffer * this.#recvBufferSize;
    const size = iterator.size;
    for (let at = 0; at < result; at += size) {
      const n = Math.min(size, result - at);
      const chunk = Buffer.allocUnsafe(n);
      chunk.set(pool.subarray(start + at, start + at + n));
      iterator.push(chunk, n);
    }
  }

  /** An iterator stopped: what it had taken and nobody will consume. */
  #releaseMultishot(iterator: MultishotIterator<unknown>, item: unknown): void {
    if (iterator.opcode === Opcode.ACCEPT_MULTI) this.#keepAcceptedAhead(iterator.fd, item as AcceptResult);
  }

  /** Closes a descriptor nobody will take (accepted ahead on a socket being closed). */
  #closeQuietly(fd: number): void {
    if (this.#destroying) return;
    this.#fdOp(Opcode.CLOSE, 'close', 'close', fd, undefined, () => {});
  }

  async *#recvLoop(
    fd: number,
    size: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      const buffer = Buffer.allocUnsafe(size);
      const n = await this.recv(fd, buffer, { signal });
      if (n === 0) return;
      yield n === size ? buffer : buffer.subarray(0, n);
    }
  }

  /** Waits for the next connection on a listening socket: its descriptor and the peer's address. */
  accept(fd: number, options: PolledOptions): void;
  accept(fd: number, options?: OpOptions): Promise<AcceptResult>;
  accept(fd: number, callback: Callback<AcceptResult>): void;
  accept(fd: number, options: OpOptions | undefined, callback: Callback<AcceptResult>): void;
  accept(fd: number, options?: unknown, callback?: unknown): Promise<AcceptResult> | undefined {
    return this.#fdOp(Opcode.ACCEPT, 'accept', 'accept', fd, options, callback) as
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
    return this.#addressOp(Opcode.CONNECT, 'connect', fd, address, 1, options, callback) as
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
    const op = new Operation(Opcode.POLL, 'poll');
    op.fd = validateFd(fd);
    const wanted = validateInteger(events, 'events', 0, 0xffff);
    if ((wanted & ~POLL_WANTED) !== 0) {
      throw invalidArgValue('events', events, 'must be POLL_IN, POLL_OUT and POLL_RDHUP or-ed together');
    }
    op.opFlags = wanted;
    return this.#issue(op, 'poll', options, checkCallback(callback)) as Promise<number> | undefined;
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
    return this.#stream(Opcode.RECV, 'recv', 'read', fd, buffer, a, b, c) as Promise<number> | undefined;
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
      if (a.zeroCopy && this.capabilities.zeroCopySend) opFlags = SEND_F_ZEROCOPY;
    }
    return this.#stream(Opcode.SEND, 'send', 'write', fd, view, a, b, c, undefined, opFlags) as
      | Promise<number>
      | undefined;
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
    return this.#stream(Opcode.RECVFROM, 'recvfrom', 'recvmsg', fd, buffer, a, b, c) as
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
    return this.#stream(Opcode.SENDTO, 'sendto', 'send', fd, view, a, b, c, target) as
      | Promise<number>
      | undefined;
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
    const op = new Operation(Opcode.SHUTDOWN, 'shutdown');
    op.fd = validateFd(fd);
    const how = rest[0] === undefined ? 'write' : rest[0];
    if (typeof how !== 'string') throw invalidArgType('how', 'of type string', how);
    const value = SHUTDOWN_HOW.get(how);
    if (value === undefined) throw invalidArgValue('how', how, "must be 'read', 'write' or 'both'");
    op.opFlags = value;
    return this.#issue(op, 'shutdown', rest[1], callback) as Promise<void> | undefined;
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
    const op = new Operation(Opcode.SETSOCKOPT, 'setsockopt');
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
    return this.#issue(op, 'setsockopt', rest[2], callback) as Promise<void> | undefined;
  }

  /** The address a socket is bound to (getsockname): after binding to port 0, the port chosen. */
  localAddress(fd: number, options: PolledOptions): void;
  localAddress(fd: number, options?: OpOptions): Promise<SocketAddress>;
  localAddress(fd: number, callback: Callback<SocketAddress>): void;
  localAddress(fd: number, options: OpOptions | undefined, callback: Callback<SocketAddress>): void;
  localAddress(fd: number, options?: unknown, callback?: unknown): Promise<SocketAddress> | undefined {
    return this.#fdOp(Opcode.GETSOCKNAME, 'getsockname', 'getsockname', fd, options, callback) as
      | Promise<SocketAddress>
      | undefined;
  }

  // ---- control operations ----------------------------------------------------------------

  /** Completes with no effect: the cost of one round trip through the backend. */
  nop(options: PolledOptions): void;
  nop(options?: OpOptions): Promise<void>;
  nop(callback: Callback<void>): void;
  nop(options: OpOptions | undefined, callback: Callback<void>): void;
  nop(options?: unknown, callback?: unknown): Promise<void> | undefined {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    return this.#issue(new Operation(Opcode.NOP, 'nop'), 'nop', options, checkCallback(callback)) as
      | Promise<void>
      | undefined;
  }

  /** Completes after `ms` milliseconds, as an operation of the queue (it can be linked and cancelled). */
  timeout(ms: number, options: PolledOptions): void;
  timeout(ms: number, options?: OpOptions): Promise<void>;
  timeout(ms: number, callback: Callback<void>): void;
  timeout(ms: number, options: OpOptions | undefined, callback: Callback<void>): void;
  timeout(ms: number, options?: unknown, callback?: unknown): Promise<void> | undefined {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (typeof ms !== 'number') throw invalidArgType('ms', 'of type number', ms);
    if (!(ms >= 0 && ms <= 2 ** 31 - 1)) throw outOfRange('ms', `>= 0 && <= ${2 ** 31 - 1}`, ms);
    const op = new Operation(Opcode.TIMEOUT, 'timeout');
    op.timeoutNs = Math.round(ms * 1e6);
    return this.#issue(op, 'timeout', options, checkCallback(callback)) as Promise<void> | undefined;
  }

  // ---- submission and completion control -------------------------------------------------

  /**
   * Hands every waiting operation that has a free slot to the backend now, instead of at the
   * next microtask checkpoint. Returns how many entries were submitted.
   */
  submit(): number {
    return this.#flush();
  }

  /** The oldest polled completion, left in the queue; undefined when there is none. */
  peek(): Completion | undefined {
    return this.#polled[this.#polledHead];
  }

  /**
   * Removes up to `max` polled completions, oldest first, calling `handler` for each. Returns
   * how many it removed.
   */
  drain(handler: (completion: Completion) => void, max = Number.POSITIVE_INFINITY): number {
    if (typeof handler !== 'function') throw invalidArgType('handler', 'of type function', handler);
    let n = 0;
    while (n < max && this.#polledHead < this.#polled.length) {
      const completion = this.#polled[this.#polledHead++];
      n++;
      handler(completion);
    }
    if (this.#polledHead === this.#polled.length) {
      this.#polled.length = 0;
      this.#polledHead = 0;
    }
    return n;
  }

  /**
   * Submits what is waiting, then blocks the calling thread until at least `min` completions
   * (of any form) were delivered or `timeoutMs` passed (-1: no limit). Returns how many were
   * delivered. Promise reactions run only once the thread returns to the event loop; callbacks
   * and polled completions are delivered before this returns. Meant for worker threads.
   * Needs `capabilities.waitSync`.
   */
  waitSync(min = 1, timeoutMs = -1): number {
    if (this.#closed) {
      throw new ProactorError('ERR_PROACTOR_QUEUE_DESTROYED', 'the queue has been destroyed');
    }
    validateInteger(min, 'min', 0, 2 ** 31 - 1);
    if (timeoutMs !== -1) validateInteger(timeoutMs, 'timeoutMs', 0, 2 ** 31 - 1);
    const wait = this.#engine.waitSync;
    if (!this.capabilities.waitSync || wait === undefined) {
      throw new ProactorError(
        'ERR_PROACTOR_UNSUPPORTED',
        `waitSync is not supported by the ${this.backend.name} backend`,
      );
    }
    this.#flush();
    const delivered = wait.call(this.#engine, min, timeoutMs);
    this.#flush();
    return delivered;
  }

  /**
   * Registers `buffers` with the backend, replacing an earlier registration: reads and writes
   * whose memory lies inside a registered buffer may then skip the kernel's per-operation
   * mapping (io_uring's fixed buffers). Results are identical with or without it. The queue
   * keeps the buffers referenced until `unregisterBuffers()` or `destroy()`. Operations issued
   * earlier are submitted first. Needs `capabilities.registeredBuffers`.
   */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    const list = validateBufferList(buffers, 'buffers', REGISTERED_MAX);
    for (let i = 0; i < list.length; i++) {
      if (list[i].byteLength === 0 || list[i].byteLength > REGISTERED_BUFFER_MAX) {
        throw outOfRange(
          `buffers[${i}].byteLength`,
          `>= 1 && <= ${REGISTERED_BUFFER_MAX}`,
          list[i].byteLength,
        );
      }
    }
    const register = this.#registration('registeredBuffers', this.#engine.registerBuffers);
    this.#flush();
    const copy = list.slice();
    keepAttached(copy);
    register.call(this.#engine, copy);
    this.#registeredBuffers = copy;
  }

  /** Drops the buffer registration (a no-op without one). */
  unregisterBuffers(): void {
    if (this.#registeredBuffers.length === 0) return;
    const unregister = this.#registration('registeredBuffers', this.#engine.unregisterBuffers);
    this.#flush();
    unregister.call(this.#engine);
    this.#registeredBuffers = [];
  }

  /**
   * Registers file descriptors with the backend, replacing an earlier registration: operations
   * on them may then skip the kernel's per-operation file lookup (io_uring's fixed files).
   * Results are identical with or without it; closing a registered descriptor through the queue
   * also drops it from the registration. Needs `capabilities.registeredFiles`.
   */
  registerFiles(fds: readonly number[]): void {
    if (!Array.isArray(fds)) throw invalidArgType('fds', 'an instance of Array', fds);
    if (fds.length > REGISTERED_MAX) throw outOfRange('fds.length', `<= ${REGISTERED_MAX}`, fds.length);
    const list = fds.map((fd, i) => validateFd(fd, `fds[${i}]`));
    const register = this.#registration('registeredFiles', this.#engine.registerFiles);
    this.#flush();
    register.call(this.#engine, list);
    this.#hasRegisteredFiles = list.length > 0;
  }

  /** Drops the file registration (a no-op without one). */
  unregisterFiles(): void {
    if (!this.#hasRegisteredFiles) return;
    const unregister = this.#registration('registeredFiles', this.#engine.unregisterFiles);
    this.#flush();
    unregister.call(this.#engine);
    this.#hasRegisteredFiles = false;
  }

  #registration<F>(capability: 'registeredBuffers' | 'registeredFiles', method: F | undefined): F {
    if (this.#destroying)
      throw new ProactorError('ERR_PROACTOR_QUEUE_DESTROYED', 'the queue has been destroyed');
    if (!this.capabilities[capability] || method === undefined) {
      throw new ProactorError(
        'ERR_PROACTOR_UNSUPPORTED',
        `${capability === 'registeredBuffers' ? 'registered buffers are' : 'registered files are'} not supported by the ${this.backend.name} backend`,
      );
    }
    return method;
  }

  /** Keeps the process alive while operations are in flight (the default). */
  ref(): this {
    this.#engine.ref();
    return this;
  }

  /** Lets the process exit even while operations are in flight. */
  unref(): this {
    this.#engine.unref();
    return this;
  }

  /** The Node-style error for a negative `result` of a polled completion. */
  errorOf(result: number, syscall = 'unknown'): SystemError {
    return systemError(result, syscall);
  }

  /**
   * Cancels every operation in flight, waits for each one's final completion, then frees the
   * backend's resources. Operations still waiting for a slot complete with ECANCELED. Further
   * operations throw ERR_PROACTOR_QUEUE_DESTROYED.
   */
  destroy(): Promise<void> {
    if (this.#destroying) return this.#destroying;
    if (this.#acceptedAhead)
      for (const listener of [...this.#acceptedAhead.keys()]) this.#dropAcceptedAhead(listener);
    this.#destroying = new Promise<void>((resolve) => {
      this.#destroyed = resolve;
    });
    const pending = this.#pending;
    for (let i = this.#pendingHead; i < pending.length; i++) {
      const op = pending[i];
      if (op) this.#completeLocally(op, ECANCELED);
    }
    this.#pending = [];
    this.#pendingHead = 0;
    this.#openChain = 0;
    for (const op of this.#slots) if (op) this.#requestCancel(op);
    this.#flush();
    this.#finishDestroy();
    return this.#destroying;
  }

  /** `await using q = new Queue(...)`: the same as `destroy()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  // ---- internals -------------------------------------------------------------------------

  #fdOp(
    opcode: Opcode,
    name: OperationName,
    syscall: string,
    fd: unknown,
    options: unknown,
    callback: unknown,
  ) {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const op = new Operation(opcode, syscall);
    op.fd = validateFd(fd);
    return this.#issue(op, name, options, checkCallback(callback));
  }

  #pathOp(
    opcode: Opcode,
    name: OperationName,
    syscall: string,
    opFlags: number,
    path: unknown,
    options: unknown,
    callback: unknown,
  ) {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const target = validatePath(path);
    const op = new Operation(opcode, syscall);
    op.opFlags = opFlags;
    op.res0 = target;
    op.path = displayPath(target);
    return this.#issue(op, name, options, checkCallback(callback));
  }

  /** read and write: (buffer, options?, cb?) or (buffer, offset, length?, position?, cb?). */
  #transfer(
    opcode: Opcode,
    name: 'read' | 'write',
    fd: unknown,
    buffer: unknown,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
  ) {
    const op = new Operation(opcode, name);
    op.fd = validateFd(fd);
    const view = validateBuffer(buffer);
    let offset: unknown;
    let length: unknown;
    let position: unknown;
    let options: unknown;
    let callback: unknown;
    if (typeof a === 'function') callback = a;
    else if (isOptionsObject(a)) {
      options = a;
      offset = a.offset;
      length = a.length;
      position = a.position;
      callback = b;
    } else {
      offset = a;
      if (typeof b === 'function') callback = b;
      else {
        length = b;
        if (typeof c === 'function') callback = c;
        else {
          position = c;
          callback = d;
        }
      }
    }
    setBufferRange(op, view, offset, length);
    op.offset = validatePosition(position);
    return this.#issue(op, name, options, checkCallback(callback));
  }

  /** bind and connect: an fd and a Node-style address. */
  #addressOp(
    opcode: Opcode,
    name: 'bind' | 'connect',
    fd: unknown,
    address: unknown,
    minPort: number,
    options: unknown,
    callback: unknown,
  ) {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const op = new Operation(opcode, name);
    op.fd = validateFd(fd);
    op.address = validateSocketAddress(address, 'address', minPort);
    return this.#issue(op, name, options, checkCallback(callback));
  }

  /** recv, send, recvfrom and sendto: (buffer, options?, cb?) or (buffer, offset, length?, cb?). */
  #stream(
    opcode: Opcode,
    name: 'recv' | 'send' | 'recvfrom' | 'sendto',
    syscall: string,
    fd: unknown,
    buffer: unknown,
    a: unknown,
    b: unknown,
    c: unknown,
    address?: AddressRecord,
    opFlags = 0,
  ) {
    const op = new Operation(opcode, syscall);
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
    return this.#issue(op, name, options, checkCallback(callback));
  }

  #vector(
    opcode: Opcode,
    syscall: string,
    name: 'readv' | 'writev',
    fd: unknown,
    buffers: unknown,
    rest: unknown[],
  ) {
    const callback = popCallback(rest, 2);
    const op = new Operation(opcode, syscall);
    op.fd = validateFd(fd);
    const list = validateBufferList(buffers);
    op.offset = validatePosition(rest[0]);
    let total = 0;
    for (const view of list) total += view.byteLength;
    if (total > IO_MAX_LENGTH) throw outOfRange('total length of buffers', `<= ${IO_MAX_LENGTH}`, total);
    op.len = list.length;
    // A copy: the caller may change its array while the operation is in flight.
    op.res0 = list.slice();
    return this.#issue(op, name, rest[1], callback);
  }

  #issue(op: Operation, name: OperationName, options: unknown, callback: AnyCallback | undefined) {
    if (this.#destroying) {
      throw new ProactorError('ERR_PROACTOR_QUEUE_DESTROYED', 'the queue has been destroyed');
    }
    let signal: AbortSignal | undefined;
    if (options !== undefined && options !== null) {
      if (!isOptionsObject(options)) throw invalidArgType('options', 'of type object', options);
      signal = validateAbortSignal(options.signal);
      if (options.link !== undefined && typeof options.link !== 'boolean') {
        throw invalidArgType('options.link', 'of type boolean', options.link);
      }
      op.link = options.link === true;
      if (options.userData !== undefined) {
        if (typeof options.userData !== 'number') {
          throw invalidArgType('options.userData', 'of type number', options.userData);
        }
        if (callback) {
          throw invalidArgValue(
            'options.userData',
            options.userData,
            'cannot be combined with a callback (an operation completes in one form)',
          );
        }
        op.form = Form.Polled;
        op.userData = options.userData;
      }
    }
    if (!this.capabilities.ops.has(name)) {
      throw new ProactorError(
        'ERR_PROACTOR_UNSUPPORTED',
        `${name} is not supported by the ${this.backend.name} backend`,
      );
    }
    if (op.link && !this.capabilities.linkedOperations) {
      throw new ProactorError(
        'ERR_PROACTOR_UNSUPPORTED',
        `linked operations are not supported by the ${this.backend.name} backend`,
      );
    }
    if (this.#openChain > 0 && this.#openChain + 1 > this.entries) {
      throw outOfRange(
        'linked chain length',
        `<= ${this.entries} (the queue's entries)`,
        this.#openChain + 1,
      );
    }
    let promise: Promise<unknown> | undefined;
    if (callback) op.form = Form.Callback;
    if (op.form === Form.Callback) op.callback = callback;
    else if (op.form === Form.Promise) {
      promise = new Promise((resolve, reject) => {
        op.resolve = resolve;
        op.reject = reject;
      });
    }
    if (signal) {
      op.signal = signal;
      if (signal.aborted) {
        // Settled now, never submitted; it still enters #pending as a marker that breaks its chain.
        op.aborted = true;
        op.state = State.Done;
        queueMicrotask(() => this.#settle(op, ECANCELED, undefined));
      } else {
        op.onAbort = () => this.#abort(op);
        signal.addEventListener('abort', op.onAbort, { once: true });
      }
    }
    this.#openChain = op.link ? this.#openChain + 1 : 0;
    this.#pending.push(op);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
    return promise;
  }

  readonly #flushTask = (): void => {
    this.#flush();
  };

  #scheduleFlush(): void {
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Writes cancels and whole chains of waiting operations into the submission buffer and submits them. */
  #flush(): number {
    this.#flushQueued = false;
    if (this.#closed) return 0;
    const sq = this.#sq;
    let n = 0;
    for (const op of this.#cancels) {
      if (op.state !== State.InFlight) continue;
      const b = n * SQE_WORDS;
      sq.fill(0, b, b + SQE_WORDS);
      sq[b] = Opcode.CANCEL;
      sq[b + 7] = SLOT_NONE;
      sq[b + 10] = op.slot;
      n++;
    }
    this.#cancels.length = 0;

    const pending = this.#pending;
    const end = pending.length;
    let i = this.#pendingHead;
    while (i < end) {
      // The chain is pending[i..j]: every entry but the last has its link flag set.
      let j = i;
      while (j < end - 1 && pending[j]!.link) j++;
      if (j - i + 1 > this.#free.length) break;
      let broken = false;
      let lastIndex = -1;
      for (let k = i; k <= j; k++) {
        const op = pending[k]!;
        pending[k] = undefined;
        if (op.aborted) {
          // Aborted before submission (and already settled): what follows it cannot run.
          broken = true;
          continue;
        }
        if (broken) {
          this.#completeLocally(op, ECANCELED);
          continue;
        }
        if (op.opcode === Opcode.ACCEPT && this.#acceptedAhead !== undefined && !op.link) {
          const ahead = this.#acceptedAhead.get(op.fd);
          if (ahead !== undefined) {
            // A connection a multishot accept already took: no need to ask the kernel.
            const item = ahead.shift()!;
            if (ahead.length === 0) this.#acceptedAhead.delete(op.fd);
            op.state = State.Done;
            queueMicrotask(() => this.#settle(op, item.fd, item.address));
            continue;
          }
        }
        op.state = State.InFlight;
        const slot = this.#free.pop()!;
        op.slot = slot;
        this.#slots[slot] = op;
        keepAttached(op.res0);
        this.#resources[2 * slot] = op.res0;
        this.#resources[2 * slot + 1] = op.res1;
        this.#inFlight++;
        this.#encode(n, op, slot);
        lastIndex = n;
        n++;
      }
      // The chain ends here: its last submitted member links to nothing.
      if (lastIndex >= 0) sq[lastIndex * SQE_WORDS] &= ~(SQE_F_LINK << 8);
      i = j + 1;
    }
    if (i >= end) {
      pending.length = 0;
      this.#pendingHead = 0;
      this.#openChain = 0;
    } else {
      this.#pendingHead = i;
      if (i > 1024 && i * 2 > end) {
        this.#pending = pending.slice(i);
        this.#pendingHead = 0;
      }
    }
    if (n > 0) {
      try {
        this.#engine.submit(n);
      } catch (error) {
        const failure = backendFailure(error);
        this.#failBatch(n, failure);
        throw failure;
      }
    }
    return n;
  }

  /** The engine refused a whole batch (a broken backend, not a failed operation): fail its operations. */
  #failBatch(count: number, failure: Error): void {
    for (let i = 0; i < count; i++) {
      const slot = this.#sq[i * SQE_WORDS + 7];
      const op = slot < this.entries ? this.#slots[slot] : undefined;
      if (op === undefined || op.state !== State.InFlight) continue;
      this.#slots[slot] = undefined;
      this.#resources[2 * slot] = undefined;
      this.#resources[2 * slot + 1] = undefined;
      this.#free.push(slot);
      this.#inFlight--;
      op.state = State.Done;
      queueMicrotask(() => this.#deliver(op, failure, undefined));
    }
  }

  #encode(index: number, op: Operation, slot: number): void {
    const sq = this.#sq;
    const b = index * SQE_WORDS;
    sq[b] = op.opcode | ((op.link ? SQE_F_LINK : 0) << 8);
    sq[b + 1] = op.fd;
    if (op.offset === -1) {
      sq[b + 2] = 0xffffffff;
      sq[b + 3] = 0xffffffff;
    } else {
      sq[b + 2] = op.offset >>> 0;
      sq[b + 3] = Math.floor(op.offset / TWO32);
    }
    sq[b + 4] = op.bufOffset >>> 0;
    sq[b + 5] = Math.floor(op.bufOffset / TWO32);
    sq[b + 6] = op.len;
    sq[b + 7] = slot;
    sq[b + 8] = op.opFlags;
    sq[b + 9] = op.mode;
    sq[b + 10] = 0;
    sq[b + 11] = 0;
    sq[b + 12] = op.timeoutNs >>> 0;
    sq[b + 13] = Math.floor(op.timeoutNs / TWO32);
    sq[b + 14] = 0;
    sq[b + 15] = 0;
    if (op.address) writeAddress(this.#addresses, slot, op.address);
    else if (
      op.opcode === Opcode.ACCEPT ||
      op.opcode === Opcode.GETSOCKNAME ||
      op.opcode === Opcode.RECVFROM
    ) {
      // No stale address from the slot's previous operation can be mistaken for the result.
      this.#addresses[slot * ADDRESS_SIZE + AddressOffset.family] = 0;
    }
  }

  /** Called by the engine with `count` completions at the start of the completion buffer. */
  #complete(count: number): void {
    const cq = this.#cq;
    const slots = this.#slots;
    for (let i = 0; i < count; i++) {
      const b = i * CQE_WORDS;
      const slot = cq[b] >>> 0;
      if (slot >= this.entries) continue; // SLOT_NONE: a cancel's own completion
      const op = slots[slot];
      if (op === undefined) continue;
      if ((cq[b + 1] & CQE_F_MORE) !== 0) {
        // An item of a multishot operation; its data is readable only during this call.
        if (op.multishot !== undefined) {
          try {
            this.#multishotItem(op, cq[b + 2], cq[b + 3], slot);
          } catch (thrown) {
            rethrowLater(thrown);
          }
        }
        continue;
      }
      const result = cq[b + 2];
      let extra: Stats | SocketAddress | undefined;
      if (result >= 0) {
        if (op.opcode === Opcode.STAT || op.opcode === Opcode.FSTAT) {
          extra = new Stats(this.#stats, slot * STAT_FIELDS);
        } else if (op.opcode === Opcode.RECVFROM) {
          // No address (AF_NONE) stays undefined: never an invented unnamed unix socket.
          extra = readAddress(this.#addresses, slot);
        } else if (op.opcode === Opcode.ACCEPT || op.opcode === Opcode.GETSOCKNAME) {
          extra = readAddress(this.#addresses, slot) ?? { path: '' };
        }
      }
      slots[slot] = undefined;
      this.#resources[2 * slot] = undefined;
      this.#resources[2 * slot + 1] = undefined;
      this.#free.push(slot);
      this.#inFlight--;
      op.state = State.Done;
      this.#settle(op, result, extra);
    }
    if (this.#pendingHead < this.#pending.length) this.#scheduleFlush();
    if (this.#destroying) this.#finishDestroy();
  }

  #finishDestroy(): void {
    if (this.#inFlight > 0 || this.#closed) return;
    this.#closed = true;
    this.#registeredBuffers = [];
    this.#engine.close();
    // After the completions settled locally (queued as microtasks before this one).
    const resolve = this.#destroyed;
    if (resolve) queueMicrotask(resolve);
  }

  #abort(op: Operation): void {
    if (op.state === State.Done || op.aborted) return;
    op.aborted = true;
    if (op.state === State.Pending) {
      // Not submitted: it stays in #pending as a marker that breaks its chain at flush.
      op.state = State.Done;
      queueMicrotask(() => this.#settle(op, ECANCELED, undefined));
      return;
    }
    this.#requestCancel(op);
    this.#scheduleFlush();
  }

  #requestCancel(op: Operation): void {
    if (op.cancelRequested) return;
    op.cancelRequested = true;
    this.#cancels.push(op);
  }

  /** Completes an operation that never reached the backend. */
  #completeLocally(op: Operation, result: number): void {
    op.state = State.Done;
    queueMicrotask(() => this.#settle(op, result, undefined));
  }

  #settle(op: Operation, result: number, extra: Stats | SocketAddress | undefined): void {
    if (op.onAbort) op.signal!.removeEventListener('abort', op.onAbort);
    if (op.form === Form.Polled) {
      const completion: Completion = { userData: op.userData, result };
      if (extra instanceof Stats) completion.stats = extra;
      else if (extra !== undefined) completion.address = extra;
      this.#polled.push(completion);
      return;
    }
    let error: Error | null = null;
    let value: unknown;
    if (result < 0) {
      error =
        op.aborted && result === ECANCELED
          ? new AbortError(undefined, { cause: op.signal?.reason })
          : op.address
            ? socketError(result, op.syscall, op.address)
            : systemError(result, op.syscall, op.path, op.dest);
    } else {
      switch (op.opcode) {
        case Opcode.OPEN:
        case Opcode.READ:
        case Opcode.WRITE:
        case Opcode.READV:
        case Opcode.WRITEV:
        case Opcode.SOCKET:
        case Opcode.RECV:
        case Opcode.SEND:
        case Opcode.SENDTO:
        case Opcode.POLL:
          value = result;
          break;
        case Opcode.STAT:
        case Opcode.FSTAT:
        case Opcode.GETSOCKNAME:
          value = extra;
          break;
        case Opcode.ACCEPT:
          value = { fd: result, address: extra };
          break;
        case Opcode.RECVFROM:
          value = { bytes: result, address: extra };
          break;
        default:
          value = undefined;
      }
    }
    if (op.multishot !== undefined) {
      // A single recv standing in for a multishot one (after ENOBUFS): its bytes are a chunk.
      const chunk =
        op.opcode === Opcode.RECV && result > 0 ? (op.res0 as Buffer).subarray(0, result) : undefined;
      op.multishot.finish(error, chunk);
      return;
    }
    this.#deliver(op, error, value);
  }

  #deliver(op: Operation, error: Error | null, value: unknown): void {
    if (op.form === Form.Polled) {
      // Only reached for a batch the engine refused; the polled form carries numbers.
      this.#polled.push({ userData: op.userData, result: errnoOf('EIO') });
      return;
    }
    if (op.form === Form.Promise) {
      if (error) op.reject!(error);
      else op.resolve!(value);
      return;
    }
    try {
      if (error) op.callback!(error);
      else op.callback!(null, value);
    } catch (thrown) {
      // A throwing callback must not cost the rest of the batch its completions.
      rethrowLater(thrown);
    }
  }
}

const DONE: IteratorResult<never, void> = Object.freeze({ done: true, value: undefined });

/**
 * accepts() and recvs() over one multishot request: the iterator a consumer's `for await`
 * drives. Items the request produces go straight to a waiting next(), or wait here; past a high
 * water mark (128 connections, 1 MiB) the request is cancelled, and started again once the
 * consumer took them down to the low mark. ENOBUFS (the backend stopped: no provided buffer was
 * free) starts it again at once. Written out rather than as an async generator: it keeps no
 * generator, context or promise per connection beyond the consumer's own next(), which is what
 * an idle connection of a big server costs.
 */
class MultishotIterator<T> implements AsyncGenerator<T, void, undefined> {
  stopped = false;
  #op: Operation | undefined;
  #started = false;
  #paused = false;
  #ended = false;
  /** Requests in a row that ended with ENOBUFS before producing anything. */
  #starved = 0;
  /** multishotAccess.closes() of the descriptor when the iterator was made. */
  readonly #closes: number;
  #error: Error | null = null;
  #items: T[] | undefined;
  #weights: number[] | undefined;
  #head = 0;
  #weight = 0;
  /** The callback form: every item goes here as it comes (see drive()). */
  #sink: ((err: Error | null, item?: unknown) => void) | undefined;
  #endsWithNull = false;
  /** The consumer's waiting next(): its resolvers (more waiting calls, rare, in #more). */
  #resolve: ((r: IteratorResult<T, void>) => void) | undefined;
  #reject: ((e: unknown) => void) | undefined;
  #more: { resolve: (r: IteratorResult<T, void>) => void; reject: (e: unknown) => void }[] | undefined;

  constructor(
    readonly queue: Queue,
    readonly opcode: Opcode,
    readonly fd: number,
    readonly signal: AbortSignal | undefined,
    /** recvs(): the largest chunk. */
    readonly size: number,
  ) {
    this.#closes = multishotAccess.closes(queue, fd);
  }

  next(): Promise<IteratorResult<T, void>> {
    if (this.stopped) return Promise.resolve(DONE);
    if (!this.#started) {
      this.#started = true;
      this.#arm();
    }
    if (this.#items !== undefined && this.#head < this.#items.length) {
      const item = this.#shift();
      this.#rearmIfIdle();
      return Promise.resolve({ done: false, value: item });
    }
    this.#rearmIfIdle();
    if (this.#ended) {
      this.stopped = true;
      return this.#error ? Promise.reject(this.#error) : Promise.resolve(DONE);
    }
    return new Promise((resolve, reject) => {
      if (this.#resolve === undefined) {
        this.#resolve = resolve;
        this.#reject = reject;
      } else {
        this.#more ??= [];
        this.#more.push({ resolve, reject });
      }
    });
  }

  /** The consumer's oldest waiting next(), taken. */
  #takeWaiter(): { resolve: (r: IteratorResult<T, void>) => void; reject: (e: unknown) => void } | undefined {
    const resolve = this.#resolve;
    if (resolve === undefined) return undefined;
    const waiter = { resolve, reject: this.#reject! };
    const next = this.#more?.shift();
    this.#resolve = next?.resolve;
    this.#reject = next?.reject;
    return waiter;
  }

  return(): Promise<IteratorResult<T, void>> {
    this.#stop();
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<T, void>> {
    this.#stop();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop();
  }

  /**
   * The callback form: items go to `sink` as they come, then the end (`sink(null, null)` when
   * `endsWithNull`) or the error; no promise per item, nothing kept waiting for a consumer.
   */
  drive(sink: (err: Error | null, item?: unknown) => void, endsWithNull: boolean): void {
    this.#sink = sink;
    this.#endsWithNull = endsWithNull;
    // Items taken before (connections accepted ahead) go first.
    while (this.#items !== undefined && this.#head < this.#items.length && !this.stopped) {
      deliverTo(sink, null, this.#shift());
    }
    if (!this.#started && !this.stopped) {
      this.#started = true;
      this.#arm();
    }
  }

  /** An item of the request (called by the queue while it delivers completions). */
  push(item: T, weight: number): void {
    this.#starved = 0;
    if (this.#sink !== undefined) {
      deliverTo(this.#sink, null, item);
      return;
    }
    const resolve = this.#resolve;
    if (resolve !== undefined) {
      if (this.#more === undefined || this.#more.length === 0) {
        this.#resolve = undefined;
        this.#reject = undefined;
        resolve({ done: false, value: item });
      } else this.#takeWaiter()!.resolve({ done: false, value: item });
      return;
    }
    if (this.#items === undefined) {
      this.#items = [item];
      this.#weights = [weight];
    } else {
      this.#items.push(item);
      this.#weights!.push(weight);
    }
    this.#weight += weight;
    const high = this.opcode === Opcode.ACCEPT_MULTI ? ACCEPT_HIGH_WATER : RECV_HIGH_WATER;
    if (this.#weight >= high && !this.#paused && this.#op !== undefined) {
      this.#paused = true;
      multishotAccess.abort(this.queue, this.#op);
    }
  }

  /** The request's final completion: null when it ended without error (recv: end of stream). */
  finish(error: Error | null, chunk?: Buffer): void {
    this.#op = undefined;
    if (this.stopped) return;
    if (chunk !== undefined) {
      this.push(chunk as T, chunk.length);
      // The callback form has no next() to start the request again: it does so itself.
      if (this.#sink !== undefined) this.#rearmIfIdle();
      return;
    }
    if (error !== null && (error as SystemError).code === 'ENOBUFS') {
      // The backend stopped: no provided buffer was free. Started again by the consumer's next
      // next() (now, if it is waiting), never behind its back: the descriptor may have been
      // closed, and its number reused, meanwhile. The buffers of the batch that ran the pool dry
      // are back by then; but after a second ENOBUFS in a row a receive starts again as one recv
      // into a buffer of its own: with the pool still empty a multishot one fails at once, and
      // every starved connection retrying at once would only spin.
      if (this.opcode === Opcode.RECV_MULTI) this.#starved++;
      if (this.#resolve !== undefined || this.#sink !== undefined) this.#rearmIfIdle();
      return;
    }
    if (error !== null && this.#paused && !this.signal?.aborted) {
      // Cancelled for backpressure: started again once the consumer caught up.
      if (this.#resolve !== undefined) this.#rearmIfIdle();
      return;
    }
    this.#ended = true;
    this.#error = error;
    const sink = this.#sink;
    if (sink !== undefined) {
      this.stopped = true;
      if (error) deliverTo(sink, error);
      else if (this.#endsWithNull) deliverTo(sink, null, null);
      return;
    }
    const first = this.#takeWaiter();
    if (first === undefined) return;
    this.stopped = true;
    if (error) first.reject(error);
    else first.resolve(DONE);
    for (let w = this.#takeWaiter(); w !== undefined; w = this.#takeWaiter()) w.resolve(DONE);
  }

  #arm(): void {
    if (multishotAccess.closes(this.queue, this.fd) !== this.#closes) {
      // Closed through the queue since: the number may name another socket now.
      this.finish(systemError(ECANCELED, this.opcode === Opcode.RECV_MULTI ? 'read' : 'accept'));
      return;
    }
    this.#op =
      this.#starved >= 2
        ? multishotAccess.recvOnce(this.queue, this as MultishotIterator<unknown>)
        : multishotAccess.arm(this.queue, this as MultishotIterator<unknown>);
  }

  /** Starts the request again if it ended for a reason of its own (and, after a pause for
   * backpressure, the consumer took the waiting items down to the low water mark). */
  #rearmIfIdle(): void {
    if (this.#op !== undefined || this.#ended || this.stopped) return;
    if (this.#paused) {
      const low = this.opcode === Opcode.ACCEPT_MULTI ? ACCEPT_LOW_WATER : RECV_LOW_WATER;
      if (this.#weight > low) return;
      this.#paused = false;
    }
    this.#arm();
  }

  #shift(): T {
    const items = this.#items!;
    const item = items[this.#head];
    this.#weight -= this.#weights![this.#head];
    this.#head++;
    if (this.#head === items.length) {
      this.#items = undefined;
      this.#weights = undefined;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#weights = this.#weights!.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  #stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.#op !== undefined) multishotAccess.abort(this.queue, this.#op);
    while (this.#items !== undefined && this.#head < this.#items.length) {
      multishotAccess.release(this.queue, this as MultishotIterator<unknown>, this.#shift());
    }
    for (let w = this.#takeWaiter(); w !== undefined; w = this.#takeWaiter()) w.resolve(DONE);
  }
}

/** Validates `offset` and `length` against `view` (Node's rules) and sets the operation's buffer range. */
function setBufferRange(op: Operation, view: ArrayBufferView, offset: unknown, length: unknown): void {
  const size = view.byteLength;
  const start = offset == null ? 0 : validateInteger(offset, 'offset', 0, size);
  const count = length == null ? size - start : validateInteger(length, 'length', 0, size - start);
  if (count > IO_MAX_LENGTH) throw outOfRange('length', `<= ${IO_MAX_LENGTH}`, count);
  op.bufOffset = start;
  op.len = count;
  op.res0 = view;
}

function checkCallback(callback: unknown): AnyCallback | undefined {
  if (callback === undefined) return undefined;
  if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
  return callback as AnyCallback;
}

/**
 * Removes a trailing callback from `args`, leaving at most `positional` arguments; anything
 * past them must have been the callback, so it is refused when it is not a function.
 */
function popCallback(args: unknown[], positional: number): AnyCallback | undefined {
  let last = args.length - 1;
  while (last >= 0 && args[last] === undefined) last--;
  let callback: AnyCallback | undefined;
  if (last >= 0 && typeof args[last] === 'function') {
    callback = args[last] as AnyCallback;
    args.length = last;
  } else args.length = last + 1;
  if (args.length > positional) checkCallback(args[positional]);
  return callback;
}
