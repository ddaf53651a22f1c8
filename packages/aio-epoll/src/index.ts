/// <reference types="node" preserve="true" />
/**
 * @proactor/aio-epoll: the readiness backend for Linux, for machines where io_uring is blocked
 * (Docker's default seccomp profile, `kernel.io_uring_disabled`, gVisor, old kernels). A Node-API
 * addon (native/reactor, built by cmake-js) turns readiness into completions: socket operations
 * are tried without blocking and, when they would block, wait for epoll to report their
 * descriptor ready; file and metadata operations run on a native thread pool, except direct I/O
 * (descriptors opened with O_DIRECT), which goes through Linux AIO (io_setup, io_submit,
 * io_getevents) where those system calls are allowed. One reactor per Node environment (the main
 * thread, each worker), shared by that environment's queues.
 *
 * Importing this module throws a coded error (ERR_PROACTOR_EPOLL_UNAVAILABLE) where the addon
 * cannot be loaded (not Linux, no binary built): @proactor/aio reports that message when it
 * skips this backend.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, Capabilities, Engine, NativeOperation, RingContext } from '@proactor/aio-core';
import {
  invalidArgType,
  invalidArgValue,
  OPERATIONS,
  type OperationName,
  ProactorError,
  SOCKET_OPERATIONS,
} from '@proactor/aio-core';

/** The readiness mechanisms the reactor can run on. */
export type PollerName = 'epoll' | 'poll';

/** Options of {@link createBackend}. */
export interface EpollBackendOptions {
  /**
   * The readiness mechanism: `'epoll'` (the default), or `'poll'`, the classic poll(2) (for
   * testing the reactor against a second poller, and for systems without epoll). A poller this
   * build lacks is refused with ERR_INVALID_ARG_VALUE.
   */
  poller?: PollerName;
  /**
   * Direct I/O through Linux AIO (default true): read, write, readv and writev at an explicit
   * position, fsync and fdatasync on descriptors opened with O_DIRECT go to the kernel's
   * asynchronous I/O, with no thread per operation. false runs them on the thread pool like every
   * other file operation (for A/B comparisons; so does PROACTOR_EPOLL_LINUX_AIO=0 for the default
   * backend). Where the system calls are blocked (seccomp) the pool takes over whatever this says:
   * {@link linuxAio} and `engineInfo().linuxAioReason` say why.
   */
  linuxAio?: boolean;
}

/** Whether a backend runs direct I/O through Linux AIO, and why (or why not). */
export interface LinuxAioSupport {
  /** Direct I/O goes through Linux AIO (each queue sets its context up at its first direct operation). */
  readonly enabled: boolean;
  /** Why, in one line: what was probed, or what turned it off. */
  readonly reason: string;
}

/** The capabilities of an aio-epoll backend: aio-core's, and whether direct I/O goes through Linux AIO. */
export interface EpollCapabilities extends Capabilities {
  /** O_DIRECT reads, writes, fsync and fdatasync go through Linux AIO ({@link LinuxAioSupport}). */
  readonly linuxAio: boolean;
}

/** Diagnostics of one attached engine. */
export interface EngineInfo {
  /** The poller of this environment's reactor ('epoll', 'poll'). */
  poller: string;
  /** Its descriptor: the same for every queue of an environment with the same poller. */
  pollerFd: number;
  /** Operations with a slot, not yet delivered. */
  inFlight: number;
  /** Completions of this queue waiting to be handed to JavaScript. */
  readyToDeliver: number;
  /** Descriptors with operations of this queue waiting on them (a close through the queue ends those first). */
  waitingDescriptors: number;
  /** Completions of multishot accepts and recvs handed over before their final one. */
  multishotItems: number;
  /** Loop callbacks of this environment's reactor so far (poller reports, wakeups, timers). */
  wakeups: number;
  /** Operations of this environment parked until their descriptor is ready. */
  parked: number;
  /** Timeouts of this environment running. */
  timers: number;
  /** Operations of this queue that had to wait for readiness (their first try would block). */
  parks: number;
  /** Tries after a readiness report (more than `parks` when a report was a false alarm). */
  retries: number;
  /** Bytes sendfile moved from a file to a non-blocking socket at launch and on writability (a
   * regular-file or blocking output runs sendfile(2) on the thread pool and is not counted). */
  sendfileBytes: number;
  /** The receive pool of multishot recvs: its buffers (0 until the first recvs()). */
  providedBuffers: number;
  /** The size of each buffer of the receive pool, in bytes. */
  providedBufferSize: number;
  /** Buffers of the pool not holding data on its way to JavaScript. */
  providedBuffersFree: number;
  /**
   * Linux AIO for this queue's direct I/O: 'active' (its context is set up), 'unused' (on, no
   * direct operation yet), 'off' (the pool runs direct I/O: `linuxAioReason` says why).
   */
  linuxAio: 'active' | 'unused' | 'off';
  /** Why Linux AIO is off ('' otherwise): turned off, io_setup refused (seccomp, fs.aio-max-nr), ... */
  linuxAioReason: string;
  /** Events of this queue's AIO context (its entries), 0 without one. */
  aioEntries: number;
  /** Requests io_submit accepted. */
  aioSubmitted: number;
  /** Their completions reaped. */
  aioCompleted: number;
  /** Requests in the kernel now. */
  aioInFlight: number;
  /** io_submit calls (each hands over a batch). */
  aioSubmitCalls: number;
  /** io_getevents calls (each reaps a batch). */
  aioReapCalls: number;
  /** Requests io_submit refused (EAGAIN, EINVAL, ...), run on the thread pool instead. */
  aioRefused: number;
  /** The error code of the last refusal ('' before any). */
  aioLastRefusal: string;
  /** Transfers, fsyncs and fdatasyncs on descriptors without O_DIRECT (or at the current position): the pool's. */
  aioBufferedOps: number;
  /** io_cancel calls (Linux refuses to cancel a file transfer in flight: it runs to its end). */
  aioCancelCalls: number;
}

interface NativeEngine extends Engine {
  waitSync(min: number, timeoutMs: number): number;
  provideBuffers(memory: Uint8Array, size: number, count: number): void;
  info(): EngineInfo;
}

/** What the addon's linuxAioProbe() reports: the Linux AIO system calls reach the kernel, or why not. */
type LinuxAioProbe = { ok: true } | { ok: false; errno: number; code: string; syscall: string };

interface NativeAddon {
  ReactorEngine: new (
    ring: RingContext,
    options: { poller: PollerName; linuxAio: boolean; linuxAioOff: string },
  ) => NativeEngine;
  pollers(): string[];
  operations(): NativeOperation[];
  linuxAioProbe(): LinuxAioProbe;
}

const packageDir = fileURLToPath(new URL('..', import.meta.url));

function unavailable(message: string, cause?: unknown): ProactorError {
  const error = new ProactorError('ERR_PROACTOR_EPOLL_UNAVAILABLE', message);
  if (cause !== undefined) Object.assign(error, { cause });
  return error;
}

/** Loads the addon as node-gyp-build resolves it: build/Release first, then prebuilds/. */
function loadAddon(): NativeAddon {
  if (process.platform !== 'linux') {
    throw unavailable(
      `epoll is Linux only (this is ${process.platform}); use @proactor/aio, which picks another backend`,
    );
  }
  const require = createRequire(import.meta.url);
  // PROACTOR_EPOLL_ADDON selects another build of the addon (the sanitizer build in CI).
  const override = process.env.PROACTOR_EPOLL_ADDON;
  if (override) return require(override) as NativeAddon;
  let path: string;
  try {
    path = (require('node-gyp-build') as { path(dir: string): string }).path(packageDir);
  } catch (error) {
    throw unavailable(
      `no epoll addon for ${process.platform}-${process.arch}: looked in ${join(packageDir, 'build', 'Release')} and ${join(packageDir, 'prebuilds')}, found none; install cmake, make and a C++17 compiler, allow the package's install script and run \`npm rebuild @proactor/aio-epoll\`; or use @proactor/aio, which falls back to another backend`,
      error,
    );
  }
  try {
    return require(path) as NativeAddon;
  } catch (error) {
    throw unavailable(
      `the epoll addon at ${path} does not load (${(error as Error).message.split('\n')[0]}); rebuild it: \`npm rebuild @proactor/aio-epoll --build-from-source\``,
      error,
    );
  }
}

export type { NativeOperation };

const addon = loadAddon();

/** The pollers this build of the addon has. */
export const pollers: readonly string[] = Object.freeze(addon.pollers());

/** The addon's operation table (native/common/operation_table.h), indexed by aio-core `Opcode`. */
export const operations: readonly NativeOperation[] = Object.freeze(addon.operations());

/** Why the Linux AIO probe failed, in one line. */
export function explainLinuxAioFailure(failure: { code: string; syscall: string }): string {
  const head = `Linux AIO is unavailable: ${failure.syscall} failed with ${failure.code}`;
  switch (failure.code) {
    case 'EPERM':
      return `${head}: a seccomp filter blocks the Linux AIO system calls (allow io_setup, io_submit, io_getevents, io_cancel and io_destroy); direct I/O runs on the thread pool`;
    case 'ENOSYS':
      return `${head}: this kernel has no Linux AIO (CONFIG_AIO), or a seccomp filter answers ENOSYS; direct I/O runs on the thread pool`;
    default:
      return `${head}; direct I/O runs on the thread pool`;
  }
}

/** The probe made when this module was loaded. */
const probe: LinuxAioProbe = addon.linuxAioProbe();

/** Whether a backend created with `wanted` (its `linuxAio` option) runs direct I/O through Linux AIO, and why. */
function linuxAioSupport(wanted: boolean, turnedOffBy: string): LinuxAioSupport {
  if (!probe.ok) return Object.freeze({ enabled: false, reason: explainLinuxAioFailure(probe) });
  if (!wanted) {
    return Object.freeze({
      enabled: false,
      reason: `Linux AIO is turned off (${turnedOffBy}); direct I/O runs on the thread pool`,
    });
  }
  return Object.freeze({
    enabled: true,
    reason:
      'Linux AIO runs direct I/O: reads, writes, fsync and fdatasync on descriptors opened with O_DIRECT (each queue sets its context up at its first one)',
  });
}

/** PROACTOR_EPOLL_LINUX_AIO=0 turns Linux AIO off for the default backend (A/B runs). */
const envOff = process.env.PROACTOR_EPOLL_LINUX_AIO === '0';

/** Linux AIO on the default backend: enabled, or why not (seccomp, ENOSYS, PROACTOR_EPOLL_LINUX_AIO=0). */
export const linuxAio: LinuxAioSupport = linuxAioSupport(!envOff, 'PROACTOR_EPOLL_LINUX_AIO=0');

/** One line @proactor/aio adds to its explanation when it selects this backend. */
export const selectionNote = `direct I/O: ${linuxAio.reason}`;

/**
 * What the reactor does. Every file and socket operation; linked operations and waitSync from
 * the engine core. `cancelInFlight` is false: an operation parked on a socket is cancelled
 * (ECANCELED), but a file operation already running on the thread pool runs to its end.
 * Multishot accepts and recvs as the reactor emulates them: one parked request serving every
 * connection (chunk) until it is cancelled, receiving into the queue's provided pool only while a
 * call runs, so an idle connection pins no buffer. sendfile in the kernel: non-blocking
 * sendfile(2) to a socket, retried when it becomes writable; sendfile(2) on the thread pool to a
 * regular file. No zero-copy send, no registered buffers or files: those are io_uring's.
 * `linuxAio`: direct I/O goes through Linux AIO ({@link linuxAio}).
 */
function capabilitiesOf(aio: boolean): EpollCapabilities {
  return Object.freeze({
    ops: new Set<OperationName>([
      ...OPERATIONS,
      ...SOCKET_OPERATIONS,
      'sendfile',
    ]) as ReadonlySet<OperationName>,
    linkedOperations: true,
    waitSync: true,
    cancelInFlight: false,
    multishot: true,
    zeroCopySend: false,
    zeroCopySendfile: true,
    registeredBuffers: false,
    registeredFiles: false,
    linuxAio: aio,
  });
}

/** The capabilities of the default backend. */
export const capabilities: EpollCapabilities = capabilitiesOf(linuxAio.enabled);

/** An aio-epoll Backend: its capabilities say whether direct I/O goes through Linux AIO, `linuxAio` why. */
export interface EpollBackend extends Backend {
  readonly capabilities: EpollCapabilities;
  /** Linux AIO on this backend's queues: enabled, or why not. */
  readonly linuxAio: LinuxAioSupport;
}

/** An epoll Backend, or one over another poller (`{ poller: 'poll' }`), or without Linux AIO (`{ linuxAio: false }`). */
export function createBackend(options: EpollBackendOptions = {}): EpollBackend {
  if (options === null || typeof options !== 'object')
    throw invalidArgType('options', 'of type object', options);
  const poller = options.poller ?? 'epoll';
  if (poller !== 'epoll' && poller !== 'poll') {
    throw invalidArgValue('options.poller', poller, "must be 'epoll' or 'poll'");
  }
  if (!pollers.includes(poller)) {
    throw invalidArgValue(
      'options.poller',
      poller,
      `is not built into this addon (it has ${pollers.join(', ')})`,
    );
  }
  if (options.linuxAio !== undefined && typeof options.linuxAio !== 'boolean') {
    throw invalidArgType('options.linuxAio', 'of type boolean', options.linuxAio);
  }
  const aio =
    options.linuxAio === undefined
      ? linuxAio
      : linuxAioSupport(options.linuxAio, 'createBackend({ linuxAio: false })');
  const native = { poller, linuxAio: aio.enabled, linuxAioOff: aio.enabled ? '' : aio.reason };
  return Object.freeze({
    name: 'epoll' as const,
    capabilities: aio === linuxAio ? capabilities : capabilitiesOf(aio.enabled),
    linuxAio: aio,
    attach(ring: RingContext): Engine {
      return new addon.ReactorEngine(ring, native);
    },
  });
}

/** Diagnostics of an engine attached by this backend. */
export function engineInfo(engine: Engine): EngineInfo {
  return (engine as NativeEngine).info();
}

/** The epoll backend with default settings. */
const backend: EpollBackend = createBackend();

export default backend;
export { backend };
