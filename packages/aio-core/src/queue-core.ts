/**
 * The submission and completion machinery of a Queue: the rings shared with the engine, the
 * slot table, the operations waiting for a slot or the next flush, linked chains, encoding,
 * completion dispatch, settling in the three forms, cancellation and destruction. The
 * operation modules build an Operation and hand it to `issue()`; nothing here knows what a
 * file or a socket is beyond the operation table's facts.
 */
import {
  ADDRESS_SIZE,
  AddressOffset,
  AF_UNIX,
  CQE_F_MORE,
  CQE_SIZE,
  Opcode,
  SLOT_NONE,
  SQE_F_LINK,
  SQE_SIZE,
  SqeOffset,
  STAT_FIELDS,
} from './abi.js';
import { type AddressRecord, readAddress, type SocketAddress, writeAddress } from './address.js';
import type { Backend, Capabilities, Engine, OperationName, RingContext } from './backend.js';
import { isOptionsObject } from './call-arguments.js';
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
import {
  type AnyCallback,
  Form,
  type MultishotRequests,
  Operation,
  rethrowLater,
  State,
} from './operation.js';
import { OPERATION_TABLE } from './operation-table.js';
import type { Completion } from './options.js';
import { Stats } from './stats.js';
import { validateAbortSignal, validateBufferList, validateFd, validateInteger } from './validate.js';

/** The key under which a Queue holds its core: module-private, so never a user's property name. */
export const QUEUE_CORE: unique symbol = Symbol('QueueCore');

const ignoreResult = (): void => {};

const TWO32 = 0x1_0000_0000;
const SQE_WORDS = SQE_SIZE / 4;
const CQE_WORDS = CQE_SIZE / 4;
// Word indexes of the submission entry's fields (SqeOffset is in bytes).
const W_FD = SqeOffset.fd / 4;
const W_OFFSET = SqeOffset.offset / 4;
const W_BUF_OFFSET = SqeOffset.buf_offset / 4;
const W_LEN = SqeOffset.len / 4;
const W_SLOT = SqeOffset.slot / 4;
const W_OP_FLAGS = SqeOffset.op_flags / 4;
const W_MODE = SqeOffset.mode / 4;
const W_TARGET = SqeOffset.target / 4;
const W_FD_IN = SqeOffset.fd_in / 4;
const W_TIMEOUT = SqeOffset.timeout_ns / 4;
export const ECANCELED = errnoOf('ECANCELED');
/**
 * Most buffers or files one registration takes: the queue's bound, the same on every backend
 * (io_uring allows more; this bounds native tables). What one buffer may hold is the backend's
 * to say (aio-uring refuses more than 1 GiB, as the kernel does).
 */
const REGISTERED_MAX = 1024;

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

function destroyedError(): ProactorError {
  return new ProactorError('ERR_PROACTOR_QUEUE_DESTROYED', 'the queue has been destroyed');
}

/** A Queue's machinery (see the module comment). */
export class QueueCore {
  readonly backend: Backend;
  readonly capabilities: Capabilities;
  /** Slots: the most operations in flight at once. */
  readonly entries: number;
  readonly engine: Engine;
  /** The address area (RingContext.addresses). */
  readonly addresses: Uint8Array;
  /** The queue's multishot state, with `capabilities.multishot` (set once, by the queue). */
  multishot: MultishotRequests | undefined;

  readonly #sq: Uint32Array;
  readonly #cq: Int32Array;
  readonly #resources: unknown[];
  readonly #stats: Float64Array;
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
  #polledHead = 0;
  /** Referenced here while registered, so the memory the kernel maps stays alive. */
  #registeredBuffers: ArrayBufferView[] = [];
  #hasRegisteredFiles = false;

  /** Allocates the rings (`entries` slots, `completionEntries` completions) and attaches to `backend`. */
  constructor(backend: Backend, entries: number, completionEntries: number) {
    this.backend = backend;
    this.capabilities = backend.capabilities;
    this.entries = entries;
    const submissions = new ArrayBuffer(2 * entries * SQE_SIZE);
    const completions = new ArrayBuffer(completionEntries * CQE_SIZE);
    this.#sq = new Uint32Array(submissions);
    this.#cq = new Int32Array(completions);
    this.#resources = new Array(2 * entries).fill(undefined);
    this.#stats = new Float64Array(entries * STAT_FIELDS);
    this.addresses = new Uint8Array(entries * ADDRESS_SIZE);
    this.#slots = new Array(entries).fill(undefined);
    for (let slot = entries - 1; slot >= 0; slot--) this.#free.push(slot);
    const ring: RingContext = {
      entries,
      submissions,
      completions,
      completionEntries,
      resources: this.#resources,
      stats: this.#stats,
      addresses: this.addresses,
      complete: (count: number) => this.#complete(count),
    };
    this.engine = backend.attach(ring);
  }

  /** destroy() was called. */
  get destroying(): boolean {
    return this.#destroying !== undefined;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get waiting(): number {
    let n = 0;
    for (let i = this.#pendingHead; i < this.#pending.length; i++)
      if (this.#pending[i]?.aborted === false) n++;
    return n;
  }

  get ready(): number {
    return this.#polled.length - this.#polledHead;
  }

  /**
   * Queues `op` for the next flush in the form its `options` and `callback` select, after the
   * checks every operation gets (a destroyed queue, options, `name` in `capabilities.ops`,
   * link support, chain length). Returns its promise in the promise form.
   */
  issue(
    op: Operation,
    options: unknown,
    callback: AnyCallback | undefined,
    name: OperationName = op.facts.operation,
  ): Promise<unknown> | undefined {
    if (this.#destroying) throw destroyedError();
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
        op.onAbort = () => this.abort(op);
        signal.addEventListener('abort', op.onAbort, { once: true });
      }
    }
    this.#openChain = op.link ? this.#openChain + 1 : 0;
    this.#pending.push(op);
    this.#scheduleFlush();
    return promise;
  }

  /**
   * Closes a descriptor the queue itself holds and nobody will take (a connection a multishot
   * accept took ahead of its consumer), also while destroy() runs: it goes out with the next
   * flush, and destroy() waits for it as for every operation in flight. Its result is ignored:
   * there is nobody to tell.
   */
  closeOwned(fd: number): void {
    if (this.#closed) return;
    const op = new Operation(OPERATION_TABLE[Opcode.CLOSE]);
    op.fd = fd;
    op.form = Form.Callback;
    op.callback = ignoreResult;
    this.#openChain = 0;
    this.#pending.push(op);
    this.#scheduleFlush();
  }

  readonly #flushTask = (): void => {
    this.flush();
  };

  #scheduleFlush(): void {
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Writes cancels and whole chains of waiting operations into the submission buffer and submits them. */
  flush(): number {
    this.#flushQueued = false;
    if (this.#closed) return 0;
    const sq = this.#sq;
    let n = 0;
    for (const op of this.#cancels) {
      if (op.state !== State.InFlight) continue;
      const b = n * SQE_WORDS;
      sq.fill(0, b, b + SQE_WORDS);
      sq[b] = Opcode.CANCEL;
      sq[b + W_SLOT] = SLOT_NONE;
      sq[b + W_TARGET] = op.slot;
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
        if (op.facts.opcode === Opcode.ACCEPT && this.multishot !== undefined && !op.link) {
          const item = this.multishot.takeAccepted(op.fd);
          if (item !== undefined) {
            // A connection a multishot accept already took: no need to ask the kernel.
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
        this.engine.submit(n);
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
      const slot = this.#sq[i * SQE_WORDS + W_SLOT];
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
    // Word 0: opcode, then flags in the second byte.
    sq[b] = op.facts.opcode | ((op.link ? SQE_F_LINK : 0) << 8);
    sq[b + W_FD] = op.fd;
    if (op.offset === -1) {
      sq[b + W_OFFSET] = 0xffffffff;
      sq[b + W_OFFSET + 1] = 0xffffffff;
    } else {
      sq[b + W_OFFSET] = op.offset >>> 0;
      sq[b + W_OFFSET + 1] = Math.floor(op.offset / TWO32);
    }
    sq[b + W_BUF_OFFSET] = op.bufOffset >>> 0;
    sq[b + W_BUF_OFFSET + 1] = Math.floor(op.bufOffset / TWO32);
    sq[b + W_LEN] = op.len;
    sq[b + W_SLOT] = slot;
    sq[b + W_OP_FLAGS] = op.opFlags;
    sq[b + W_MODE] = op.mode;
    sq[b + W_TARGET] = 0;
    sq[b + W_FD_IN] = op.fdIn;
    sq[b + W_TIMEOUT] = op.timeoutNs >>> 0;
    sq[b + W_TIMEOUT + 1] = Math.floor(op.timeoutNs / TWO32);
    sq[b + W_TIMEOUT + 2] = 0;
    sq[b + W_TIMEOUT + 3] = 0;
    if (op.address) writeAddress(this.addresses, slot, op.address);
    else if (op.facts.fillsAddress) {
      // No stale address from the slot's previous operation can be mistaken for the result.
      this.addresses[slot * ADDRESS_SIZE + AddressOffset.family] = 0;
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
            this.multishot!.item(op, cq[b + 2], cq[b + 3], slot);
          } catch (thrown) {
            rethrowLater(thrown);
          }
        }
        continue;
      }
      const result = cq[b + 2];
      let extra: Stats | SocketAddress | undefined;
      if (result >= 0) {
        const kind = op.facts.result;
        if (kind === 'stats') {
          extra = new Stats(this.#stats, slot * STAT_FIELDS);
        } else if (kind === 'datagram') {
          // No address (AF_NONE) stays undefined: never an invented unnamed unix socket.
          extra = readAddress(this.addresses, slot);
        } else if (kind === 'accept' || kind === 'address') {
          extra = readAddress(this.addresses, slot) ?? { path: '' };
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
    // Pending here are only the closes of descriptors the queue owns (closeOwned): the rest were
    // ended by destroy(), and issue() refuses new ones.
    if (this.#inFlight > 0 || this.#pendingHead < this.#pending.length || this.#closed) return;
    this.#closed = true;
    this.#registeredBuffers = [];
    this.engine.close();
    // After the completions settled locally (queued as microtasks before this one).
    const resolve = this.#destroyed;
    if (resolve) queueMicrotask(resolve);
  }

  /** Cancels `op` (its signal fired, or a multishot iterator stopped it): best effort, one result. */
  abort(op: Operation): void {
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
      switch (op.facts.result) {
        case 'count':
          value = result;
          break;
        case 'stats':
        case 'address':
          value = extra;
          break;
        case 'accept':
          value = { fd: result, address: extra };
          break;
        case 'datagram':
          value = { bytes: result, address: extra };
          break;
        default:
          value = undefined;
      }
    }
    if (op.multishot !== undefined) {
      // A single recv standing in for a multishot one (after ENOBUFS): its bytes are a chunk.
      const chunk =
        op.facts.opcode === Opcode.RECV && result > 0 ? (op.res0 as Buffer).subarray(0, result) : undefined;
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

  // ---- what the Queue's control methods do (documented there) ----------------------------

  peek(): Completion | undefined {
    return this.#polled[this.#polledHead];
  }

  drain(handler: (completion: Completion) => void, max: number): number {
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

  waitSync(min: number, timeoutMs: number): number {
    if (this.#closed) throw destroyedError();
    validateInteger(min, 'min', 0, 2 ** 31 - 1);
    if (timeoutMs !== -1) validateInteger(timeoutMs, 'timeoutMs', 0, 2 ** 31 - 1);
    const wait = this.engine.waitSync;
    if (!this.capabilities.waitSync || wait === undefined) {
      throw new ProactorError(
        'ERR_PROACTOR_UNSUPPORTED',
        `waitSync is not supported by the ${this.backend.name} backend`,
      );
    }
    this.flush();
    const delivered = wait.call(this.engine, min, timeoutMs);
    this.flush();
    return delivered;
  }

  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    const list = validateBufferList(buffers, 'buffers', REGISTERED_MAX);
    for (let i = 0; i < list.length; i++) {
      if (list[i].byteLength === 0) throw outOfRange(`buffers[${i}].byteLength`, '>= 1', 0);
    }
    const register = this.#registration('registeredBuffers', this.engine.registerBuffers);
    this.flush();
    const copy = list.slice();
    keepAttached(copy);
    register.call(this.engine, copy);
    this.#registeredBuffers = copy;
  }

  unregisterBuffers(): void {
    if (this.#registeredBuffers.length === 0) return;
    const unregister = this.#registration('registeredBuffers', this.engine.unregisterBuffers);
    this.flush();
    unregister.call(this.engine);
    this.#registeredBuffers = [];
  }

  registerFiles(fds: readonly number[]): void {
    if (!Array.isArray(fds)) throw invalidArgType('fds', 'an instance of Array', fds);
    if (fds.length > REGISTERED_MAX) throw outOfRange('fds.length', `<= ${REGISTERED_MAX}`, fds.length);
    const list = fds.map((fd, i) => validateFd(fd, `fds[${i}]`));
    const register = this.#registration('registeredFiles', this.engine.registerFiles);
    this.flush();
    register.call(this.engine, list);
    this.#hasRegisteredFiles = list.length > 0;
  }

  unregisterFiles(): void {
    if (!this.#hasRegisteredFiles) return;
    const unregister = this.#registration('registeredFiles', this.engine.unregisterFiles);
    this.flush();
    unregister.call(this.engine);
    this.#hasRegisteredFiles = false;
  }

  #registration<F>(capability: 'registeredBuffers' | 'registeredFiles', method: F | undefined): F {
    if (this.#destroying) throw destroyedError();
    if (!this.capabilities[capability] || method === undefined) {
      throw new ProactorError(
        'ERR_PROACTOR_UNSUPPORTED',
        `${capability === 'registeredBuffers' ? 'registered buffers are' : 'registered files are'} not supported by the ${this.backend.name} backend`,
      );
    }
    return method;
  }

  destroy(): Promise<void> {
    if (this.#destroying) return this.#destroying;
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
    // Connections accepted ahead that nobody took: closed by the flush below (closeOwned).
    this.multishot?.dropAll();
    for (const op of this.#slots) if (op) this.#requestCancel(op);
    this.flush();
    this.#finishDestroy();
    return this.#destroying;
  }
}
