import type { Queue } from '@proactor/aio-core';

/**
 * ref()/unref() of sockets and servers, at the granularity the queue offers. A queue keeps the
 * process alive while any of its operations is in flight, and `Queue#unref()` lets it exit
 * regardless; aio-core has no per-operation ref. So a handle's unref() counts here, and the
 * queue is unref'd exactly while it has live handles and every one of them is unref'd: a
 * receive waiting on an unref'd socket then no longer holds the process, as with node:net. A
 * ref'd handle (the default) restores the queue's default. Queues whose handles never call
 * unref() are never touched.
 */
interface HandleCounts {
  referenced: number;
  unreferenced: number;
  queueUnrefd: boolean;
}

const counts = new WeakMap<Queue, HandleCounts>();

function update(queue: Queue, c: HandleCounts): void {
  const shouldUnref = c.referenced === 0 && c.unreferenced > 0;
  if (shouldUnref === c.queueUnrefd) return;
  c.queueUnrefd = shouldUnref;
  if (shouldUnref) queue.unref();
  else queue.ref();
}

/** One socket or server's share of its queue's ref state. */
export class QueueRef {
  #referenced = true;
  #live = true;

  constructor(readonly queue: Queue) {
    let c = counts.get(queue);
    if (c === undefined) {
      c = { referenced: 0, unreferenced: 0, queueUnrefd: false };
      counts.set(queue, c);
    }
    c.referenced++;
    update(queue, c);
  }

  ref(): void {
    this.#set(true);
  }

  unref(): void {
    this.#set(false);
  }

  /** The handle is closed: it no longer counts either way. */
  release(): void {
    if (!this.#live) return;
    this.#live = false;
    const c = counts.get(this.queue)!;
    if (this.#referenced) c.referenced--;
    else c.unreferenced--;
    update(this.queue, c);
  }

  #set(referenced: boolean): void {
    if (!this.#live || this.#referenced === referenced) {
      this.#referenced = referenced;
      return;
    }
    const c = counts.get(this.queue)!;
    if (referenced) {
      c.unreferenced--;
      c.referenced++;
    } else {
      c.referenced--;
      c.unreferenced++;
    }
    this.#referenced = referenced;
    update(this.queue, c);
  }
}

/**
 * Closes `fd` through `queue`, then calls `callback` (a close error is not the caller's: the
 * descriptor is gone either way). A queue destroyed under its sockets (destroy() ended their
 * operations with ECANCELED) refuses new operations by throwing ERR_PROACTOR_QUEUE_DESTROYED:
 * nothing can be closed through it any more, so `callback` runs on the next tick instead of the
 * error escaping from the completion callback that asked for the close.
 */
export function closeThrough(queue: Queue, fd: number, callback: () => void = () => {}): void {
  try {
    queue.close(fd, () => callback());
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_PROACTOR_QUEUE_DESTROYED') throw error;
    process.nextTick(callback);
  }
}
