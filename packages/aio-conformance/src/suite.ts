import { type ConformanceCase, skipReason } from './case.js';
import { timeScale } from './cases/wine.js';
import { cases, runCase, type Target } from './runner.js';

/** The describe/it pair of a test framework; the suite itself is written without one. */
export interface TestHost {
  /** Groups the cases under `name`; `body` registers them synchronously. */
  describe(name: string, body: () => void): void;
  /** Registers one case: `body` rejects when it fails, and must settle within `timeoutMs`. */
  it(name: string, body: () => Promise<void>, timeoutMs: number): void;
  /** Registers a case that does not run, with the reason. */
  skip(name: string, reason: string): void;
}

/** Registers every conformance case for `target` with a test framework. */
export function registerConformance(
  host: TestHost,
  target: Target,
  list: readonly ConformanceCase[] = cases,
): void {
  host.describe(`proactor conformance: ${target.backend.name}`, () => {
    for (const c of list) {
      const reason = skipReason(c, target.backend);
      if (reason !== undefined) host.skip(c.name, reason);
      else host.it(c.name, () => runCase(c, target), (c.timeoutMs ?? 20_000) * timeScale + 15_000);
    }
  });
}

/** What a suite run counted: the numbers of the summary line, and each failure with its error. */
export interface SuiteResult {
  /** Cases whose behaviour held. */
  passed: number;
  /** Cases that rejected or timed out; each one is in `failures`. */
  failed: number;
  /** Cases the backend lacks a capability for, or that a platform limit rules out. */
  skipped: number;
  /** The failed cases by name, with what they rejected with. */
  failures: { name: string; error: unknown }[];
}

/** Which cases a suite run takes, and how it reports progress. */
export interface RunOptions {
  /** Only cases whose name contains this text (or matches this expression). */
  filter?: string | RegExp;
  /** Called after each case. */
  report?(name: string, outcome: 'passed' | 'failed' | 'skipped', detail?: unknown): void;
  /** The cases to run (default: the whole suite); `filter` applies to them. */
  cases?: readonly ConformanceCase[];
}

/** The cases whose name contains `filter` (or matches it); all of `list` without one. */
export function selectCases(
  filter: string | RegExp | undefined,
  list: readonly ConformanceCase[] = cases,
): ConformanceCase[] {
  if (filter === undefined) return [...list];
  return list.filter((c) => (typeof filter === 'string' ? c.name.includes(filter) : filter.test(c.name)));
}

/** Runs the suite in this process, one case after another. */
export async function runSuite(target: Target, options: RunOptions = {}): Promise<SuiteResult> {
  const result: SuiteResult = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const c of selectCases(options.filter, options.cases)) {
    const reason = skipReason(c, target.backend);
    if (reason !== undefined) {
      result.skipped++;
      options.report?.(c.name, 'skipped', reason);
      continue;
    }
    try {
      await runCase(c, target);
      result.passed++;
      options.report?.(c.name, 'passed');
    } catch (error) {
      result.failed++;
      result.failures.push({ name: c.name, error });
      options.report?.(c.name, 'failed', error);
    }
  }
  return result;
}
