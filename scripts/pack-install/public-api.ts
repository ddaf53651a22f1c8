// Type-checked (never run) in the project the pack-install test creates, with the strictest
// compiler settings and no "types" in its tsconfig: the published .d.ts files must stand alone.
import {
  AbortError,
  type Callback,
  createQueue,
  type OperationError,
  ProactorError,
  type SelectedQueue,
  type SystemError,
  selectBackend,
} from '@proactor/aio';
import { cases, runSuite } from '@proactor/aio-conformance';
import { Queue, type Stats } from '@proactor/aio-core';
import nodeBackend from '@proactor/aio-node';
import uring, { createBackend, engineInfo } from '@proactor/aio-uring';

export async function tour(): Promise<void> {
  const q: SelectedQueue = await createQueue({ entries: 64 });
  const reason: string = q.selection.explain();
  const fd: number = await q.open('data.bin', 'r');
  const buf = Buffer.alloc(4096);
  const n: number = await q.read(fd, buf, 0, buf.length, 0);
  q.read(fd, buf, { position: 0 }, (err, bytes) => {
    if (err) {
      const code: string = err.code;
      void code;
      return;
    }
    // Once err is ruled out the result needs no check (the callback is typed as @types/node types fs's).
    const more: number = bytes + 1;
    void more;
  });
  const onClose: Callback<void> = (err: OperationError | null) => {
    if (err instanceof AbortError || err instanceof ProactorError) void err.code;
    else if (err) void (err satisfies SystemError).syscall;
  };
  q.close(fd, onClose);
  const stats: Stats = await q.stat('data.bin');
  const server = await q.socket(4);
  await q.bind(server, { address: '127.0.0.1', port: 0 });
  const local = await q.localAddress(server);
  if ('port' in local) void local.port;
  const selection = await selectBackend({ backend: 'node' });
  const plain = new Queue(nodeBackend);
  const onRing = new Queue(createBackend({ sqEntries: 64 }));
  void engineInfo;
  void uring.capabilities.ops.has('read');
  const result = await runSuite({ backend: nodeBackend, backendUrl: import.meta.url }, { cases });
  void [reason, n, stats.isFile(), selection.outcomes.length, result.passed];
  await Promise.all([plain.destroy(), onRing.destroy(), q.destroy()]);
}
