/**
 * The proactor backends a benchmark can run on, by id: the package and, for the readiness
 * backends, the poller (aio-epoll's and aio-kqueue's `createBackend({ poller })`). One list, so
 * that the file, HTTP, latency and C10K benchmarks name and load a backend the same way.
 */
import type { Backend } from '@proactor/aio-core';

export interface BenchBackend {
  /** What the benchmarks' options and child processes name it by. */
  id: string;
  /** How tables name it ("proactor <label> ..."). */
  label: string;
  /** The backend package. */
  pkg: string;
  /** The poller passed to the package's createBackend(), where it has one. */
  poller?: string;
  /** The PROACTOR_BACKEND value that selects it through @proactor/aio (only a package's default poller). */
  selectName?: string;
}

export const BENCH_BACKENDS: readonly BenchBackend[] = [
  { id: 'node', label: 'node', pkg: '@proactor/aio-node', selectName: 'node' },
  { id: 'io_uring', label: 'io_uring', pkg: '@proactor/aio-uring', selectName: 'io_uring' },
  { id: 'epoll', label: 'epoll', pkg: '@proactor/aio-epoll', poller: 'epoll', selectName: 'epoll' },
  { id: 'epoll-poll', label: 'epoll package, poll(2)', pkg: '@proactor/aio-epoll', poller: 'poll' },
  {
    id: 'kqueue',
    label: 'kqueue (libkqueue)',
    pkg: '@proactor/aio-kqueue',
    poller: 'kqueue',
    selectName: 'kqueue',
  },
];

export function benchBackend(id: string): BenchBackend {
  const found = BENCH_BACKENDS.find((b) => b.id === id);
  if (found === undefined)
    throw new Error(`unknown backend ${id}; known: ${BENCH_BACKENDS.map((b) => b.id).join(', ')}`);
  return found;
}

interface BackendModule {
  default: Backend;
  createBackend?: (options: { poller: string }) => Backend;
}

/** The Backend of `id`; throws (the package's coded error) where it cannot be loaded here. */
export async function loadBenchBackend(id: string): Promise<Backend> {
  const b = benchBackend(id);
  const mod = (await import(b.pkg)) as BackendModule;
  if (b.poller === undefined) return mod.default;
  if (mod.createBackend === undefined) throw new Error(`${b.pkg} has no createBackend()`);
  return mod.createBackend({ poller: b.poller });
}

/**
 * The backends of `ids` (comma-separated; default: every one) that load in this process, and a
 * line for each left out and why.
 */
export async function availableBackends(
  ids?: string,
): Promise<{ available: BenchBackend[]; skipped: string[] }> {
  const wanted = ids === undefined ? BENCH_BACKENDS : ids.split(',').map(benchBackend);
  const available: BenchBackend[] = [];
  const skipped: string[] = [];
  for (const b of wanted) {
    try {
      await loadBenchBackend(b.id);
      available.push(b);
    } catch (error) {
      skipped.push(`${b.id} (${b.pkg}) left out: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return { available, skipped };
}
