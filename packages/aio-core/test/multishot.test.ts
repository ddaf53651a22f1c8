import { describe, expect, it } from 'vitest';
import {
  ADDRESS_SIZE,
  AF_INET,
  CQE_F_BUFFER,
  CQE_F_MORE,
  errnoOf,
  OPERATIONS,
  Opcode,
  Queue,
  SOCKET_OPERATIONS,
} from '../src/index.js';
import { ManualBackend, tick } from './manual-backend.js';

const ECANCELED = errnoOf('ECANCELED');
const ENOBUFS = errnoOf('ENOBUFS');

function multishotBackend(): ManualBackend {
  return new ManualBackend({ ops: new Set([...OPERATIONS, ...SOCKET_OPERATIONS]), multishot: true });
}

/** The one submission of `opcode` recorded since the last call, removed from the record. */
function take(b: ManualBackend, opcode: number) {
  const i = b.submitted.findIndex((s) => s.opcode === opcode);
  expect(i).toBeGreaterThanOrEqual(0);
  return b.submitted.splice(i, 1)[0];
}

describe('multishot accepts()', () => {
  it('is one ACCEPT_MULTI request whose items carry the peer address of their slot', async () => {
    const b = multishotBackend();
    const q = new Queue(b);
    const it = q.accepts(7);
    const first = it.next();
    await tick();
    const sub = take(b, Opcode.ACCEPT_MULTI);
    expect(sub.fd).toBe(7);
    const area = b.ring.addresses;
    area[sub.slot * ADDRESS_SIZE] = AF_INET;
    area[sub.slot * ADDRESS_SIZE + 2] = 0x50; // port 80, little-endian
    area.set([127, 0, 0, 1], sub.slot * ADDRESS_SIZE + 12);
    b.complete([[sub.slot, 11, CQE_F_MORE, 0]]);
    expect((await first).value).toEqual({
      fd: 11,
      address: { address: '127.0.0.1', port: 80, family: 'IPv4' },
    });
    expect(q.inFlight).toBe(1);
    await it.return(undefined);
    await tick();
    expect(b.submitted.some((s) => s.opcode === Opcode.CANCEL && s.target === sub.slot)).toBe(true);
  });

  it('pauses at 128 waiting connections and starts again once the consumer caught up', async () => {
    const b = multishotBackend();
    const q = new Queue(b);
    const it = q.accepts(7);
    const first = it.next();
    await tick();
    const sub = take(b, Opcode.ACCEPT_MULTI);
    b.complete(
      Array.from({ length: 130 }, (_, i): [number, number, number, number] => [
        sub.slot,
        100 + i,
        CQE_F_MORE,
        0,
      ]),
    );
    await tick();
    // Too many waiting: the request is cancelled.
    expect(b.submitted.some((s) => s.opcode === Opcode.CANCEL && s.target === sub.slot)).toBe(true);
    b.submitted = [];
    const fds = [(await first).value!.fd];
    for (let i = 1; i < 130; i++) fds.push((await it.next()).value!.fd);
    expect(fds).toEqual(Array.from({ length: 130 }, (_, i) => 100 + i));
    // The consumer now waits; the cancellation completes: accepting starts again by itself.
    const next = it.next();
    b.complete([[sub.slot, ECANCELED]]);
    await tick();
    const again = take(b, Opcode.ACCEPT_MULTI);
    b.complete([[again.slot, 500, CQE_F_MORE, 0]]);
    expect((await next).value!.fd).toBe(500);
    await it.return(undefined);
  });

  it('starts again after ENOBUFS and ends with any other error', async () => {
    const b = multishotBackend();
    const q = new Queue(b);
    const it = q.accepts(7);
    const next = it.next();
    await tick();
    const sub = take(b, Opcode.ACCEPT_MULTI);
    b.complete([[sub.slot, ENOBUFS]]);
    await tick();
    const again = take(b, Opcode.ACCEPT_MULTI);
    b.complete([[again.slot, errnoOf('EMFILE')]]);
    await expect(next).rejects.toMatchObject({ code: 'EMFILE', syscall: 'accept' });
  });

  it('connections that arrive after the loop ended go to the next accept(), which never reaches the backend', async () => {
    const b = multishotBackend();
    const q = new Queue(b);
    const it = q.accepts(7);
    const first = it.next();
    await tick();
    const sub = take(b, Opcode.ACCEPT_MULTI);
    b.complete([[sub.slot, 20, CQE_F_MORE, 0]]);
    await first;
    await it.return(undefined);
    b.complete([
      [sub.slot, 21, CQE_F_MORE, 0],
      [sub.slot, ECANCELED],
    ]);
    b.submitted = [];
    expect((await q.accept(7)).fd).toBe(21);
    expect(b.submitted.filter((s) => s.opcode === Opcode.ACCEPT)).toEqual([]);
  });
});

describe('multishot recvs()', () => {
  it('copies each item out of its provided buffer, splits it to options.size, and ends at 0', async () => {
    const b = multishotBackend();
    const q = new Queue(b, { recvBufferSize: 8, recvBufferCount: 4 });
    const it = q.recvs(5, { size: 3 });
    const first = it.next();
    await tick();
    expect(b.provided).toMatchObject({ size: 8, count: 4 });
    const sub = take(b, Opcode.RECV_MULTI);
    b.provided!.memory.set([1, 2, 3, 4, 5], 2 * 8);
    b.complete([[sub.slot, 5, CQE_F_MORE | CQE_F_BUFFER, 2]]);
    // The backend may reuse the buffer at once: the chunks are copies.
    b.provided!.memory.fill(0);
    expect([...(await first).value!]).toEqual([1, 2, 3]);
    expect([...(await it.next()).value!]).toEqual([4, 5]);
    const end = it.next();
    b.complete([[sub.slot, 0]]);
    expect(await end).toEqual({ done: true, value: undefined });
  });

  it('pauses past 1 MiB waiting and starts again once the consumer caught up', async () => {
    const b = multishotBackend();
    const q = new Queue(b, { recvBufferSize: 65536, recvBufferCount: 32 });
    const it = q.recvs(5);
    const first = it.next();
    await tick();
    const sub = take(b, Opcode.RECV_MULTI);
    b.complete(
      Array.from({ length: 20 }, (_, i): [number, number, number, number] => [
        sub.slot,
        65536,
        CQE_F_MORE | CQE_F_BUFFER,
        i,
      ]),
    );
    await tick();
    expect(b.submitted.some((s) => s.opcode === Opcode.CANCEL && s.target === sub.slot)).toBe(true);
    b.submitted = [];
    let total = (await first).value!.length;
    for (let i = 1; i < 20; i++) total += (await it.next()).value!.length;
    expect(total).toBe(20 * 65536);
    const next = it.next();
    b.complete([[sub.slot, ECANCELED]]);
    await tick();
    const again = take(b, Opcode.RECV_MULTI);
    b.complete([[again.slot, 10, CQE_F_MORE | CQE_F_BUFFER, 0]]);
    expect((await next).value!.length).toBe(10);
    await it.return(undefined);
  });

  it('after ENOBUFS starts again; after two in a row receives once into a buffer of its own, then goes back to multishot', async () => {
    const b = multishotBackend();
    const q = new Queue(b, { recvBufferSize: 64, recvBufferCount: 4 });
    const it = q.recvs(5, { size: 100 });
    const first = it.next();
    await tick();
    const sub = take(b, Opcode.RECV_MULTI);
    b.complete([[sub.slot, ENOBUFS]]);
    await tick();
    const retry = take(b, Opcode.RECV_MULTI);
    b.complete([[retry.slot, ENOBUFS]]);
    await tick();
    // The pool stayed dry: one plain recv of min(size, recvBufferSize) bytes, into its own buffer.
    const once = take(b, Opcode.RECV);
    expect(once.len).toBe(64);
    expect(once.fd).toBe(5);
    (b.ring.resources[2 * once.slot] as Buffer).set([9, 8, 7]);
    b.complete([[once.slot, 3]]);
    expect([...(await first).value!]).toEqual([9, 8, 7]);
    const next = it.next();
    await tick();
    const again = take(b, Opcode.RECV_MULTI);
    b.complete([[again.slot, errnoOf('ECONNRESET')]]);
    await expect(next).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('after ENOBUFS with nobody waiting, starts again only when the consumer asks (never behind its back)', async () => {
    const b = multishotBackend();
    const q = new Queue(b, { recvBufferSize: 8, recvBufferCount: 4 });
    const it = q.recvs(5);
    const first = it.next();
    await tick();
    const sub = take(b, Opcode.RECV_MULTI);
    b.complete([
      [sub.slot, 3, CQE_F_MORE | CQE_F_BUFFER, 0],
      [sub.slot, ENOBUFS],
    ]);
    expect((await first).value!.length).toBe(3);
    await tick();
    // The consumer may have closed the socket (and its number been reused): nothing is issued.
    expect(b.submitted.filter((s) => s.opcode === Opcode.RECV_MULTI || s.opcode === Opcode.RECV)).toEqual([]);
    const next = it.next();
    await tick();
    const again = take(b, Opcode.RECV_MULTI);
    expect(again.fd).toBe(5);
    b.complete([[again.slot, 0]]);
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('never starts again on a descriptor closed through the queue since: ends with ECANCELED', async () => {
    const b = multishotBackend();
    const q = new Queue(b);
    const it = q.recvs(5);
    const first = it.next();
    await tick();
    const sub = take(b, Opcode.RECV_MULTI);
    const closing = q.close(5);
    await tick();
    const close = take(b, Opcode.CLOSE);
    // The request ended for want of buffers just before the close reached it.
    b.complete([[sub.slot, ENOBUFS]]);
    await expect(first).rejects.toMatchObject({ code: 'ECANCELED', syscall: 'read' });
    await tick();
    expect(b.submitted.filter((s) => s.opcode === Opcode.RECV_MULTI || s.opcode === Opcode.RECV)).toEqual([]);
    b.complete([[close.slot, 0]]);
    await closing;
  });

  it('falls back to single recvs when the engine refuses the buffers', async () => {
    const b = multishotBackend();
    b.attach = ((attach) => (ring) => {
      const e = attach(ring);
      e.provideBuffers = () => {
        throw new Error('no');
      };
      return e;
    })(b.attach.bind(b));
    const q = new Queue(b);
    const it = q.recvs(5, { size: 16 });
    const next = it.next();
    await tick();
    const sub = take(b, Opcode.RECV);
    expect(sub.len).toBe(16);
    b.complete([[sub.slot, 0]]);
    expect(await next).toEqual({ done: true, value: undefined });
    await q.destroy();
  });
});

/** recvs(fd, { size: 8 }, callback) recording each chunk's bytes, and null for the end. */
function recvsInto(q: Queue, fd: number): (number[] | null)[] {
  const got: (number[] | null)[] = [];
  q.recvs(fd, { size: 8 }, (err, chunk) => {
    expect(err).toBeNull();
    got.push(chunk === null || chunk === undefined ? null : [...chunk]);
  });
  return got;
}

describe('multishot callback forms', () => {
  it('recvs(fd, options, callback) hands each chunk over as it comes, restarts after ENOBUFS, ends with null', async () => {
    const b = multishotBackend();
    const q = new Queue(b, { recvBufferSize: 8, recvBufferCount: 4 });
    const got = recvsInto(q, 5);
    await tick();
    const sub = take(b, Opcode.RECV_MULTI);
    b.provided!.memory.set([1, 2], 8);
    b.complete([
      [sub.slot, 2, CQE_F_MORE | CQE_F_BUFFER, 1],
      [sub.slot, ENOBUFS],
    ]);
    // Synchronously, within the batch: no promise per chunk.
    expect(got).toEqual([[1, 2]]);
    await tick();
    // Nobody waits in the callback form, yet it starts again: the consumer always wants more.
    const again = take(b, Opcode.RECV_MULTI);
    b.complete([[again.slot, 0]]);
    expect(got).toEqual([[1, 2], null]);
  });

  it('recvs(fd, options, callback) goes back to multishot after the single recv that two ENOBUFS in a row led to', async () => {
    const b = multishotBackend();
    const q = new Queue(b, { recvBufferSize: 8, recvBufferCount: 4 });
    const got = recvsInto(q, 5);
    await tick();
    b.complete([[take(b, Opcode.RECV_MULTI).slot, ENOBUFS]]);
    await tick();
    b.complete([[take(b, Opcode.RECV_MULTI).slot, ENOBUFS]]);
    await tick();
    const once = take(b, Opcode.RECV);
    (b.ring.resources[2 * once.slot] as Buffer).set([4, 5]);
    b.complete([[once.slot, 2]]);
    expect(got).toEqual([[4, 5]]);
    await tick();
    // Nobody calls next() in the callback form: the iterator itself must receive again.
    const again = take(b, Opcode.RECV_MULTI);
    b.complete([[again.slot, 0]]);
    expect(got).toEqual([[4, 5], null]);
  });

  it('accepts(fd, callback) gets the connections accepted ahead first, then new ones, and ends with the error', async () => {
    const b = multishotBackend();
    const q = new Queue(b);
    const it = q.accepts(7);
    const first = it.next();
    await tick();
    const sub = take(b, Opcode.ACCEPT_MULTI);
    b.complete([[sub.slot, 30, CQE_F_MORE, 0]]);
    await first;
    await it.return(undefined);
    b.complete([
      [sub.slot, 31, CQE_F_MORE, 0],
      [sub.slot, ECANCELED],
    ]);
    const fds: number[] = [];
    const errors: string[] = [];
    q.accepts(7, (err, conn) => {
      if (err) errors.push((err as Error & { code?: string }).code ?? err.name);
      else fds.push(conn!.fd);
    });
    expect(fds).toEqual([31]);
    await tick();
    const next = take(b, Opcode.ACCEPT_MULTI);
    b.complete([
      [next.slot, 32, CQE_F_MORE, 0],
      [next.slot, errnoOf('EMFILE')],
    ]);
    expect(fds).toEqual([31, 32]);
    expect(errors).toEqual(['EMFILE']);
  });
});

describe('connections accepted ahead when the queue is destroyed', () => {
  /** Whether `promise` has settled (after the microtasks and a macrotask turn). */
  async function settled(promise: Promise<unknown>): Promise<boolean> {
    let done = false;
    void promise.then(() => {
      done = true;
    });
    await tick();
    return done;
  }

  /** A queue whose accepts(7) has started its multishot request, and that request. */
  async function acceptsStarted() {
    const b = multishotBackend();
    const q = new Queue(b);
    const it = q.accepts(7);
    const first = it.next();
    await tick();
    return { b, q, it, first, sub: take(b, Opcode.ACCEPT_MULTI) };
  }

  it('destroy() closes the connections nobody took, and ends only when those closes have', async () => {
    const { b, q, it, first, sub } = await acceptsStarted();
    b.complete([
      [sub.slot, 20, CQE_F_MORE, 0],
      [sub.slot, 21, CQE_F_MORE, 0],
      [sub.slot, 22, CQE_F_MORE, 0],
    ]);
    expect((await first).value?.fd).toBe(20);
    await it.return(undefined);
    b.complete([[sub.slot, ECANCELED]]);
    b.submitted = [];
    const destroyed = q.destroy();
    await tick();
    const closes = b.submitted.filter((s) => s.opcode === Opcode.CLOSE);
    expect(closes.map((s) => s.fd)).toEqual([21, 22]);
    expect(await settled(destroyed)).toBe(false);
    b.complete(closes.map((s): [number, number] => [s.slot, 0]));
    expect(await settled(destroyed)).toBe(true);
  });

  it('a connection the multishot request delivers while destroy() cancels it is closed too', async () => {
    const { b, q, first, sub } = await acceptsStarted();
    b.complete([[sub.slot, 30, CQE_F_MORE, 0]]);
    expect((await first).value?.fd).toBe(30);
    b.submitted = [];
    const destroyed = q.destroy();
    await tick();
    expect(b.submitted.some((s) => s.opcode === Opcode.CANCEL && s.target === sub.slot)).toBe(true);
    b.complete([
      [sub.slot, 31, CQE_F_MORE, 0],
      [sub.slot, ECANCELED],
    ]);
    await tick();
    const close = take(b, Opcode.CLOSE);
    expect(close.fd).toBe(31);
    expect(await settled(destroyed)).toBe(false);
    b.complete([[close.slot, 0]]);
    expect(await settled(destroyed)).toBe(true);
  });
});
