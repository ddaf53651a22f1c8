import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, Opcode, Queue } from '@proactor/aio-core';
import { afterAll, describe, expect, it } from 'vitest';
import backend, { createBackend, engineInfo, probe } from '../src/index.js';
import { watched } from './watched-backend.js';

const dir = mkdtempSync(join(tmpdir(), 'proactor-sendfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function watchedQueue(inner: Backend = backend as Backend) {
  const { backend: b, engines } = watched(inner);
  const q = new Queue(b);
  return { q, info: () => engineInfo(engines[0]) };
}

/** Copies input[position...] to a new file through sendfile; the bytes written. */
async function sendToFile(q: Queue, input: number, name: string, position: number, length?: number) {
  const out = await q.open(join(dir, name), 'w');
  const n = await q.sendfile(out, input, { position, length });
  await q.close(out);
  return { n, written: readFileSync(join(dir, name)) };
}

describe.runIf(probe.ok && probe.splice)('sendfile through splice', () => {
  it('moves a file in rounds of the pipe size, and reuses one pipe for operations one after another', async () => {
    const { q, info } = watchedQueue();
    const data = bytes(3 * 1024 * 1024 + 5, 1);
    writeFileSync(join(dir, 'in3m'), data);
    const input = await q.open(join(dir, 'in3m'), 'r');
    const first = await sendToFile(q, input, 'a', 0);
    expect(first.n).toBe(data.length);
    expect(first.written.equals(data)).toBe(true);
    // 1 MiB pipes: four rounds with data, and one that finds the end of the input.
    expect(info().spliceRounds).toBeGreaterThanOrEqual(4);
    const second = await sendToFile(q, input, 'b', 12345, 100_000);
    expect(second.written.equals(data.subarray(12345, 112345))).toBe(true);
    expect(info().splicePipes).toBe(1);
    // Three at once: a pipe each.
    const outs = await Promise.all(['c', 'd', 'e'].map((name) => q.open(join(dir, name), 'w')));
    const results = await Promise.all(outs.map((out, i) => q.sendfile(out, input, { position: i * 1000 })));
    expect(results).toEqual([0, 1, 2].map((i) => data.length - i * 1000));
    expect(info().splicePipes).toBe(3);
    for (const out of outs) await q.close(out);
    await q.close(input);
    expect(info().splicePipesDiscarded).toBe(0);
    await q.destroy();
  });

  it('a short fill (the end of the input) is drained on its own, no byte left behind', async () => {
    const { q, info } = watchedQueue();
    const data = bytes(10_000, 2);
    writeFileSync(join(dir, 'in10k'), data);
    const input = await q.open(join(dir, 'in10k'), 'r');
    const { n, written } = await sendToFile(q, input, 'f', 100);
    expect(n).toBe(9900);
    expect(written.equals(data.subarray(100))).toBe(true);
    // The fill got 9900 of the bytes asked for: its linked drain was cancelled by the kernel and
    // the bytes drained by a drain of their own; the next fill found the end.
    expect(info().splicePartialDrains).toBe(1);
    expect(info().spliceRounds).toBe(2);
    await q.close(input);
    await q.destroy();
  });
});

describe('sendfile on the blocking pool', () => {
  it('blockingOps: [SENDFILE] runs sendfile(2) on the pool, with the same result and no splice', async () => {
    const { q, info } = watchedQueue(createBackend({ blockingOps: [Opcode.SENDFILE] }));
    const data = bytes(2 * 1024 * 1024 + 3, 3);
    writeFileSync(join(dir, 'in2m'), data);
    const input = await q.open(join(dir, 'in2m'), 'r');
    const { n, written } = await sendToFile(q, input, 'g', 7);
    expect(n).toBe(data.length - 7);
    expect(written.equals(data.subarray(7))).toBe(true);
    expect(info().spliceRounds).toBe(0);
    expect(info().splicePipes).toBe(0);
    await q.close(input);
    await q.destroy();
  });
});
