import { getHeapSpaceStatistics } from 'node:v8';

/**
 * Lets a benchmark parent ask a server process for its own memory view: when the server was spawned
 * with an IPC channel, a `'memory'` message is answered with `process.memoryUsage()` and the bytes
 * V8 has committed for its young generation (`youngGeneration`: new space and new large-object
 * space, which V8 grows under allocation bursts and keeps while allocation stays fast); `'memory-gc'`
 * first runs a full garbage collection when the process has `--expose-gc`. Without a channel
 * (servers started by the other benchmarks) this does nothing.
 */
export function answerMemoryQueries(): void {
  if (!process.send) return;
  process.on('message', (message) => {
    if (message !== 'memory' && message !== 'memory-gc') return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (message === 'memory-gc' && gc) gc();
    const youngGeneration = getHeapSpaceStatistics()
      .filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space')
      .reduce((sum, s) => sum + s.space_size, 0);
    process.send!({ memory: process.memoryUsage(), youngGeneration });
  });
  // The channel must not keep a server alive that is otherwise done.
  process.channel?.unref();
}
