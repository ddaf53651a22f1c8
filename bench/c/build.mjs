/**
 * Builds the benchmarks' C programs (every bench/c/*.c) into bench/build/Release/<name>, as part of
 * the bench package's `build`: uring_bench (io_uring driven from C, the file benchmarks' limit) and
 * thread_echo (the thread-per-connection echo server of bench:c10k). Linux only: both programs use
 * Linux APIs and the benchmarks that run them read /proc; elsewhere this says so and does nothing.
 * Needs `cc` (Debian: gcc, which g++ pulls in); a compiler error fails the build.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const sourceDir = new URL('.', import.meta.url).pathname;
const outDir = join(sourceDir, '..', 'build', 'Release');

if (process.platform !== 'linux') {
  process.stdout.write(`bench/c: not built on ${process.platform} (Linux-only programs)\n`);
} else {
  mkdirSync(outDir, { recursive: true });
  for (const file of readdirSync(sourceDir).filter((f) => f.endsWith('.c'))) {
    const output = join(outDir, file.slice(0, -2));
    execFileSync(
      'cc',
      ['-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', output, join(sourceDir, file)],
      { stdio: 'inherit' },
    );
    process.stdout.write(`bench/c: built ${output}\n`);
  }
}
