/// <reference types="node" preserve="true" />
/**
 * @proactor/aio-node: the reference backend. Pure TypeScript over node:fs and timers; it reads
 * the same submission entries and writes the same completion entries as a native backend, so
 * the whole of aio-core's path is exercised everywhere. It runs on every OS, serves as the
 * oracle for differential tests and is the last-resort fallback.
 */
import * as fs from 'node:fs';
import {
  type Backend,
  type Capabilities,
  CQE_SIZE,
  type Engine,
  encodeCompletion,
  errnoOf,
  LinkedChains,
  OPERATION_TABLE,
  OPERATIONS,
  Opcode,
  type OperationName,
  type RingContext,
  SOCKET_OPERATIONS,
  SQE_SIZE,
  STAT_F_NOFOLLOW,
  STAT_FIELDS,
  type Submission,
  UNLINK_F_DIR,
} from '@proactor/aio-core';
import { LoopRef } from './loop-ref.js';
import { pollFile } from './poll.js';
import {
  closeVirtual,
  FILE_OP_ON_SOCKET,
  isOpenVirtualFd,
  isVirtualFd,
  runSocketOperation,
} from './sockets.js';

export { RECV_HIGH_WATER, VIRTUAL_FD_BASE } from './sockets.js';

const EBADF = errnoOf('EBADF');
const ECANCELED = errnoOf('ECANCELED');
const EINVAL = errnoOf('EINVAL');

const capabilities: Capabilities = Object.freeze({
  ops: new Set<OperationName>([...OPERATIONS, ...SOCKET_OPERATIONS]),
  linkedOperations: true,
  // Completions of node:fs arrive through the event loop, which a blocked thread never runs.
  waitSync: false,
  // node:fs cannot stop a request that libuv's thread pool has started.
  cancelInFlight: false,
  multishot: false,
  zeroCopySend: false,
  registeredBuffers: false,
  registeredFiles: false,
});

/** A started operation. */
interface Task {
  sub: Submission;
  timer: NodeJS.Timeout | undefined;
  /** Set while a socket operation waits: ends it with ECANCELED. */
  cancel: (() => void) | undefined;
}

class NodeEngine implements Engine {
  readonly #ring: RingContext;
  readonly #sq: Uint32Array;
  readonly #cq: Int32Array;
  /** Completions not yet handed to the queue: pairs of (slot, result). */
  #backlog: number[] = [];
  #deliveryScheduled = false;
  /** Queue#ref()/unref(): timers follow it here, socket handles through LoopRef. */
  #referenced = true;
  readonly #loop = new LoopRef();
  /** Started operations by slot, so cancel can find timers and waiting socket operations. */
  readonly #tasks: (Task | undefined)[];
  /** Which operation starts when: aio-core's sequencing of linked chains. */
  readonly #chains: LinkedChains;
  #closed = false;

  constructor(ring: RingContext) {
    this.#ring = ring;
    this.#sq = new Uint32Array(
      ring.submissions,
      0,
      (ring.submissions.byteLength / SQE_SIZE) * (SQE_SIZE / 4),
    );
    this.#cq = new Int32Array(ring.completions, 0, ring.completionEntries * (CQE_SIZE / 4));
    this.#tasks = new Array(ring.entries).fill(undefined);
    this.#chains = new LinkedChains(
      ring,
      (sub) => this.#start(sub),
      (slot, result) => this.#post(slot, result),
    );
  }

  submit(count: number): void {
    this.#chains.submit(this.#sq, count, (target) => this.#cancel(target));
  }

  ref(): void {
    this.#referenced = true;
    this.#loop.set(true);
    for (const task of this.#tasks) task?.timer?.ref();
  }

  unref(): void {
    this.#referenced = false;
    this.#loop.set(false);
    for (const task of this.#tasks) task?.timer?.unref();
  }

  close(): void {
    this.#closed = true;
    this.#backlog = [];
  }

  #start(sub: Submission): void {
    const task: Task = { sub, timer: undefined, cancel: undefined };
    this.#tasks[sub.slot] = task;
    const done = (result: number) => this.#finish(task, result);
    try {
      this.#run(sub, task, done);
    } catch {
      // node:fs rejected the arguments synchronously (aio-core validated them; this is a backstop).
      done(EINVAL);
    }
  }

  /** Starts `sub` with node:fs; `done` receives the result or a negative errno exactly once. */
  #run(sub: Submission, task: Task, done: (result: number) => void): void {
    const ring = this.#ring;
    const res0 = ring.resources[2 * sub.slot];
    const res1 = ring.resources[2 * sub.slot + 1];
    const position = sub.offset === -1 ? null : sub.offset;
    const onCount = (err: NodeJS.ErrnoException | null, n?: number) => done(err ? errnoFrom(err) : n!);
    const onVoid = (err: NodeJS.ErrnoException | null) => done(err ? errnoFrom(err) : 0);
    const onStats = (err: NodeJS.ErrnoException | null, stats?: fs.BigIntStats) => {
      if (err) return done(errnoFrom(err));
      writeStats(ring.stats, sub.slot * STAT_FIELDS, stats!);
      done(0);
    };
    if (sub.opcode === Opcode.POLL && !isVirtualFd(sub.fd)) {
      // A real descriptor: files are always ready; node cannot watch other kinds.
      pollFile(sub, done);
      return;
    }
    const facts = OPERATION_TABLE[sub.opcode];
    if (facts.socket && !facts.multishot) {
      runSocketOperation({
        sub,
        ring,
        loop: this.#loop,
        done,
        onCancel: (cancel) => {
          task.cancel = cancel;
        },
      });
      return;
    }
    if (isVirtualFd(sub.fd) && FD_FILE_OPS.has(sub.opcode)) {
      // A virtual descriptor is a node:net socket: close destroys it; file operations refuse it.
      // One that names no socket is not open at all: EBADF, as for any descriptor not open.
      const result =
        sub.opcode === Opcode.CLOSE
          ? closeVirtual(sub.fd)
          : isOpenVirtualFd(sub.fd)
            ? FILE_OP_ON_SOCKET
            : EBADF;
      setImmediate(done, result);
      return;
    }
    switch (sub.opcode) {
      case Opcode.NOP:
        setImmediate(done, 0);
        return;
      case Opcode.OPEN:
        fs.open(res0 as fs.PathLike, sub.opFlags, sub.mode, onCount);
        return;
      case Opcode.CLOSE:
        fs.close(sub.fd, onVoid);
        return;
      case Opcode.READ:
        if (sub.len === 0) {
          // node:fs answers a zero-length read without asking the kernel; still report a bad fd.
          fs.fstat(sub.fd, onVoid);
          return;
        }
        fs.read(sub.fd, res0 as NodeJS.ArrayBufferView, sub.bufOffset, sub.len, position, onCount);
        return;
      case Opcode.WRITE:
        fs.write(sub.fd, res0 as NodeJS.ArrayBufferView, sub.bufOffset, sub.len, position, onCount);
        return;
      case Opcode.READV:
        if (sub.len === 0) {
          // libuv refuses an empty list (EINVAL) where readv(2) and io_uring return 0.
          fs.fstat(sub.fd, onVoid);
          return;
        }
        fs.readv(sub.fd, res0 as NodeJS.ArrayBufferView[], position, onCount);
        return;
      case Opcode.WRITEV:
        fs.writev(sub.fd, res0 as NodeJS.ArrayBufferView[], position, onCount);
        return;
      case Opcode.FSYNC:
        fs.fsync(sub.fd, onVoid);
        return;
      case Opcode.FDATASYNC:
        fs.fdatasync(sub.fd, onVoid);
        return;
      case Opcode.STAT:
        if (sub.opFlags & STAT_F_NOFOLLOW) fs.lstat(res0 as fs.PathLike, { bigint: true }, onStats);
        else fs.stat(res0 as fs.PathLike, { bigint: true }, onStats);
        return;
      case Opcode.FSTAT:
        fs.fstat(sub.fd, { bigint: true }, onStats);
        return;
      case Opcode.UNLINK:
        if (sub.opFlags & UNLINK_F_DIR) fs.rmdir(res0 as fs.PathLike, onVoid);
        else fs.unlink(res0 as fs.PathLike, onVoid);
        return;
      case Opcode.RENAME:
        fs.rename(res0 as fs.PathLike, res1 as fs.PathLike, onVoid);
        return;
      case Opcode.MKDIR:
        fs.mkdir(res0 as fs.PathLike, { mode: sub.mode }, onVoid);
        return;
      case Opcode.FTRUNCATE:
        fs.ftruncate(sub.fd, sub.offset, onVoid);
        return;
      case Opcode.TIMEOUT: {
        const timer = setTimeout(done, sub.timeoutNs / 1e6, 0);
        if (!this.#referenced) timer.unref();
        task.timer = timer;
        return;
      }
      default:
        done(EINVAL);
    }
  }

  /** Posts the result of `task`; its chain goes on or ends (LinkedChains). */
  #finish(task: Task, result: number): void {
    const { sub } = task;
    if (this.#tasks[sub.slot] !== task) return; // already completed by a cancel
    this.#tasks[sub.slot] = undefined;
    task.timer = undefined;
    task.cancel = undefined;
    this.#chains.finish(sub, result);
  }

  #cancel(target: number): void {
    const task = this.#tasks[target];
    if (task !== undefined) {
      if (task.timer !== undefined) {
        clearTimeout(task.timer);
        this.#finish(task, ECANCELED);
      } else task.cancel?.();
      // A running node:fs request cannot be stopped: its real result will arrive.
      return;
    }
    // Not started: a later member of some chain. It and everything linked after it end now.
    this.#chains.cancelWaiting(target);
  }

  #post(slot: number, result: number): void {
    if (this.#closed) return;
    this.#backlog.push(slot, result);
    if (!this.#deliveryScheduled) {
      this.#deliveryScheduled = true;
      setImmediate(this.#deliver);
    }
  }

  /** Hands the backlog to the queue in batches of at most completionEntries. */
  readonly #deliver = (): void => {
    this.#deliveryScheduled = false;
    const backlog = this.#backlog;
    this.#backlog = [];
    const cq = this.#cq;
    const capacity = this.#ring.completionEntries;
    for (let i = 0; i < backlog.length; ) {
      let n = 0;
      for (; n < capacity && i < backlog.length; n++, i += 2)
        encodeCompletion(cq, n, backlog[i], backlog[i + 1]);
      if (this.#closed) return;
      this.#ring.complete(n);
    }
  };
}

/** Operations that take a descriptor of a file: on a virtual (socket) descriptor they do not apply. */
const FD_FILE_OPS: ReadonlySet<number> = new Set<number>([
  Opcode.CLOSE,
  Opcode.READ,
  Opcode.WRITE,
  Opcode.READV,
  Opcode.WRITEV,
  Opcode.FSYNC,
  Opcode.FDATASYNC,
  Opcode.FSTAT,
  Opcode.FTRUNCATE,
]);

function errnoFrom(err: NodeJS.ErrnoException): number {
  return typeof err.errno === 'number' && err.errno < 0 ? err.errno : EINVAL;
}

const NS_PER_S = 1_000_000_000n;

function writeStats(area: Float64Array, base: number, s: fs.BigIntStats): void {
  area[base] = Number(s.dev);
  area[base + 1] = Number(s.mode);
  area[base + 2] = Number(s.nlink);
  area[base + 3] = Number(s.uid);
  area[base + 4] = Number(s.gid);
  area[base + 5] = Number(s.rdev);
  area[base + 6] = Number(s.blksize);
  area[base + 7] = Number(s.ino);
  area[base + 8] = Number(s.size);
  area[base + 9] = Number(s.blocks);
  const times = [s.atimeNs, s.mtimeNs, s.ctimeNs, s.birthtimeNs];
  for (let i = 0; i < 4; i++) {
    const ns = times[i];
    let sec = ns / NS_PER_S;
    let nsec = ns % NS_PER_S;
    if (nsec < 0n) {
      sec -= 1n;
      nsec += NS_PER_S;
    }
    area[base + 10 + 2 * i] = Number(sec);
    area[base + 11 + 2 * i] = Number(nsec);
  }
}

/** The reference backend: node:fs and timers, on every platform. */
const backend: Backend = Object.freeze({
  name: 'node' as const,
  capabilities,
  attach(ring: RingContext): Engine {
    return new NodeEngine(ring);
  },
});

export default backend;
export { backend };
