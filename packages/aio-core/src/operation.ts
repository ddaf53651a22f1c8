/**
 * One operation of a queue, from the call that issued it to its final completion: what the
 * operation modules (file-operations.ts, socket-operations.ts, multishot.ts) fill in and the
 * queue core (queue-core.ts) encodes, submits and settles.
 */
import type { AddressRecord } from './address.js';
import type { OperationFacts } from './operation-table.js';
import type { AcceptResult } from './options.js';

/** How an operation reports its completion. */
export enum Form {
  Promise = 0,
  Callback = 1,
  Polled = 2,
}

/** Where an operation is: waiting in the queue, submitted to the engine, or settled. */
export enum State {
  Pending = 0,
  InFlight = 1,
  Done = 2,
}

/** The Node-style callback of an operation, untyped as the queue stores it. */
export type AnyCallback = (err: Error | null, result?: unknown) => void;

/**
 * The multishot request an operation belongs to (multishot.ts's iterator): the core hands it
 * the final completion; the items before it go through {@link MultishotRequests}.
 */
export interface MultishotRequest {
  /** The final completion: `error` null when it ended without one; `chunk`, the bytes of a
   * single recv that stood in for the multishot one. */
  finish(error: Error | null, chunk?: Buffer): void;
  /** The poll that stood in for a receive whose pool ran dry completed: `error` null when the
   * descriptor is readable. */
  readable(error: Error | null): void;
}

/**
 * The queue's multishot state (multishot.ts), as the rest of the queue uses it: the core hands
 * it items and asks it for connections accepted ahead; the operation methods start iterators
 * and report closes. Present only with `capabilities.multishot`.
 */
export interface MultishotRequests {
  /** An item (a CQE_F_MORE completion) of `op`'s request; its data is readable only now. */
  item(op: Operation, result: number, buffer: number, slot: number): void;
  /** A connection a multishot accept took ahead on listening socket `fd`, taken; undefined
   * when there is none, and the accept asks the kernel. */
  takeAccepted(fd: number): AcceptResult | undefined;
  /** The queue is being destroyed: connections accepted ahead are dropped. */
  dropAll(): void;
  /** `fd` is being closed through the queue (called before the close is issued). */
  closing(fd: number): void;
  /** accepts() on one multishot request. */
  accepts(fd: number, signal: AbortSignal | undefined): AsyncGenerator<AcceptResult, void, undefined>;
  /** recvs() on one multishot request; undefined when the engine refused the receive pool. */
  recvs(
    fd: number,
    size: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Buffer, void, undefined> | undefined;
}

/** One operation from the call that issued it to its final completion. */
export class Operation {
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
  /** sendfile: the input descriptor. */
  fdIn = 0;
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
  /** Multishot operations: the request that gets the final result. */
  multishot: MultishotRequest | undefined = undefined;

  /** An operation of `facts`' opcode, whose errors name `syscall` (lstat and rmdir name theirs). */
  constructor(
    readonly facts: OperationFacts,
    readonly syscall: string = facts.syscall,
  ) {}
}

/** Calls a Node-style callback; what it throws is rethrown later, not into the caller. */
export function deliverTo<T>(
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

/** What a user's callback threw, thrown again from a fresh tick: never into the queue's loop. */
export function rethrowLater(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}
