/** Assertions shared by the cases. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { errnoOf, Queue } from '@proactor/aio-core';
import type { CaseContext } from '../case.js';

export interface ExpectedSystemError {
  /** One code, or the codes a platform may legitimately choose between. */
  code: string | readonly string[];
  syscall?: string;
  path?: string;
  dest?: string;
}

/** Asserts `error` is a Node-style system error: code, matching negative errno, syscall, path. */
export function assertSystemError(error: unknown, expected: ExpectedSystemError): void {
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  const e = error as Error & {
    code?: unknown;
    errno?: unknown;
    syscall?: unknown;
    path?: unknown;
    dest?: unknown;
  };
  const codes = typeof expected.code === 'string' ? [expected.code] : expected.code;
  assert.ok(
    codes.includes(e.code as string),
    `expected code ${codes.join(' or ')}, got ${String(e.code)}: ${e.message}`,
  );
  assert.equal(e.errno, errnoOf(e.code as string), 'errno matches the code');
  assert.ok((e.errno as number) < 0, 'errno is negative, as Node reports it');
  if (expected.syscall !== undefined) assert.equal(e.syscall, expected.syscall);
  if (expected.path !== undefined) assert.equal(e.path, expected.path);
  if (expected.dest !== undefined) assert.equal(e.dest, expected.dest);
  assert.ok(e.message.startsWith(`${String(e.code)}: `), `message starts with the code: ${e.message}`);
}

/** Awaits `promise` and asserts it rejected with the system error described. */
export async function rejectsWith(promise: Promise<unknown>, expected: ExpectedSystemError): Promise<Error> {
  try {
    const value = await promise;
    assert.fail(`expected ${String(expected.code)}, but it resolved with ${String(value)}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    assertSystemError(error, expected);
    return error as Error;
  }
}

/** Asserts `error` is Node's AbortError. */
export function assertAbortError(error: unknown, cause?: unknown): void {
  assert.ok(error instanceof Error, `expected an AbortError, got ${String(error)}`);
  assert.equal(error.name, 'AbortError');
  assert.equal((error as Error & { code?: string }).code, 'ABORT_ERR');
  if (cause !== undefined) assert.equal(error.cause, cause);
}

/** Asserts `fn` throws synchronously a `type` error with Node's `code`. */
export function throwsArgError(
  fn: () => unknown,
  type: typeof TypeError | typeof RangeError,
  code: string,
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.equal((error as Error & { code?: string }).code, code);
    return true;
  });
}

/** Deterministic bytes: byte i is a function of (seed, i), so corruption and misplacement show. */
export function pattern(size: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** Writes `content` to a new file in the case's directory and returns its path. */
export function fixture(t: CaseContext, name: string, content: string | Uint8Array): string {
  const path = t.path(name);
  writeFileSync(path, content);
  return path;
}

/** Opens `path`, runs `body` with the fd, and closes it (also when `body` fails). */
export async function withFd<T>(
  q: Queue,
  path: string,
  flags: string,
  body: (fd: number) => Promise<T>,
): Promise<T> {
  const fd = await q.open(path, flags);
  let result: T;
  try {
    result = await body(fd);
  } catch (error) {
    await q.close(fd).catch(() => undefined);
    throw error;
  }
  await q.close(fd);
  return result;
}

/**
 * Closes `fd` after the case, through a queue of its own (the case's queues are destroyed first,
 * and sockets outlive them); an error (the case closed it itself) is ignored.
 */
export function closeLater(t: CaseContext, fd: number): number {
  t.defer(async () => {
    const cleanup = new Queue(t.backend);
    await cleanup.close(fd).catch(() => undefined);
    await cleanup.destroy();
  });
  return fd;
}

/** Tracks whether `promise` settled, without handling its outcome for the caller. */
export function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { promise, settled: () => done };
}
