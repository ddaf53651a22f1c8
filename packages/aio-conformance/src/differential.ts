/**
 * Differential testing: the same random operation script runs on two backends, each in its own
 * directory, and every result is compared (values, error codes, bytes read, and the files left
 * behind). The reference backend, aio-node, is the usual oracle.
 *
 * Scripts are sequential (each operation awaited before the next is issued), so the results are
 * fully determined by the script and the file system: any difference is a backend's.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Backend, Queue, type Stats } from '@proactor/aio-core';

/** One step of a script, in a form that reads well in a failure message. */
export type Step =
  | { op: 'open'; file: number; flags: string }
  | { op: 'close'; fd: number }
  | { op: 'read'; fd: number; length: number; position: number | null }
  | { op: 'write'; fd: number; length: number; position: number | null; seed: number }
  | { op: 'readv'; fd: number; lengths: number[]; position: number | null }
  | { op: 'writev'; fd: number; lengths: number[]; position: number | null; seed: number }
  | { op: 'ftruncate'; fd: number; length: number }
  | { op: 'fsync' | 'fdatasync' | 'fstat'; fd: number }
  | { op: 'stat' | 'unlink'; file: number }
  | { op: 'rename'; file: number; to: number }
  | { op: 'mkdir' | 'rmdir'; dir: number };

const FILES = 4;
const DIRS = 2;
const FLAGS = ['r', 'r+', 'w', 'w+', 'a', 'a+', 'wx', 'ax+'];

/** A small deterministic generator (xorshift32). */
class Random {
  #x: number;
  constructor(seed: number) {
    this.#x = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#x = x >>> 0;
    return this.#x;
  }
  below(n: number): number {
    return this.next() % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/**
 * A random script of `length` steps. Descriptor operands are indexes into the script's own
 * table of opened descriptors (the k-th successful open), so the script is independent of the
 * numbers a backend hands out; an index that was never opened or is closed yields EBADF-free
 * skips, never a use of somebody else's descriptor.
 */
export function generateScript(seed: number, length: number): Step[] {
  const r = new Random(seed);
  const steps: Step[] = [];
  let opens = 0;
  const position = () => (r.below(3) === 0 ? null : r.below(96 * 1024));
  const lengths = () => Array.from({ length: 1 + r.below(6) }, () => 1 + r.below(8192));
  for (let i = 0; i < length; i++) {
    const fd = opens === 0 ? 0 : r.below(opens);
    const k = r.below(100);
    if (k < 14 || opens === 0) {
      steps.push({ op: 'open', file: r.below(FILES), flags: r.pick(FLAGS) });
      opens++;
    } else if (k < 20) steps.push({ op: 'close', fd });
    else if (k < 38) steps.push({ op: 'read', fd, length: 1 + r.below(16384), position: position() });
    else if (k < 56)
      steps.push({ op: 'write', fd, length: 1 + r.below(16384), position: position(), seed: r.next() });
    else if (k < 62) steps.push({ op: 'readv', fd, lengths: lengths(), position: position() });
    else if (k < 68)
      steps.push({ op: 'writev', fd, lengths: lengths(), position: position(), seed: r.next() });
    else if (k < 72) steps.push({ op: 'ftruncate', fd, length: r.below(64 * 1024) });
    else if (k < 75) steps.push({ op: r.pick(['fsync', 'fdatasync'] as const), fd });
    else if (k < 81) steps.push({ op: 'fstat', fd });
    else if (k < 87) steps.push({ op: 'stat', file: r.below(FILES) });
    else if (k < 90) steps.push({ op: 'unlink', file: r.below(FILES) });
    else if (k < 94) steps.push({ op: 'rename', file: r.below(FILES), to: r.below(FILES) });
    else if (k < 97) steps.push({ op: 'mkdir', dir: r.below(DIRS) });
    else steps.push({ op: 'rmdir', dir: r.below(DIRS) });
  }
  return steps;
}

function bytes(length: number, seed: number): Buffer {
  const r = new Random(seed);
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = r.next() & 0xff;
  return buf;
}

function digest(...parts: Uint8Array[]): string {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 12);
}

function describeStats(s: Stats): string {
  return `size=${s.size} file=${s.isFile()} dir=${s.isDirectory()}`;
}

/** Runs `steps` on `backend` in `dir`; returns one outcome string per step. */
export async function runScript(backend: Backend, dir: string, steps: readonly Step[]): Promise<string[]> {
  const q = new Queue(backend, { entries: 16 });
  const fds: (number | undefined)[] = [];
  const file = (i: number) => join(dir, `f${i}`);
  const subdir = (i: number) => join(dir, `d${i}`);
  const outcomes: string[] = [];
  try {
    for (const step of steps) {
      const fd = 'fd' in step ? fds[step.fd] : undefined;
      if ('fd' in step && fd === undefined) {
        outcomes.push('skip (descriptor not open)');
        continue;
      }
      try {
        outcomes.push(await runStep(q, step, fd!, fds, file, subdir));
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code !== 'string' || !code.startsWith('E')) throw error;
        outcomes.push(`error ${code}`);
      }
    }
  } finally {
    for (const fd of fds) if (fd !== undefined) await q.close(fd).catch(() => {});
    await q.destroy();
  }
  return outcomes;
}

async function runStep(
  q: Queue,
  step: Step,
  fd: number,
  fds: (number | undefined)[],
  file: (i: number) => string,
  subdir: (i: number) => string,
): Promise<string> {
  switch (step.op) {
    case 'open': {
      const index = fds.length;
      fds.push(undefined);
      fds[index] = await q.open(file(step.file), step.flags, 0o644);
      return `fd #${index}`;
    }
    case 'close': {
      await q.close(fd);
      fds[step.fd] = undefined;
      return 'ok';
    }
    case 'read': {
      const buf = Buffer.alloc(step.length);
      const n = await q.read(fd, buf, 0, step.length, step.position);
      return `${n} bytes ${digest(buf.subarray(0, n))}`;
    }
    case 'write':
      return `${await q.write(fd, bytes(step.length, step.seed), 0, step.length, step.position)} bytes`;
    case 'readv': {
      const bufs = step.lengths.map((l) => Buffer.alloc(l));
      const n = await q.readv(fd, bufs, step.position);
      return `${n} bytes ${digest(...bufs)}`;
    }
    case 'writev': {
      const bufs = step.lengths.map((l, i) => bytes(l, step.seed + i));
      return `${await q.writev(fd, bufs, step.position)} bytes`;
    }
    case 'ftruncate':
      await q.ftruncate(fd, step.length);
      return 'ok';
    case 'fsync':
      await q.fsync(fd);
      return 'ok';
    case 'fdatasync':
      await q.fdatasync(fd);
      return 'ok';
    case 'fstat':
      return describeStats(await q.fstat(fd));
    case 'stat':
      return describeStats(await q.stat(file(step.file)));
    case 'unlink':
      await q.unlink(file(step.file));
      return 'ok';
    case 'rename':
      await q.rename(file(step.file), file(step.to));
      return 'ok';
    case 'mkdir':
      await q.mkdir(subdir(step.dir));
      return 'ok';
    case 'rmdir':
      await q.rmdir(subdir(step.dir));
      return 'ok';
  }
}

/** What a directory holds after a script: names, kinds and content digests. */
export function snapshot(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const path = join(dir, name);
      const s = statSync(path);
      return s.isDirectory() ? `${name}/` : `${name} ${s.size} ${digest(readFileSync(path))}`;
    });
}

export interface Divergence {
  index: number;
  step: Step | 'files';
  expected: string;
  actual: string;
}

/** Runs the same script on both backends and returns the first difference, if any. */
export async function compareBackends(
  subject: Backend,
  oracle: Backend,
  dirs: { subject: string; oracle: string },
  steps: readonly Step[],
): Promise<Divergence | undefined> {
  const expected = await runScript(oracle, dirs.oracle, steps);
  const actual = await runScript(subject, dirs.subject, steps);
  for (let i = 0; i < steps.length; i++) {
    if (expected[i] !== actual[i])
      return { index: i, step: steps[i], expected: expected[i], actual: actual[i] };
  }
  const a = snapshot(dirs.oracle).join('\n');
  const b = snapshot(dirs.subject).join('\n');
  if (a !== b) return { index: steps.length, step: 'files', expected: a, actual: b };
  return undefined;
}
