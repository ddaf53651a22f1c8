import type { Backend, Capabilities, OperationName, Queue, QueueOptions } from '@proactor/aio-core';

/** A capability a case needs: an operation name or one of the boolean capabilities. */
export type Need = OperationName | Exclude<keyof Capabilities, 'ops'>;

/** What a case receives. Everything it creates through it is cleaned up after the case. */
export interface CaseContext {
  readonly backend: Backend;
  /** A URL of a module whose default export is the backend (for workers and child processes). */
  readonly backendUrl: string;
  /** A URL of @proactor/aio-core as the backend resolves it. */
  readonly coreUrl: string;
  /** A new queue on the backend (or on `backend`, e.g. an instrumented one), destroyed after the case. */
  queue(options?: QueueOptions, backend?: Backend): Queue;
  /** A fresh, empty directory for this case alone. */
  readonly dir: string;
  /** `dir` joined with `name`. */
  path(name: string): string;
  /** Registers cleanup to run after the case, last registered first. */
  defer(cleanup: () => unknown): void;
}

/**
 * One behaviour every backend must show, checked on one backend. The runner skips a case whose
 * `needs` the backend lacks (with the reason), gives it a fresh {@link CaseContext}, and fails it
 * when `run` rejects or outlasts `timeoutMs`.
 */
export interface ConformanceCase {
  /** Reads as a specification: '<area>: <behaviour>'. */
  readonly name: string;
  /** The capabilities the case uses; a backend without one of them skips it. */
  readonly needs?: readonly Need[];
  /** Default 20 s. */
  readonly timeoutMs?: number;
  /** When set and returning a string, the case is skipped with that reason (platform limits). */
  readonly skip?: (backend: Backend) => string | undefined;
  /** The case: resolves when the behaviour held, rejects (an assertion error) when it did not. */
  run(t: CaseContext): Promise<void>;
}

/** Why `backend` cannot run `c`, or undefined when it can. */
export function skipReason(c: ConformanceCase, backend: Backend): string | undefined {
  for (const need of c.needs ?? []) {
    const caps = backend.capabilities;
    const has =
      need in caps
        ? caps[need as Exclude<keyof Capabilities, 'ops'>] === true
        : caps.ops.has(need as OperationName);
    if (!has) return `needs ${need}, which the ${backend.name} backend does not provide`;
  }
  return c.skip?.(backend);
}
