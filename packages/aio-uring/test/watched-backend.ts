import type { Backend, Engine } from '@proactor/aio-core';

/** `inner` plus the engines it attached, so a test can ask engineInfo() about them. */
export function watched(inner: Backend): { backend: Backend; engines: Engine[] } {
  const engines: Engine[] = [];
  return {
    engines,
    backend: {
      name: inner.name,
      capabilities: inner.capabilities,
      attach(ring) {
        const engine = inner.attach(ring);
        engines.push(engine);
        return engine;
      },
    },
  };
}
