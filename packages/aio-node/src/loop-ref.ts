/**
 * Event-loop references for socket operations. A queue keeps the process alive while its
 * operations are in flight unless it is unref()'d, and ref()/unref() apply to operations already
 * waiting too (as on io_uring, where the queue's own handle is what keeps the loop alive). Here
 * the loop is kept alive by the node:net / node:dgram handles the operations wait on, so each
 * handle counts its waiting operations by queue and is ref'd exactly while one of those queues is
 * referenced.
 */

/** One queue's Queue#ref()/unref() state, which the handles its operations wait on follow. */
export class LoopRef {
  #referenced = true;
  readonly #holders = new Set<LoopHolds>();

  get referenced(): boolean {
    return this.#referenced;
  }

  set(referenced: boolean): void {
    if (referenced === this.#referenced) return;
    this.#referenced = referenced;
    for (const holds of [...this.#holders]) holds.changed();
  }

  /** @internal Called by LoopHolds as it starts and stops holding for this queue. */
  follow(holds: LoopHolds, following: boolean): void {
    if (following) this.#holders.add(holds);
    else this.#holders.delete(holds);
  }
}

/** The operations waiting on one handle, by queue; `apply` gets each change of whether any of them keeps the loop alive. */
export class LoopHolds {
  readonly #counts = new Map<LoopRef, number>();
  #referenced = false;

  constructor(readonly apply: (referenced: boolean) => void) {}

  /** Whether an operation of a referenced queue waits on the handle. */
  get referenced(): boolean {
    return this.#referenced;
  }

  hold(loop: LoopRef): void {
    const n = (this.#counts.get(loop) ?? 0) + 1;
    this.#counts.set(loop, n);
    if (n === 1) loop.follow(this, true);
    this.changed();
  }

  release(loop: LoopRef): void {
    const n = (this.#counts.get(loop) ?? 0) - 1;
    if (n > 0) this.#counts.set(loop, n);
    else {
      this.#counts.delete(loop);
      loop.follow(this, false);
    }
    this.changed();
  }

  /** @internal Recomputes the state after a hold, a release, or a queue's ref()/unref(). */
  changed(): void {
    let referenced = false;
    for (const loop of this.#counts.keys()) referenced ||= loop.referenced;
    if (referenced === this.#referenced) return;
    this.#referenced = referenced;
    this.apply(referenced);
  }
}
