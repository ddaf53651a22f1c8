import { Opcode } from './abi.js';
import type { Backend, Capabilities } from './backend.js';
import { checkCallback } from './call-arguments.js';
import {
  invalidArgType,
  invalidArgValue,
  outOfRange,
  type ProactorError,
  type SystemError,
  systemError,
} from './errors.js';
import { MultishotState } from './multishot.js';
import { Operation } from './operation.js';
import { OPERATION_FACTS } from './operation-table.js';
import type {
  Callback,
  Completion,
  OperationError,
  OpOptions,
  PolledOptions,
  QueueOptions,
} from './options.js';
import { QUEUE_CORE, QueueCore } from './queue-core.js';
import { SocketOperations } from './socket-operations.js';
import { validateInteger, validateObject } from './validate.js';

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
export class Queue extends SocketOperations implements AsyncDisposable {
  /** The backend this queue runs on; `backend.name` names the mechanism. */
  readonly backend: Backend;
  /** What this queue can do: the backend's capabilities. */
  readonly capabilities: Capabilities;
  /** Slots: the most operations in flight at once (QueueOptions.entries). */
  readonly entries: number;
  /** @internal The machinery every operation goes through (queue-core.ts). */
  protected readonly [QUEUE_CORE]: QueueCore;

  /**
   * Attaches a new queue to `backend` (a backend package's default export). Throws
   * ERR_INVALID_ARG_TYPE when `backend` is not a Backend, ERR_OUT_OF_RANGE or
   * ERR_INVALID_ARG_VALUE for option values outside their ranges, and whatever the backend's
   * `attach()` throws when the mechanism cannot set up. The rings are allocated here:
   * `entries` x 128 bytes of submissions, `completionEntries` x 16 bytes of completions.
   */
  constructor(backend: Backend, options: QueueOptions = {}) {
    super();
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
    const recvBufferSize =
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
    if (recvBufferSize * count > 2 ** 32) {
      throw outOfRange(
        'options.recvBufferSize * options.recvBufferCount',
        '<= 4 GiB',
        recvBufferSize * count,
      );
    }
    this.backend = backend;
    this.capabilities = backend.capabilities;
    this.entries = entries;
    const core = new QueueCore(backend, entries, completionEntries);
    if (this.capabilities.multishot) core.multishot = new MultishotState(core, recvBufferSize, count);
    this[QUEUE_CORE] = core;
  }

  /** Operations submitted to the backend and not yet completed. */
  get inFlight(): number {
    return this[QUEUE_CORE].inFlight;
  }

  /** Operations issued but waiting for a slot or for the next flush. */
  get waiting(): number {
    return this[QUEUE_CORE].waiting;
  }

  /** Polled completions ready to be drained. */
  get ready(): number {
    return this[QUEUE_CORE].ready;
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
    return this[QUEUE_CORE].issue(
      new Operation(OPERATION_FACTS[Opcode.NOP]),
      options,
      checkCallback(callback),
    ) as Promise<void> | undefined;
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
    const op = new Operation(OPERATION_FACTS[Opcode.TIMEOUT]);
    op.timeoutNs = Math.round(ms * 1e6);
    return this[QUEUE_CORE].issue(op, options, checkCallback(callback)) as Promise<void> | undefined;
  }

  // ---- submission and completion control -------------------------------------------------

  /**
   * Hands every waiting operation that has a free slot to the backend now, instead of at the
   * next microtask checkpoint. Returns how many entries were submitted.
   */
  submit(): number {
    return this[QUEUE_CORE].flush();
  }

  /** The oldest polled completion, left in the queue; undefined when there is none. */
  peek(): Completion | undefined {
    return this[QUEUE_CORE].peek();
  }

  /**
   * Removes up to `max` polled completions, oldest first, calling `handler` for each. Returns
   * how many it removed.
   */
  drain(handler: (completion: Completion) => void, max = Number.POSITIVE_INFINITY): number {
    return this[QUEUE_CORE].drain(handler, max);
  }

  /**
   * Submits what is waiting, then blocks the calling thread until at least `min` completions
   * (of any form) were delivered or `timeoutMs` passed (-1: no limit). Returns how many were
   * delivered. Promise reactions run only once the thread returns to the event loop; callbacks
   * and polled completions are delivered before this returns. Meant for worker threads.
   * Needs `capabilities.waitSync`.
   */
  waitSync(min = 1, timeoutMs = -1): number {
    return this[QUEUE_CORE].waitSync(min, timeoutMs);
  }

  /**
   * Registers `buffers` with the backend, replacing an earlier registration: reads and writes
   * whose memory lies inside a registered buffer may then skip the kernel's per-operation
   * mapping (io_uring's fixed buffers). Results are identical with or without it. The queue
   * keeps the buffers referenced until `unregisterBuffers()` or `destroy()`. Operations issued
   * earlier are submitted first. Needs `capabilities.registeredBuffers`.
   */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    this[QUEUE_CORE].registerBuffers(buffers);
  }

  /** Drops the buffer registration (a no-op without one). */
  unregisterBuffers(): void {
    this[QUEUE_CORE].unregisterBuffers();
  }

  /**
   * Registers file descriptors with the backend, replacing an earlier registration: operations
   * on them may then skip the kernel's per-operation file lookup (io_uring's fixed files).
   * Results are identical with or without it; closing a registered descriptor through the queue
   * also drops it from the registration. Needs `capabilities.registeredFiles`.
   */
  registerFiles(fds: readonly number[]): void {
    this[QUEUE_CORE].registerFiles(fds);
  }

  /** Drops the file registration (a no-op without one). */
  unregisterFiles(): void {
    this[QUEUE_CORE].unregisterFiles();
  }

  /** Keeps the process alive while operations are in flight (the default). */
  ref(): this {
    this[QUEUE_CORE].engine.ref();
    return this;
  }

  /** Lets the process exit even while operations are in flight. */
  unref(): this {
    this[QUEUE_CORE].engine.unref();
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
    return this[QUEUE_CORE].destroy();
  }

  /** `await using q = new Queue(...)`: the same as `destroy()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
