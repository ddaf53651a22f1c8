/**
 * Linked-chain sequencing for engines written in TypeScript (aio-node is one): what
 * {@link SQE_F_LINK} means, done once. Native engines do the same in native/common/engine_core.
 */
import { decodeSubmission, Opcode, SQE_F_LINK, type Submission } from './abi.js';
import type { RingContext } from './backend.js';
import { errnoOf } from './errors.js';
import { OPERATION_FACTS } from './operation-table.js';

const ECANCELED = errnoOf('ECANCELED');

/**
 * Runs the entries of a submission batch chain by chain: a chain is a run of entries each
 * flagged SQE_F_LINK but the last (a batch that ends on a linked entry ends the chain there,
 * since the queue never splits a chain across batches). The first member of each chain starts
 * at once; each next one starts only once the one before it succeeded; an error, or a short
 * transfer (fewer bytes than asked of an operation whose facts say `transfer`), completes
 * every later member with ECANCELED. The engine starts operations and posts results; this
 * decides which and when.
 */
export class LinkedChains {
  readonly #ring: RingContext;
  readonly #start: (sub: Submission) => void;
  readonly #post: (slot: number, result: number) => void;
  /** By the slot of a chain's running member: the members linked after it, in order. */
  readonly #rest: (Submission[] | undefined)[];

  /**
   * Sequences the submissions of `ring`: `start(sub)` starts an operation, which must end with
   * one `finish(sub, result)` (possibly from inside `start`); `post(slot, result)` hands a
   * result to the queue.
   */
  constructor(
    ring: RingContext,
    start: (sub: Submission) => void,
    post: (slot: number, result: number) => void,
  ) {
    this.#ring = ring;
    this.#start = start;
    this.#post = post;
    this.#rest = new Array(ring.entries).fill(undefined);
  }

  /** Decodes entries [0, count) of `sq` and starts each chain's first member; a cancel entry
   * goes to `cancel(target)` instead, in its place in the batch. */
  submit(sq: Uint32Array, count: number, cancel: (target: number) => void): void {
    let chain: Submission[] | undefined;
    for (let i = 0; i < count; i++) {
      const sub = decodeSubmission(sq, i);
      if (sub.opcode === Opcode.CANCEL) {
        cancel(sub.target);
        continue;
      }
      chain ??= [];
      chain.push(sub);
      if ((sub.flags & SQE_F_LINK) === 0) {
        this.#startChain(chain);
        chain = undefined;
      }
    }
    if (chain !== undefined) this.#startChain(chain);
  }

  /**
   * The operation `sub` (one that `start` got) ended with `result`: posts it, then starts the
   * next member of its chain, or completes the rest with ECANCELED when it failed or transferred
   * less than it asked for.
   */
  finish(sub: Submission, result: number): void {
    const rest = this.#rest[sub.slot];
    this.#rest[sub.slot] = undefined;
    this.#post(sub.slot, result);
    // None linked after it, or the rest was cancelled before it started.
    if (rest === undefined || rest.length === 0) return;
    if (result < 0 || this.#isShortTransfer(sub, result)) {
      for (const later of rest) this.#post(later.slot, ECANCELED);
      return;
    }
    this.#startChain(rest);
  }

  /**
   * Completes the operation in `slot` with ECANCELED, and every member linked after it, when it
   * waits in a chain and has not started. Returns false when it is not waiting in a chain.
   */
  cancelWaiting(slot: number): boolean {
    for (const rest of this.#rest) {
      if (rest === undefined) continue;
      const index = rest.findIndex((s) => s.slot === slot);
      if (index < 0) continue;
      for (const later of rest.splice(index)) this.#post(later.slot, ECANCELED);
      return true;
    }
    return false;
  }

  /** Records the whole chain before its first member starts: a member that completes at once
   * (inside `start`) must find the rest of its chain. */
  #startChain(members: Submission[]): void {
    const first = members.shift()!;
    if (members.length > 0) this.#rest[first.slot] = members;
    this.#start(first);
  }

  /** Whether `sub` moved fewer bytes than it asked for: `len` bytes, or its buffers' bytes
   * (readv, writev, whose `len` counts buffers). */
  #isShortTransfer(sub: Submission, result: number): boolean {
    if (!OPERATION_FACTS[sub.opcode].transfer) return false;
    if (sub.opcode !== Opcode.READV && sub.opcode !== Opcode.WRITEV) return result < sub.len;
    let total = 0;
    for (const view of this.#ring.resources[2 * sub.slot] as ArrayBufferView[]) total += view.byteLength;
    return result < total;
  }
}
