import assert from 'node:assert/strict';
import type { Completion, Queue } from '@proactor/aio-core';
import type { ConformanceCase } from '../case.js';
import { assertSystemError, fixture } from './expect.js';
import { assertExited, childPrelude, runNode } from './lifecycle.js';

/** Waits (yielding to the event loop) until `q` holds at least `n` polled completions. */
async function untilReady(q: Queue, n: number, limitMs = 5_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (q.ready < n) {
    if (performance.now() > deadline)
      assert.fail(`only ${q.ready} of ${n} polled completions after ${limitMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Calls an operation in callback form and collects every call of its callback. */
function callbackCalls(start: (cb: (...args: unknown[]) => void) => void): Promise<unknown[][]> {
  const calls: unknown[][] = [];
  return new Promise((resolve) => {
    start((...args) => {
      calls.push(args);
      // Let a second (wrong) call show up before the case looks.
      if (calls.length === 1) setTimeout(() => resolve(calls), 30);
    });
  });
}

/** Marks `p` as observed, so that a case failing before it awaits `p` cannot crash the runner. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export const formCases: ConformanceCase[] = [
  {
    name: 'forms: the callback form receives (null, result) on success',
    needs: ['open', 'read', 'fstat', 'nop', 'close'],
    async run(t) {
      const path = fixture(t, 'cb.txt', 'hello');
      const q = t.queue();
      const opened = await callbackCalls((cb) => q.open(path, 'r', cb));
      assert.equal(opened.length, 1);
      assert.equal(opened[0][0], null);
      const fd = opened[0][1] as number;
      assert.ok(Number.isInteger(fd) && fd >= 0, `fd ${String(fd)}`);
      const buf = Buffer.alloc(5);
      assert.equal(
        q.read(fd, buf, 0, 5, 0, () => {}),
        undefined,
        'the callback form returns undefined',
      );
      const read = await callbackCalls((cb) => q.read(fd, buf, { position: 0 }, cb));
      assert.deepEqual(read, [[null, 5]]);
      assert.equal(buf.toString(), 'hello');
      const stat = await callbackCalls((cb) => q.fstat(fd, cb));
      assert.equal(stat.length, 1);
      assert.equal(stat[0][0], null);
      assert.equal((stat[0][1] as { size: number }).size, 5);
      const nop = await callbackCalls((cb) => q.nop(cb));
      assert.equal(nop.length, 1);
      assert.equal(nop[0][0], null);
      assert.equal(nop[0][1], undefined);
      await q.close(fd);
    },
  },
  {
    name: 'forms: the callback form receives a Node-style system error on failure, once',
    needs: ['open', 'read'],
    async run(t) {
      const q = t.queue();
      const missing = t.path('missing.txt');
      const opened = await callbackCalls((cb) => q.open(missing, 'r', cb));
      assert.equal(opened.length, 1);
      assert.equal(opened[0][1], undefined, 'no result next to the error');
      assertSystemError(opened[0][0], { code: 'ENOENT', syscall: 'open', path: missing });
      const read = await callbackCalls((cb) => q.read(1_000_000, Buffer.alloc(4), cb));
      assert.equal(read.length, 1);
      assertSystemError(read[0][0], { code: 'EBADF', syscall: 'read' });
    },
  },
  {
    name: 'forms: a throwing callback does not cost the other completions of its batch',
    needs: ['nop'],
    timeoutMs: 30_000,
    async run(t) {
      const r = await runNode(
        t,
        `${childPrelude(t)}
const q = new Queue(backend);
const uncaught = [];
process.on('uncaughtException', (e) => uncaught.push(e.message));
let calls = 0;
for (let i = 0; i < 10; i++) {
  q.nop((err) => {
    calls++;
    if (i === 2 || i === 7) throw new Error('thrown by callback ' + i);
  });
}
await new Promise((resolve) => setTimeout(resolve, 300));
await q.nop();
console.log(JSON.stringify({ calls, uncaught: uncaught.sort(), inFlight: q.inFlight }));
`,
      );
      assertExited(r, 0);
      assert.deepEqual(JSON.parse(r.stdout), {
        calls: 10,
        uncaught: ['thrown by callback 2', 'thrown by callback 7'],
        inFlight: 0,
      });
    },
  },
  {
    name: 'forms: promises, callbacks and polled operations mixed in one batch each get their own result',
    needs: ['open', 'read', 'stat', 'nop', 'close'],
    async run(t) {
      const path = fixture(t, 'mixed.txt', 'abcdefghij');
      const missing = t.path('missing');
      const q = t.queue();
      const fd = await q.open(path, 'r');
      const a = Buffer.alloc(3);
      const b = Buffer.alloc(3);
      const readPromise = quiet(q.read(fd, a, 0, 3, 0));
      const readCallback = callbackCalls((cb) => q.read(fd, b, 0, 3, 5, cb));
      const openPromise = q.open(missing, 'r').then(
        () => assert.fail('opened a missing file'),
        (e: unknown) => e,
      );
      const openCallback = callbackCalls((cb) => q.open(missing, cb));
      const nopCallback = callbackCalls((cb) => q.nop(cb));
      const statPromise = quiet(q.stat(path));
      q.nop({ userData: 42 });
      assert.equal(await readPromise, 3);
      assert.equal(a.toString(), 'abc');
      assert.deepEqual(await readCallback, [[null, 3]]);
      assert.equal(b.toString(), 'fgh');
      assertSystemError(await openPromise, { code: 'ENOENT', path: missing });
      const [[openErr]] = await openCallback;
      assertSystemError(openErr, { code: 'ENOENT', path: missing });
      assert.deepEqual(await nopCallback, [[null, undefined]]);
      assert.equal((await statPromise).size, 10);
      await untilReady(q, 1);
      const polled: Completion[] = [];
      q.drain((c) => polled.push(c));
      assert.deepEqual(
        polled,
        [{ userData: 42, result: 0 }],
        'only the polled operation is in the completion list',
      );
      await q.close(fd);
    },
  },
  {
    name: 'forms: polled operations return undefined; peek(), ready and drain() deliver their completions',
    needs: ['open', 'read', 'nop', 'close'],
    async run(t) {
      const path = fixture(t, 'polled.txt', 'polled data');
      const q = t.queue();
      const fd = await q.open(path, 'r');
      const buf = Buffer.alloc(6);
      assert.equal(q.peek(), undefined);
      assert.equal(q.ready, 0);
      assert.equal(q.nop({ userData: 1 }), undefined);
      assert.equal(q.read(fd, buf, { position: 0, userData: 2.5 }), undefined);
      assert.equal(q.nop({ userData: -3 }), undefined);
      await untilReady(q, 3);
      const oldest = q.peek();
      assert.ok(oldest !== undefined);
      assert.equal(q.peek(), oldest, 'peek() does not remove');
      assert.equal(q.ready, 3);
      const seen: Completion[] = [];
      assert.equal(
        q.drain((c) => seen.push(c), 1),
        1,
        'drain(handler, max) removes at most max',
      );
      assert.equal(seen[0], oldest, 'oldest first');
      assert.equal(q.ready, 2);
      assert.equal(
        q.drain((c) => seen.push(c)),
        2,
      );
      assert.equal(q.ready, 0);
      assert.equal(q.peek(), undefined);
      const byUserData = new Map(seen.map((c) => [c.userData, c.result]));
      assert.deepEqual(
        byUserData,
        new Map([
          [1, 0],
          [2.5, 6],
          [-3, 0],
        ]),
      );
      assert.equal(buf.toString(), 'polled');
      assert.equal(
        q.drain(() => assert.fail('nothing left')),
        0,
      );
      await q.close(fd);
    },
  },
  {
    name: 'forms: a failed polled operation has a negative result, and errorOf() makes the Node error',
    needs: ['open'],
    async run(t) {
      const q = t.queue();
      const missing = t.path('missing.txt');
      q.open(missing, 'r', undefined, { userData: 7 });
      await untilReady(q, 1);
      const completions: Completion[] = [];
      q.drain((c) => completions.push(c));
      assert.equal(completions.length, 1);
      const [c] = completions;
      assert.equal(c.userData, 7);
      assert.ok(c.result < 0, `result ${c.result}`);
      const error = q.errorOf(c.result, 'open');
      assertSystemError(error, { code: 'ENOENT', syscall: 'open' });
      assert.equal(error.errno, c.result);
    },
  },
  {
    name: 'forms: a polled stat carries its Stats in the completion',
    needs: ['stat', 'open', 'fstat', 'close'],
    async run(t) {
      const path = fixture(t, 'stat.txt', 'twelve bytes');
      const q = t.queue();
      const fd = await q.open(path, 'r');
      q.stat(path, { userData: 1 });
      q.fstat(fd, { userData: 2 });
      q.stat(t.path('missing'), { userData: 3 });
      await untilReady(q, 3);
      const byUserData = new Map<number, Completion>();
      q.drain((c) => byUserData.set(c.userData, c));
      for (const id of [1, 2]) {
        const c = byUserData.get(id)!;
        assert.equal(c.result, 0);
        assert.ok(c.stats !== undefined, 'the completion carries stats');
        assert.equal(c.stats.size, 12);
        assert.ok(c.stats.isFile());
      }
      assert.equal(byUserData.get(1)!.stats!.ino, byUserData.get(2)!.stats!.ino);
      const failed = byUserData.get(3)!;
      assert.ok(failed.result < 0);
      assert.equal(failed.stats, undefined, 'a failed stat carries none');
      await q.close(fd);
    },
  },
  {
    name: 'forms: without the waitSync capability, waitSync() throws ERR_PROACTOR_UNSUPPORTED',
    needs: ['nop'],
    skip: (b) => (b.capabilities.waitSync ? 'the backend supports waitSync' : undefined),
    async run(t) {
      const q = t.queue();
      q.nop({ userData: 1 });
      assert.throws(
        () => q.waitSync(),
        (e: unknown) =>
          e instanceof Error && (e as Error & { code?: string }).code === 'ERR_PROACTOR_UNSUPPORTED',
      );
      assert.throws(() => q.waitSync(1, 10), { code: 'ERR_PROACTOR_UNSUPPORTED' });
      await untilReady(q, 1);
      assert.equal(q.peek()?.userData, 1, 'the operation completed all the same');
    },
  },
  {
    name: 'forms: waitSync() delivers polled completions and callbacks without returning to the event loop',
    needs: ['waitSync', 'nop', 'timeout'],
    async run(t) {
      const q = t.queue();
      q.nop({ userData: 1 });
      q.timeout(30, { userData: 2 });
      const started = performance.now();
      let delivered = 0;
      while (q.ready < 2 && performance.now() - started < 5_000) delivered += q.waitSync(1, 5_000);
      assert.equal(q.ready, 2, 'both polled completions arrived synchronously');
      assert.ok(delivered >= 2, `waitSync reported ${delivered}`);
      assert.ok(performance.now() - started >= 28, 'it waited for the timeout');
      const ids: number[] = [];
      q.drain((c) => {
        assert.equal(c.result, 0);
        ids.push(c.userData);
      });
      assert.deepEqual(ids.sort(), [1, 2]);
      let called = 0;
      q.nop(() => {
        called++;
      });
      assert.ok(q.waitSync(1, 5_000) >= 1);
      assert.equal(called, 1, 'the callback ran before waitSync() returned');
      const idle = performance.now();
      assert.equal(q.waitSync(1, 50), 0, 'nothing to deliver: returns 0 after the time limit');
      assert.ok(performance.now() - idle < 3_000);
    },
  },
];
