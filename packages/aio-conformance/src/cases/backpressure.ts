import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ConformanceCase } from '../case.js';
import { fixture, pattern } from './expect.js';
import { instrument } from './instrumented-backend.js';

/** Marks `p` as observed, so that a case failing before it awaits `p` cannot crash the runner. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

const CHUNK = 512;

export const backpressureCases: ConformanceCase[] = [
  {
    name: 'backpressure: ten times entries reads at distinct positions all complete with the right bytes',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const entries = 8;
      const count = 10 * entries;
      const data = pattern(count * CHUNK, 5);
      const path = fixture(t, 'many.bin', data);
      const q = t.queue({ entries });
      const fd = await q.open(path, 'r');
      const buffers = Array.from({ length: count }, () => Buffer.alloc(CHUNK));
      // Issued in reverse order of position so that a mix-up of buffers and positions shows.
      const reads = buffers.map((buf, i) => quiet(q.read(fd, buf, 0, CHUNK, (count - 1 - i) * CHUNK)));
      await Promise.resolve();
      assert.equal(q.inFlight, entries, 'the slots are full');
      assert.equal(q.waiting, count - entries, 'the rest wait, none dropped');
      const results = await Promise.all(reads);
      for (let i = 0; i < count; i++) {
        assert.equal(results[i], CHUNK);
        const at = (count - 1 - i) * CHUNK;
        assert.ok(
          buffers[i].equals(data.subarray(at, at + CHUNK)),
          `read ${i} has the bytes of position ${at}`,
        );
      }
      assert.equal(q.inFlight, 0);
      assert.equal(q.waiting, 0);
      await q.close(fd);
    },
  },
  {
    name: 'backpressure: no more than entries operations are ever in flight',
    needs: ['timeout', 'nop'],
    async run(t) {
      const entries = 4;
      const { backend, counts: log } = instrument(t.backend);
      const q = t.queue({ entries }, backend);
      let maxInFlight = 0;
      const sample = () => {
        maxInFlight = Math.max(maxInFlight, q.inFlight);
      };
      const ops: Promise<void>[] = [];
      for (let i = 0; i < 64; i++) {
        const p = i % 2 === 0 ? q.timeout(i % 7) : q.nop();
        ops.push(quiet(p.then(sample)));
      }
      await Promise.resolve();
      sample();
      await Promise.all(ops);
      assert.equal(log.submitted.length, 64, 'every operation was submitted once');
      assert.equal(log.completions, 64);
      assert.ok(log.maxOutstanding <= entries, `the backend saw ${log.maxOutstanding} outstanding`);
      assert.equal(log.maxOutstanding, entries, 'the slots were used');
      assert.ok(maxInFlight <= entries, `inFlight reached ${maxInFlight}`);
    },
  },
  {
    name: 'backpressure: operations waiting for slots are submitted in the order they were issued',
    needs: ['timeout'],
    async run(t) {
      const { backend, counts: log } = instrument(t.backend);
      const q = t.queue({ entries: 3 }, backend);
      // Descending durations: slots free in an order unlike the order of issue.
      const durations = Array.from({ length: 30 }, (_, i) => 30 - i);
      await Promise.all(durations.map((ms) => q.timeout(ms)));
      const submitted = log.submitted.map((s) => Math.round(s.timeoutNs / 1e6));
      assert.deepEqual(submitted, durations, 'first issued, first submitted');
    },
  },
  {
    name: 'backpressure: with one slot, operations complete in the order they were issued',
    needs: ['timeout', 'nop'],
    async run(t) {
      const q = t.queue({ entries: 1 });
      const order: number[] = [];
      const ops: Promise<number>[] = [];
      for (let i = 0; i < 20; i++) {
        const p = i % 2 === 0 ? q.timeout(20 - i) : q.nop();
        ops.push(p.then(() => order.push(i)));
      }
      await Promise.all(ops);
      assert.deepEqual(
        order,
        Array.from({ length: 20 }, (_, i) => i),
      );
    },
  },
  {
    name: 'backpressure: callbacks and promises mixed beyond entries each get their own result',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const count = 40;
      const data = pattern(count * CHUNK, 9);
      const path = fixture(t, 'mixed.bin', data);
      const q = t.queue({ entries: 4 });
      const fd = await q.open(path, 'r');
      const buffers = Array.from({ length: count }, () => Buffer.alloc(CHUNK));
      const results = await Promise.all(
        buffers.map((buf, i) => {
          if (i % 2 === 0) return q.read(fd, buf, 0, CHUNK, i * CHUNK);
          return new Promise<number>((resolve, reject) => {
            q.read(fd, buf, 0, CHUNK, i * CHUNK, (err, n) => (err ? reject(err) : resolve(n!)));
          });
        }),
      );
      for (let i = 0; i < count; i++) {
        assert.equal(results[i], CHUNK);
        assert.ok(
          buffers[i].equals(data.subarray(i * CHUNK, (i + 1) * CHUNK)),
          `operation ${i} got its own bytes`,
        );
      }
      await q.close(fd);
    },
  },
  {
    name: 'backpressure: writes issued beyond entries all land in the file',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const count = 64;
      const data = pattern(count * CHUNK, 13);
      const path = t.path('written.bin');
      const q = t.queue({ entries: 4 });
      const fd = await q.open(path, 'w');
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          q.write(fd, data.subarray(i * CHUNK, (i + 1) * CHUNK), 0, CHUNK, i * CHUNK),
        ),
      );
      assert.deepEqual(results, new Array(count).fill(CHUNK));
      await q.close(fd);
      assert.ok(readFileSync(path).equals(data));
    },
  },
  {
    name: 'backpressure: 20,000 operations with 8,192 in flight all complete, many more than any kernel ring holds',
    needs: ['nop', 'timeout'],
    timeoutMs: 60_000,
    async run(t) {
      const q = t.queue({ entries: 8192, completionEntries: 64 });
      let done = 0;
      const all: Promise<void>[] = [];
      for (let i = 0; i < 20_000; i++) {
        all.push((i % 2 ? q.nop() : q.timeout(1)).then(() => void done++));
      }
      assert.equal(q.inFlight + q.waiting, 20_000);
      await Promise.all(all);
      assert.equal(done, 20_000);
      assert.equal(q.inFlight, 0);
      assert.equal(q.waiting, 0);
    },
  },
  {
    name: 'backpressure: a completion ring smaller than entries still delivers every completion',
    needs: ['open', 'read', 'nop', 'close'],
    async run(t) {
      const count = 64;
      const data = pattern(count * CHUNK, 17);
      const path = fixture(t, 'small-cq.bin', data);
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({ entries: 16, completionEntries: 2 }, backend);
      const fd = await q.open(path, 'r');
      const buffers = Array.from({ length: count }, () => Buffer.alloc(CHUNK));
      const results = await Promise.all([
        ...buffers.map((buf, i) => q.read(fd, buf, 0, CHUNK, i * CHUNK)),
        ...Array.from({ length: count }, () => q.nop()),
      ]);
      assert.deepEqual(results.slice(0, count), new Array(count).fill(CHUNK));
      assert.deepEqual(results.slice(count), new Array(count).fill(undefined));
      for (let i = 0; i < count; i++) assert.ok(buffers[i].equals(data.subarray(i * CHUNK, (i + 1) * CHUNK)));
      assert.equal(counts.completions, 2 * count + 1, 'every operation completed once (and the open)');
      await q.close(fd);
    },
  },
];
