import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync } from 'node:fs';
import { type Backend, type Engine, Queue, type RingContext } from '@proactor/aio-core';
import type { CaseContext, ConformanceCase } from '../case.js';
import { fixture } from './expect.js';
import { type BoundaryCounts, instrument } from './instrumented-backend.js';

type ErrorType = typeof TypeError | typeof RangeError;

/**
 * Asserts `call` throws synchronously a `type` error with `code`; failures name the call. Should
 * it not throw, the operation it started must not reject unobserved and take the runner down.
 */
function throwsSync(call: () => unknown, type: ErrorType, code: string): void {
  const label = call.toString().replace(/^\(\) => /, '');
  let returned: unknown;
  assert.throws(
    () => {
      returned = call();
      if (returned instanceof Promise) returned.catch(() => {});
    },
    (error: unknown) => {
      assert.ok(error instanceof type, `${label}: expected ${type.name}, got ${String(error)}`);
      assert.equal((error as Error & { code?: string }).code, code, `${label}: code`);
      return true;
    },
    `${label} did not throw`,
  );
}

/** An instrumented queue, an fd of a real file (so a call wrongly accepted does no harm) and a buffer. */
function setup(t: CaseContext): { q: Queue; counts: BoundaryCounts; fd: number; buf: Buffer; file: string } {
  const { backend, counts } = instrument(t.backend);
  const q = t.queue({}, backend);
  const file = fixture(t, 'file.txt', '0123456789');
  const fd = openSync(file, 'r+');
  t.defer(() => closeSync(fd));
  return { q, counts, fd, buf: Buffer.alloc(10), file };
}

/** Proves nothing was submitted: the control nop is the only entry the backend ever saw. */
async function onlyControlNop(q: Queue, counts: BoundaryCounts): Promise<void> {
  assert.equal(await q.nop(), undefined);
  assert.equal(counts.entries, 1, 'nothing but the control nop reached the backend');
}

/** A backend that counts how often a queue attached to it. */
function countingAttach(backend: Backend): { backend: Backend; attached: () => number } {
  let attached = 0;
  return {
    backend: {
      name: backend.name,
      capabilities: backend.capabilities,
      attach(ring: RingContext): Engine {
        attached++;
        return backend.attach(ring);
      },
    },
    attached: () => attached,
  };
}

const TYPE = 'ERR_INVALID_ARG_TYPE';
const RANGE = 'ERR_OUT_OF_RANGE';
const VALUE = 'ERR_INVALID_ARG_VALUE';

/** Lets a case pass deliberately wrong arguments through the typed API. */
function bad<T>(value: unknown): T {
  return value as T;
}

/** Marks `p` as observed, so that a case failing before it awaits `p` cannot crash the runner. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export const argumentCases: ConformanceCase[] = [
  {
    name: 'arguments: an fd that is not a number throws TypeError ERR_INVALID_ARG_TYPE before submitting',
    needs: ['nop', 'read', 'write', 'close', 'fstat', 'fsync', 'ftruncate', 'readv'],
    async run(t) {
      const { q, counts, buf } = setup(t);
      throwsSync(() => q.read(bad('3'), buf), TypeError, TYPE);
      throwsSync(() => q.write(bad(1n), buf), TypeError, TYPE);
      throwsSync(() => q.close(bad(null)), TypeError, TYPE);
      throwsSync(() => q.fstat(bad(undefined)), TypeError, TYPE);
      throwsSync(() => q.fsync(bad({})), TypeError, TYPE);
      throwsSync(() => q.ftruncate(bad('1')), TypeError, TYPE);
      throwsSync(() => q.readv(bad(true), [buf]), TypeError, TYPE);
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: a negative, fractional or too large fd throws ERR_OUT_OF_RANGE before submitting',
    needs: ['nop', 'read', 'close', 'fsync'],
    async run(t) {
      const { q, counts, buf } = setup(t);
      for (const fd of [-1, 1.5, 2 ** 31, Number.NaN, Number.POSITIVE_INFINITY]) {
        throwsSync(() => q.read(fd, buf), RangeError, RANGE);
        throwsSync(() => q.close(fd), RangeError, RANGE);
        throwsSync(() => q.fsync(fd), RangeError, RANGE);
      }
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: a buffer that is not an ArrayBufferView throws ERR_INVALID_ARG_TYPE before submitting',
    needs: ['nop', 'read', 'write'],
    async run(t) {
      const { q, counts, fd } = setup(t);
      for (const buffer of ['abc', [1, 2, 3], new ArrayBuffer(4), null, undefined, {}]) {
        throwsSync(() => q.read(fd, bad(buffer)), TypeError, TYPE);
      }
      for (const buffer of [123, {}, [1], new ArrayBuffer(4), null]) {
        throwsSync(() => q.write(fd, bad(buffer)), TypeError, TYPE);
      }
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: an offset or length outside the buffer throws ERR_OUT_OF_RANGE before submitting',
    needs: ['nop', 'read', 'write'],
    async run(t) {
      const { q, counts, fd, buf } = setup(t);
      throwsSync(() => q.read(fd, buf, 11), RangeError, RANGE);
      throwsSync(() => q.read(fd, buf, 0, 11), RangeError, RANGE);
      throwsSync(() => q.read(fd, buf, 5, 6), RangeError, RANGE);
      throwsSync(() => q.read(fd, buf, -1), RangeError, RANGE);
      throwsSync(() => q.read(fd, buf, 0, -1), RangeError, RANGE);
      throwsSync(() => q.read(fd, buf, 1.5), RangeError, RANGE);
      throwsSync(() => q.read(fd, buf, { offset: 11 }), RangeError, RANGE);
      throwsSync(() => q.read(fd, buf, { offset: 4, length: 7 }), RangeError, RANGE);
      throwsSync(() => q.write(fd, buf, 3, 8), RangeError, RANGE);
      throwsSync(() => q.write(fd, buf, { length: 11 }), RangeError, RANGE);
      throwsSync(() => q.read(fd, buf, bad('1')), TypeError, TYPE);
      throwsSync(() => q.write(fd, buf, { offset: bad('0') }), TypeError, TYPE);
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: a position of -2, 1.5 or a string throws before submitting',
    needs: ['nop', 'read', 'write', 'readv', 'writev'],
    async run(t) {
      const { q, counts, fd, buf } = setup(t);
      for (const position of [-2, 1.5, -2n, 2n ** 63n, Number.NaN]) {
        throwsSync(() => q.read(fd, buf, 0, 1, position), RangeError, RANGE);
        throwsSync(() => q.write(fd, buf, { position }), RangeError, RANGE);
        throwsSync(() => q.readv(fd, [buf], position), RangeError, RANGE);
      }
      throwsSync(() => q.write(fd, 'text', -2), RangeError, RANGE);
      for (const position of ['0', {}, true]) {
        throwsSync(() => q.read(fd, buf, 0, 1, bad(position)), TypeError, TYPE);
        throwsSync(() => q.writev(fd, [buf], bad(position)), TypeError, TYPE);
      }
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: an unknown flags string throws ERR_INVALID_ARG_VALUE, other bad flags throw too',
    needs: ['nop', 'open'],
    async run(t) {
      const { q, counts } = setup(t);
      const path = t.path('never-created');
      for (const flags of ['rw', 'R', '', 'w++', 'read'])
        throwsSync(() => q.open(path, flags), TypeError, VALUE);
      throwsSync(() => q.open(path, bad({})), TypeError, TYPE);
      throwsSync(() => q.open(path, -1), RangeError, RANGE);
      throwsSync(() => q.open(path, 1.5), RangeError, RANGE);
      await onlyControlNop(q, counts);
      assert.equal(existsSync(path), false);
    },
  },
  {
    name: 'arguments: a mode out of range or not octal throws before submitting',
    needs: ['nop', 'open', 'mkdir'],
    async run(t) {
      const { q, counts } = setup(t);
      const path = t.path('never-created');
      for (const mode of [-1, 2 ** 32, 1.5]) {
        throwsSync(() => q.open(path, 'w', mode), RangeError, RANGE);
        throwsSync(() => q.mkdir(path, mode), RangeError, RANGE);
      }
      for (const mode of ['0o8', '999', 'rw', '']) {
        throwsSync(() => q.open(path, 'w', mode), TypeError, VALUE);
      }
      throwsSync(() => q.mkdir(path, { mode: 'x' }), TypeError, VALUE);
      throwsSync(() => q.open(path, 'w', bad(true)), TypeError, TYPE);
      await onlyControlNop(q, counts);
      assert.equal(existsSync(path), false);
    },
  },
  {
    name: 'arguments: a path of a wrong type throws ERR_INVALID_ARG_TYPE before submitting',
    needs: ['nop', 'open', 'stat', 'lstat', 'unlink', 'rmdir', 'rename', 'mkdir'],
    async run(t) {
      const { q, counts, file } = setup(t);
      throwsSync(() => q.open(bad(42)), TypeError, TYPE);
      throwsSync(() => q.stat(bad(null)), TypeError, TYPE);
      throwsSync(() => q.lstat(bad(undefined)), TypeError, TYPE);
      throwsSync(() => q.unlink(bad({})), TypeError, TYPE);
      throwsSync(() => q.rmdir(bad(1)), TypeError, TYPE);
      throwsSync(() => q.rename(file, bad(5)), TypeError, TYPE);
      throwsSync(() => q.rename(bad(5), file), TypeError, TYPE);
      throwsSync(() => q.mkdir(bad([])), TypeError, TYPE);
      throwsSync(() => q.open(new URL('http://example.com/file')), TypeError, 'ERR_INVALID_URL_SCHEME');
      await onlyControlNop(q, counts);
      assert.ok(existsSync(file), 'the file was neither unlinked nor renamed');
    },
  },
  {
    name: 'arguments: a signal that is not an AbortSignal throws ERR_INVALID_ARG_TYPE before submitting',
    needs: ['nop', 'read', 'timeout'],
    async run(t) {
      const { q, counts, fd, buf } = setup(t);
      for (const signal of [{}, 'abort', null, 1, new AbortController()]) {
        throwsSync(() => q.nop({ signal: bad(signal) }), TypeError, TYPE);
        throwsSync(() => q.read(fd, buf, { signal: bad(signal) }), TypeError, TYPE);
        throwsSync(() => q.timeout(1, { signal: bad(signal) }), TypeError, TYPE);
      }
      // Node's own check is duck-typed ('aborted' in signal); such an object must still fail at once.
      assert.throws(() => q.nop({ signal: bad({ aborted: false }) }), TypeError);
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: a callback that is not a function throws ERR_INVALID_ARG_TYPE before submitting',
    needs: ['nop', 'timeout', 'read', 'close', 'fsync', 'stat', 'rename'],
    async run(t) {
      const { q, counts, fd, buf, file } = setup(t);
      throwsSync(() => q.nop(undefined, bad('cb')), TypeError, TYPE);
      throwsSync(() => q.timeout(1, undefined, bad({})), TypeError, TYPE);
      throwsSync(() => q.close(fd, undefined, bad(5)), TypeError, TYPE);
      throwsSync(() => q.fsync(fd, {}, bad('x')), TypeError, TYPE);
      throwsSync(() => q.read(fd, buf, 0, 1, 0, bad('x')), TypeError, TYPE);
      throwsSync(() => q.read(fd, buf, {}, bad(42)), TypeError, TYPE);
      throwsSync(() => q.stat(file, {}, bad(42)), TypeError, TYPE);
      throwsSync(() => q.rename(file, t.path('moved'), {}, bad(1)), TypeError, TYPE);
      await onlyControlNop(q, counts);
      assert.ok(existsSync(file));
    },
  },
  {
    name: 'arguments: a last argument that is not a function throws for open, readv, writev and ftruncate',
    needs: ['nop', 'open', 'readv', 'writev', 'ftruncate'],
    async run(t) {
      const { q, counts, fd, buf } = setup(t);
      const path = t.path('never-created');
      throwsSync(() => q.open(path, 'w', 0o644, undefined, bad('cb')), TypeError, TYPE);
      throwsSync(() => q.readv(fd, [buf], 0, undefined, bad('cb')), TypeError, TYPE);
      throwsSync(() => q.writev(fd, [buf], 0, {}, bad(42)), TypeError, TYPE);
      throwsSync(() => q.ftruncate(fd, 0, undefined, bad({})), TypeError, TYPE);
      await onlyControlNop(q, counts);
      assert.equal(existsSync(path), false);
    },
  },
  {
    name: 'arguments: a negative, NaN or too large timeout throws before submitting',
    needs: ['nop', 'timeout'],
    async run(t) {
      const { q, counts } = setup(t);
      for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])
        throwsSync(() => q.timeout(ms), RangeError, RANGE);
      for (const ms of ['10', undefined, null, 10n]) throwsSync(() => q.timeout(bad(ms)), TypeError, TYPE);
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: readv and writev refuse a non-array or an element that is not a buffer',
    needs: ['nop', 'readv', 'writev'],
    async run(t) {
      const { q, counts, fd, buf } = setup(t);
      throwsSync(() => q.readv(fd, bad(buf)), TypeError, TYPE);
      throwsSync(() => q.writev(fd, bad('abc')), TypeError, TYPE);
      throwsSync(() => q.readv(fd, bad([buf, 'x'])), TypeError, TYPE);
      throwsSync(() => q.writev(fd, bad([buf, null])), TypeError, TYPE);
      throwsSync(() => q.writev(fd, bad([new ArrayBuffer(2)])), TypeError, TYPE);
      throwsSync(() => q.readv(fd, new Array<Buffer>(1025).fill(buf)), RangeError, RANGE);
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: options that are not an object throw ERR_INVALID_ARG_TYPE before submitting',
    needs: ['nop', 'fsync', 'stat', 'timeout', 'readv', 'open'],
    async run(t) {
      const { q, counts, fd, buf, file } = setup(t);
      for (const options of ['x', 5, true]) {
        throwsSync(() => q.nop(bad(options)), TypeError, TYPE);
        throwsSync(() => q.fsync(fd, bad(options)), TypeError, TYPE);
        throwsSync(() => q.stat(file, bad(options)), TypeError, TYPE);
        throwsSync(() => q.timeout(1, bad(options)), TypeError, TYPE);
        throwsSync(() => q.readv(fd, [buf], 0, bad(options)), TypeError, TYPE);
        throwsSync(() => q.open(file, 'r', 0o644, bad(options)), TypeError, TYPE);
      }
      throwsSync(() => q.nop({ link: bad('yes') }), TypeError, TYPE);
      throwsSync(() => q.nop({ userData: bad('1') }), TypeError, TYPE);
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: a callback together with userData throws TypeError before submitting',
    needs: ['nop', 'fsync'],
    async run(t) {
      const { q, counts, fd } = setup(t);
      let called = false;
      const cb = () => {
        called = true;
      };
      assert.throws(() => q.nop(bad({ userData: 1 }), cb), TypeError);
      assert.throws(() => q.fsync(fd, bad({ userData: 2 }), cb), TypeError);
      await onlyControlNop(q, counts);
      assert.equal(called, false);
      assert.equal(q.ready, 0);
    },
  },
  {
    name: 'arguments: drain() and waitSync() validate their arguments',
    needs: ['nop'],
    async run(t) {
      const { q, counts } = setup(t);
      throwsSync(() => q.drain(bad(undefined)), TypeError, TYPE);
      throwsSync(() => q.drain(bad('handler')), TypeError, TYPE);
      throwsSync(() => q.waitSync(-1), RangeError, RANGE);
      throwsSync(() => q.waitSync(1.5), RangeError, RANGE);
      throwsSync(() => q.waitSync(bad('1')), TypeError, TYPE);
      throwsSync(() => q.waitSync(1, -5), RangeError, RANGE);
      await onlyControlNop(q, counts);
    },
  },
  {
    name: 'arguments: new Queue() with entries 0 or out of range throws RangeError and attaches nothing',
    async run(t) {
      const { backend, attached } = countingAttach(t.backend);
      for (const entries of [0, -1, 1.5, 65537, Number.NaN]) {
        throwsSync(() => new Queue(backend, { entries }), RangeError, RANGE);
      }
      throwsSync(() => new Queue(backend, { completionEntries: 0 }), RangeError, RANGE);
      throwsSync(() => new Queue(backend, { entries: bad('8') }), TypeError, TYPE);
      throwsSync(() => new Queue(backend, bad('options')), TypeError, TYPE);
      throwsSync(() => new Queue(backend, bad(null)), TypeError, TYPE);
      assert.equal(attached(), 0, 'no engine was attached for a refused queue');
      const q = t.queue({ entries: 1 }, backend);
      assert.equal(q.entries, 1, 'the smallest valid queue is accepted');
      assert.equal(attached(), 1);
    },
  },
  {
    name: 'arguments: new Queue() with something that is not a backend throws TypeError ERR_INVALID_ARG_TYPE',
    async run() {
      for (const backend of [{}, null, undefined, 'node', 1, { attach: 1 }]) {
        throwsSync(() => new Queue(bad(backend)), TypeError, TYPE);
      }
    },
  },
  {
    name: 'arguments: a refused call leaves the queue usable and its batch intact',
    needs: ['nop', 'read'],
    async run(t) {
      const { q, counts, fd, buf } = setup(t);
      const before = quiet(q.read(fd, buf, 0, 4, 0));
      throwsSync(() => q.read(fd, buf, 0, 11, 0), RangeError, RANGE);
      const after = quiet(q.nop());
      assert.equal(q.waiting, 2, 'the refused call left nothing in the queue');
      assert.equal(await before, 4);
      assert.equal(buf.subarray(0, 4).toString(), '0123');
      assert.equal(await after, undefined);
      assert.equal(counts.submitCalls, 1);
      assert.equal(counts.entries, 2);
    },
  },
];
