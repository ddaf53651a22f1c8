import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { Opcode, ProactorError } from '@proactor/aio-core';
import type { CaseContext, ConformanceCase } from '../case.js';
import { assertSystemError, fixture, pattern, rejectsWith } from './expect.js';
import { instrument } from './instrumented-backend.js';
import { timeScale } from './wine.js';

const isWindows = process.platform === 'win32';
const isRoot = process.getuid?.() === 0;

/** What a child process did. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** Whether it had to be killed for running past its time limit. */
  timedOut: boolean;
}

export interface ChildOptions {
  /** Killed after this long (default 10 s). */
  timeoutMs?: number;
  /** Node options before the code (e.g. '--expose-gc'). */
  execArgv?: readonly string[];
  /** Resource limits set (with the POSIX shell's ulimit) before Node starts. */
  limits?: {
    /** RLIMIT_NOFILE: open descriptors. */
    descriptors?: number;
    /** RLIMIT_FSIZE, in 512-byte blocks as ulimit -f counts them. */
    fileBlocks?: number;
  };
}

/** ES module source that imports the backend as `backend` and aio-core's `Queue`, as a user would. */
export function childPrelude(t: CaseContext): string {
  return [
    `const { default: backend } = await import(${JSON.stringify(t.backendUrl)});`,
    `const { Queue } = await import(${JSON.stringify(t.coreUrl)});`,
    '',
  ].join('\n');
}

/** Runs `code` (an ES module) in a new Node process, killed after a time limit. */
export function runNode(t: CaseContext, code: string, options: ChildOptions = {}): Promise<ChildResult> {
  const limit = (options.timeoutMs ?? 10_000) * timeScale;
  const started = performance.now();
  const nodeArgs = [...(options.execArgv ?? []), '--input-type=module', '-e', code];
  const { descriptors, fileBlocks } = options.limits ?? {};
  const ulimits = [
    descriptors === undefined ? '' : `ulimit -n ${descriptors} && `,
    fileBlocks === undefined ? '' : `ulimit -f ${fileBlocks} && `,
  ].join('');
  const [command, args] =
    ulimits === ''
      ? [process.execPath, nodeArgs]
      : ['/bin/sh', ['-c', `${ulimits}exec "$0" "$@"`, process.execPath, ...nodeArgs]];
  const child = spawn(command, args, {
    cwd: t.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limit);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started, timedOut });
    });
  });
}

/** Asserts the child exited normally with `code`, printing its output when it did not. */
export function assertExited(r: ChildResult, code = 0): void {
  const output = `\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  assert.equal(r.timedOut, false, `the child did not exit by itself within its time limit${output}`);
  assert.equal(r.signal, null, `the child was killed by ${String(r.signal)}${output}`);
  assert.equal(r.code, code, `the child exited with ${String(r.code)}${output}`);
}

/** Makes a case directory (created 0700 by mkdtemp) reachable by another user. */
function openUpDir(t: CaseContext): void {
  chmodSync(t.dir, 0o755);
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Marks `p` as observed, so that a case failing before it awaits `p` cannot crash the runner. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export const lifecycleCases: ConformanceCase[] = [
  {
    name: 'lifecycle: destroy() with operations in flight gives each exactly one final result, then resolves',
    needs: ['open', 'read', 'timeout', 'nop'],
    async run(t) {
      const size = 128 * 1024;
      const data = pattern(size, 21);
      const path = fixture(t, 'inflight.bin', data);
      const q = t.queue({ entries: 32 });
      const fd = await q.open(path, 'r');
      const results: Settled[][] = [];
      const track = (p: Promise<unknown>) => {
        const seen: Settled[] = [];
        results.push(seen);
        p.then(
          (value) => seen.push({ ok: true, value }),
          (error: unknown) => seen.push({ ok: false, error }),
        );
      };
      for (let i = 0; i < 4; i++) track(q.timeout(30_000));
      const readCalls: unknown[][][] = [];
      const buffers: Buffer[] = [];
      for (let i = 0; i < 8; i++) {
        const calls: unknown[][] = [];
        readCalls.push(calls);
        const buf = Buffer.alloc(size);
        buffers.push(buf);
        q.read(fd, buf, 0, size, 0, (...args) => calls.push(args));
      }
      for (let i = 0; i < 4; i++) track(q.nop());
      q.submit();
      assert.equal(q.inFlight, 16);
      const started = performance.now();
      await q.destroy();
      const elapsed = performance.now() - started;
      assert.ok(
        elapsed < 5_000,
        `destroy() took ${elapsed.toFixed(0)} ms: timeouts were cancelled, not waited out`,
      );
      assert.equal(q.inFlight, 0);
      for (const seen of results)
        assert.equal(seen.length, 1, 'each promise settled before destroy() resolved');
      for (const seen of results.slice(0, 4)) {
        const [r] = seen;
        assert.equal(r.ok, false, 'a 30 s timeout cannot have completed');
        if (!r.ok) assertSystemError(r.error, { code: 'ECANCELED' });
      }
      for (let i = 0; i < 8; i++) {
        const calls = readCalls[i];
        assert.equal(calls.length, 1, 'each callback ran exactly once before destroy() resolved');
        const [err, n] = calls[0];
        if (err === null) {
          assert.equal(n, size);
          assert.ok(buffers[i].equals(data));
        } else assertSystemError(err, { code: 'ECANCELED', syscall: 'read' });
      }
      // The fd is the caller's: destroy does not close it.
      const { closeSync } = await import('node:fs');
      closeSync(fd);
    },
  },
  {
    name: 'lifecycle: destroy() rejects operations waiting for a slot with ECANCELED, never submitting them',
    needs: ['timeout', 'nop', 'mkdir'],
    async run(t) {
      const { backend, counts: log } = instrument(t.backend);
      const q = t.queue({ entries: 1 }, backend);
      const holder = q.timeout(30_000).then(
        () => 'completed',
        (e: unknown) => e,
      );
      const dir = t.path('never-made');
      const waiting: Settled[][] = [];
      const track = (p: Promise<unknown>) => {
        const seen: Settled[] = [];
        waiting.push(seen);
        p.then(
          (value) => seen.push({ ok: true, value }),
          (error: unknown) => seen.push({ ok: false, error }),
        );
      };
      for (let i = 0; i < 5; i++) track(q.nop());
      track(q.mkdir(dir));
      await Promise.resolve();
      assert.equal(q.waiting, 6);
      await q.destroy();
      for (const seen of waiting) {
        assert.equal(seen.length, 1, 'settled by the time destroy() resolved');
        const [r] = seen;
        assert.equal(r.ok, false);
        if (!r.ok) assertSystemError(r.error, { code: 'ECANCELED' });
      }
      assertSystemError(await holder, { code: 'ECANCELED' });
      assert.equal(existsSync(dir), false, 'the waiting mkdir never ran');
      const opcodes = log.submitted.map((s) => s.opcode);
      assert.ok(!opcodes.includes(Opcode.NOP) && !opcodes.includes(Opcode.MKDIR), `submitted: ${opcodes}`);
    },
  },
  {
    name: 'lifecycle: destroy() in the issuing tick settles operations with ECANCELED first, submits nothing',
    needs: ['nop', 'timeout'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      const ops = [q.nop(), q.timeout(10), q.nop()].map(quiet);
      const settled: Settled[] = [];
      for (const p of ops) {
        p.then(
          (value) => settled.push({ ok: true, value }),
          (error: unknown) => settled.push({ ok: false, error }),
        );
      }
      await q.destroy();
      assert.equal(settled.length, ops.length, 'every operation settled before destroy() resolved');
      for (const p of ops) await rejectsWith(p, { code: 'ECANCELED' });
      assert.equal(counts.entries, 0);
    },
  },
  {
    name: 'lifecycle: destroy() while a long timeout is pending cancels it at once',
    needs: ['timeout'],
    async run(t) {
      const q = t.queue();
      const started = performance.now();
      const pending = q.timeout(60_000);
      pending.catch(() => {});
      q.submit();
      await q.destroy();
      await assert.rejects(pending, { code: 'ECANCELED' });
      assert.ok(performance.now() - started < 5_000, 'destroy did not wait for the timeout');
    },
  },
  {
    name: 'lifecycle: operations after destroy() throw ProactorError ERR_PROACTOR_QUEUE_DESTROYED',
    needs: ['nop', 'timeout', 'open'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      await q.nop();
      const destroying = q.destroy();
      const destroyed = (e: unknown) =>
        e instanceof ProactorError && e.code === 'ERR_PROACTOR_QUEUE_DESTROYED' && e.name === 'ProactorError';
      assert.throws(() => q.nop(), destroyed, 'while destroy() is under way');
      await destroying;
      let called = false;
      assert.throws(() => q.nop(), destroyed);
      assert.throws(() => q.timeout(1), destroyed);
      assert.throws(() => q.open(t.path('x'), 'w'), destroyed);
      assert.throws(
        () =>
          q.nop(() => {
            called = true;
          }),
        destroyed,
        'the callback form throws too',
      );
      assert.throws(() => q.nop({ userData: 1 }), destroyed, 'and the polled form');
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(called, false);
      assert.equal(counts.entries, 1, 'only the first nop was submitted');
      assert.equal(existsSync(t.path('x')), false);
    },
  },
  {
    name: 'lifecycle: destroy() called again returns the same promise',
    needs: ['timeout'],
    async run(t) {
      const q = t.queue();
      const timeout = q.timeout(30_000).catch((e: unknown) => e);
      await Promise.resolve();
      const first = q.destroy();
      assert.equal(q.destroy(), first);
      await first;
      assert.equal(q.destroy(), first, 'also after it resolved');
      assert.equal(q[Symbol.asyncDispose](), first, 'Symbol.asyncDispose returns it too');
      assertSystemError(await timeout, { code: 'ECANCELED' });
    },
  },
  {
    name: 'lifecycle: await using destroys the queue at the end of its block',
    needs: ['nop', 'timeout'],
    async run(t) {
      let escaped: ReturnType<typeof t.queue> | undefined;
      let pending: Promise<unknown> | undefined;
      {
        await using q = t.queue();
        escaped = q;
        assert.equal(await q.nop(), undefined);
        pending = q.timeout(30_000).catch((e: unknown) => e);
        await Promise.resolve();
        assert.equal(q.inFlight, 1);
      }
      assert.equal(escaped.inFlight, 0, 'the block ended after destroy() resolved');
      assertSystemError(await pending, { code: 'ECANCELED' });
      assert.throws(() => escaped!.nop(), { code: 'ERR_PROACTOR_QUEUE_DESTROYED' });
    },
  },
  {
    name: 'lifecycle: destroying one queue leaves other queues of the same backend working',
    needs: ['nop', 'timeout'],
    async run(t) {
      const a = t.queue();
      const b = t.queue();
      const inB = quiet(b.timeout(50));
      await a.nop();
      await a.destroy();
      assert.equal(await inB, undefined);
      assert.equal(await b.nop(), undefined);
      const c = t.queue();
      assert.equal(await c.nop(), undefined);
    },
  },
  {
    name: 'lifecycle: a process with an unref()ed queue and a 60 s timeout pending exits by itself',
    needs: ['timeout'],
    timeoutMs: 30_000,
    async run(t) {
      const r = await runNode(
        t,
        `${childPrelude(t)}
const q = new Queue(backend);
q.unref();
q.timeout(60_000).then(() => console.log('fired'), (e) => console.log('rejected', e.code));
q.submit();
console.log('pending', q.inFlight);
`,
      );
      assertExited(r, 0);
      assert.equal(r.stdout.trim(), 'pending 1');
      // Against a child that only starts and imports: under Wine (and on a loaded machine) a
      // process start alone takes seconds, the 60 s timer is what must not hold the process.
      const idle = await runNode(t, childPrelude(t));
      assertExited(idle, 0);
      assert.ok(
        r.ms < idle.ms + 5_000 * timeScale,
        `exited after ${r.ms.toFixed(0)} ms (a bare child: ${idle.ms.toFixed(0)} ms)`,
      );
    },
  },
  {
    name: 'lifecycle: unref() applies to socket operations already waiting (accept, recv, recvfrom): the process exits; ref() again keeps it alive',
    needs: ['socket', 'bind', 'listen', 'getsockname', 'accept', 'connect', 'recv', 'recvfrom', 'close'],
    timeoutMs: 30_000,
    async run(t) {
      const script = (refAgain: boolean) => `${childPrelude(t)}
const q = new Queue(backend);
const l = await q.socket(4);
await q.bind(l, { address: '127.0.0.1', port: 0 });
await q.listen(l, 4);
const { port } = await q.localAddress(l);
const c = await q.socket(4);
const accepting = q.accept(l);
await q.connect(c, { address: '127.0.0.1', port });
const { fd } = await accepting;
const u = await q.socket(4, 'dgram');
await q.bind(u, { address: '127.0.0.1', port: 0 });
// Three operations that wait for as long as the peer likes, started while the queue is ref()'d.
const waiting = [q.accept(l), q.recv(fd, Buffer.alloc(16)), q.recvfrom(u, Buffer.alloc(16))];
for (const p of waiting) p.catch(() => {});
q.submit();
await new Promise((resolve) => setTimeout(resolve, 50));
q.unref();
${refAgain ? 'q.ref();' : ''}
console.log('waiting', q.inFlight);
setTimeout(() => { console.log('alive'); process.exit(0); }, 1000).unref();
`;
      const [unrefd, refd] = await Promise.all([runNode(t, script(false)), runNode(t, script(true))]);
      assertExited(unrefd, 0);
      assertExited(refd, 0);
      assert.equal(unrefd.stdout.trim(), 'waiting 3', 'unref()ed: the process exits while they wait');
      assert.deepEqual(
        refd.stdout.trim().split('\n'),
        ['waiting 3', 'alive'],
        'ref()ed again: it stays alive',
      );
    },
  },
  {
    name: 'lifecycle: a ref()ed queue keeps the process alive until its timeout fires',
    needs: ['timeout'],
    timeoutMs: 30_000,
    async run(t) {
      const r = await runNode(
        t,
        `${childPrelude(t)}
const q = new Queue(backend);
if (q.unref() !== q || q.ref() !== q) console.log('ref() and unref() do not return the queue');
q.timeout(300).then(() => console.log('fired'));
`,
      );
      assertExited(r, 0);
      assert.equal(r.stdout.trim(), 'fired');
    },
  },
  {
    name: 'lifecycle: a process whose queue is idle after its operations exits without destroy()',
    needs: ['nop', 'timeout', 'open', 'close'],
    timeoutMs: 30_000,
    async run(t) {
      const path = fixture(t, 'idle.txt', 'x');
      const r = await runNode(
        t,
        `${childPrelude(t)}
const q = new Queue(backend);
await q.nop();
await q.timeout(10);
await q.close(await q.open(${JSON.stringify(path)}, 'r'));
console.log('idle', q.inFlight);
`,
      );
      assertExited(r, 0);
      assert.equal(r.stdout.trim(), 'idle 0');
      assert.ok(r.ms < 8_000 * timeScale, `exited after ${r.ms.toFixed(0)} ms`);
    },
  },
  {
    name: 'lifecycle: process.exit() with operations in flight exits with its code, without a crash',
    needs: ['open', 'read', 'timeout', 'nop'],
    timeoutMs: 30_000,
    async run(t) {
      const path = fixture(t, 'exit.bin', pattern(1024 * 1024, 2));
      const r = await runNode(
        t,
        `${childPrelude(t)}
const q = new Queue(backend);
const fd = await q.open(${JSON.stringify(path)}, 'r');
for (let i = 0; i < 32; i++) q.read(fd, Buffer.alloc(65536), 0, 65536, i * 32768).catch(() => {});
q.timeout(60_000).catch(() => {});
q.nop().catch(() => {});
q.submit();
console.log('in flight', q.inFlight);
process.exit(7);
`,
      );
      assertExited(r, 7);
      assert.equal(r.stdout.trim(), 'in flight 34');
      assert.equal(r.stderr, '', 'nothing was reported on stderr');
    },
  },
  {
    name: 'lifecycle: opening a file the process may not read rejects with EACCES',
    needs: ['open'],
    timeoutMs: 30_000,
    skip: () => (isWindows ? 'Windows has no POSIX permission bits' : undefined),
    async run(t) {
      const path = fixture(t, 'secret.txt', 'secret');
      chmodSync(path, 0o600);
      if (!isRoot) {
        // Root bypasses permission bits; anyone else is refused a file with none.
        chmodSync(path, 0o000);
        const q = t.queue();
        await rejectsWith(q.open(path, 'r'), { code: 'EACCES', syscall: 'open', path });
        return;
      }
      openUpDir(t);
      // The child drops to nobody after loading its modules: the checkout may sit in a directory
      // only root can enter (mktemp -d makes them 0700).
      const r = await runNode(
        t,
        `${childPrelude(t)}
process.setgid(65534);
process.setuid(65534);
const q = new Queue(backend);
try {
  const fd = await q.open(${JSON.stringify(path)}, 'r');
  console.log(JSON.stringify({ uid: process.getuid(), opened: fd }));
} catch (e) {
  console.log(JSON.stringify({ uid: process.getuid(), code: e.code, errno: e.errno, syscall: e.syscall,
    path: e.path, message: e.message }));
}
`,
      );
      assertExited(r, 0);
      const seen = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.equal(seen.uid, 65534, 'the child ran as another user');
      const error = Object.assign(new Error(String(seen.message)), seen);
      assertSystemError(error, { code: 'EACCES', syscall: 'open', path });
    },
  },
  {
    name: 'lifecycle: operations after process.setuid() run with the new credentials',
    needs: ['open', 'nop'],
    timeoutMs: 30_000,
    skip: () =>
      isWindows ? 'Windows has no setuid' : isRoot ? undefined : 'needs root to change to another user',
    async run(t) {
      const path = fixture(t, 'root-only.txt', 'secret');
      chmodSync(path, 0o600);
      openUpDir(t);
      const r = await runNode(
        t,
        `${childPrelude(t)}
const q = new Queue(backend);
await q.nop(); // the engine is running before the credentials change
const before = await q.open(${JSON.stringify(path)}, 'r').then(() => 'opened', (e) => e.code);
process.setgid(65534);
process.setuid(65534);
const after = await q.open(${JSON.stringify(path)}, 'r').then(() => 'opened', (e) => e.code);
console.log(JSON.stringify({ before, after, uid: process.getuid() }));
`,
      );
      assertExited(r, 0);
      assert.deepEqual(JSON.parse(r.stdout), { before: 'opened', after: 'EACCES', uid: 65534 });
    },
  },
  {
    name: 'lifecycle: destroy() mid-chain ends every linked member; none after the running one runs',
    needs: ['linkedOperations', 'timeout', 'mkdir', 'nop'],
    async run(t) {
      const q = t.queue();
      const dir = t.path('after-destroy');
      const outcomes: Settled[] = [];
      const track = (p: Promise<unknown>) =>
        p.then(
          (value) => outcomes.push({ ok: true, value }),
          (error: unknown) => outcomes.push({ ok: false, error }),
        );
      track(q.timeout(30_000, { link: true }));
      track(q.nop({ link: true }));
      track(q.mkdir(dir));
      q.submit();
      const started = performance.now();
      await q.destroy();
      assert.ok(performance.now() - started < 5_000, 'the running timeout was cancelled');
      assert.equal(outcomes.length, 3, 'every member settled before destroy() resolved');
      for (const r of outcomes) {
        assert.equal(r.ok, false);
        if (!r.ok) assertSystemError(r.error, { code: 'ECANCELED' });
      }
      assert.equal(existsSync(dir), false);
    },
  },
];
