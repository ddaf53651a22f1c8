/// <reference types="node" preserve="true" />
/**
 * @proactor/aio-epoll: the readiness backend for Linux, for machines where io_uring is blocked
 * (Docker's default seccomp profile, `kernel.io_uring_disabled`, gVisor, old kernels). A Node-API
 * addon (native/reactor, built by cmake-js) turns readiness into completions: socket operations
 * are tried without blocking and, when they would block, wait for epoll to report their
 * descriptor ready; file and metadata operations run on a native thread pool. One reactor per
 * Node environment (the main thread, each worker), shared by that environment's queues.
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
  /** The receive pool of multishot recvs: its buffers (0 until the first recvs()). */
  providedBuffers: number;
  /** The size of each buffer of the receive pool, in bytes. */
  providedBufferSize: number;
  /** Buffers of the pool not holding data on its way to JavaScript. */
  providedBuffersFree: number;
}

interface NativeEngine extends Engine {
  waitSync(min: number, timeoutMs: number): number;
  provideBuffers(memory: Uint8Array, size: number, count: number): void;
  info(): EngineInfo;
}

interface NativeAddon {
  ReactorEngine: new (ring: RingContext, options: { poller: PollerName }) => NativeEngine;
  pollers(): string[];
  operations(): NativeOperation[];
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

/**
 * What the reactor does. Every file and socket operation; linked operations and waitSync from
 * the engine core. `cancelInFlight` is false: an operation parked on a socket is cancelled
 * (ECANCELED), but a file operation already running on the thread pool runs to its end.
 * Multishot accepts and recvs as the reactor emulates them: one parked request serving every
 * connection (chunk) until it is cancelled, receiving into the queue's provided pool only while a
 * call runs, so an idle connection pins no buffer. No zero-copy send, no registered buffers or
 * files: those are io_uring's.
 */
export const capabilities: Capabilities = Object.freeze({
  ops: new Set<OperationName>([...OPERATIONS, ...SOCKET_OPERATIONS]) as ReadonlySet<OperationName>,
  linkedOperations: true,
  waitSync: true,
  cancelInFlight: false,
  multishot: true,
  zeroCopySend: false,
  registeredBuffers: false,
  registeredFiles: false,
});

/** An epoll Backend, or one over another poller (`{ poller: 'poll' }`). */
export function createBackend(options: EpollBackendOptions = {}): Backend {
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
  return Object.freeze({
    name: 'epoll' as const,
    capabilities,
    attach(ring: RingContext): Engine {
      return new addon.ReactorEngine(ring, { poller });
    },
  });
}

/** Diagnostics of an engine attached by this backend. */
export function engineInfo(engine: Engine): EngineInfo {
  return (engine as NativeEngine).info();
}

/** The epoll backend with default settings. */
const backend: Backend = createBackend();

export default backend;
export { backend };
