/**
 * Interleaved child processes that report through a file: each variant's child runs once per
 * run, in turn (run 1: A, B; run 2: A, B; ...), so that a machine whose load changes affects
 * every variant alike. A child gets `--out <file>` after its arguments and writes its JSON result
 * there: node.exe under Wine fails with EBADF when its stdout is a pipe. Used by the benchmarks
 * that run under Wine (iocp-poll.ts, iocp-idle-memory.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ChildVariant {
  /** Named in the error when its child fails. */
  label: string;
  /** node's arguments: the script and its options (`--out <file>` is appended). */
  args: string[];
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/** The results of `runs` runs of every variant, by variant, in run order. Throws when a child
 * fails or outlives `timeoutMs`. */
export function interleavedChildResults<T>(runs: number, variants: ChildVariant[], timeoutMs: number): T[][] {
  const results = variants.map((): T[] => []);
  const dir = mkdtempSync(join(tmpdir(), 'proactor-bench-children-'));
  try {
    for (let run = 0; run < runs; run++) {
      for (const [v, variant] of variants.entries()) {
        const out = join(dir, `run-${run}-${v}.json`);
        const child = spawnSync(process.execPath, [...variant.args, '--out', out], {
          env: { ...process.env, ...variant.env },
          stdio: 'ignore',
          timeout: timeoutMs,
        });
        if (child.status !== 0) throw new Error(`${variant.label}: the child ended with ${child.status}`);
        results[v]?.push(JSON.parse(readFileSync(out, 'utf8')) as T);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
