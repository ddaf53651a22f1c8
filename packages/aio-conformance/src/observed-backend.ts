import type { Backend, Engine, RingContext } from '@proactor/aio-core';

/** What an observer is told as entries cross the boundary between a queue and its engine. */
export interface BoundaryObserver {
  /** Before engine.submit(count): entries [0, count) of `ring.submissions` are the batch. */
  submitted(ring: RingContext, count: number): void;
  /** Before ring.complete(count): entries [0, count) of `ring.completions` are the batch. */
  completed(ring: RingContext, count: number): void;
}

/** `backend`, with every submit and completion batch shown to `observer` first. */
export function observeBoundary(backend: Backend, observer: BoundaryObserver): Backend {
  return {
    name: backend.name,
    capabilities: backend.capabilities,
    attach(ring: RingContext): Engine {
      const observed: RingContext = {
        entries: ring.entries,
        submissions: ring.submissions,
        completions: ring.completions,
        completionEntries: ring.completionEntries,
        resources: ring.resources,
        stats: ring.stats,
        addresses: ring.addresses,
        complete(count: number) {
          observer.completed(ring, count);
          ring.complete(count);
        },
      };
      const engine = backend.attach(observed);
      const proxy: Engine = {
        submit(count: number) {
          observer.submitted(ring, count);
          engine.submit(count);
        },
        ref: () => engine.ref(),
        unref: () => engine.unref(),
        close: () => engine.close(),
      };
      if (engine.waitSync) proxy.waitSync = (min, timeoutMs) => engine.waitSync!(min, timeoutMs);
      // The optional parts too: without them the queue would take the backend for one that
      // lacks registration or provided buffers, and the observed run would test less.
      if (engine.registerBuffers) proxy.registerBuffers = (buffers) => engine.registerBuffers!(buffers);
      if (engine.unregisterBuffers) proxy.unregisterBuffers = () => engine.unregisterBuffers!();
      if (engine.registerFiles) proxy.registerFiles = (fds) => engine.registerFiles!(fds);
      if (engine.unregisterFiles) proxy.unregisterFiles = () => engine.unregisterFiles!();
      if (engine.provideBuffers) {
        proxy.provideBuffers = (memory, size, count) => engine.provideBuffers!(memory, size, count);
      }
      return proxy;
    },
  };
}
