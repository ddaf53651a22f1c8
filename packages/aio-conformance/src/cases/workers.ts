import assert from 'node:assert/strict';
import { closeSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CaseContext, ConformanceCase } from '../case.js';
import { fixture, pattern } from './expect.js';
import { assertExited, runNode } from './lifecycle.js';

/** What a worker reported, and how it ended. */
interface WorkerRun {
  messages: unknown[];
  exitCode: number;
  /** An error thrown in the worker and not caught there. */
  error: Error | undefined;
}

/**
 * Writes `body` as an ES module that has `backend`, `Queue`, `workerData` and `parentPort` in
 * scope (the backend and aio-core imported the way the backend's user would) and returns its URL.
 */
export function workerModule(t: CaseContext, name: string, body: string): URL {
  const path = t.path(name);
  writeFileSync(
    path,
    [
      "import { parentPort, workerData } from 'node:worker_threads';",
      `const { default: backend } = await import(${JSON.stringify(t.backendUrl)});`,
      `const { Queue } = await import(${JSON.stringify(t.coreUrl)});`,
      body,
    ].join('\n'),
  );
  return pathToFileURL(path);
}

/**
 * Starts a worker and resolves when it exits: terminated after `limitMs` (then the run fails).
 * `onMessage` may end it early, e.g. by calling `worker.terminate()`.
 */
export function runWorker(
  t: CaseContext,
  url: URL,
  workerData: unknown,
  onMessage?: (message: unknown, worker: Worker) => void,
  limitMs = 10_000,
): Promise<WorkerRun> {
  const worker = new Worker(url, { workerData });
  t.defer(() => worker.terminate());
  const run: WorkerRun = { messages: [], exitCode: -1, error: undefined };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(
        new Error(`the worker did not finish within ${limitMs} ms; it said ${JSON.stringify(run.messages)}`),
      );
    }, limitMs);
    worker.on('message', (message: unknown) => {
      run.messages.push(message);
      onMessage?.(message, worker);
    });
    worker.on('error', (error) => {
      run.error = error;
    });
    worker.on('exit', (code) => {
      clearTimeout(timer);
      run.exitCode = code;
      resolve(run);
    });
  });
}

const WRITE_READ_BACK = `
const { path, data, chunk } = workerData;
const q = new Queue(backend);
const source = Buffer.from(data);
const fd = await q.open(path, 'w+');
const writes = [];
for (let at = 0; at < source.length; at += chunk) writes.push(q.write(fd, source, at, chunk, at));
const written = (await Promise.all(writes)).reduce((a, b) => a + b, 0);
await q.fsync(fd);
const back = Buffer.alloc(source.length);
const reads = [];
for (let at = 0; at < back.length; at += chunk) reads.push(q.read(fd, back, at, chunk, at));
const read = (await Promise.all(reads)).reduce((a, b) => a + b, 0);
await q.close(fd);
await q.destroy();
parentPort.postMessage({ written, read, back });
`;

/**
 * A worker with a file, a listening socket, a connection waiting in recv, 32 reads, an accept
 * and a timeout in flight, that then submits on every microtask checkpoint until it is
 * terminated. Once everything is in flight it posts the descriptors it opened.
 */
const SUBMITTING_WORKER = `
const q = new Queue(backend);
const fd = await q.open(workerData.path, 'r');
const opened = [fd];
const pending = [];
if (q.capabilities.ops.has('listen')) {
  const s = await q.socket(4);
  await q.bind(s, { address: '127.0.0.1', port: 0 });
  await q.listen(s, 16);
  const c = await q.socket(4);
  const accepted = q.accept(s);
  await q.connect(c, await q.localAddress(s));
  const connection = (await accepted).fd;
  opened.push(s, c, connection);
  pending.push(q.recv(connection, Buffer.alloc(1024)), q.accept(s));
}
const buf = Buffer.alloc(4096);
for (let i = 0; i < 32; i++) pending.push(q.read(fd, buf, 0, 4096, i * 4096));
pending.push(q.timeout(60_000));
for (const p of pending) p.catch(() => {});
// The descriptors are the program's, as fs.open's are: its parent closes them after terminate().
parentPort.postMessage({ descriptors: opened });
// Every microtask checkpoint crosses into the backend until the worker is terminated.
for (let n = 0; ; n++) {
  q.nop().catch(() => {});
  if (n % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  else await null;
}
`;

/**
 * Child-process source: `cycle(i)` starts the worker at `url`, terminates it once its operations
 * are in flight, closes the descriptors it opened, and resolves to its exit code.
 */
function terminatingCycles(url: URL, path: string): string {
  return `
import { Worker } from 'node:worker_threads';
import { closeSync } from 'node:fs';
async function cycle(i) {
  const worker = new Worker(new URL(${JSON.stringify(url.href)}), { workerData: { path: ${JSON.stringify(path)} }, execArgv: [] });
  let descriptors = [];
  const code = await new Promise((resolve, reject) => {
    worker.on('message', (m) => {
      descriptors = m.descriptors;
      setTimeout(() => void worker.terminate(), i % 4);
    });
    worker.on('error', reject);
    worker.on('exit', resolve);
  });
  // A backend may have closed them with the worker already (node:net does): EBADF then.
  for (const fd of descriptors) try { closeSync(fd); } catch {}
  return code;
}
`;
}

export const workerCases: ConformanceCase[] = [
  {
    name: 'workers: four worker threads, each with its own queue, write and read back their own files',
    needs: ['open', 'write', 'fsync', 'read', 'close'],
    timeoutMs: 30_000,
    async run(t) {
      const url = workerModule(t, 'write-read.mjs', WRITE_READ_BACK);
      const size = 256 * 1024;
      const chunk = 16 * 1024;
      const inputs = [0, 1, 2, 3].map((i) => ({
        path: t.path(`worker-${i}.bin`),
        data: pattern(size, 100 + i),
      }));
      const runs = await Promise.all(
        inputs.map(({ path, data }) => runWorker(t, url, { path, data: new Uint8Array(data), chunk })),
      );
      for (let i = 0; i < inputs.length; i++) {
        const { data, path } = inputs[i];
        const run = runs[i];
        assert.equal(run.error, undefined, `worker ${i} threw: ${String(run.error?.stack)}`);
        assert.equal(run.exitCode, 0, `worker ${i} exit code`);
        assert.equal(run.messages.length, 1);
        const { written, read, back } = run.messages[0] as {
          written: number;
          read: number;
          back: Uint8Array;
        };
        assert.equal(written, size, `worker ${i} wrote every byte`);
        assert.equal(read, size, `worker ${i} read every byte`);
        assert.ok(Buffer.from(back).equals(data), `worker ${i} read back its own data`);
        assert.ok(readFileSync(path).equals(data), `worker ${i}'s file holds its own data`);
      }
    },
  },
  {
    name: 'workers: a worker exits by itself once its queue is idle, without destroy()',
    needs: ['nop', 'timeout', 'open', 'read', 'close'],
    timeoutMs: 30_000,
    async run(t) {
      const path = fixture(t, 'idle.txt', 'idle worker');
      const url = workerModule(
        t,
        'idle.mjs',
        `
const q = new Queue(backend);
await q.nop();
await q.timeout(10);
const fd = await q.open(workerData.path, 'r');
const buf = Buffer.alloc(11);
const n = await q.read(fd, buf, 0, 11, 0);
await q.close(fd);
parentPort.postMessage({ n, text: buf.toString(), inFlight: q.inFlight });
`,
      );
      const started = performance.now();
      const run = await runWorker(t, url, { path });
      assert.equal(run.error, undefined, String(run.error?.stack));
      assert.equal(run.exitCode, 0);
      assert.deepEqual(run.messages, [{ n: 11, text: 'idle worker', inFlight: 0 }]);
      assert.ok(performance.now() - started < 8_000);
    },
  },
  {
    name: 'workers: terminating a worker with reads in flight leaves the main thread and its queue working',
    needs: ['open', 'read', 'timeout', 'nop', 'close'],
    timeoutMs: 30_000,
    async run(t) {
      const size = 4 * 1024 * 1024;
      const data = pattern(size, 31);
      const path = fixture(t, 'busy.bin', data);
      const url = workerModule(
        t,
        'busy.mjs',
        `
const q = new Queue(backend, { entries: 32 });
const fd = await q.open(workerData.path, 'r');
q.timeout(60_000).catch(() => {});
let told = false;
for (let round = 0; ; round++) {
  const reads = [];
  for (let i = 0; i < 64; i++) {
    reads.push(q.read(fd, Buffer.alloc(65536), 0, 65536, i * 65536));
  }
  q.submit();
  if (!told) {
    told = true;
    parentPort.postMessage({ inFlight: q.inFlight, waiting: q.waiting, fd });
  }
  await Promise.all(reads);
}
`,
      );
      for (let attempt = 0; attempt < 3; attempt++) {
        const run = await runWorker(t, url, { path }, (_message, worker) => {
          void worker.terminate();
        });
        assert.equal(run.error, undefined, String(run.error?.stack));
        assert.equal(run.exitCode, 1, 'terminate() ended the worker');
        assert.ok(run.messages.length >= 1, 'the worker had reads in flight when it was terminated');
        const [first] = run.messages as { inFlight: number; waiting: number; fd: number }[];
        assert.equal(first.inFlight, 32);
        // Descriptors are the process's: the worker's stays open (on Windows an open file keeps
        // its directory from being removed). A backend may have closed it already: EBADF then.
        try {
          closeSync(first.fd);
        } catch {}
      }
      const q = t.queue();
      const fd = await q.open(path, 'r');
      const buf = Buffer.alloc(65536);
      assert.equal(await q.read(fd, buf, 0, buf.length, 65536), buf.length);
      assert.ok(buf.equals(data.subarray(65536, 131072)));
      assert.equal(await q.nop(), undefined);
      assert.equal(await q.timeout(10), undefined);
      await q.close(fd);
    },
  },
  {
    // Terminating a worker stops its JavaScript from another thread: calls into the backend
    // that are already on their way then fail inside Node-API (napi_unwrap, napi_throw). An
    // io_uring build that turned such a failure into a second C++ throw aborted the process in
    // every run of this case; a few cycles in sequence catch it.
    name: 'workers: workers terminated while they submit, 100 in sequence, never take the process down',
    needs: ['open', 'read', 'timeout', 'nop'],
    timeoutMs: 200_000,
    async run(t) {
      const path = fixture(t, 'churn.bin', pattern(32 * 4096, 47));
      const url = workerModule(t, 'submitting.mjs', SUBMITTING_WORKER);
      const cycles = 100;
      const r = await runNode(
        t,
        `
${terminatingCycles(url, path)}
let ended = 0;
for (let i = 0; i < ${cycles}; i++) {
  const code = await cycle(i);
  if (code === 1) ended++;
}
console.log(JSON.stringify({ ended }));
`,
        { timeoutMs: 190_000 },
      );
      assertExited(r);
      assert.deepEqual(
        JSON.parse(r.stdout),
        { ended: cycles },
        'every worker was terminated while it submitted',
      );
    },
  },
  {
    name: 'workers: workers with files, sockets and timers in flight, started and terminated one after another (200; PROACTOR_LOAD_WORKERS sets how many), leave no descriptor of their queues open and RSS within 64 MiB',
    needs: ['open', 'read', 'timeout', 'nop'],
    timeoutMs: 600_000,
    // Windows: '/proc/self/fd' would name a directory on the current drive (under Wine, Z: is
    // the Linux root, so it even exists there, but not on the child's drive).
    skip: () =>
      process.platform !== 'win32' && (existsSync('/proc/self/fd') || existsSync('/dev/fd'))
        ? undefined
        : 'no /proc/self/fd or /dev/fd to count descriptors',
    async run(t) {
      const path = fixture(t, 'load.bin', pattern(32 * 4096, 48));
      const url = workerModule(t, 'load.mjs', SUBMITTING_WORKER);
      const cycles = Number(process.env.PROACTOR_LOAD_WORKERS ?? 200);
      const r = await runNode(
        t,
        `
import { readdirSync } from 'node:fs';
${terminatingCycles(url, path)}
const fdDir = ${JSON.stringify(existsSync('/proc/self/fd') ? '/proc/self/fd' : '/dev/fd')};
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
async function measure() {
  for (let i = 0; i < 3; i++) { globalThis.gc(); await settle(); }
  return { descriptors: readdirSync(fdDir).length, rss: process.memoryUsage().rss };
}
// Progress on stderr, so that a run cut by its time limit shows whether it was slow or stuck.
const start = Date.now();
const progress = (what) => process.stderr.write(what + ' at ' + (Date.now() - start) + ' ms\\n');
// Warm-up: code caches, libuv's thread pool and the allocator's arenas grow to their working size.
for (let i = 0; i < 50; i++) await cycle(i);
progress('50 warm-up cycles');
const before = await measure();
let ended = 0;
for (let i = 0; i < ${cycles}; i++) {
  if ((await cycle(i)) === 1) ended++;
  if ((i + 1) % 25 === 0) progress((i + 1) + ' cycles');
}
const after = await measure();
console.log(JSON.stringify({ ended, before, after }));
`,
        // About 0.1 s a cycle on an idle machine, 0.6 s with a load of 20 on 2 cores: room for that.
        { timeoutMs: Math.min(590_000, 60_000 + cycles * 1_000), execArgv: ['--expose-gc'] },
      );
      assertExited(r);
      const { ended, before, after } = JSON.parse(r.stdout) as {
        ended: number;
        before: { descriptors: number; rss: number };
        after: { descriptors: number; rss: number };
      };
      assert.equal(ended, cycles, 'every worker was terminated with its operations in flight');
      assert.equal(after.descriptors, before.descriptors, 'no descriptor of a queue outlived its worker');
      // AddressSanitizer (preloaded by the sanitizer run) holds freed memory in its quarantine:
      // RSS there says nothing about leaks; the descriptor count above still holds.
      if (!/libasan/.test(process.env.LD_PRELOAD ?? '')) {
        const grown = (after.rss - before.rss) / 2 ** 20;
        assert.ok(grown < 64, `RSS grew by ${grown.toFixed(1)} MiB over ${cycles} workers`);
      }
    },
  },
  {
    name: 'workers: worker-thread and main-thread queues run at once without mixing completions',
    needs: ['open', 'write', 'fsync', 'read', 'close', 'timeout'],
    timeoutMs: 30_000,
    async run(t) {
      const url = workerModule(t, 'concurrent.mjs', WRITE_READ_BACK);
      const size = 128 * 1024;
      const chunk = 4096;
      const inputs = [0, 1].map((i) => ({ path: t.path(`w${i}.bin`), data: pattern(size, 200 + i) }));
      const workers = Promise.all(
        inputs.map(({ path, data }) => runWorker(t, url, { path, data: new Uint8Array(data), chunk })),
      );
      const mainData = pattern(size, 300);
      const mainPath = fixture(t, 'main.bin', mainData);
      const q = t.queue({ entries: 16 });
      const fd = await q.open(mainPath, 'r');
      const back = Buffer.alloc(size);
      const reads: Promise<number>[] = [];
      for (let at = 0; at < size; at += chunk) reads.push(q.read(fd, back, at, chunk, at));
      const timeouts = [q.timeout(5), q.timeout(20)];
      const counts = await Promise.all(reads);
      await Promise.all(timeouts);
      assert.ok(
        counts.every((n) => n === chunk),
        'every main-thread read got its own full count',
      );
      assert.ok(back.equals(mainData), 'the main thread read its own file');
      await q.close(fd);
      for (const [i, run] of (await workers).entries()) {
        assert.equal(run.error, undefined, String(run.error?.stack));
        assert.equal(run.exitCode, 0);
        const { back: workerBack } = run.messages[0] as { back: Uint8Array };
        assert.ok(Buffer.from(workerBack).equals(inputs[i].data), `worker ${i} read its own data`);
      }
    },
  },
];
