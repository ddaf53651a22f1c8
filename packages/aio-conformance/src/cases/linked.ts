import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConformanceCase } from '../case.js';
import { assertAbortError, fixture, pattern, rejectsWith } from './expect.js';
import { instrument } from './instrumented-backend.js';

/** Records `name` in `order` when `p` settles; returns p's outcome without rejecting. */
function track<T>(
  order: string[],
  name: string,
  p: Promise<T>,
): Promise<{ ok: boolean; value?: T; error?: unknown }> {
  return p.then(
    (value) => {
      order.push(name);
      return { ok: true, value };
    },
    (error: unknown) => {
      order.push(name);
      return { ok: false, error };
    },
  );
}

/** Marks `p` as observed, so that a case failing before it awaits `p` cannot crash the runner. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export const linkedCases: ConformanceCase[] = [
  {
    name: 'linked: write -> fsync -> read run in order and all succeed',
    needs: ['linkedOperations', 'open', 'write', 'fsync', 'read', 'close'],
    async run(t) {
      const q = t.queue();
      const path = t.path('chain.bin');
      const fd = await q.open(path, 'w+');
      const data = pattern(64 * 1024, 3);
      const back = Buffer.alloc(data.length);
      const order: string[] = [];
      const [w, s, r] = await Promise.all([
        track(order, 'write', q.write(fd, data, { position: 0, link: true })),
        track(order, 'fsync', q.fsync(fd, { link: true })),
        track(order, 'read', q.read(fd, back, { position: 0 })),
      ]);
      assert.deepEqual(w, { ok: true, value: data.length });
      assert.deepEqual(s, { ok: true, value: undefined });
      assert.deepEqual(r, { ok: true, value: data.length });
      assert.ok(back.equals(data), 'the read saw what the write before it wrote');
      assert.deepEqual(order, ['write', 'fsync', 'read']);
      await q.close(fd);
      assert.ok(readFileSync(path).equals(data));
    },
  },
  {
    name: 'linked: a failed first operation makes the rest of the chain reject with ECANCELED',
    needs: ['linkedOperations', 'open', 'nop', 'mkdir'],
    async run(t) {
      const q = t.queue();
      const missing = t.path('missing.txt');
      const dir = t.path('made-by-chain');
      const open = quiet(q.open(missing, 'r', undefined, { link: true }));
      const nop = quiet(q.nop({ link: true }));
      const mkdir = quiet(q.mkdir(dir));
      await rejectsWith(open, { code: 'ENOENT', syscall: 'open', path: missing });
      await rejectsWith(nop, { code: 'ECANCELED', syscall: 'nop' });
      await rejectsWith(mkdir, { code: 'ECANCELED', syscall: 'mkdir', path: dir });
      assert.equal(existsSync(dir), false, 'the cancelled mkdir did not run');
    },
  },
  {
    name: 'linked: a failure in the middle cancels only the operations after it',
    needs: ['linkedOperations', 'open', 'nop', 'mkdir'],
    async run(t) {
      const q = t.queue();
      const missing = t.path('missing.txt');
      const dir = t.path('after-failure');
      const nop = quiet(q.nop({ link: true }));
      const open = quiet(q.open(missing, 'r', undefined, { link: true }));
      const mkdir = quiet(q.mkdir(dir));
      assert.equal(await nop, undefined);
      await rejectsWith(open, { code: 'ENOENT', syscall: 'open', path: missing });
      await rejectsWith(mkdir, { code: 'ECANCELED', syscall: 'mkdir', path: dir });
      assert.equal(existsSync(dir), false);
    },
  },
  {
    name: 'linked: a short read breaks the chain',
    needs: ['linkedOperations', 'open', 'read', 'mkdir', 'close'],
    async run(t) {
      const path = fixture(t, 'short.txt', '0123456789');
      const q = t.queue();
      const fd = await q.open(path, 'r');
      const dir = t.path('after-short-read');
      const buf = Buffer.alloc(100);
      const read = quiet(q.read(fd, buf, { position: 0, link: true }));
      const mkdir = quiet(q.mkdir(dir));
      assert.equal(await read, 10, 'the short read itself succeeds with what it read');
      assert.equal(buf.subarray(0, 10).toString(), '0123456789');
      await rejectsWith(mkdir, { code: 'ECANCELED', syscall: 'mkdir', path: dir });
      assert.equal(existsSync(dir), false);
      await q.close(fd);
    },
  },
  {
    name: 'linked: a nop linked after a timeout completes only after the timeout',
    needs: ['linkedOperations', 'timeout', 'nop'],
    async run(t) {
      const q = t.queue();
      const order: string[] = [];
      const started = performance.now();
      const timeout = track(order, 'timeout', q.timeout(150, { link: true }));
      const nop = track(order, 'nop', q.nop());
      const nopResult = await nop;
      const elapsed = performance.now() - started;
      assert.deepEqual(nopResult, { ok: true, value: undefined });
      assert.deepEqual(await timeout, { ok: true, value: undefined });
      assert.ok(elapsed >= 148, `the nop completed ${elapsed.toFixed(0)} ms after issue`);
      assert.deepEqual(order, ['timeout', 'nop']);
    },
  },
  {
    name: 'linked: aborting a middle member cancels it and the rest, not the members before it',
    needs: ['linkedOperations', 'timeout', 'mkdir'],
    async run(t) {
      const q = t.queue();
      const ac = new AbortController();
      const dir = t.path('after-abort');
      const order: string[] = [];
      const first = track(order, 'first', q.timeout(300, { link: true }));
      const middle = track(order, 'middle', q.timeout(30_000, { link: true, signal: ac.signal }));
      const last = track(order, 'last', q.mkdir(dir));
      await sleep(50);
      const reason = new Error('abort the middle');
      ac.abort(reason);
      const [f, m, l] = await Promise.all([first, middle, last]);
      assert.deepEqual(f, { ok: true, value: undefined }, 'the member before the aborted one completes');
      assert.equal(m.ok, false);
      assertAbortError(m.error, reason);
      assert.equal(l.ok, false);
      assert.equal((l.error as Error & { code?: string }).code, 'ECANCELED');
      assert.equal(existsSync(dir), false, 'the member after the aborted one never ran');
      assert.equal(q.inFlight, 0);
    },
  },
  {
    name: 'linked: a chain longer than entries throws RangeError ERR_OUT_OF_RANGE',
    needs: ['linkedOperations', 'nop'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({ entries: 4 }, backend);
      // A chain of exactly `entries` members is fine.
      const fits = [q.nop({ link: true }), q.nop({ link: true }), q.nop({ link: true }), q.nop()].map(quiet);
      await Promise.all(fits);
      const open = [1, 2, 3, 4].map(() => quiet(q.nop({ link: true })));
      assert.throws(
        () => q.nop(),
        (e: unknown) =>
          e instanceof RangeError && (e as RangeError & { code?: string }).code === 'ERR_OUT_OF_RANGE',
      );
      assert.throws(
        () => q.nop({ link: true }),
        (e: unknown) =>
          e instanceof RangeError && (e as RangeError & { code?: string }).code === 'ERR_OUT_OF_RANGE',
      );
      // The members issued before the refusal still run, as a chain of four.
      for (const p of open) assert.equal(await p, undefined);
      assert.equal(counts.entries, 8, 'the refused operations were never submitted');
    },
  },
  {
    name: 'linked: link on the last operation issued in a tick just ends the chain',
    needs: ['linkedOperations', 'open', 'mkdir', 'nop'],
    async run(t) {
      const q = t.queue();
      assert.equal(await q.nop({ link: true }), undefined, 'a lone linked operation runs');
      const missing = t.path('missing');
      const dir = t.path('next-tick');
      const open = quiet(q.open(missing, 'r', undefined, { link: true }));
      await Promise.resolve(); // the flush ran: the open is submitted, with nothing after it
      const mkdir = quiet(q.mkdir(dir));
      await rejectsWith(open, { code: 'ENOENT', syscall: 'open', path: missing });
      assert.equal(await mkdir, undefined, 'an operation of a later tick is not linked to it');
      assert.ok(statSync(dir).isDirectory());
    },
  },
  {
    name: 'linked: a chain waiting for slots is submitted whole, after what was issued before it',
    needs: ['linkedOperations', 'timeout', 'open', 'write', 'read', 'nop', 'close'],
    async run(t) {
      const q = t.queue({ entries: 2 });
      const fd = await q.open(t.path('wait.bin'), 'w+');
      const data = pattern(4096, 11);
      const back = Buffer.alloc(data.length);
      const order: string[] = [];
      const timeout = track(order, 'timeout', q.timeout(100));
      await Promise.resolve(); // the timeout holds one of the two slots
      const write = track(order, 'write', q.write(fd, data, { position: 0, link: true }));
      const read = track(order, 'read', q.read(fd, back, { position: 0 }));
      const nop = track(order, 'nop', q.nop());
      await Promise.resolve();
      assert.equal(q.inFlight, 1, 'a chain of two does not start in one free slot');
      assert.equal(q.waiting, 3, 'and what follows it waits behind it');
      const results = await Promise.all([timeout, write, read, nop]);
      for (const r of results) assert.equal(r.ok, true, String(r.error));
      assert.equal(results[2].value, data.length);
      assert.ok(back.equals(data));
      assert.equal(order[0], 'timeout');
      assert.ok(order.indexOf('write') < order.indexOf('read'));
      await q.close(fd);
    },
  },
  {
    name: 'linked: without linkedOperations, link: true throws ERR_PROACTOR_UNSUPPORTED and submits nothing',
    needs: ['nop'],
    skip: (b) => (b.capabilities.linkedOperations ? 'the backend supports linked operations' : undefined),
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      assert.throws(
        () => q.nop({ link: true }),
        (e: unknown) =>
          e instanceof Error && (e as Error & { code?: string }).code === 'ERR_PROACTOR_UNSUPPORTED',
      );
      await q.nop();
      assert.equal(counts.entries, 1);
    },
  },
  {
    name: 'linked: a member with an already-aborted signal cancels the rest of its chain',
    needs: ['linkedOperations', 'nop', 'mkdir'],
    async run(t) {
      const q = t.queue();
      const dir = t.path('after-aborted-member');
      const first = quiet(q.nop({ link: true }));
      const aborted = quiet(q.nop({ link: true, signal: AbortSignal.abort() }));
      const last = quiet(q.mkdir(dir));
      assert.equal(await first, undefined);
      await aborted.then(
        () => assert.fail('an aborted operation resolved'),
        (e: unknown) => assertAbortError(e),
      );
      await rejectsWith(last, { code: 'ECANCELED', syscall: 'mkdir', path: dir });
      assert.equal(existsSync(dir), false, 'the operation linked after the aborted one did not run');
    },
  },
  {
    name: 'linked: aborting a member of a chain waiting for slots cancels it and the rest, not those before',
    needs: ['linkedOperations', 'timeout', 'nop', 'mkdir'],
    async run(t) {
      const q = t.queue({ entries: 3 });
      const holder = quiet(q.timeout(200));
      await Promise.resolve(); // the chain of three cannot start in the two free slots
      const ac = new AbortController();
      const dir = t.path('after-waiting-abort');
      const order: string[] = [];
      const first = track(order, 'first', q.nop({ link: true }));
      const middle = track(order, 'middle', q.nop({ link: true, signal: ac.signal }));
      const last = track(order, 'last', q.mkdir(dir));
      await Promise.resolve();
      assert.equal(q.inFlight, 1, 'the chain waits');
      ac.abort();
      const [f, m, l] = await Promise.all([first, middle, last]);
      await holder;
      assert.deepEqual(f, { ok: true, value: undefined });
      assert.equal(m.ok, false);
      assertAbortError(m.error);
      assert.equal(l.ok, false);
      assert.equal((l.error as Error & { code?: string }).code, 'ECANCELED');
      assert.equal(existsSync(dir), false);
    },
  },
];
