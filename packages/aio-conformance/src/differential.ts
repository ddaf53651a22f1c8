/**
 * Differential testing: the same random operation script runs on two backends, each in its own
 * directory, and every result is compared (values, error codes, bytes read, and the files left
 * behind). The reference backend, aio-node, is the usual oracle.
 *
 * Scripts are sequential (each operation awaited before the next is issued), so the results are
 * fully determined by the script and the file system: any difference is a backend's.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  constants as fsConstants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  type Backend,
  type OperationName,
  Queue,
  type ShutdownHow,
  SOCKET_OPERATIONS,
  type SocketAddress,
  type Stats,
} from '@proactor/aio-core';
import { pageAlignedBuffer } from './cases/direct-io.js';
import { bindOutsideEphemeralRange, portNobodyListensOn } from './cases/loopback-ports.js';

/** One step of a script, in a form that reads well in a failure message. */
export type Step =
  /** `direct`: with O_DIRECT (direct scripts). */
  | { op: 'open'; file: number; flags: string; direct?: boolean }
  | { op: 'close'; fd: number }
  /** `misaligned`: the buffer starts one byte past a page boundary (direct scripts; pages otherwise). */
  | { op: 'read'; fd: number; length: number; position: number | null; misaligned?: boolean }
  | { op: 'write'; fd: number; length: number; position: number | null; seed: number; misaligned?: boolean }
  | { op: 'readv'; fd: number; lengths: number[]; position: number | null }
  | { op: 'writev'; fd: number; lengths: number[]; position: number | null; seed: number }
  | { op: 'ftruncate'; fd: number; length: number }
  | { op: 'fsync' | 'fdatasync' | 'fstat'; fd: number }
  | { op: 'stat' | 'unlink'; file: number }
  | { op: 'rename'; file: number; to: number }
  | { op: 'mkdir' | 'rmdir'; dir: number }
  /** Bytes of descriptor #from to descriptor #fd (both files of the script). */
  | { op: 'sendfile'; fd: number; from: number; position: number; length: number };

/** What a file script may use beyond the operations every backend has. */
export interface FileScriptOptions {
  /**
   * sendfile steps between the others (file to file), when both backends list 'sendfile'. Their
   * output is never a descriptor opened for appending: Linux refuses that (EINVAL) where aio-node,
   * which cannot see a descriptor's flags, appends. Nor one opened read-only: sendfile(2) (the
   * reactor's, io_uring's on the pool) refuses it with EBADF before it looks at the input, where
   * io_uring's splices and aio-node read the input first and resolve 0 at its end without touching
   * the output (with bytes to write every backend gives EBADF). Never from a file into itself
   * (through one descriptor or two): the kernel's sendfile moves page-cache pages, so a range
   * copied onto an overlapping one reads bytes it already wrote, where aio-node copies through a
   * buffer. Lengths stay below 16 KiB.
   */
  sendfile?: boolean;
}

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
export function generateScript(seed: number, length: number, options: FileScriptOptions = {}): Step[] {
  const r = new Random(seed);
  // Optional steps draw from a generator of their own: the script without them stays the same.
  const extra = new Random(seed ^ 0x5e4df11e);
  const steps: Step[] = [];
  let opens = 0;
  /** The descriptors opened for writing without 'a': possible sendfile outputs. */
  const writable: number[] = [];
  // Which file each name holds (a number per file created) and each descriptor opened (undefined:
  // the open fails), followed through renames and unlinks: sendfile never copies a file into
  // itself. Linux's sendfile(2) and io_uring's splices move page-cache pages, not copies: a range
  // copied onto an overlapping one further on reads bytes it already wrote (memcpy, not memmove),
  // where aio-node reads the range into a buffer first. (Found by a soak run: seed 199664.)
  const named = new Map<number, number>();
  const opened: (number | undefined)[] = [];
  let created = 0;
  const position = () => (r.below(3) === 0 ? null : r.below(96 * 1024));
  const lengths = () => Array.from({ length: 1 + r.below(6) }, () => 1 + r.below(8192));
  for (let i = 0; i < length; i++) {
    const fd = opens === 0 ? 0 : r.below(opens);
    const k = r.below(100);
    if (options.sendfile && opens > 0 && writable.length > 0 && extra.below(100) < 10) {
      const step: Step = {
        op: 'sendfile',
        fd: extra.pick(writable),
        from: extra.below(opens),
        position: extra.below(96 * 1024),
        length: 1 + extra.below(16 * 1024 - 1),
      };
      if (opened[step.fd] === undefined || opened[step.fd] !== opened[step.from]) steps.push(step);
    }
    if (k < 14 || opens === 0) {
      const flags = r.pick(FLAGS);
      const file = r.below(FILES);
      steps.push({ op: 'open', file, flags });
      if (!flags.startsWith('a') && flags !== 'r') writable.push(opens);
      const exclusive = flags.includes('x');
      if (!named.has(file) && !flags.startsWith('r')) named.set(file, ++created);
      else if (exclusive) {
        opened.push(undefined); // EEXIST
        opens++;
        continue;
      }
      opened.push(named.get(file));
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
    else if (k < 90) {
      const file = r.below(FILES);
      steps.push({ op: 'unlink', file });
      named.delete(file);
    } else if (k < 94) {
      const file = r.below(FILES);
      const to = r.below(FILES);
      steps.push({ op: 'rename', file, to });
      const held = named.get(file);
      if (held !== undefined && file !== to) {
        named.set(to, held);
        named.delete(file);
      }
    } else if (k < 97) steps.push({ op: 'mkdir', dir: r.below(DIRS) });
    else steps.push({ op: 'rmdir', dir: r.below(DIRS) });
  }
  return steps;
}

/** Node's flag strings as open(2) flags, for direct opens (which add O_DIRECT to them). */
const OPEN_FLAGS: ReadonlyMap<string, number> = new Map([
  ['r', fsConstants.O_RDONLY],
  ['r+', fsConstants.O_RDWR],
  ['w', fsConstants.O_TRUNC | fsConstants.O_CREAT | fsConstants.O_WRONLY],
  ['w+', fsConstants.O_TRUNC | fsConstants.O_CREAT | fsConstants.O_RDWR],
  ['a', fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_WRONLY],
  ['a+', fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_RDWR],
  ['wx', fsConstants.O_TRUNC | fsConstants.O_CREAT | fsConstants.O_WRONLY | fsConstants.O_EXCL],
  ['ax+', fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_RDWR | fsConstants.O_EXCL],
]);

const BLOCK = 4096;

/**
 * A random direct-I/O script of `length` steps (Linux, where the file system takes O_DIRECT): the
 * script's files opened with O_DIRECT (one open in eight without it, so a file is also written
 * through the page cache), transfers of whole 4 KiB blocks at block positions from page-aligned
 * memory, and now and then a transfer the kernel refuses (a read's length, a position off the
 * block size, a buffer one byte off a page: EINVAL on ext4, xfs and btrfs) or one at the current
 * position; truncations mostly to whole blocks, fsync, fdatasync, fstat, closes and reopens.
 * A write's length is always whole blocks: the kernel checks a direct write's alignment extent by
 * extent, so one of 46612 bytes at a block position wrote its first two blocks (up to where the
 * file's extent ended) and then failed with EINVAL; the file's extents follow how it was written
 * before (a poll(2) fault run, where a cut append left an extent boundary aio-node's file did not
 * have), so the bytes such a write leaves are not the backends' to agree on.
 */
export function generateDirectScript(seed: number, length: number): Step[] {
  const r = new Random(seed);
  const steps: Step[] = [];
  let opens = 0;
  const misaligned = () => r.below(100) < 6;
  const position = () =>
    r.below(8) === 0 ? null : r.below(100) < 5 ? r.below(64 * BLOCK) : r.below(64) * BLOCK;
  const blocks = (most: number) =>
    r.below(100) < 5 ? 1 + r.below(most * BLOCK) : (1 + r.below(most)) * BLOCK;
  const lengths = () => Array.from({ length: 1 + r.below(4) }, () => (1 + r.below(4)) * BLOCK);
  for (let i = 0; i < length; i++) {
    const fd = opens === 0 ? 0 : r.below(opens);
    const k = r.below(100);
    if (k < 10 || opens === 0) {
      steps.push({ op: 'open', file: r.below(FILES), flags: r.pick(FLAGS), direct: r.below(8) !== 0 });
      opens++;
    } else if (k < 15) steps.push({ op: 'close', fd });
    else if (k < 42)
      steps.push({ op: 'read', fd, length: blocks(16), position: position(), misaligned: misaligned() });
    else if (k < 66)
      steps.push({
        op: 'write',
        fd,
        length: (1 + r.below(16)) * BLOCK,
        position: position(),
        seed: r.next(),
        misaligned: misaligned(),
      });
    else if (k < 74) steps.push({ op: 'readv', fd, lengths: lengths(), position: position() });
    else if (k < 82)
      steps.push({ op: 'writev', fd, lengths: lengths(), position: position(), seed: r.next() });
    else if (k < 86)
      steps.push({
        op: 'ftruncate',
        fd,
        length: r.below(4) === 0 ? r.below(64 * BLOCK) : r.below(64) * BLOCK,
      });
    else if (k < 92) steps.push({ op: r.pick(['fsync', 'fdatasync'] as const), fd });
    else steps.push({ op: 'fstat', fd });
  }
  return steps;
}

/** Whether `steps` uses O_DIRECT (from generateDirectScript). */
function isDirectScript(steps: readonly Step[]): boolean {
  return steps.some((step) => step.op === 'open' && step.direct === true);
}

/**
 * Page-aligned memory for direct scripts: a WebAssembly memory's buffer starts on a page boundary
 * (see pageAlignedBuffer in cases/direct-io.ts). One per script run, reused by each step (the
 * steps run one after another).
 */
class AlignedArena {
  readonly #memory = pageAlignedBuffer(32 * 65536);
  /** `length` zeroed bytes at a page boundary (+1 when `misaligned`). */
  take(length: number, misaligned = false): Buffer {
    const at = misaligned ? 1 : 0;
    return this.#memory.subarray(at, at + length).fill(0);
  }
  /** Aligned views one after another, for readv and writev. */
  takeEach(lengths: readonly number[]): Buffer[] {
    let at = 0;
    return lengths.map((l) => {
      const view = this.#memory.subarray(at, at + l).fill(0);
      at += Math.ceil(l / BLOCK) * BLOCK;
      return view;
    });
  }
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
  const arena = isDirectScript(steps) ? new AlignedArena() : undefined;
  const fds: (number | undefined)[] = [];
  const file = (i: number) => join(dir, `f${i}`);
  const subdir = (i: number) => join(dir, `d${i}`);
  const outcomes: string[] = [];
  try {
    for (const step of steps) {
      const fd = 'fd' in step ? fds[step.fd] : undefined;
      if (('fd' in step && fd === undefined) || ('from' in step && fds[step.from] === undefined)) {
        outcomes.push('skip (descriptor not open)');
        continue;
      }
      try {
        outcomes.push(await runStep(q, step, fd!, fds, file, subdir, arena));
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
  arena: AlignedArena | undefined,
): Promise<string> {
  switch (step.op) {
    case 'open': {
      const index = fds.length;
      fds.push(undefined);
      const flags = step.direct ? (OPEN_FLAGS.get(step.flags) as number) | fsConstants.O_DIRECT : step.flags;
      fds[index] = await q.open(file(step.file), flags, 0o644);
      return `fd #${index}`;
    }
    case 'close': {
      await q.close(fd);
      fds[step.fd] = undefined;
      return 'ok';
    }
    case 'read': {
      const buf = arena?.take(step.length, step.misaligned) ?? Buffer.alloc(step.length);
      const n = await q.read(fd, buf, 0, step.length, step.position);
      return `${n} bytes ${digest(buf.subarray(0, n))}`;
    }
    case 'write': {
      const data = bytes(step.length, step.seed);
      const buf = arena === undefined ? data : arena.take(step.length, step.misaligned);
      if (buf !== data) buf.set(data);
      return `${await q.write(fd, buf, 0, step.length, step.position)} bytes`;
    }
    case 'readv': {
      const bufs = arena?.takeEach(step.lengths) ?? step.lengths.map((l) => Buffer.alloc(l));
      const n = await q.readv(fd, bufs, step.position);
      return `${n} bytes ${digest(...bufs)}`;
    }
    case 'writev': {
      const data = step.lengths.map((l, i) => bytes(l, step.seed + i));
      const bufs = arena?.takeEach(step.lengths) ?? data;
      if (bufs !== data) for (let i = 0; i < bufs.length; i++) bufs[i].set(data[i]);
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
    case 'sendfile': {
      const from = fds[step.from]!;
      return `${await q.sendfile(fd, from, { position: step.position, length: step.length })} bytes`;
    }
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

// ---- socket scripts -------------------------------------------------------------------------

/**
 * What a socket script creates: TCP over IPv4 or IPv6, unix stream sockets, UDP over IPv4 or
 * IPv6. Every address is on loopback (or a path in the script's directory).
 */
export type SocketKind = 'tcp4' | 'tcp6' | 'unix' | 'udp4' | 'udp6';

/** What a `badfd` or `notsock` step does with its descriptor. */
export type SocketAction =
  | 'bind'
  | 'listen'
  | 'accept'
  | 'connect'
  | 'recv'
  | 'send'
  | 'shutdown'
  | 'setsockopt'
  | 'localAddress'
  | 'recvfrom'
  | 'sendto'
  | 'close';

/**
 * One step of a socket script. `sock` operands are indexes into the script's own table of
 * sockets (the k-th socket created, by `socket` or `accept`), so a script does not depend on the
 * descriptors or ports a backend hands out; outcomes name sockets and ports the same way
 * ('IPv4 127.0.0.1 port of #2').
 *
 * - `bind` binds to a loopback port the runner picks below the ephemeral range, as the kernel
 *   picks one for port 0 (loopback-ports.ts says why), or the path `s<sock>.sock` in the script's
 *   directory; with `like`, to the address socket #like holds (a deliberate EADDRINUSE).
 * - `connect` connects to socket #to's address, or to `'nowhere'`: a port nobody listens on (or
 *   a missing path).
 * - `recv` reads until `length` bytes arrived or the stream ended: the outcome is the bytes and
 *   whether the end was seen, never how the kernel split them. `send` sends all `length` bytes.
 * - `waitMs` bounds an `accept`, `recv` or `recvfrom` the script knows nothing arrives for: its
 *   outcome is 'aborted'.
 * - `badfd` runs an action on a descriptor number nothing has open, `notsock` on an open regular
 *   file.
 * - A step on a closed socket runs on its old descriptor number (EBADF) while no descriptor was
 *   created since the close; after that it is skipped, as the number may name something else.
 */
export type SocketStep =
  | { op: 'socket'; kind: SocketKind }
  | { op: 'bind'; sock: number; like?: number }
  | { op: 'listen'; sock: number }
  | { op: 'connect'; sock: number; to: number | 'nowhere' }
  | { op: 'accept'; sock: number; waitMs?: number }
  | { op: 'send'; sock: number; length: number; seed: number }
  | { op: 'recv'; sock: number; length: number; waitMs?: number }
  | { op: 'shutdown'; sock: number; how: ShutdownHow }
  | { op: 'close'; sock: number }
  | { op: 'setsockopt'; sock: number; option: 'nodelay' | 'keepalive' | 'reuseaddr'; value: boolean }
  | { op: 'localAddress'; sock: number }
  | { op: 'sendto'; sock: number; to: number; length: number; seed: number }
  | { op: 'recvfrom'; sock: number; length: number; waitMs?: number }
  | { op: 'badfd' | 'notsock'; action: SocketAction };

/**
 * Behaviour the generator leaves out because aio-uring (Linux) and aio-node (node:net and
 * node:dgram) differ there; `include` puts it back, to see whether it still differs.
 *
 * - 'shutdown-unconnected-unix': shutdown() of a unix stream socket that is not connected
 *   succeeds on Linux (unix_shutdown does not check), fails with ENOTCONN on aio-node.
 * - 'shutdown-unconnected-sticks': shutdown() of an unconnected TCP or UDP socket fails with
 *   ENOTCONN on both, but Linux records the shutdown anyway (inet_shutdown sets sk_shutdown
 *   before returning the error): afterwards recv returns 0, recvfrom returns an empty datagram,
 *   send and sendto fail with EPIPE and connect with EINVAL on aio-uring; aio-node forgets the
 *   failed call. Left in: the shutdown itself; left out: what the socket does after it.
 * - 'send-unbound-udp': send() without an address on a UDP socket never bound fails with
 *   EDESTADDRREQ on both, but Linux binds the socket to a free port first: localAddress then
 *   shows a port, and bind fails with EINVAL, where aio-node's socket stays unbound.
 * - 'after-refused-connect': after connect() failed with ECONNREFUSED, Linux refuses listen()
 *   (EINVAL, also after a bind) where aio-node treats the socket as new.
 * - 'rebind-unix': bind() of a bound unix socket to the path it holds fails with EADDRINUSE on
 *   Linux (the path is created before the socket's state is checked), EINVAL on aio-node.
 * - 'address-after-end': localAddress of a TCP socket whose connection ended both ways (both
 *   sides shut down writing or closed) is still its address on Linux; aio-node reports the any
 *   address and port 0 (node:net destroyed the socket and forgot its address).
 *
 * Never generated either, as the model cannot say what should happen or the backends differ by
 * design (each checked by hand: Linux result first, aio-node second):
 * - connect to a bound TCP socket that is not listening: ECONNREFUSED vs ECONNRESET (aio-node's
 *   bind already listens, and resets connections until listen());
 * - connect to the path of a closed unix listener: ECONNREFUSED vs ENOENT, and bind to that path:
 *   EADDRINUSE vs ok (libuv unlinks the path when its server closes; Linux leaves it);
 * - connect on a listening socket: EISCONN vs EINVAL; shutdown of a listening socket: ok (SHUT_RD
 *   even stops listening) vs ENOTCONN;
 * - recv after shutdown('read') when the peer sends more: the data vs 0 (aio-node drops it);
 * - send on an unconnected TCP socket: EPIPE vs ENOTCONN (the conformance suite allows both);
 *   recv on an unconnected unix socket: EINVAL vs ENOTCONN;
 * - connect of a UDP socket: ok vs ENOTSUP; sendto on a TCP socket: EPIPE vs ENOTSUP (aio-node has
 *   no connected UDP, nor sendto/recvfrom on streams);
 * - a bound unix socket that connects: the peer and localAddress show its path vs unnamed;
 * - a second bind to a TCP port whose bound, not listening, owner and newcomer both set
 *   SO_REUSEADDR: ok vs EADDRINUSE; (UDP likewise);
 * - setsockopt 'reuseport': ok vs ENOPROTOOPT before Node 22.12 (node:net's reusePort);
 * - sends to a closed peer: whether the first fails (EPIPE or ECONNRESET) depends on timing, so
 *   after a close the peer only receives; and a reset connection (closed with data unread, or
 *   never accepted before its listener closed) only closes.
 */
export type KnownDifference =
  | 'shutdown-unconnected-unix'
  | 'shutdown-unconnected-sticks'
  | 'send-unbound-udp'
  | 'after-refused-connect'
  | 'rebind-unix'
  | 'address-after-end';

/** Which socket kinds `generateSocketScript()` may use, and which known differences it generates. */
export interface SocketScriptOptions {
  /** Whether to create IPv6 sockets (default true; the machine needs ::1). */
  ipv6?: boolean;
  /** Whether to create unix domain sockets (default true; not on Windows). */
  unix?: boolean;
  /** Known differences to generate anyway. */
  include?: readonly KnownDifference[];
}

const isStream = (kind: SocketKind) => kind === 'tcp4' || kind === 'tcp6' || kind === 'unix';
const HOWS: readonly ShutdownHow[] = ['read', 'write', 'both'];
const STREAM_ACTIONS: readonly SocketAction[] = [
  'bind',
  'listen',
  'accept',
  'recv',
  'send',
  'shutdown',
  'setsockopt',
  'localAddress',
  'close',
];
const ALL_ACTIONS: readonly SocketAction[] = [...STREAM_ACTIONS, 'connect', 'recvfrom', 'sendto'];
/** Not close: on a regular file it would simply succeed. */
const NOTSOCK_ACTIONS = ALL_ACTIONS.filter((a) => a !== 'close');

/** At most this many bytes sent and not yet received per direction: a send never waits for the peer. */
const UNREAD_MAX = 48 * 1024;
/** At most this many connections wait to be accepted per listener (well inside any backlog). */
const PENDING_MAX = 3;
/** At most this many datagrams (and bytes) wait in a UDP socket: far inside any receive buffer. */
const DATAGRAMS_MAX = 6;
const DATAGRAM_BYTES_MAX = 24 * 1024;
/** At most this many sockets are open at once. */
const OPEN_MAX = 14;
/** The bound of `waitMs` steps. */
const SHORT_WAIT_MS = 30;

/** A connection between two script sockets: end 0 connected, end 1 accepted (once accepted). */
interface Connection {
  /** Bytes sent toward end i and not yet received there. */
  unread: [number, number];
  /** Whether end i reads the end of the stream after its unread bytes (the peer shut down or closed). */
  eof: [boolean, boolean];
  writeShut: [boolean, boolean];
  readShut: [boolean, boolean];
  closed: [boolean, boolean];
  /** Reset (closed with unread data, or never accepted before its listener closed): only close. */
  broken: boolean;
}

interface SocketModel {
  kind: SocketKind;
  state: 'fresh' | 'bound' | 'listening' | 'connected' | 'closed';
  /** How many descriptors the script had created when this one was closed. */
  closedAt: number;
  /** Has an address peers can reach (inet: a port, unix: a path). */
  addressed: boolean;
  wasListening: boolean;
  /** SO_REUSEADDR was set at some point. */
  reuse: boolean;
  /** A connect failed on it: no localAddress (where Linux left it bound is its business). */
  refused: boolean;
  /** Only close, setsockopt and localAddress from now on (see KnownDifference). */
  limbo: boolean;
  connection?: Connection;
  end: 0 | 1;
  /** Listener: connections not yet accepted. */
  pending: Connection[];
  /** UDP: sizes of the datagrams waiting. */
  datagrams: number[];
}

function newSocket(kind: SocketKind): SocketModel {
  return {
    kind,
    state: 'fresh',
    closedAt: -1,
    addressed: false,
    wasListening: false,
    reuse: false,
    refused: false,
    limbo: false,
    end: 0,
    pending: [],
    datagrams: [],
  };
}

/** Whether both directions of a connection ended (each side shut down writing or closed). */
function bothEnded(c: Connection): boolean {
  return (c.writeShut[0] || c.closed[0]) && (c.writeShut[1] || c.closed[1]);
}

function newConnection(): Connection {
  return {
    unread: [0, 0],
    eof: [false, false],
    writeShut: [false, false],
    readShut: [false, false],
    closed: [false, false],
    broken: false,
  };
}

/** Updates the model for closing `s`: its peer sees the end of the stream, or a reset. */
function closeModel(s: SocketModel): void {
  if (s.state === 'listening') {
    s.wasListening = true;
    // Connections never accepted are reset.
    for (const c of s.pending) c.broken = true;
    s.pending = [];
  }
  const c = s.connection;
  if (s.state === 'connected' && c) {
    c.closed[s.end] = true;
    // Closing with unread data resets the connection, as close(2) does; else the peer reads the end.
    if (c.unread[s.end] > 0) c.broken = true;
    else c.eof[1 - s.end] = true;
  }
  s.state = 'closed';
  s.datagrams = [];
}

/**
 * A random socket script of `length` steps. The generator keeps a model of every socket (state,
 * bytes in flight each way, connections waiting to be accepted, datagrams queued) and generates
 * only what cannot wait forever: an accept has a connection waiting, a recv has bytes or the end
 * of the stream coming, a recvfrom has a datagram queued, a send fits in the buffers on the way;
 * otherwise the step carries `waitMs`. The runner also bounds every wait, in case a backend
 * loses something.
 */
export function generateSocketScript(
  seed: number,
  length: number,
  options: SocketScriptOptions = {},
): SocketStep[] {
  const r = new Random((seed ^ 0x5bd1e995) >>> 0);
  const include = new Set<KnownDifference>(options.include ?? []);
  const kinds: SocketKind[] = ['tcp4', 'udp4'];
  if (options.ipv6 ?? true) kinds.push('tcp6', 'udp6');
  if (options.unix ?? true) kinds.push('unix');
  const steps: SocketStep[] = [];
  const socks: SocketModel[] = [];
  let created = 0;
  let notsockOpened = false;
  let lastClosed = -1;
  // Sizes of sends and datagrams: sometimes 0.
  const size = (max: number) => (r.below(16) === 0 ? 0 : 1 + r.below(max));

  for (let i = 0; i < length; i++) {
    const candidates: [number, () => SocketStep][] = [];
    const add = (weight: number, make: () => SocketStep) => {
      candidates.push([weight, make]);
    };
    const open = socks.filter((s) => s.state !== 'closed').length;

    if (open < OPEN_MAX)
      add(open < 4 ? 30 : 5, () => {
        const kind = r.pick(kinds);
        socks.push(newSocket(kind));
        created++;
        return { op: 'socket', kind };
      });
    add(0.5, () => ({ op: 'badfd', action: r.pick(ALL_ACTIONS) }));
    add(0.5, () => {
      if (!notsockOpened) created++; // the runner opens the file at the first notsock step
      notsockOpened = true;
      return { op: 'notsock', action: r.pick(NOTSOCK_ACTIONS) };
    });
    // Operations on the socket closed last, while its number cannot have been reused: EBADF.
    if (lastClosed >= 0 && socks[lastClosed].closedAt === created) {
      const sock = lastClosed;
      const kind = socks[sock].kind;
      add(3, () => staleStep(r, sock, kind));
    }

    socks.forEach((s, sock) => {
      if (s.state === 'closed') return;
      const stream = isStream(s.kind);
      const c = s.connection;
      add(c?.broken ? 12 : 2, () => {
        closeModel(s);
        s.closedAt = created;
        lastClosed = sock;
        return { op: 'close', sock };
      });
      if (c?.broken) return; // only close: what a reset socket reports depends on timing
      add(1.5, () => {
        const option = r.pick(['nodelay', 'keepalive', 'reuseaddr'] as const);
        const value = r.below(4) !== 0;
        if (option === 'reuseaddr' && value) s.reuse = true;
        return { op: 'setsockopt', sock, option, value };
      });
      const ended = c !== undefined && bothEnded(c);
      if (!s.refused && (!ended || s.kind === 'unix' || include.has('address-after-end')))
        add(2, () => ({ op: 'localAddress', sock }));
      if (s.limbo) return;
      if (stream) streamSteps(s, sock);
      else datagramSteps(s, sock);
    });

    const total = candidates.reduce((n, [w]) => n + w, 0);
    let x = (r.next() / 0x100000000) * total;
    let chosen = candidates[candidates.length - 1][1];
    for (const [w, make] of candidates) {
      x -= w;
      if (x < 0) {
        chosen = make;
        break;
      }
    }
    steps.push(chosen());

    function datagramSteps(s: SocketModel, sock: number): void {
      if (s.state === 'fresh') {
        add(6, () => {
          s.state = 'bound';
          s.addressed = true;
          return { op: 'bind', sock };
        });
        // Not next to SO_REUSEADDR: two UDP sockets that both set it may share a port.
        const taken = socks.findIndex(
          (t) => t.kind === s.kind && t.state === 'bound' && t.addressed && !t.reuse,
        );
        if (taken >= 0 && !s.reuse) add(2, () => ({ op: 'bind', sock, like: taken })); // EADDRINUSE
      } else add(0.5, () => ({ op: 'bind', sock })); // EINVAL: bound already
      socks.forEach((t, to) => {
        if (t.kind !== s.kind || !t.addressed) return;
        const full = t.datagrams.length >= DATAGRAMS_MAX || sum(t.datagrams) > DATAGRAM_BYTES_MAX - 4096;
        if (t.state !== 'closed' && full) return;
        // To a closed socket's port: sent, and lost.
        add(t.state === 'closed' ? 0.5 : 4, () => {
          const n = size(4096);
          if (t.state !== 'closed') t.datagrams.push(n);
          // The first sendto binds an unbound socket to a free port.
          s.state = 'bound';
          s.addressed = true;
          return { op: 'sendto', sock, to, length: n, seed: r.next() };
        });
      });
      if (s.datagrams.length > 0)
        add(12, () => {
          const next = s.datagrams.shift()!;
          // Sometimes shorter than the datagram: the rest is discarded.
          const n = r.below(4) === 0 ? 1 + r.below(next + 1) : next + 1 + r.below(64);
          return { op: 'recvfrom', sock, length: n };
        });
      else add(0.3, () => ({ op: 'recvfrom', sock, length: 64, waitMs: SHORT_WAIT_MS }));
      add(0.5, () => ({ op: r.pick(['listen', 'accept'] as const), sock })); // EOPNOTSUPP
      if (s.state === 'bound' || include.has('send-unbound-udp'))
        add(0.5, () => ({ op: 'send', sock, length: 1 + r.below(64), seed: r.next() })); // EDESTADDRREQ
      add(0.5, () => shutdownUnconnected(s, sock)); // ENOTCONN
    }

    /** shutdown() of a socket that is not connected: ENOTCONN. */
    function shutdownUnconnected(s: SocketModel, sock: number): SocketStep {
      if (!include.has('shutdown-unconnected-sticks')) s.limbo = true;
      return { op: 'shutdown', sock, how: r.pick(HOWS) };
    }

    function streamSteps(s: SocketModel, sock: number): void {
      if (s.state === 'fresh' || s.state === 'bound') {
        if (s.state === 'fresh') {
          add(5, () => {
            s.state = 'bound';
            s.addressed = true;
            return { op: 'bind', sock };
          });
          const taken = socks.findIndex(
            (t) =>
              t.kind === s.kind &&
              t.addressed &&
              (t.state === 'listening' || (t.state === 'bound' && !t.reuse && !s.reuse)),
          );
          if (taken >= 0) add(2, () => ({ op: 'bind', sock, like: taken })); // EADDRINUSE
        } else if (s.kind !== 'unix' || include.has('rebind-unix')) add(0.5, () => ({ op: 'bind', sock })); // EINVAL
        if (s.state === 'bound' || s.kind !== 'unix')
          add(s.state === 'bound' ? 8 : 2, () => {
            s.state = 'listening';
            s.addressed = true; // listen binds an unbound TCP socket to a free port
            return { op: 'listen', sock };
          });
        else add(0.5, () => ({ op: 'listen', sock })); // EINVAL: an unbound unix socket
        const listeners = socks.flatMap((t, to) =>
          t.kind === s.kind && t.state === 'listening' && t.pending.length < PENDING_MAX ? [{ t, to }] : [],
        );
        if (listeners.length > 0 && (s.state === 'fresh' || s.kind !== 'unix'))
          add(10, () => {
            const { t, to } = r.pick(listeners);
            const connection = newConnection();
            t.pending.push(connection);
            s.state = 'connected';
            s.connection = connection;
            s.end = 0;
            s.addressed = true;
            return { op: 'connect', sock, to };
          });
        if (s.state === 'fresh') {
          const refused = () => {
            s.refused = true;
            if (!include.has('after-refused-connect')) s.limbo = true;
          };
          add(1.5, () => {
            refused();
            if (s.kind !== 'unix') created++; // the runner finds a free port with a socket of its own
            return { op: 'connect', sock, to: 'nowhere' }; // ECONNREFUSED, or ENOENT for a path
          });
          const gone = socks.findIndex((t) => t.kind === s.kind && t.state === 'closed' && t.wasListening);
          if (gone >= 0 && s.kind !== 'unix')
            add(1, () => {
              refused();
              return { op: 'connect', sock, to: gone }; // ECONNREFUSED: its listener closed
            });
        }
        add(0.5, () => ({ op: 'accept', sock })); // EINVAL: not listening
        if (s.kind !== 'unix' || include.has('shutdown-unconnected-unix'))
          add(0.5, () => shutdownUnconnected(s, sock)); // ENOTCONN
        if (s.kind !== 'unix') add(0.5, () => ({ op: 'recv', sock, length: 16 })); // ENOTCONN
        return;
      }
      if (s.state === 'listening') {
        if (s.pending.length > 0)
          add(14, () => {
            const connection = s.pending.shift()!;
            const accepted = newSocket(s.kind);
            accepted.state = 'connected';
            accepted.connection = connection;
            accepted.end = 1;
            accepted.addressed = true;
            socks.push(accepted);
            created++;
            return { op: 'accept', sock };
          });
        else add(0.3, () => ({ op: 'accept', sock, waitMs: SHORT_WAIT_MS }));
        add(0.5, () => ({ op: 'listen', sock })); // listening already: fine
        if (s.kind !== 'unix' || include.has('rebind-unix')) add(0.5, () => ({ op: 'bind', sock })); // EINVAL
        if (s.kind !== 'unix') add(0.5, () => ({ op: 'recv', sock, length: 16 })); // ENOTCONN
        return;
      }
      // Connected.
      const c = s.connection!;
      const me = s.end;
      const peer = (1 - me) as 0 | 1;
      const intact = !c.writeShut[0] && !c.writeShut[1] && !c.closed[0] && !c.closed[1];
      if (s.kind !== 'unix') {
        add(0.5, () => ({ op: 'connect', sock, to: 'nowhere' })); // EISCONN
        // EINVAL, while the connection is open: once both sides shut down (or closed) Linux
        // releases the port, when the last ACK arrives, and bind may then succeed.
        if (intact) add(0.5, () => ({ op: 'bind', sock }));
      }
      add(0.5, () => ({ op: 'listen', sock })); // EINVAL
      add(0.5, () => ({ op: 'accept', sock })); // EINVAL
      if (c.writeShut[me])
        add(1, () => ({ op: 'send', sock, length: 1 + r.below(100), seed: r.next() })); // EPIPE
      else if (!c.closed[peer] && !c.readShut[peer] && c.unread[peer] < UNREAD_MAX)
        add(16, () => {
          const n = Math.min(size(16384), UNREAD_MAX - c.unread[peer]);
          c.unread[peer] += n;
          return { op: 'send', sock, length: n, seed: r.next() };
        });
      const unread = c.unread[me];
      if (c.readShut[me]) {
        if (unread === 0) add(1, () => ({ op: 'recv', sock, length: 1 + r.below(64) })); // 0 after shutdown
      } else if (unread > 0 || c.eof[me])
        add(unread > 0 ? 16 : 3, () => {
          // Past the unread bytes only when the end of the stream is coming.
          const n = 1 + r.below(unread + (c.eof[me] ? 64 : 0));
          c.unread[me] = Math.max(0, unread - n);
          return { op: 'recv', sock, length: n };
        });
      else add(0.3, () => ({ op: 'recv', sock, length: 64, waitMs: SHORT_WAIT_MS }));
      // Not once the connection ended both ways: Linux may have closed it (ENOTCONN) by then, or
      // not yet, depending on when the last ACK arrived.
      if (bothEnded(c)) return;
      add(1.5, () => {
        c.writeShut[me] = true;
        c.eof[peer] = true;
        return { op: 'shutdown', sock, how: 'write' };
      });
      if (unread === 0)
        add(0.7, () => {
          const how = r.pick(['read', 'both'] as const);
          c.readShut[me] = true;
          if (how === 'both') {
            c.writeShut[me] = true;
            c.eof[peer] = true;
          }
          return { op: 'shutdown', sock, how };
        });
    }
  }
  return steps;
}

/** An operation on a socket just closed (EBADF). */
function staleStep(r: Random, sock: number, kind: SocketKind): SocketStep {
  const action = r.pick(isStream(kind) ? STREAM_ACTIONS : [...STREAM_ACTIONS, 'recvfrom' as const]);
  switch (action) {
    case 'recv':
    case 'recvfrom':
      return { op: action, sock, length: 16 };
    case 'send':
      return { op: 'send', sock, length: 8, seed: 1 };
    case 'shutdown':
      return { op: 'shutdown', sock, how: 'both' };
    case 'setsockopt':
      return { op: 'setsockopt', sock, option: 'keepalive', value: true };
    default:
      return { op: action as 'bind' | 'listen' | 'accept' | 'localAddress' | 'close', sock };
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** How long the runner lets any single wait last before it gives up on a step. */
const STEP_WAIT_MS = 5000;
/** A descriptor number nothing has open: beyond any descriptor table, and not a virtual one. */
const BAD_FD = 0x3fff0000;

interface SocketEntry {
  fd: number;
  kind: SocketKind;
  open: boolean;
  closedAt: number;
  /** Where peers reach it (a loopback address and port, or a path), once known. */
  address?: SocketAddress;
  /** The socket (script number) it connected to, for naming it as an accepted peer. */
  connectedTo?: number;
}

const loopback = (kind: SocketKind) => (kind === 'tcp6' || kind === 'udp6' ? '::1' : '127.0.0.1');

/** Runs socket `steps` on `backend` (unix paths in `dir`); returns one outcome string per step. */
export async function runSocketScript(
  backend: Backend,
  dir: string,
  steps: readonly SocketStep[],
): Promise<string[]> {
  const q = new Queue(backend, { entries: 16 });
  const run = new SocketRun(q, dir);
  const outcomes: string[] = [];
  try {
    for (const step of steps) outcomes.push(await run.step(step));
  } finally {
    await run.closeAll();
    await q.destroy();
  }
  return outcomes;
}

class SocketRun {
  readonly socks: SocketEntry[] = [];
  /** Descriptors created so far (sockets, accepted sockets, the helper socket and file). */
  created = 0;
  /**
   * Labels of the ports learned, by kind and number ('tcp4 40123' -> 'of #3'): the socket that
   * holds the port now (a port a closed socket had may come back to another).
   */
  readonly ports = new Map<string, number[]>();
  /** The ports the run's binds took (whatever their socket's state now). */
  readonly portsTaken = new Set<number>();
  file: number | undefined;
  /** The timers of the step running. */
  readonly timers: NodeJS.Timeout[] = [];

  constructor(
    readonly q: Queue,
    readonly dir: string,
  ) {}

  async step(step: SocketStep): Promise<string> {
    let fd = BAD_FD;
    let kind: SocketKind = 'tcp4';
    if ('sock' in step) {
      const entry = this.socks[step.sock];
      if (entry === undefined) return 'skip (no such socket)';
      if (!entry.open && entry.closedAt !== this.created) return 'skip (closed, its number may be reused)';
      fd = entry.fd;
      kind = entry.kind;
    }
    try {
      return await this.#run(step, fd, kind);
    } catch (error) {
      return describeError(error);
    } finally {
      for (const timer of this.timers.splice(0)) clearTimeout(timer);
    }
  }

  async #run(step: SocketStep, fd: number, kind: SocketKind): Promise<string> {
    const q = this.q;
    const wait = (ms = STEP_WAIT_MS) => this.#deadline(ms);
    switch (step.op) {
      case 'socket': {
        const newFd = await q.socket(
          step.kind === 'unix' ? 'unix' : step.kind.endsWith('6') ? 6 : 4,
          step.kind.startsWith('udp') ? 'dgram' : 'stream',
        );
        this.created++;
        this.socks.push({ fd: newFd, kind: step.kind, open: true, closedAt: -1 });
        return `socket #${this.socks.length - 1}`;
      }
      case 'bind': {
        const target = step.like === undefined ? undefined : this.socks[step.like]?.address;
        if (target !== undefined) await q.bind(fd, target);
        else if (kind === 'unix') await q.bind(fd, { path: join(this.dir, `s${step.sock}.sock`) });
        else {
          // "Port 0", as a port the kernel picks, but outside the ephemeral range and never one
          // this run had: once its socket closes, a connect to it must be refused, and a port
          // from the ephemeral range could meanwhile be another process's listener, or the
          // connecting socket's own (a TCP self-connect).
          this.portsTaken.add(await bindOutsideEphemeralRange(q, fd, loopback(kind), this.portsTaken));
        }
        await this.#learn(step.sock);
        return 'ok';
      }
      case 'listen':
        await q.listen(fd);
        await this.#learn(step.sock);
        return 'ok';
      case 'connect': {
        const address =
          step.to === 'nowhere'
            ? await this.#nowhere(kind)
            : (this.socks[step.to]?.address ?? (await this.#nowhere(kind)));
        await q.connect(fd, address, { signal: wait() });
        if (step.to !== 'nowhere') this.socks[step.sock].connectedTo = step.to;
        await this.#learn(step.sock);
        return 'ok';
      }
      case 'accept': {
        const { fd: accepted, address } = await q.accept(fd, { signal: wait(step.waitMs) });
        this.created++;
        this.socks.push({ fd: accepted, kind, open: true, closedAt: -1 });
        const peer = (n: number) => this.socks[n]?.connectedTo === step.sock;
        return `socket #${this.socks.length - 1} from ${this.#describe(address, kind, peer)}`;
      }
      case 'send': {
        const data = bytes(step.length, step.seed);
        let sent = 0;
        do {
          const n = await q.send(fd, data, sent);
          if (n <= 0) break;
          sent += n;
        } while (sent < data.length);
        return `${sent} bytes`;
      }
      case 'recv': {
        const buf = Buffer.alloc(step.length);
        const signal = wait(step.waitMs);
        let received = 0;
        let end = false;
        try {
          while (received < step.length) {
            const n = await q.recv(fd, buf, { offset: received, length: step.length - received, signal });
            if (n === 0) {
              end = true;
              break;
            }
            received += n;
          }
        } catch (error) {
          if (received === 0) throw error;
          return `${received} bytes ${digest(buf.subarray(0, received))}, then ${describeError(error)}`;
        }
        return `${received} bytes ${digest(buf.subarray(0, received))}${end ? ', end of stream' : ''}`;
      }
      case 'shutdown':
        await q.shutdown(fd, step.how);
        return 'ok';
      case 'close': {
        const entry = this.socks[step.sock];
        await q.close(fd);
        if (entry.open) {
          entry.open = false;
          entry.closedAt = this.created;
        }
        return 'ok';
      }
      case 'setsockopt':
        await q.setsockopt(fd, step.option, step.value);
        return 'ok';
      case 'localAddress':
        return this.#describe(await q.localAddress(fd), kind, (n) => n === step.sock);
      case 'sendto': {
        const address = this.socks[step.to]?.address ?? { address: loopback(kind), port: 9 };
        const n = await q.sendto(fd, bytes(step.length, step.seed), address);
        // The first sendto of an unbound socket binds it: learn the port it got.
        await this.#learn(step.sock);
        return `${n} bytes`;
      }
      case 'recvfrom': {
        const buf = Buffer.alloc(step.length);
        const { bytes: n, address } = await q.recvfrom(fd, buf, { signal: wait(step.waitMs) });
        return `${n} bytes ${digest(buf.subarray(0, n))} from ${this.#describe(address, kind)}`;
      }
      case 'badfd':
        return this.#action(step.action, BAD_FD);
      case 'notsock':
        if (this.file === undefined) {
          this.file = await q.open(join(this.dir, 'plain.txt'), 'w+');
          this.created++;
        }
        return this.#action(step.action, this.file);
    }
  }

  /** `action` on a descriptor that is not an open socket. */
  async #action(action: SocketAction, fd: number): Promise<string> {
    const q = this.q;
    const somewhere = { address: '127.0.0.1', port: 9 };
    const signal = this.#deadline(STEP_WAIT_MS);
    switch (action) {
      case 'bind':
        await q.bind(fd, { address: '127.0.0.1', port: 0 });
        return 'ok';
      case 'listen':
        await q.listen(fd);
        return 'ok';
      case 'accept':
        await q.accept(fd, { signal });
        return 'ok';
      case 'connect':
        await q.connect(fd, somewhere, { signal });
        return 'ok';
      case 'recv':
        return `${await q.recv(fd, Buffer.alloc(16), { signal })} bytes`;
      case 'send':
        return `${await q.send(fd, Buffer.from('x'))} bytes`;
      case 'shutdown':
        await q.shutdown(fd, 'both');
        return 'ok';
      case 'setsockopt':
        await q.setsockopt(fd, 'nodelay', true);
        return 'ok';
      case 'localAddress':
        return this.#describe(await q.localAddress(fd), 'tcp4');
      case 'recvfrom': {
        const { bytes: n } = await q.recvfrom(fd, Buffer.alloc(16), { signal });
        return `${n} bytes`;
      }
      case 'sendto':
        return `${await q.sendto(fd, Buffer.from('x'), somewhere)} bytes`;
      case 'close':
        await q.close(fd);
        return 'ok';
    }
  }

  /**
   * A signal that aborts after `ms`. Unlike AbortSignal.timeout() its timer keeps the process
   * alive: a backend that does not (aio-node with a recvfrom on an unbound UDP socket) must not
   * let the process exit in the middle of a script.
   */
  #deadline(ms: number): AbortSignal {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), ms);
    this.timers.push(timer);
    return controller.signal;
  }

  /** Records where socket #sock can be reached, and labels its port. */
  async #learn(sock: number): Promise<void> {
    const entry = this.socks[sock];
    if (entry.address !== undefined) return;
    let address: SocketAddress;
    try {
      address = await this.q.localAddress(entry.fd);
    } catch {
      return; // the step's own outcome tells
    }
    if ('path' in address) {
      if (address.path !== '') entry.address = address;
      return;
    }
    if (address.port === 0) return;
    // A socket bound to the any address is reached on loopback.
    entry.address = { address: loopback(entry.kind), port: address.port, family: address.family };
    // Connected TCP sockets may share a local port (Linux hands one ephemeral port to connections
    // to different peers), so a port names every socket learned with it, the latest last.
    const key = `${entry.kind} ${address.port}`;
    this.ports.set(key, [...(this.ports.get(key) ?? []).filter((n) => n !== sock), sock]);
  }

  /**
   * A port nobody listens on (checked free with a socket of the runner's own, then closed: one
   * more created, or a few when the first ports tried are in use), or a missing path.
   */
  async #nowhere(kind: SocketKind): Promise<SocketAddress> {
    if (kind === 'unix') return { path: join(this.dir, 'nowhere.sock') };
    const family = kind.endsWith('6') ? 6 : 4;
    this.created++;
    const port = await portNobodyListensOn(this.q, family);
    return { address: loopback(kind), port, family: family === 6 ? 'IPv6' : 'IPv4' };
  }

  /** An address with the numbers that differ between runs replaced: ports by whose they are. */
  #describe(
    address: SocketAddress | undefined,
    kind: SocketKind,
    /** Which of the sockets that share the port it is, when it can be told (else the latest). */
    prefer: (sock: number) => boolean = () => false,
  ): string {
    if (address === undefined) return 'nobody';
    if ('path' in address) {
      if (address.path === '') return 'unix (unnamed)';
      return `unix ${address.path.startsWith(this.dir) ? basename(address.path) : '(elsewhere)'}`;
    }
    const holders = this.ports.get(`${kind} ${address.port}`) ?? [];
    const holder = [...holders].reverse().find(prefer) ?? holders.at(-1);
    const port = address.port === 0 ? '0' : holder === undefined ? '(another)' : `of #${holder}`;
    return `${address.family} ${address.address} port ${port}`;
  }

  async closeAll(): Promise<void> {
    for (const entry of this.socks) {
      if (!entry.open) continue;
      entry.open = false;
      await this.q.close(entry.fd).catch(() => {});
    }
    if (this.file !== undefined) await this.q.close(this.file).catch(() => {});
  }
}

/** An operation's error as an outcome: its code and system call (or 'aborted'). */
function describeError(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown; syscall?: unknown };
  if (e?.name === 'AbortError') return 'aborted';
  // A system error (code E... or UNKNOWN, which a backend gives for a system error it does not map:
  // a difference to report, not a reason to stop the run); anything else is the harness's own.
  if (typeof e?.code !== 'string' || !(e.code.startsWith('E') || e.code === 'UNKNOWN')) throw error;
  return typeof e.syscall === 'string' ? `error ${e.code} (${e.syscall})` : `error ${e.code}`;
}

/** The first place where two backends running the same script differ. */
export interface Divergence {
  /** The step's index in the script; the script's length when only the files left behind differ. */
  index: number;
  /** The step that differed, or 'files' for the directory contents after the script. */
  step: Step | SocketStep | 'files';
  /** What the oracle (aio-node) produced, as text: the step's result, or the directory listing for 'files'. */
  expected: string;
  /** What the backend under test produced, rendered the same way. */
  actual: string;
}

/** Whether `steps` is a socket script (from generateSocketScript) rather than a file script. */
export function isSocketScript(steps: readonly (Step | SocketStep)[]): steps is readonly SocketStep[] {
  return steps.some(
    (step) => 'sock' in step || step.op === 'socket' || step.op === 'badfd' || step.op === 'notsock',
  );
}

/**
 * Runs the same script on both backends and returns the first difference, if any. File scripts
 * also compare the files left behind.
 */
export async function compareBackends(
  subject: Backend,
  oracle: Backend,
  dirs: { subject: string; oracle: string },
  steps: readonly Step[] | readonly SocketStep[],
): Promise<Divergence | undefined> {
  const socket = isSocketScript(steps);
  const expected = socket
    ? await runSocketScript(oracle, dirs.oracle, steps)
    : await runScript(oracle, dirs.oracle, steps as readonly Step[]);
  const actual = socket
    ? await runSocketScript(subject, dirs.subject, steps)
    : await runScript(subject, dirs.subject, steps as readonly Step[]);
  for (let i = 0; i < steps.length; i++) {
    if (expected[i] !== actual[i])
      return { index: i, step: steps[i], expected: expected[i], actual: actual[i] };
  }
  if (socket) return undefined;
  const a = snapshot(dirs.oracle).join('\n');
  const b = snapshot(dirs.subject).join('\n');
  if (a !== b) return { index: steps.length, step: 'files', expected: a, actual: b };
  return undefined;
}

/** The kinds of random script the differential runner generates: file operations, direct I/O on files
 * (O_DIRECT, generateDirectScript), or socket operations. */
export type ScriptKind = 'files' | 'direct' | 'sockets';

/** What socket scripts use: the socket operations but poll, and close and open. */
const SOCKET_SCRIPT_OPS: readonly OperationName[] = [
  ...[...SOCKET_OPERATIONS].filter((op) => op !== 'poll'),
  'close',
  'open',
];

/** Whether both backends have what socket scripts use. */
export function canRunSocketScripts(subject: Backend, oracle: Backend): boolean {
  return [subject, oracle].every((b) => SOCKET_SCRIPT_OPS.every((op) => b.capabilities.ops.has(op)));
}

/** Socket script options for this machine: IPv6 where it has a loopback address, unix but on Windows. */
export function socketScriptOptionsHere(): SocketScriptOptions {
  const ipv6 = Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((entry) => entry.family === 'IPv6' && entry.address === '::1'),
  );
  return { ipv6, unix: process.platform !== 'win32' };
}

/**
 * Generates the script of `kind` for `seed` and compares the two backends on it, in a temporary
 * directory removed afterwards. The first difference, or undefined.
 */
export async function compareOnScript(
  subject: Backend,
  oracle: Backend,
  kind: ScriptKind,
  seed: number,
  steps: number,
  socketOptions: SocketScriptOptions,
  /** false: no sendfile steps even where both backends have it. */
  withSendfile = true,
): Promise<Divergence | undefined> {
  const root = mkdtempSync(join(tmpdir(), 'proactor-differential-'));
  try {
    const dirs = { subject: join(root, 'subject'), oracle: join(root, 'oracle') };
    mkdirSync(dirs.subject);
    mkdirSync(dirs.oracle);
    const sendfile = withSendfile && [subject, oracle].every((b) => b.capabilities.ops.has('sendfile'));
    const script =
      kind === 'files'
        ? generateScript(seed, steps, { sendfile })
        : kind === 'direct'
          ? generateDirectScript(seed, steps)
          : generateSocketScript(seed, steps, socketOptions);
    return await compareBackends(subject, oracle, dirs, script);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
