/**
 * Interleaved child processes that report through a file: each variant's child runs once per
 * run, in turn (run 1: A, B; run 2: A, B; ...), so that a machine whose load changes affects
 * every variant alike. A child gets `--out <file>` after its arguments and writes its JSON result
 * there: node.exe under Wine fails with EBADF when its stdout is a pipe. Used by the benchmarks
 * that run under Wine (iocp-poll.ts, iocp-idle-memory.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
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

/** A server child started by serverChildRun: it gets `--port-file <file> --out <file>` after its
 * arguments, writes the port it listens on to the first and its result (a number) to the second. */
export interface ServerChild {
  /** Named in the errors. */
  label: string;
  /** The command that runs node for the server, split on spaces (under Wine: "wine64 node.exe"). */
  command: string;
  /** node's arguments: the script and its options. */
  args: string[];
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One run of a server child whose clients are this process's (`clients(port)`, started once the
 * child wrote its port): resolves with what the child wrote to its result file, or with the
 * clients' result when the child wrote nothing. `dir` holds the two files (`index` names them).
 * The servers of the IOCP benchmarks run under Wine while their clients are Linux sockets: under
 * Wine, node.exe's own clients would cost more than the server they measure.
 */
export async function serverChildRun(
  child: ServerChild,
  clients: (port: number) => Promise<number | undefined>,
  dir: string,
  index: number,
  timeoutMs = 120_000,
): Promise<number> {
  const portFile = join(dir, `port-${index}`);
  const out = join(dir, `out-${index}`);
  const [command, ...prefix] = child.command.split(' ');
  const process_ = spawn(
    command ?? process.execPath,
    [...prefix, ...child.args, '--port-file', portFile, '--out', out],
    {
      env: { ...process.env, ...child.env },
      stdio: 'ignore',
    },
  );
  const exited = new Promise<number | null>((done) => process_.once('exit', (code) => done(code)));
  try {
    const until = Date.now() + 60_000;
    while (!existsSync(portFile) || readFileSync(portFile, 'utf8') === '') {
      if (Date.now() > until) throw new Error(`${child.label}: the server did not start`);
      await sleep(20);
    }
    const measured = await clients(Number(readFileSync(portFile, 'utf8')));
    const code = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout')]);
    if (code !== 0) throw new Error(`${child.label}: the server ended with ${code}`);
    return existsSync(out) ? Number(readFileSync(out, 'utf8')) : (measured ?? Number.NaN);
  } finally {
    process_.kill();
  }
}

/** The median of `xs` (the upper one of an even count; 0 for none). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** The load averages, as "1.0 0.8 0.5" (0 under Windows). */
export const loadText = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
