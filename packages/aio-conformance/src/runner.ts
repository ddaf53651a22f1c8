import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Backend, invalidArgValue, Queue, type QueueOptions } from '@proactor/aio-core';
import type { CaseContext, ConformanceCase } from './case.js';
import { cases as allCases } from './cases/index.js';
import { timeScale } from './cases/wine.js';

/** A backend under test and where it was loaded from. */
export interface Target {
  backend: Backend;
  /** URL of the module whose default export is `backend`. */
  backendUrl: string;
}

/**
 * Loads a backend the way a user's project would: `specifier` is a package name resolved from
 * `fromDir` (default: the current directory), or a path / file URL of a module. The module's
 * default export must be a Backend.
 */
export async function loadTarget(specifier: string, fromDir = process.cwd()): Promise<Target> {
  let url: string;
  if (specifier.startsWith('file:')) url = specifier;
  else if (specifier.startsWith('.') || isAbsolute(specifier))
    url = pathToFileURL(resolve(fromDir, specifier)).href;
  else url = pathToFileURL(createRequire(join(fromDir, 'noop.js')).resolve(specifier)).href;
  const mod = (await import(url)) as { default?: unknown };
  const backend = mod.default as Backend | undefined;
  if (
    !backend ||
    typeof backend !== 'object' ||
    typeof backend.attach !== 'function' ||
    !backend.capabilities
  ) {
    throw invalidArgValue('backend', specifier, `(${url}) has no default export that is a proactor Backend`);
  }
  return { backend, backendUrl: url };
}

const coreUrl = import.meta.resolve('@proactor/aio-core');

/**
 * Promise rejections nobody handled, by case: a case helper's promise that was made and never
 * awaited (its case failed first) would otherwise end the whole run with Node's default
 * handler. One that arrives while a case runs fails that case; one that arrives between cases
 * fails the next case, saying so. The listener is added by the first runCase().
 */
const unhandled: { current: unknown[] | undefined; between: unknown[]; listening: boolean } = {
  current: undefined,
  between: [],
  listening: false,
};

function onUnhandledRejection(reason: unknown): void {
  (unhandled.current ?? unhandled.between).push(reason);
}

function unhandledFailure(reasons: readonly unknown[], when: string): Error {
  const first = reasons[0];
  const text = first instanceof Error ? (first.stack ?? first.message) : String(first);
  return new Error(`${reasons.length} unhandled promise rejection(s) ${when}; the first: ${text}`, {
    cause: first,
  });
}

/** Runs one case to completion (or its timeout), then cleans up what it created. */
export async function runCase(c: ConformanceCase, target: Target): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'proactor-conformance-'));
  const queues: Queue[] = [];
  const cleanups: (() => unknown)[] = [];
  const t: CaseContext = {
    backend: target.backend,
    backendUrl: target.backendUrl,
    coreUrl,
    dir,
    path: (name) => join(dir, name),
    queue(options?: QueueOptions, backend: Backend = target.backend) {
      const q = new Queue(backend, options);
      queues.push(q);
      return q;
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
  };
  const timeoutMs = (c.timeoutMs ?? 20_000) * timeScale;
  let failure: unknown;
  let failed = false;
  if (!unhandled.listening) {
    process.on('unhandledRejection', onUnhandledRejection);
    unhandled.listening = true;
  }
  const rejections: unknown[] = [];
  unhandled.current = rejections;
  if (unhandled.between.length > 0) {
    [failed, failure] = [
      true,
      unhandledFailure(unhandled.between.splice(0), 'after the previous case ended'),
    ];
  }
  try {
    await withTimeout(c.run(t), timeoutMs, `timed out after ${timeoutMs} ms`);
  } catch (error) {
    failed = true;
    failure = error;
  }
  // Cleanup runs whatever the case did; the case's own failure is reported before a cleanup's.
  for (const q of queues) {
    try {
      await withTimeout(q.destroy(), 10_000, 'queue.destroy() did not finish within 10 s');
    } catch (error) {
      if (!failed) [failed, failure] = [true, error];
    }
  }
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      if (!failed) [failed, failure] = [true, error];
    }
  }
  // Windows: a file whose handle is still closing keeps its directory (ENOTEMPTY, EBUSY) for a
  // moment; rmSync retries those, as its maxRetries option is for (each wait 50 ms longer than
  // the last; under Wine, at a high load, half a second was once not enough after four workers).
  rmSync(dir, { recursive: true, force: true, maxRetries: 10 * timeScale, retryDelay: 50 });
  unhandled.current = undefined;
  if (!failed && rejections.length > 0)
    [failed, failure] = [true, unhandledFailure(rejections, 'during the case')];
  if (failed) throw failure;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export { allCases as cases };
