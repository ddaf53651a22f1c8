import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf } from '@proactor/aio-core';
import type { ConformanceCase } from '../case.js';
import { assertAbortError, fixture, pattern } from './expect.js';
import { instrument } from './instrumented-backend.js';

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function outcome(p: Promise<unknown>): Promise<Outcome> {
  return p.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

/** Marks `p` as observed, so that a case failing before it awaits `p` cannot crash the runner. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export const cancelCases: ConformanceCase[] = [
  {
    name: 'cancel: an already-aborted signal rejects with AbortError (cause = reason) and submits nothing',
    needs: ['nop', 'timeout', 'open'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      const ac = new AbortController();
      const reason = new Error('stop');
      ac.abort(reason);
      const path = fixture(t, 'a.txt', 'abc');
      const results = await Promise.all([
        outcome(q.nop({ signal: ac.signal })),
        outcome(q.timeout(10, { signal: ac.signal })),
        outcome(q.open(path, 'r', undefined, { signal: ac.signal })),
      ]);
      for (const r of results) {
        assert.equal(r.ok, false, 'the operation did not run');
        if (!r.ok) assertAbortError(r.error, reason);
      }
      await sleep(20);
      assert.equal(counts.entries, 0, 'nothing reached the backend');
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0, 'no listener left on the signal');
    },
  },
  {
    name: 'cancel: aborting a pending timeout rejects it promptly with AbortError',
    needs: ['timeout'],
    async run(t) {
      const q = t.queue();
      const ac = new AbortController();
      const started = performance.now();
      const p = outcome(q.timeout(30_000, { signal: ac.signal }));
      await sleep(20);
      const reason = new Error('no longer needed');
      ac.abort(reason);
      const r = await p;
      const elapsed = performance.now() - started;
      assert.equal(r.ok, false);
      if (!r.ok) assertAbortError(r.error, reason);
      assert.ok(elapsed < 5_000, `rejected after ${elapsed.toFixed(0)} ms`);
      assert.equal(q.inFlight, 0, 'the slot was released');
    },
  },
  {
    name: 'cancel: AbortSignal.timeout() cancels an operation with an AbortError caused by a TimeoutError',
    needs: ['timeout'],
    async run(t) {
      const q = t.queue();
      const signal = AbortSignal.timeout(30);
      const r = await outcome(q.timeout(30_000, { signal }));
      assert.equal(r.ok, false);
      if (!r.ok) {
        assertAbortError(r.error, signal.reason);
        assert.equal(((r.error as Error).cause as Error).name, 'TimeoutError');
      }
    },
  },
  {
    name: 'cancel: aborting after completion changes nothing',
    needs: ['nop', 'read', 'open'],
    async run(t) {
      const q = t.queue();
      const ac = new AbortController();
      const path = fixture(t, 'data.bin', 'abcdef');
      const fd = await q.open(path, 'r', undefined, { signal: ac.signal });
      const calls: unknown[][] = [];
      const buf = Buffer.alloc(6);
      await new Promise<void>((resolve) => {
        q.read(fd, buf, { position: 0, signal: ac.signal }, (...args) => {
          calls.push(args);
          resolve();
        });
      });
      assert.equal(await q.nop({ signal: ac.signal }), undefined);
      ac.abort();
      await sleep(30);
      assert.equal(calls.length, 1, 'the callback ran once');
      assert.deepEqual(calls[0], [null, 6]);
      assert.equal(buf.toString(), 'abcdef');
      // The fd from the aborted signal's open is still open and usable.
      assert.equal(await q.read(fd, Buffer.alloc(3), 0, 3, 0), 3);
      await q.close(fd);
    },
  },
  {
    name: 'cancel: aborting in-flight reads gives each exactly one final result, bytes or AbortError',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const size = 256 * 1024;
      const data = pattern(size, 7);
      const path = fixture(t, 'big.bin', data);
      const q = t.queue();
      const fd = await q.open(path, 'r');
      const rounds = 24;
      const calls: { args: unknown[]; buf: Buffer; signal: AbortSignal }[][] = [];
      let finals = 0;
      const allDone = new Promise<void>((resolve) => {
        for (let i = 0; i < rounds; i++) {
          const ac = new AbortController();
          const buf = Buffer.alloc(size);
          const seen: { args: unknown[]; buf: Buffer; signal: AbortSignal }[] = [];
          calls.push(seen);
          q.read(fd, buf, { position: 0, signal: ac.signal }, (...args) => {
            seen.push({ args, buf, signal: ac.signal });
            if (++finals === rounds) resolve();
          });
          // Abort at different points: right after submit, after a microtask, after a macrotask.
          if (i % 3 === 0) {
            q.submit();
            ac.abort();
          } else if (i % 3 === 1) queueMicrotask(() => queueMicrotask(() => ac.abort()));
          else setImmediate(() => ac.abort());
        }
      });
      await allDone;
      await sleep(50); // a second completion, if any, would arrive by now
      // Either outcome is right for each read (a backend without cancelInFlight may deliver every
      // byte); what is checked is that there is exactly one, and that it is whole.
      for (const seen of calls) {
        assert.equal(seen.length, 1, 'exactly one final result per operation');
        const [{ args, buf, signal }] = seen;
        if (args[0] === null) {
          assert.equal(args[1], size, 'a read that won the race returns every byte');
          assert.ok(buf.equals(data), 'and the bytes are right');
        } else {
          assertAbortError(args[0], signal.reason);
          assert.equal(args.length, 1, 'no result next to the error');
        }
      }
      assert.equal(q.inFlight, 0);
      await q.close(fd);
    },
  },
  {
    name: 'cancel: aborting an operation that waits for a slot rejects it at once and never submits it',
    needs: ['timeout', 'nop', 'mkdir'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({ entries: 1 }, backend);
      let timeoutDone = false;
      const slotHolder = quiet(
        q.timeout(400).then(() => {
          timeoutDone = true;
        }),
      );
      const ac = new AbortController();
      const dir = t.path('never');
      const waitingNop = outcome(q.nop({ signal: ac.signal }));
      const waitingMkdir = outcome(q.mkdir(dir, { signal: ac.signal }));
      await sleep(20);
      assert.equal(q.waiting, 2, 'both wait behind the timeout');
      ac.abort();
      for (const r of await Promise.all([waitingNop, waitingMkdir])) {
        assert.equal(r.ok, false);
        if (!r.ok) assertAbortError(r.error);
      }
      assert.equal(timeoutDone, false, 'they were rejected before the slot freed');
      await slotHolder;
      await q.nop();
      assert.equal(counts.entries, 2, 'only the timeout and the last nop were submitted');
      assert.equal(existsSync(dir), false, 'the aborted mkdir never ran');
    },
  },
  {
    name: 'cancel: the callback form receives an AbortError, once',
    needs: ['timeout', 'nop'],
    async run(t) {
      const q = t.queue();
      const ac = new AbortController();
      const reason = new Error('cancelled by test');
      const calls: unknown[][] = [];
      const done = new Promise<void>((resolve) => {
        q.timeout(30_000, { signal: ac.signal }, (...args) => {
          calls.push(args);
          resolve();
        });
      });
      await q.nop();
      ac.abort(reason);
      await done;
      await sleep(30);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].length, 1, 'the callback gets only the error');
      assertAbortError(calls[0][0], reason);
    },
  },
  {
    name: 'cancel: one signal cancels every operation given it, and only those',
    needs: ['timeout', 'nop'],
    async run(t) {
      const q = t.queue();
      const ac = new AbortController();
      const cancelled = [1, 2, 3, 4].map(() => outcome(q.timeout(30_000, { signal: ac.signal })));
      const other = outcome(q.timeout(50));
      const otherSignal = new AbortController();
      const unaffected = outcome(q.timeout(60, { signal: otherSignal.signal }));
      await q.nop();
      ac.abort();
      for (const r of await Promise.all(cancelled)) {
        assert.equal(r.ok, false);
        if (!r.ok) assertAbortError(r.error);
      }
      assert.deepEqual(await other, { ok: true, value: undefined });
      assert.deepEqual(await unaffected, { ok: true, value: undefined });
    },
  },
  {
    name: 'cancel: a signal keeps no listener after its operations complete; a later abort does nothing',
    needs: ['nop', 'open'],
    async run(t) {
      const q = t.queue();
      const ac = new AbortController();
      setMaxListeners(500, ac.signal);
      const calls: unknown[][] = [];
      const ops: Promise<void>[] = [];
      for (let i = 0; i < 200; i++) ops.push(quiet(q.nop({ signal: ac.signal })));
      const missing = t.path('missing');
      const failed = outcome(q.open(missing, 'r', undefined, { signal: ac.signal }));
      await new Promise<void>((resolve) => {
        q.nop({ signal: ac.signal }, (...args) => {
          calls.push(args);
          resolve();
        });
      });
      await Promise.all(ops);
      const r = await failed;
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal((r.error as Error & { code?: string }).code, 'ENOENT');
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0, 'every listener was removed');
      ac.abort();
      await sleep(20);
      assert.equal(calls.length, 1, 'the completed callback is not called again');
      assert.deepEqual(calls[0], [null, undefined]);
    },
  },
  {
    name: 'cancel: an aborted operation no longer counts as waiting',
    needs: ['timeout', 'nop'],
    async run(t) {
      const q = t.queue({ entries: 1 });
      const holder = quiet(q.timeout(300));
      const ac = new AbortController();
      const waiting = outcome(q.nop({ signal: ac.signal }));
      await Promise.resolve();
      assert.equal(q.waiting, 1);
      ac.abort();
      const r = await waiting;
      assert.equal(r.ok, false);
      assert.equal(q.waiting, 0, 'a settled operation is not waiting for anything');
      await holder;
    },
  },
  {
    name: 'cancel: an aborted polled operation completes once, with a negative ECANCELED result',
    needs: ['timeout', 'nop'],
    async run(t) {
      const q = t.queue();
      const ac = new AbortController();
      q.timeout(30_000, { signal: ac.signal, userData: 1 });
      q.nop({ signal: AbortSignal.abort(), userData: 2 });
      await q.nop();
      ac.abort();
      const deadline = performance.now() + 5_000;
      while (q.ready < 2 && performance.now() < deadline) await sleep(5);
      await sleep(30);
      const completions: { userData: number; result: number }[] = [];
      q.drain((c) => completions.push(c));
      assert.equal(completions.length, 2, 'one completion each, no more');
      for (const c of completions.sort((a, b) => a.userData - b.userData)) {
        assert.equal(c.result, errnoOf('ECANCELED'), `userData ${c.userData}`);
        assert.equal(q.errorOf(c.result).code, 'ECANCELED');
      }
    },
  },
];
