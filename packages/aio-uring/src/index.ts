/// <reference types="node" preserve="true" />
/**
 * @proactor/aio-uring: the io_uring backend. A Node-API addon (native/uring, built by
 * cmake-js) drives io_uring with raw system calls: one ring per Node environment (the main
 * thread, each worker), shared by that environment's queues. This module loads the addon,
 * probes the kernel once and exports the Backend.
 *
 * Importing this module throws when io_uring cannot be used here, with a message that names
 * the cause (seccomp, kernel.io_uring_disabled, ENOSYS, the memlock limit): @proactor/aio
 * reports that message when it skips this backend.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  Backend,
  Capabilities,
  NativeOperation as CoreNativeOperation,
  Engine,
  OperationName,
  RingContext,
} from '@proactor/aio-core';
import {
  invalidArgType,
  OPCODE_COUNT,
  OPERATIONS,
  outOfRange,
  ProactorError,
  SOCKET_OPERATIONS,
} from '@proactor/aio-core';

/** What the addon's probe() reports: a ring opened (and its opcodes), or why it could not. */
export type ProbeResult =
  | {
      /** A ring of 4 entries opened. */
      ok: true;
      /** io_uring_params.features of that ring (IORING_FEAT_* bits). */
      features: number;
      /** The IORING_OP_* opcodes this kernel supports (IORING_REGISTER_PROBE), ascending. */
      opcodes: number[];
      /** Sparse registered-buffer tables work (Linux 5.19). */
      registeredBuffers: boolean;
      /** Sparse registered-file tables work (Linux 5.19). */
      registeredFiles: boolean;
      /** SQPOLL rings work without privileges or fixed files, with personalities (Linux 5.11). */
      sqpoll: boolean;
      /** Multishot accept and recv with a provided-buffer ring (Linux 6.0). */
      multishot: boolean;
      /** IORING_OP_SEND_ZC (Linux 6.0). */
      zeroCopySend: boolean;
      /** IORING_OP_SPLICE (Linux 5.7): sendfile through a pipe; sendfile(2) on the pool without it. */
      splice: boolean;
    }
  | {
      /** No ring could be opened: io_uring is unusable here. */
      ok: false;
      /** The negative errno of the failure (-1 for EPERM, as Node numbers errors). */
      errno: number;
      /** Its code: 'EPERM' (seccomp, kernel.io_uring_disabled), 'ENOSYS', 'ENOMEM', ... */
      code: string;
      /** The call that failed: 'io_uring_setup', or 'mmap' for the rings. */
      syscall: string;
    };

interface NativeEngine extends Engine {
  waitSync(min: number, timeoutMs: number): number;
  registerBuffers(buffers: readonly ArrayBufferView[]): void;
  info(): EngineInfo;
}

/**
 * The most bytes one registered buffer may hold: the kernel refuses more (io_uring_register(2)
 * with IORING_REGISTER_BUFFERS2). An io_uring limit, so checked here and not by aio-core; the
 * queue has checked the list itself (types, 1 to 1024 buffers of at least 1 byte).
 */
const REGISTERED_BUFFER_MAX = 2 ** 30;

/** Diagnostics of one attached engine. */
export interface EngineInfo {
  /** SQ entries of the environment's ring this queue uses (the kernel may round the request up). */
  sqEntries: number;
  /** CQ entries of that ring. */
  cqEntries: number;
  /** io_uring_params.features of the ring. */
  features: number;
  /** The ring's descriptor: the same for every queue of an environment with the same ring options. */
  ringFd: number;
  /** This queue's operations the engine holds: submitted and not yet handed back as completed. */
  inFlight: number;
  /** How often completions had to be fetched from the kernel's overflow list (the CQ ring was full). */
  overflowFlushes: number;
  /** proactor opcodes that run on the blocking thread pool (the kernel lacks them). */
  blockingOps: number[];
  /**
   * Socket opcodes run as plain system calls when launched, completing without the kernel ring:
   * setsockopt and getsockname always; socket, bind, listen and shutdown when the kernel lacks
   * IORING_OP_SOCKET (5.19), IORING_OP_BIND / LISTEN (6.11) or IORING_OP_SHUTDOWN (5.11), or
   * when `blockingOps` names them.
   */
  launchOps: number[];
  /** Whether the ring was set up with IORING_SETUP_SQPOLL. */
  sqpoll: boolean;
  /** io_uring_enter calls made on the ring so far (all its queues); SQPOLL rings mostly skip them. */
  enterCalls: number;
  /**
   * Entries in the ring's submission queue the kernel has not consumed yet (all its queues): 0
   * after each submit on a plain ring; on an SQPOLL ring, until its kernel thread takes them.
   */
  sqPending: number;
  /** SQPOLL: the personality the ring's SQEs carry after a credential change (0: the creator's). */
  personality: number;
  /** SQEs this queue issued as IORING_OP_READ_FIXED / WRITE_FIXED (registered buffers). */
  fixedBufferOps: number;
  /** SQEs this queue issued with IOSQE_FIXED_FILE (registered files). */
  fixedFileOps: number;
  /** This queue's registered buffers. */
  registeredBuffers: number;
  /** The first index of their range in the ring's buffer table (shared by the environment's queues). */
  bufferIndexBase: number;
  /** This queue's registered descriptors (a close through the queue drops one). */
  registeredFiles: number;
  /** The first index of their range in the ring's file table. */
  fileIndexBase: number;
  /** Completions of multishot accepts and recvs handed over before their final one. */
  multishotItems: number;
  /** Sends issued as IORING_OP_SEND_ZC. */
  zeroCopySends: number;
  /** sendfile: splice rounds (a fill of the pipe, and its drain) issued. */
  spliceRounds: number;
  /** sendfile: drains issued on their own, for bytes a short fill or a short drain left in the pipe. */
  splicePartialDrains: number;
  /** sendfile: linked drains taken back out of the submission queue because a short submission
   * took their fill alone (the kernel would have run them unlinked); each was issued after its fill. */
  spliceLinksCut: number;
  /** sendfile: the pipes this engine holds (lent to one operation at a time, then reused). */
  splicePipes: number;
  /** sendfile: pipes closed because an operation ended with bytes still in them. */
  splicePipesDiscarded: number;
  /** Buffers in the provided-buffer ring of multishot recvs (0 until the first recvs()). */
  providedBuffers: number;
  /** Bytes of each of them (QueueOptions.recvBufferSize; 0 until the first recvs()). */
  providedBufferSize: number;
  /** Provided buffers the kernel may fill now (the rest hold data not yet handed over). */
  providedBuffersInKernel: number;
  /** Completions of this queue waiting to be handed to JavaScript. */
  readyToDeliver: number;
  /** Poll callbacks of this thread's ring so far. */
  wakeups: number;
  /** Descriptors with operations waiting on them in the kernel (a close through the queue cancels those first). */
  waitingDescriptors: number;
}

/**
 * One entry of the addon's operation table (native/common/operation_table.h), with each
 * operation's io_uring opcode from native/uring/engine.cc: the single source of these facts.
 */
export interface NativeOperation extends CoreNativeOperation {
  /** The io_uring opcode it is submitted as; null when it never is (setsockopt, getsockname, cancel). */
  kernelOpcode: number | null;
}

interface NativeAddon {
  UringEngine: new (ring: RingContext, options?: NativeEngineOptions) => NativeEngine;
  probe(): ProbeResult;
  operations(): NativeOperation[];
  alignmentOffset(bytes: Uint8Array, alignment: number): number;
}

interface NativeEngineOptions {
  sqEntries?: number;
  cqEntries?: number;
  blockingOps?: number[];
  sqpoll?: boolean;
  sqIdleMs?: number;
}

/**
 * Options of `createBackend`: ring sizes, SQPOLL and test switches. Queues of one environment
 * share a ring when their backends ask for the same sizes and SQPOLL setting.
 */
export interface UringBackendOptions {
  /** SQ ring size (default 512, at most 32768). A bigger batch is handed over in several enters. */
  sqEntries?: number;
  /** CQ ring size (default 2048). Completions beyond it wait in the kernel's overflow list. */
  cqEntries?: number;
  /**
   * proactor opcodes (aio-core `Opcode` values) to run on the blocking thread pool even when the
   * kernel has them: exercises the fallback path that older kernels take. Socket operations never
   * run on the pool: socket, bind, listen and shutdown named here become plain system calls made
   * at launch (their fallback on older kernels); accept, connect, recv, send, recvfrom and sendto stay in the ring.
   */
  blockingOps?: number[];
  /**
   * Opt-in IORING_SETUP_SQPOLL: a kernel thread polls the submission ring, so submitting
   * usually needs no system call. It spins for `idleMs` (default 50) after the last submission
   * before sleeping, using CPU meanwhile. SQPOLL queues get their own ring, never shared with
   * plain ones. After a change of the effective uid/gid the new credentials are registered as
   * a personality that later operations carry. Needs Linux 5.11.
   */
  sqpoll?:
    | boolean
    | {
        /** Milliseconds the kernel thread spins after the last submission (default 50, at most 3600000). */
        idleMs?: number;
      };
}

/** The capabilities of an aio-uring backend: aio-core's, and whether its rings use SQPOLL. */
export interface UringCapabilities extends Capabilities {
  /** Its rings use IORING_SETUP_SQPOLL (`createBackend({ sqpoll })`). */
  readonly sqpoll: boolean;
}

/**
 * Explains a failed io_uring setup: the error code plus what usually causes it. `context`
 * carries the facts read from the machine (kernel.io_uring_disabled, the memlock limit).
 */
export function explainSetupFailure(
  failure: { code: string; errno: number; syscall: string },
  context: { ioUringDisabled?: number; memlockBytes?: number | 'unlimited' } = {},
): string {
  const head = `io_uring is unavailable: ${failure.syscall} failed with ${failure.code}`;
  switch (failure.code) {
    case 'EPERM':
      if (context.ioUringDisabled === 2)
        return `${head}: kernel.io_uring_disabled = 2 disables io_uring for every process`;
      if (context.ioUringDisabled === 1) {
        return `${head}: kernel.io_uring_disabled = 1 allows io_uring only to members of kernel.io_uring_group (and CAP_SYS_ADMIN)`;
      }
      return `${head}: a seccomp filter blocks the io_uring system calls (Docker's and containerd's default profiles do; run with a profile that allows io_uring_setup, io_uring_enter and io_uring_register)`;
    case 'ENOSYS':
      return `${head}: this kernel has no io_uring (it needs Linux 5.6 or later built with CONFIG_IO_URING), or a seccomp filter answers ENOSYS (gVisor, some sandboxes)`;
    case 'ENOMEM': {
      const limit =
        context.memlockBytes === undefined
          ? ''
          : ` (RLIMIT_MEMLOCK is ${context.memlockBytes === 'unlimited' ? 'unlimited' : `${context.memlockBytes} bytes`})`;
      return `${head}: the locked-memory limit is too small for the rings${limit}; kernels before 5.12 charge io_uring against RLIMIT_MEMLOCK: raise it (ulimit -l) or use smaller queues`;
    }
    case 'EMFILE':
    case 'ENFILE':
      return `${head}: too many open files`;
    case 'EINVAL':
      return `${head}: the kernel rejected the ring parameters (a kernel older than 5.6?)`;
    case 'EOPNOTSUPP':
      return `${head}: this kernel's io_uring is too old (it needs IORING_FEAT_NODROP and IORING_FEAT_RW_CUR_POS, Linux 5.6 or later)`;
    default:
      return head;
  }
}

function readMachineContext(): { ioUringDisabled?: number; memlockBytes?: number | 'unlimited' } {
  const context: { ioUringDisabled?: number; memlockBytes?: number | 'unlimited' } = {};
  try {
    context.ioUringDisabled = Number.parseInt(readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8'), 10);
  } catch {
    // Kernels before 6.6 have no such sysctl.
  }
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max locked memory'));
    const soft = line?.slice('Max locked memory'.length).trim().split(/\s+/)[0];
    if (soft !== undefined) context.memlockBytes = soft === 'unlimited' ? 'unlimited' : Number(soft);
  } catch {
    // Not Linux procfs: leave it out.
  }
  return context;
}

/** An Error for a failed setup, with code ERR_PROACTOR_URING_UNAVAILABLE and the system error as cause. */
export function setupError(failure: { code: string; errno: number; syscall: string }): ProactorError {
  const error = new ProactorError(
    'ERR_PROACTOR_URING_UNAVAILABLE',
    explainSetupFailure(failure, readMachineContext()),
  );
  Object.assign(error, { errno: failure.errno, syscall: failure.syscall, cause: failure });
  return error;
}

/** Where this package's files are: build/Release (built here), prebuilds/ (shipped). */
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The libc this process runs on: what a Linux prebuild must have been built against. */
function runningLibc(): 'glibc' | 'musl' {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
    ?.header;
  return header?.glibcVersionRuntime === undefined ? 'musl' : 'glibc';
}

/**
 * Loads the addon the way node-gyp-build resolves it: `build/Release` first (built from source
 * in this directory by the install script, or in the repository), then the prebuilt binary for
 * this platform, architecture and libc under `prebuilds/<platform>-<arch>/`. A failure names,
 * in one message, what was looked for, what was tried and what to do.
 */
function loadAddon(): NativeAddon {
  if (process.platform !== 'linux') {
    throw new ProactorError(
      'ERR_PROACTOR_URING_UNAVAILABLE',
      `io_uring is Linux only (this is ${process.platform}); use @proactor/aio, which picks another backend`,
    );
  }
  const require = createRequire(import.meta.url);
  // PROACTOR_URING_ADDON selects another build of the addon (the sanitizer build in CI).
  const override = process.env.PROACTOR_URING_ADDON;
  if (override) return require(override) as NativeAddon;
  const target = `${process.platform}-${process.arch} (${runningLibc()}, Node-API 8)`;
  let path: string;
  try {
    path = (require('node-gyp-build') as { path(dir: string): string }).path(packageDir);
  } catch (error) {
    throw addonError(
      `no io_uring addon for ${target}: looked in ${join(packageDir, 'build', 'Release')} and ${join(packageDir, 'prebuilds')}, found none; to build one from the sources the package ships, install cmake, make and a C++17 compiler (g++ 8 or clang 7), allow the package's install script (\`npm install-scripts approve @proactor/aio-uring\` with npm 11, \`pnpm approve-builds\` with pnpm) and run \`npm rebuild @proactor/aio-uring\`; or use @proactor/aio, which falls back to another backend`,
      error,
    );
  }
  try {
    return require(path) as NativeAddon;
  } catch (error) {
    throw addonError(
      `the io_uring addon for ${target} at ${path} does not load (${(error as Error).message.split('\n')[0]}); rebuild it from source for this machine with cmake, make and a C++17 compiler installed and the package's install script allowed: \`npm rebuild @proactor/aio-uring --build-from-source\``,
      error,
    );
  }
}

function addonError(message: string, cause: unknown): ProactorError {
  const error = new ProactorError('ERR_PROACTOR_URING_UNAVAILABLE', message);
  Object.assign(error, { cause });
  return error;
}

const addon = loadAddon();

/** The addon's engine, with the io_uring limits checked before the addon is called. */
class UringEngine extends addon.UringEngine {
  /** Refuses a buffer above REGISTERED_BUFFER_MAX with Node's ERR_OUT_OF_RANGE; the addon's own
   * check is a backstop that throws an error without a code. */
  override registerBuffers(buffers: readonly ArrayBufferView[]): void {
    for (let i = 0; i < buffers.length; i++) {
      if (buffers[i].byteLength > REGISTERED_BUFFER_MAX) {
        throw outOfRange(
          `buffers[${i}].byteLength`,
          `>= 1 && <= ${REGISTERED_BUFFER_MAX}`,
          buffers[i].byteLength,
        );
      }
    }
    super.registerBuffers(buffers);
  }
}

/** The probe made when this module was loaded. */
export const probe: ProbeResult = addon.probe();
if (!probe.ok) throw setupError(probe);

/** The addon's operation table, indexed by aio-core `Opcode`. */
export const operations: readonly NativeOperation[] = Object.freeze(addon.operations());

const operationNames: ReadonlySet<string> = new Set<string>([...OPERATIONS, ...SOCKET_OPERATIONS]);

/** The operations submitted to io_uring (those aio-core names in `capabilities.ops`), with their opcodes. */
const kernelOperations = operations.filter(
  (op): op is NativeOperation & { kernelOpcode: number } =>
    op.kernelOpcode !== null && operationNames.has(op.name),
);

/** The opcodes of this kernel's io_uring, by the operations that need them: false ones run on the
 * thread pool (file operations) or as plain calls at launch (socket, bind, listen, shutdown). */
export const kernelSupport: Readonly<Record<string, boolean>> = Object.freeze(
  Object.fromEntries(
    kernelOperations.map((op) => [op.name, probe.ok && probe.opcodes.includes(op.kernelOpcode)]),
  ),
);

/** Socket operations that need their io_uring opcode: the waiting ones have no plain-call fallback. */
const socketNeedsKernel: ReadonlySet<string> = new Set(
  kernelOperations.filter((op) => op.socket && op.waitsOnDescriptor).map((op) => op.name),
);

/** Every file operation, and the socket operations this kernel can run. */
const supportedOps: ReadonlySet<OperationName> = new Set<OperationName>([
  ...OPERATIONS,
  'sendfile',
  ...[...SOCKET_OPERATIONS].filter((name) => !socketNeedsKernel.has(name) || kernelSupport[name] === true),
]);

function capabilitiesOf(sqpoll: boolean): UringCapabilities {
  return Object.freeze({
    // Every file operation (what the kernel lacks runs on the addon's blocking thread pool) and
    // the socket operations (accept, connect, recv, send, recvfrom and sendto need their io_uring
    // opcodes).
    ops: supportedOps,
    linkedOperations: true,
    waitSync: true,
    // IORING_OP_ASYNC_CANCEL stops operations waiting in the kernel (pipes, sockets, timers).
    cancelInFlight: true,
    // Multishot accept and recv with a provided-buffer ring (Linux 6.0).
    multishot: probe.ok && probe.multishot,
    // IORING_OP_SEND_ZC (Linux 6.0).
    zeroCopySend: probe.ok && probe.zeroCopySend,
    // Splice through a pipe, or sendfile(2) on the blocking pool: in the kernel either way.
    zeroCopySendfile: true,
    // Decided by the probe: sparse tables (Linux 5.19).
    registeredBuffers: probe.ok && probe.registeredBuffers,
    registeredFiles: probe.ok && probe.registeredFiles,
    sqpoll,
  });
}

/** An io_uring Backend with non-default ring sizes, SQPOLL, or test switches. */
export function createBackend(options: UringBackendOptions = {}): Backend {
  if (options === null || typeof options !== 'object')
    throw invalidArgType('options', 'of type object', options);
  const native: NativeEngineOptions = {};
  if (options.sqEntries !== undefined)
    native.sqEntries = ringSize(options.sqEntries, 'options.sqEntries', 32768);
  if (options.cqEntries !== undefined)
    native.cqEntries = ringSize(options.cqEntries, 'options.cqEntries', 65536);
  if (options.blockingOps !== undefined) {
    if (!Array.isArray(options.blockingOps)) {
      throw invalidArgType('options.blockingOps', 'an array of opcodes', options.blockingOps);
    }
    native.blockingOps = options.blockingOps.map((op, i) => {
      if (!Number.isInteger(op) || op < 0 || op >= OPCODE_COUNT) {
        throw outOfRange(`options.blockingOps[${i}]`, `an integer >= 0 and < ${OPCODE_COUNT}`, op);
      }
      return op;
    });
  }
  if (options.sqpoll !== undefined && options.sqpoll !== false) {
    let idleMs = 50;
    if (options.sqpoll !== true) {
      if (options.sqpoll === null || typeof options.sqpoll !== 'object') {
        throw invalidArgType('options.sqpoll', 'of type boolean or object', options.sqpoll);
      }
      const idle = options.sqpoll.idleMs;
      if (idle !== undefined) {
        if (typeof idle !== 'number') throw invalidArgType('options.sqpoll.idleMs', 'of type number', idle);
        if (!Number.isInteger(idle) || idle < 0 || idle > 3_600_000) {
          throw outOfRange('options.sqpoll.idleMs', 'an integer >= 0 and <= 3600000', idle);
        }
        idleMs = idle;
      }
    }
    if (!probe.ok || !probe.sqpoll) {
      throw new ProactorError(
        'ERR_PROACTOR_UNSUPPORTED',
        'SQPOLL needs Linux 5.11 or later (IORING_FEAT_SQPOLL_NONFIXED): this kernel lacks it',
      );
    }
    native.sqpoll = true;
    native.sqIdleMs = idleMs;
  }
  const capabilities = capabilitiesOf(native.sqpoll === true);
  return Object.freeze({
    name: 'io_uring' as const,
    capabilities,
    attach(ring: RingContext): Engine {
      try {
        return new UringEngine(ring, native);
      } catch (error) {
        const e = error as Error & { code?: string; errno?: number; syscall?: string };
        if (typeof e.errno === 'number' && typeof e.code === 'string' && typeof e.syscall === 'string') {
          throw setupError({ code: e.code, errno: e.errno, syscall: e.syscall });
        }
        throw error;
      }
    },
  });
}

function ringSize(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw outOfRange(name, `an integer >= 1 and <= ${max}`, value);
  return value;
}

/** Diagnostics of an engine attached by this backend (ring sizes, in-flight count, fallbacks). */
export function engineInfo(engine: Engine): EngineInfo {
  return (engine as NativeEngine).info();
}

/**
 * A zero-filled Buffer of `size` bytes whose first byte sits at an address that is a multiple of
 * `alignment` (default 4096, a page): what O_DIRECT reads and writes want, and what JavaScript
 * cannot arrange by itself since it never sees addresses. Views carved from it at multiples of
 * `alignment` stay aligned.
 */
export function alignedBuffer(size: number, alignment = 4096): Buffer {
  if (typeof size !== 'number') throw invalidArgType('size', 'of type number', size);
  if (!Number.isInteger(size) || size < 0 || size > 2 ** 32)
    throw outOfRange('size', '>= 0 && <= 2 ** 32', size);
  if (typeof alignment !== 'number') throw invalidArgType('alignment', 'of type number', alignment);
  if (
    !Number.isInteger(alignment) ||
    alignment < 1 ||
    alignment > 1 << 20 ||
    (alignment & (alignment - 1)) !== 0
  ) {
    throw outOfRange('alignment', 'a power of two <= 1048576', alignment);
  }
  // Its own allocation, never a slice of Node's shared pool.
  const backing = Buffer.alloc(size + alignment - 1);
  const offset = addon.alignmentOffset(backing, alignment);
  return backing.subarray(offset, offset + size);
}

/** The io_uring backend with default settings. */
const backend: Backend = createBackend();

export default backend;
export { backend };
