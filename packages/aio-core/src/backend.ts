/**
 * The contract between aio-core and a backend. A backend package's default export is a
 * Backend; `new Queue(backend)` attaches one Engine per queue.
 */

/** The mechanisms proactor has backends for. */
export type BackendName = 'io_uring' | 'iocp' | 'kqueue' | 'epoll' | 'node';

/** Operation names, as they appear in `capabilities.ops`. */
export type OperationName =
  | 'nop'
  | 'open'
  | 'close'
  | 'read'
  | 'write'
  | 'readv'
  | 'writev'
  | 'fsync'
  | 'fdatasync'
  | 'stat'
  | 'lstat'
  | 'fstat'
  | 'unlink'
  | 'rmdir'
  | 'rename'
  | 'mkdir'
  | 'ftruncate'
  | 'timeout'
  | 'cancel'
  | 'sendfile'
  | SocketOperationName;

/** The socket operations, as they appear in `capabilities.ops`. */
export type SocketOperationName =
  | 'socket'
  | 'bind'
  | 'listen'
  | 'accept'
  | 'connect'
  | 'recv'
  | 'send'
  | 'shutdown'
  | 'setsockopt'
  | 'getsockname'
  | 'recvfrom'
  | 'sendto'
  | 'poll';

/** The file and control operations: what a backend that implements them all lists in `ops`
 * (sockets are the separate SOCKET_OPERATIONS; 'sendfile' is listed by the backends that have it,
 * with `zeroCopySendfile` saying how it moves the bytes). */
export const OPERATIONS: ReadonlySet<OperationName> = new Set<OperationName>([
  'nop',
  'open',
  'close',
  'read',
  'write',
  'readv',
  'writev',
  'fsync',
  'fdatasync',
  'stat',
  'lstat',
  'fstat',
  'unlink',
  'rmdir',
  'rename',
  'mkdir',
  'ftruncate',
  'timeout',
  'cancel',
]);

/** The socket operations (stream sockets over IPv4, IPv6 and unix; recvfrom and sendto for
 * datagram sockets): a backend lists those it has in `ops`. */
export const SOCKET_OPERATIONS: ReadonlySet<SocketOperationName> = new Set<SocketOperationName>([
  'socket',
  'bind',
  'listen',
  'accept',
  'connect',
  'recv',
  'send',
  'shutdown',
  'setsockopt',
  'getsockname',
  'recvfrom',
  'sendto',
  'poll',
]);

/** What a backend can do. An operation outside `ops` fails with ERR_PROACTOR_UNSUPPORTED. */
export interface Capabilities {
  /** The operations that work: the queue throws ERR_PROACTOR_UNSUPPORTED for the others. */
  readonly ops: ReadonlySet<OperationName>;
  /** Linked operations (`{ link: true }`) run in order, the rest cancelled after a failure. */
  readonly linkedOperations: boolean;
  /** `queue.waitSync()` can block the calling thread until completions arrive. */
  readonly waitSync: boolean;
  /** Whether an operation already running in the kernel or a thread can be cancelled, or only
   * operations that have not started yet and timeouts. */
  readonly cancelInFlight: boolean;
  /** Operations producing several completions (multishot accept/recv): `accepts()` and `recvs()`
   * are served by one request each, receiving into buffers the queue provides (Engine.provideBuffers). */
  readonly multishot: boolean;
  /** `send(fd, data, { zeroCopy: true })` sends without copying the data (elsewhere the option is
   * accepted and the data copied, as usual). */
  readonly zeroCopySend: boolean;
  /**
   * `sendfile()` moves the bytes inside the kernel (sendfile(2), splice, TransmitFile): they never
   * pass through JavaScript memory. Absent or false where it reads and writes through a buffer
   * (aio-node), or where the backend has no 'sendfile' in `ops`. Optional so that a backend
   * written before sendfile existed still type-checks.
   */
  readonly zeroCopySendfile?: boolean;
  /** `queue.registerBuffers()`: reads and writes into registered memory skip per-operation mapping. */
  readonly registeredBuffers: boolean;
  /** `queue.registerFiles()`: operations on registered descriptors skip the per-operation file lookup. */
  readonly registeredFiles: boolean;
}

/**
 * What a queue shares with its engine. All buffers are owned by JavaScript; the layout of their
 * entries is native/include/proactor/abi.h.
 */
export interface RingContext {
  /** Number of slots: the most operations in flight at once. */
  readonly entries: number;
  /** Submission entries (SQE_SIZE bytes each); room for 2 * entries. */
  readonly submissions: ArrayBuffer;
  /** Completion entries (CQE_SIZE bytes each); `completionEntries` of them. */
  readonly completions: ArrayBuffer;
  /** How many completion entries fit in `completions`: the most one `complete()` call may hand over. */
  readonly completionEntries: number;
  /**
   * Resources of in-flight operations: index 2 * slot and 2 * slot + 1 (buffers, buffer arrays,
   * paths as string or Buffer). Referenced until the operation's final completion.
   */
  readonly resources: unknown[];
  /** The stat area: STAT_FIELDS doubles per slot, filled by stat/lstat/fstat. */
  readonly stats: Float64Array;
  /**
   * The address area: ADDRESS_SIZE bytes per slot (struct proactor_address). Written by the
   * queue for bind, connect and sendto, by the engine for accept (the peer), recvfrom (the
   * sender) and getsockname.
   */
  readonly addresses: Uint8Array;
  /**
   * Hands completions [0, count) of the completion buffer to the queue. Called by the engine,
   * never from inside `submit()`; the buffer may be reused once it returns.
   */
  complete(count: number): void;
}

/** One queue's connection to a backend. */
export interface Engine {
  /** Consumes submission entries [0, count) before returning. Never calls `complete()`. */
  submit(count: number): void;
  /**
   * Blocks until at least `min` completions are available or `timeoutMs` passed (-1: no limit),
   * delivers them through `complete()` and returns how many it delivered. Only when
   * `capabilities.waitSync`.
   */
  waitSync?(min: number, timeoutMs: number): number;
  /** Keep the event loop alive while operations are in flight (the default). */
  ref(): void;
  /** Let the process exit even while operations are in flight. */
  unref(): void;
  /** Frees the engine. Called once, after every submitted operation has completed. */
  close(): void;
  /**
   * Registers buffers with the kernel, replacing an earlier registration (only with
   * `capabilities.registeredBuffers`). A later read or write whose memory lies inside one of
   * them may use the pre-registered mapping; results are the same as without registration.
   * The queue keeps the buffers referenced while they are registered.
   */
  registerBuffers?(buffers: readonly ArrayBufferView[]): void;
  /** Drops the buffer registration, if any (only with `capabilities.registeredBuffers`). */
  unregisterBuffers?(): void;
  /**
   * Registers file descriptors, replacing an earlier registration (only with
   * `capabilities.registeredFiles`). Later operations on them may skip the per-operation file
   * lookup; results are the same as without registration. Closing a registered descriptor
   * through the queue also removes it from the registration.
   */
  registerFiles?(fds: readonly number[]): void;
  /** Drops the file registration, if any (only with `capabilities.registeredFiles`). */
  unregisterFiles?(): void;
  /**
   * Lends the engine `count` buffers of `size` bytes (buffer i is memory[i * size, (i + 1) * size))
   * for RECV_MULTI, once (only with `capabilities.multishot`). The queue keeps `memory`
   * referenced for its lifetime. Throws when the engine cannot use them.
   */
  provideBuffers?(memory: Uint8Array, size: number, count: number): void;
}

/**
 * A completion mechanism: what a backend package exports by default and `new Queue(backend)`
 * takes. One backend serves any number of queues; each queue attaches once.
 */
export interface Backend {
  /** The mechanism's name, as `q.backend.name` reports it. */
  readonly name: BackendName;
  /** What queues on this backend can do; the queue refuses the rest before submitting. */
  readonly capabilities: Capabilities;
  /**
   * Called once by each new queue with its rings (the buffers stay owned by the queue); returns
   * the engine that consumes that queue's submissions. Throws when the mechanism cannot set up
   * (an io_uring ring refused by the kernel, for instance): the queue constructor then throws it.
   */
  attach(ring: RingContext): Engine;
}
