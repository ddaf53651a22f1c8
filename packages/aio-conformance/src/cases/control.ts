import assert from 'node:assert/strict';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { ConformanceCase } from '../case.js';
import { instrument } from './instrumented-backend.js';

/** Timers may fire up to a millisecond or two early on some platforms (granularity). */
const EARLY_TOLERANCE_MS = 2;

/** Marks `p` as observed, so that a case failing before it awaits `p` cannot crash the runner. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export const controlCases: ConformanceCase[] = [
  {
    name: 'control: nop resolves with undefined',
    needs: ['nop'],
    async run(t) {
      const q = t.queue();
      const p = quiet(q.nop());
      assert.ok(p instanceof Promise, 'nop() without a callback returns a promise');
      assert.equal(await p, undefined);
      assert.equal(q.inFlight, 0);
    },
  },
  {
    name: 'control: operations issued in one tick reach the backend in one submit call',
    needs: ['nop', 'timeout'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      const ops: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) ops.push(quiet(q.nop()));
      for (let i = 0; i < 5; i++) ops.push(quiet(q.timeout(1)));
      assert.equal(counts.submitCalls, 0, 'nothing is submitted synchronously');
      assert.equal(q.waiting, 25);
      await Promise.all(ops);
      assert.equal(counts.submitCalls, 1, 'one submit call for the whole tick');
      assert.equal(counts.entries, 25);
      assert.equal(counts.completions, 25);
    },
  },
  {
    name: 'control: a batch is submitted at the first microtask checkpoint, not a later macrotask',
    needs: ['nop'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      const first = quiet(q.nop());
      await Promise.resolve();
      assert.equal(counts.submitCalls, 1, 'submitted before the next microtask of the issuing code ran');
      assert.equal(q.inFlight, 1);
      assert.equal(q.waiting, 0);
      // A second tick gets its own batch.
      const second = quiet(q.nop());
      await Promise.resolve();
      assert.equal(counts.submitCalls, 2);
      await Promise.all([first, second]);
      assert.equal(counts.entries, 2);
    },
  },
  {
    name: 'control: q.submit() hands waiting operations to the backend at once, before the microtask',
    needs: ['nop'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      const ops = [q.nop(), q.nop(), q.nop()].map(quiet);
      assert.equal(q.waiting, 3);
      assert.equal(q.submit(), 3, 'submit() returns the number of entries submitted');
      assert.equal(counts.submitCalls, 1);
      assert.equal(counts.entries, 3);
      assert.equal(q.waiting, 0);
      assert.equal(q.inFlight, 3);
      assert.equal(q.submit(), 0, 'nothing is left to submit');
      await Promise.all(ops);
      assert.equal(counts.submitCalls, 1, 'the scheduled flush found nothing to submit');
      assert.equal(q.inFlight, 0);
    },
  },
  {
    name: 'control: a timeout resolves with undefined, no earlier than its duration',
    needs: ['timeout'],
    async run(t) {
      const q = t.queue();
      for (const ms of [0, 30, 120]) {
        const started = performance.now();
        assert.equal(await q.timeout(ms), undefined);
        const elapsed = performance.now() - started;
        assert.ok(
          elapsed >= ms - EARLY_TOLERANCE_MS,
          `timeout(${ms}) completed after ${elapsed.toFixed(1)} ms`,
        );
      }
    },
  },
  {
    name: 'control: shorter timeouts complete before longer ones issued earlier',
    needs: ['timeout'],
    async run(t) {
      const q = t.queue();
      const order: number[] = [];
      const durations = [600, 300, 20];
      await Promise.all(durations.map((ms) => q.timeout(ms).then(() => order.push(ms))));
      assert.deepEqual(order, [20, 300, 600]);
    },
  },
  {
    name: 'control: a pending timeout does not delay other operations of the queue',
    needs: ['timeout', 'nop'],
    async run(t) {
      const q = t.queue();
      const ac = new AbortController();
      const long = q.timeout(10_000, { signal: ac.signal }).catch((e: unknown) => e);
      const started = performance.now();
      await q.nop();
      await q.timeout(10);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 5_000, `nop and a short timeout took ${elapsed.toFixed(0)} ms`);
      assert.equal(q.inFlight, 1, 'the long timeout is still in flight');
      ac.abort();
      await long;
    },
  },
  {
    name: 'control: inFlight and waiting follow operations from issue to completion',
    needs: ['timeout'],
    async run(t) {
      const q = t.queue({ entries: 2 });
      assert.equal(q.inFlight, 0);
      assert.equal(q.waiting, 0);
      const ops = [q.timeout(50), q.timeout(50), q.timeout(50)].map(quiet);
      assert.equal(q.waiting, 3, 'issued operations wait for the flush');
      await Promise.resolve();
      assert.equal(q.inFlight, 2, 'as many as there are entries are in flight');
      assert.equal(q.waiting, 1, 'the rest wait for a slot');
      await Promise.all(ops);
      await nextMacrotask();
      assert.equal(q.inFlight, 0);
      assert.equal(q.waiting, 0);
    },
  },
];
