/**
 * Lets a benchmark parent ask a server process for its own memory view: when the server was spawned
 * with an IPC channel, a `'memory'` message is answered with `process.memoryUsage()`; `'memory-gc'`
 * first runs a full garbage collection when the process has `--expose-gc`. Without a channel
 * (servers started by the other benchmarks) this does nothing.
 */
export function answerMemoryQueries(): void {
  if (!process.send) return;
  process.on('message', (message) => {
    if (message !== 'memory' && message !== 'memory-gc') return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (message === 'memory-gc' && gc) gc();
    process.send!({ memory: process.memoryUsage() });
  });
  // The channel must not keep a server alive that is otherwise done.
  process.channel?.unref();
}
