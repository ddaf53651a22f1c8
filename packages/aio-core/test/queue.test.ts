import { describe, expect, it } from 'vitest';
import { errnoOf, Opcode, Queue, SLOT_NONE, SQE_F_LINK } from '../src/index.js';
import { ManualBackend, tick } from './manual-backend.js';

describe('Queue submission', () => {
  it('hands every operation issued in one tick to the backend in one submit call', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend, { entries: 16 });
    for (let i = 0; i < 10; i++) q.nop();
    expect(backend.submitCalls).toEqual([]);
    await tick();
    expect(backend.submitCalls).toEqual([10]);
  });

  it('encodes the operation fields into the submission entry', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend);
    const buf = Buffer.alloc(100);
    q.read(3, buf, { offset: 10, length: 50, position: 2 ** 33 + 7 });
    q.submit();
    const [sub] = backend.submitted;
    expect(sub).toMatchObject({ opcode: Opcode.READ, fd: 3, bufOffset: 10, len: 50, offset: 2 ** 33 + 7 });
    expect(backend.ring.resources[2 * sub.slot]).toBe(buf);
  });

  it('never has more operations in flight than entries, and runs the rest in order', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend, { entries: 4 });
    const results: number[] = [];
    for (let i = 0; i < 10; i++) q.write(1, Buffer.alloc(1), 0, 1, i).then((n) => results.push(n));
    q.submit();
    expect(backend.submitted.map((s) => s.offset)).toEqual([0, 1, 2, 3]);
    expect(q.inFlight).toBe(4);
    expect(q.waiting).toBe(6);
    backend.completeAll(1);
    await tick();
    expect(backend.submitted.map((s) => s.offset)).toEqual([4, 5, 6, 7]);
    backend.completeAll(1);
    await tick();
    backend.completeAll(1);
    await tick();
    expect(results).toHaveLength(10);
  });

  it('keeps a linked chain in one submit call even when slots free up one at a time', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend, { entries: 3 });
    q.timeout(1000);
    q.timeout(1000);
    q.nop({ link: true });
    q.nop({ link: true });
    q.nop();
    q.submit();
    expect(backend.submitted).toHaveLength(2);
    backend.complete([[backend.submitted[0].slot, 0]]);
    q.submit();
    // The 3-long chain waits until 3 slots are free.
    expect(backend.submitCalls).toEqual([2]);
    backend.complete([[backend.submitted[1].slot, 0]]);
    backend.submitted = [];
    q.submit();
    expect(backend.submitCalls).toEqual([2, 3]);
    expect(backend.submitted.map((s) => s.flags & SQE_F_LINK)).toEqual([SQE_F_LINK, SQE_F_LINK, 0]);
  });

  it('ends an open chain at the flush: the last entry carries no link flag', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend);
    q.nop({ link: true });
    q.nop({ link: true });
    q.submit();
    expect(backend.submitted.map((s) => s.flags)).toEqual([SQE_F_LINK, 0]);
  });

  it('encodes a cancel with SLOT_NONE that targets the aborted operation', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend);
    const ac = new AbortController();
    const p = q.timeout(10_000, { signal: ac.signal });
    q.submit();
    const target = backend.submitted[0].slot;
    ac.abort();
    q.submit();
    expect(backend.submitted[1]).toMatchObject({ opcode: Opcode.CANCEL, slot: SLOT_NONE, target });
    backend.complete([[target, errnoOf('ECANCELED')]]);
    await expect(p).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
  });

  it('does not send a cancel for an operation that completed before the flush', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend);
    const ac = new AbortController();
    const p = q.timeout(10_000, { signal: ac.signal });
    q.submit();
    ac.abort();
    backend.completeAll(0);
    q.submit();
    await expect(p).resolves.toBeUndefined();
    expect(backend.submitted).toEqual([]);
  });
});

describe('Queue completion', () => {
  it('delivers the rest of a batch when a callback throws, and rethrows on the next tick', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend);
    const seen: number[] = [];
    q.nop(() => {
      seen.push(1);
      throw new Error('boom');
    });
    q.nop(() => seen.push(2));
    q.submit();
    const uncaught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    const listeners = process.listeners('uncaughtException');
    backend.completeAll(0);
    expect(seen).toEqual([1, 2]);
    expect(((await uncaught) as Error).message).toBe('boom');
    expect(process.listeners('uncaughtException')).toHaveLength(listeners.length - 1);
  });

  it('turns a negative result into a Node-style error with syscall and path', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend);
    const p = q.open('/nope/file', 'r');
    q.submit();
    backend.completeAll(errnoOf('ENOENT'));
    await expect(p).rejects.toMatchObject({
      code: 'ENOENT',
      errno: errnoOf('ENOENT'),
      syscall: 'open',
      path: '/nope/file',
      message: "ENOENT: no such file or directory, open '/nope/file'",
    });
  });

  it('waitSync submits, blocks for completions and delivers polled ones before returning', () => {
    const backend = new ManualBackend();
    const q = new Queue(backend);
    backend.syncResult = 7;
    q.read(1, Buffer.alloc(8), { userData: 41 });
    q.read(1, Buffer.alloc(8), { userData: 42 });
    expect(q.waitSync(2)).toBe(2);
    const got: [number, number][] = [];
    q.drain((c) => got.push([c.userData, c.result]));
    expect(got).toEqual([
      [41, 7],
      [42, 7],
    ]);
    expect(q.ready).toBe(0);
  });

  it('waitSync throws ERR_PROACTOR_UNSUPPORTED on a backend without it', () => {
    const q = new Queue(new ManualBackend({ waitSync: false }));
    expect(() => q.waitSync()).toThrow(expect.objectContaining({ code: 'ERR_PROACTOR_UNSUPPORTED' }));
  });

  it('an operation the backend lacks throws ERR_PROACTOR_UNSUPPORTED and submits nothing', async () => {
    const backend = new ManualBackend({ ops: new Set(['nop']) });
    const q = new Queue(backend);
    expect(() => q.fsync(1)).toThrow(expect.objectContaining({ code: 'ERR_PROACTOR_UNSUPPORTED' }));
    await tick();
    expect(backend.submitCalls).toEqual([]);
  });
});

describe('Queue destroy', () => {
  it('cancels in-flight operations, waits for their completions, then closes the engine once', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend, { entries: 2 });
    const ops = [q.timeout(10_000), q.timeout(10_000), q.nop()];
    q.submit();
    const destroyed = q.destroy();
    const cancels = backend.submitted.filter((s) => s.opcode === Opcode.CANCEL);
    expect(cancels).toHaveLength(2);
    expect(backend.closed).toBe(false);
    backend.complete(cancels.map((c) => [c.target, errnoOf('ECANCELED')]));
    await destroyed;
    expect(backend.closed).toBe(true);
    const settled = await Promise.allSettled(ops);
    expect(
      settled.map((s) => (s.status === 'rejected' ? (s.reason as { code: string }).code : 'ok')),
    ).toEqual(['ECANCELED', 'ECANCELED', 'ECANCELED']);
    expect(() => q.nop()).toThrow(expect.objectContaining({ code: 'ERR_PROACTOR_QUEUE_DESTROYED' }));
  });
});

describe('Queue and a failing engine', () => {
  it('fails the operations of a batch the engine refused, and frees their slots', async () => {
    const backend = new ManualBackend();
    const q = new Queue(backend, { entries: 2 });
    const engineError = new Error('engine is broken');
    backend.failNextSubmit = engineError;
    const p = q.nop();
    let thrown: unknown;
    try {
      q.submit();
    } catch (error) {
      thrown = error;
    }
    // The engine's error carries no code: the queue's does, with the engine's as its cause.
    expect(thrown).toMatchObject({ code: 'ERR_PROACTOR_BACKEND_FAILED', cause: engineError });
    await expect(p).rejects.toBe(thrown);
    expect(q.inFlight).toBe(0);
    const next = q.nop();
    q.submit();
    backend.completeAll(0);
    await expect(next).resolves.toBeUndefined();
  });
});
