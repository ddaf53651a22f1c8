/**
 * accepts() and recvs() over multishot requests (`capabilities.multishot`): the iterator a
 * consumer drives, and the queue's multishot state that its requests share: the receive pool
 * lent to the engine, connections accepted ahead of the consumer, and how often each
 * descriptor was closed through the queue.
 */
import { Opcode, POLL_IN } from './abi.js';
import { readAddress } from './address.js';
import { type SystemError, systemError } from './errors.js';
import { keepAttached } from './memory.js';
import { deliverTo, Form, type MultishotRequest, type MultishotRequests, Operation } from './operation.js';
import { OPERATION_FACTS } from './operation-table.js';
import type { AcceptResult } from './options.js';
import { ECANCELED, type QueueCore } from './queue-core.js';

/** Multishot iterators stop their request while this many items wait for the consumer... */
const ACCEPT_HIGH_WATER = 128;
const RECV_HIGH_WATER = 1024 * 1024;
/** ...and start it again once the consumer took them down to this. */
const ACCEPT_LOW_WATER = 32;
const RECV_LOW_WATER = 256 * 1024;

/** The multishot requests of one queue, and what they share (see the module comment). */
export class MultishotState implements MultishotRequests {
  readonly #core: QueueCore;
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
   * How often each descriptor number was closed through the queue. An iterator that would start
   * its request again after its descriptor was closed (whose number may already name another
   * socket) ends instead, with ECANCELED, as its request did.
   */
  readonly #closes = new Map<number, number>();

  constructor(core: QueueCore, recvBufferSize: number, recvBufferCount: number) {
    this.#core = core;
    this.#recvBufferSize = recvBufferSize;
    this.#recvBufferCount = recvBufferCount;
  }

  /** accepts() on one multishot request; connections accepted ahead on `fd` come first. */
  accepts(fd: number, signal: AbortSignal | undefined): MultishotIterator<AcceptResult> {
    const iterator = new MultishotIterator<AcceptResult>(this, Opcode.ACCEPT_MULTI, fd, signal, 0);
    const ahead = this.#acceptedAhead?.get(fd);
    if (ahead) {
      this.#acceptedAhead!.delete(fd);
      for (const item of ahead) iterator.push(item, 1);
    }
    return iterator;
  }

  /** recvs() on one multishot request; undefined when the engine refused the receive pool. */
  recvs(fd: number, size: number, signal: AbortSignal | undefined): MultishotIterator<Buffer> | undefined {
    if (this.#recvBuffers() === null) return undefined;
    return new MultishotIterator<Buffer>(this, Opcode.RECV_MULTI, fd, signal, size);
  }

  /** Whether the queue's destroy() has begun. */
  get destroying(): boolean {
    return this.#core.destroying;
  }

  /** `fd` is being closed through the queue (called before the close is issued). */
  closing(fd: number): void {
    if (this.#acceptedAhead?.has(fd)) this.#dropAcceptedAhead(fd);
    if (typeof fd === 'number') this.#closes.set(fd, (this.#closes.get(fd) ?? 0) + 1);
  }

  /** How often `fd` was closed through the queue. */
  closeCount(fd: number): number {
    return this.#closes.get(fd) ?? 0;
  }

  takeAccepted(fd: number): AcceptResult | undefined {
    const ahead = this.#acceptedAhead?.get(fd);
    if (ahead === undefined) return undefined;
    const item = ahead.shift()!;
    if (ahead.length === 0) this.#acceptedAhead!.delete(fd);
    return item;
  }

  dropAll(): void {
    if (this.#acceptedAhead)
      for (const listener of [...this.#acceptedAhead.keys()]) this.#dropAcceptedAhead(listener);
  }

  /** The provided-buffer pool, lent to the engine at first use; null when the engine refused it. */
  #recvBuffers(): Uint8Array | null {
    if (this.#recvPool !== undefined) return this.#recvPool;
    const pool = new Uint8Array(this.#recvBufferSize * this.#recvBufferCount);
    keepAttached(pool);
    const engine = this.#core.engine;
    try {
      if (engine.provideBuffers === undefined) throw new Error('no provideBuffers');
      engine.provideBuffers(pool, this.#recvBufferSize, this.#recvBufferCount);
      this.#recvPool = pool;
    } catch {
      // Single-shot receives give the same stream.
      this.#recvPool = null;
    }
    return this.#recvPool;
  }

  /** Issues the multishot request of `iterator`. */
  arm(iterator: MultishotIterator<unknown>): Operation {
    const op = new Operation(OPERATION_FACTS[iterator.opcode]);
    op.fd = iterator.fd;
    op.multishot = iterator;
    // Settled through op.multishot (see QueueCore's settle): neither a promise nor a callback.
    op.form = Form.Callback;
    this.#core.issue(op, { signal: iterator.signal }, undefined);
    return op;
  }

  /**
   * For a multishot receive whose pool ran dry: a poll for readability, which holds no buffer
   * while the connection waits for its next message; its errors name the receive's syscall. A
   * single recv (recvOnce) when the backend has no poll.
   */
  waitReadable(iterator: MultishotIterator<unknown>): Operation {
    if (!this.#core.capabilities.ops.has('poll')) return this.recvOnce(iterator);
    const op = new Operation(OPERATION_FACTS[Opcode.POLL], OPERATION_FACTS[iterator.opcode].syscall);
    op.fd = iterator.fd;
    op.opFlags = POLL_IN;
    op.multishot = iterator;
    op.form = Form.Callback;
    this.#core.issue(op, { signal: iterator.signal }, undefined);
    return op;
  }

  /**
   * A single recv into a buffer of its own, for a multishot receive whose pool ran dry: issued
   * once the descriptor is readable (after waitReadable), so that the buffer is held only while
   * data is there to fill it.
   */
  recvOnce(iterator: MultishotIterator<unknown>): Operation {
    const op = new Operation(OPERATION_FACTS[Opcode.RECV]);
    op.fd = iterator.fd;
    op.len = Math.min(iterator.size, this.#recvBufferSize);
    op.res0 = Buffer.allocUnsafe(op.len);
    op.offset = -1;
    op.multishot = iterator;
    op.form = Form.Callback;
    this.#core.issue(op, { signal: iterator.signal }, undefined);
    return op;
  }

  /** Cancels an iterator's request (it stopped, or paused for backpressure). */
  abort(op: Operation): void {
    this.#core.abort(op);
  }

  item(op: Operation, result: number, buffer: number, slot: number): void {
    const iterator = op.multishot as MultishotIterator<unknown>;
    if (iterator.opcode === Opcode.ACCEPT_MULTI) {
      const item: AcceptResult = {
        fd: result,
        address: readAddress(this.#core.addresses, slot) ?? { path: '' },
      };
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
  release(iterator: MultishotIterator<unknown>, item: unknown): void {
    if (iterator.opcode === Opcode.ACCEPT_MULTI) this.#keepAcceptedAhead(iterator.fd, item as AcceptResult);
  }

  #keepAcceptedAhead(listener: number, item: AcceptResult): void {
    if (this.#core.destroying) {
      this.#core.closeOwned(item.fd);
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
    for (const item of list) this.#core.closeOwned(item.fd);
  }
}

const DONE: IteratorResult<never, void> = Object.freeze({ done: true, value: undefined });

/**
 * The callback forms of accepts() and recvs(): every item to `sink` as it comes, then the end
 * (recvs: `sink(null, null)` when the peer shut its side down) or the error. A multishot
 * iterator calls it directly, with no promise per item; the others are driven here.
 */
export function pump<T>(
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

/**
 * accepts() and recvs() over one multishot request: the iterator a consumer's `for await`
 * drives. Items the request produces go straight to a waiting next(), or wait here; past a high
 * water mark (128 connections, 1 MiB) the request is cancelled, and started again once the
 * consumer took them down to the low mark. ENOBUFS (the backend stopped: no provided buffer was
 * free) starts it again at once. Written out rather than as an async generator: it keeps no
 * generator, context or promise per connection beyond the consumer's own next(), which is what
 * an idle connection of a big server costs.
 */
export class MultishotIterator<T> implements AsyncGenerator<T, void, undefined>, MultishotRequest {
  stopped = false;
  #op: Operation | undefined;
  #started = false;
  #paused = false;
  #ended = false;
  /** Requests in a row that ended with ENOBUFS before producing anything. */
  #starved = 0;
  /** The poll that stood in for a starved receive saw the descriptor readable: the next start
   * is one recv into a buffer of its own. */
  #readable = false;
  /** owner.closeCount() of the descriptor when the iterator was made. */
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
    readonly owner: MultishotState,
    readonly opcode: typeof Opcode.ACCEPT_MULTI | typeof Opcode.RECV_MULTI,
    readonly fd: number,
    readonly signal: AbortSignal | undefined,
    /** recvs(): the largest chunk. */
    readonly size: number,
  ) {
    this.#closes = owner.closeCount(fd);
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
      this.owner.abort(this.#op);
    }
  }

  /** The request's final completion: null when it ended without error (recv: end of stream). */
  finish(error: Error | null, chunk?: Buffer): void {
    this.#op = undefined;
    if (this.stopped) return;
    if (this.opcode === Opcode.ACCEPT_MULTI && this.owner.destroying) {
      // The queue is going away: the connections taken ahead that the consumer has not asked
      // for are closed, as a listening socket's backlog is when it closes.
      while (this.#items !== undefined && this.#head < this.#items.length) {
        this.owner.release(this as MultishotIterator<unknown>, this.#shift());
      }
    }
    if (chunk !== undefined) {
      // A few bytes in the recv's own buffer (4 KiB by default) are copied out, as items are
      // copied out of the pool: a chunk the consumer keeps (while it is sent back, say) holds
      // only its bytes, not the whole buffer.
      if (chunk.length * 2 <= chunk.buffer.byteLength) chunk = Buffer.from(chunk);
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
      // every starved connection retrying at once would only spin. That receive waits for
      // readability first, with a poll that holds no buffer (see waitReadable): a starved
      // connection that waits for its next message pins nothing.
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

  /**
   * The poll that stood in for the request while the receive pool was dry completed: `error`
   * null when the descriptor is readable (or has an error or a hang-up, which the recv that
   * follows meets). The recv is issued as the request would start again: at once in the
   * callback form or for a waiting next(), else at the consumer's next next().
   */
  readable(error: Error | null): void {
    if (error !== null) {
      this.finish(error);
      return;
    }
    this.#op = undefined;
    if (this.stopped) return;
    this.#readable = true;
    if (this.#resolve !== undefined || this.#sink !== undefined) this.#rearmIfIdle();
  }

  #arm(): void {
    if (this.owner.closeCount(this.fd) !== this.#closes) {
      // Closed through the queue since: the number may name another socket now.
      this.finish(systemError(ECANCELED, OPERATION_FACTS[this.opcode].syscall));
      return;
    }
    const self = this as MultishotIterator<unknown>;
    if (this.#readable) {
      this.#readable = false;
      this.#op = this.owner.recvOnce(self);
    } else if (this.#starved >= 2) this.#op = this.owner.waitReadable(self);
    else this.#op = this.owner.arm(self);
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
    if (this.#op !== undefined) this.owner.abort(this.#op);
    while (this.#items !== undefined && this.#head < this.#items.length) {
      this.owner.release(this as MultishotIterator<unknown>, this.#shift());
    }
    for (let w = this.#takeWaiter(); w !== undefined; w = this.#takeWaiter()) w.resolve(DONE);
  }
}
