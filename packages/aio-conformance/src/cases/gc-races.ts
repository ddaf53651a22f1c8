import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import { fixture, pattern } from './expect.js';
import { assertExited, childPrelude, runNode } from './lifecycle.js';

/** aio-conformance's own entry point, for a child process to count operations with. */
const conformanceUrl = new URL('../index.js', import.meta.url).href;

/** Final outcomes a raced operation may have: its result, or the cancellation that won. */
const RACE_OUTCOMES = new Set(['ok', 'ABORT_ERR', 'ECANCELED', 'ERR_PROACTOR_QUEUE_DESTROYED']);

export const gcRaceCases: ConformanceCase[] = [
  {
    // Half of the buffers are referenced by nothing but the queue: if it let go of one before
    // the operation's final completion, a collection would free memory the backend still writes
    // into (caught by the AddressSanitizer run of this suite; garbage elsewhere). The other half
    // are kept, so their bytes can be checked.
    name: 'races: destroy() and aborts racing completions under GC pressure: every operation ends exactly once, and every read that succeeded holds the right bytes',
    needs: ['open', 'read', 'timeout', 'nop'],
    timeoutMs: 120_000,
    async run(t) {
      const block = 4096;
      const blocks = 64;
      const path = fixture(t, 'gc.bin', pattern(block * blocks, 61));
      const rounds = 40;
      const perRound = 96;
      const r = await runNode(
        t,
        `${childPrelude(t)}
import { readFileSync } from 'node:fs';
const { countOperations } = await import(${JSON.stringify(conformanceUrl)});
const counted = countOperations(backend);
const data = readFileSync(${JSON.stringify(path)});
const outcomes = {};
let wrong = 0;
let total = 0;
const outcome = (e) => e.code ?? e.name;
for (let round = 0; round < ${rounds}; round++) {
  const q = new Queue(counted.backend, { entries: 32 });
  const fd = await q.open(${JSON.stringify(path)}, 'r');
  const all = [];
  for (let i = 0; i < ${perRound}; i++) {
    const ac = new AbortController();
    const at = ((round * 7 + i * 13) % ${blocks}) * ${block};
    const kept = i % 2 === 0 ? Buffer.alloc(${block}) : undefined;
    const read = q.read(fd, kept ?? Buffer.alloc(${block}), { position: at, signal: ac.signal }).then(
      (n) => {
        if (kept && (n !== ${block} || !kept.equals(data.subarray(at, at + ${block})))) wrong++;
        return 'ok';
      },
      outcome,
    );
    all.push(read);
    if (i % 8 === 3) all.push(q.timeout(1 + (i % 3), { signal: ac.signal }).then(() => 'ok', outcome));
    if (i % 8 === 5) all.push(q.nop({ signal: ac.signal }).then(() => 'ok', outcome));
    // Aborts that race the completion: before the submit, right after it, or a turn later.
    if (i % 5 === 0) ac.abort();
    else if (i % 5 === 1) queueMicrotask(() => ac.abort());
    else if (i % 5 === 2) setImmediate(() => ac.abort());
    if (i % 16 === 15) {
      q.submit();
      globalThis.gc();
    }
  }
  // destroy() racing the completions: at once, after a microtask, or after a turn of the loop.
  if (round % 3 === 1) await null;
  else if (round % 3 === 2) await new Promise((resolve) => setImmediate(resolve));
  const destroyed = q.destroy();
  globalThis.gc();
  for (const o of await Promise.all(all)) outcomes[o] = (outcomes[o] ?? 0) + 1;
  await destroyed;
  total += all.length;
  globalThis.gc();
}
console.log(JSON.stringify({ total, wrong, outcomes, counts: counted.counts }));
`,
        { timeoutMs: 110_000, execArgv: ['--expose-gc'] },
      );
      assertExited(r);
      const report = JSON.parse(r.stdout) as {
        total: number;
        wrong: number;
        outcomes: Record<string, number>;
        counts: { started: number; finished: number };
      };
      assert.equal(report.wrong, 0, 'every successful read holds the bytes at its position');
      const settled = Object.values(report.outcomes).reduce((a, b) => a + b, 0);
      assert.equal(settled, report.total, 'every operation settled');
      for (const key of Object.keys(report.outcomes)) {
        assert.ok(RACE_OUTCOMES.has(key), `an operation ended with ${key}`);
      }
      // Every kind of ending happened: results, aborts that won, and destroy() that won.
      assert.ok((report.outcomes.ok ?? 0) > 0, 'some operations completed before the races');
      assert.ok((report.outcomes.ABORT_ERR ?? 0) > 0, 'some aborts won their race');
      assert.ok((report.outcomes.ECANCELED ?? 0) > 0, 'destroy() ended some operations');
      assert.equal(
        report.counts.finished,
        report.counts.started,
        'every operation handed to the backend got exactly one final completion',
      );
    },
  },
];
