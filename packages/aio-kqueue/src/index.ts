/// <reference types="node" preserve="true" />
/**
 * @proactor/aio-kqueue: the readiness backend for macOS and FreeBSD. The reactor engine of
 * @proactor/aio-epoll (native/reactor) over kqueue: socket operations are tried without
 * blocking and, when they would block, wait for an EVFILT_READ / EVFILT_WRITE report of their
 * descriptor; file and metadata operations run on a native thread pool. One reactor per Node
 * environment (the main thread, each worker), shared by that environment's queues.
 *
 * On Linux the repository builds a variant against libkqueue (the kqueue API over epoll) to run
 * this engine on kqueue there; it is for testing and is not published.
 *
 * Importing this module throws a coded error (ERR_PROACTOR_KQUEUE_UNAVAILABLE) where the addon
 * cannot be loaded (another OS, no binary built): @proactor/aio reports that message when it
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

/** The readiness mechanisms this backend can run on. */
export type PollerName = 'kqueue' | 'poll';

/** Options of {@link createBackend}. */
export interface KqueueBackendOptions {
  /**
   * The readiness mechanism: `'kqueue'` (the default), or `'poll'`, the classic poll(2) (a
   * second poller under the same engine).
   */
  poller?: PollerName;
}

/** Diagnostics of one attached engine (the reactor's; see @proactor/aio-epoll). */
export interface EngineInfo {
  /** The poller of this environment's reactor ('kqueue', 'poll'). */
  poller: string;
  /** The descriptor the loop watches for it. */
  pollerFd: number;
  /** Operations with a slot, not yet delivered. */
  inFlight: number;
  /** Completions of this queue waiting to be handed to JavaScript. */
  readyToDeliver: number;
  /** Descriptors with operations of this queue waiting on them. */
  waitingDescriptors: number;
  /** Completions of multishot accepts and recvs handed over before their final one. */
  multishotItems: number;
  /** Loop callbacks of this environment's reactor so far. */
  wakeups: number;
  /** Operations of this environment parked until their descriptor is ready. */
  parked: number;
  /** Timeouts of this environment running. */
  timers: number;
  /** Operations of this queue that had to wait for readiness. */
  parks: number;
  /** Tries after a readiness report. */
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
}

interface NativeEngine extends Engine {
  info(): EngineInfo;
}

interface NativeAddon {
  ReactorEngine: new (ring: RingContext, options: { poller: PollerName }) => NativeEngine;
  pollers(): string[];
  operations(): NativeOperation[];
}

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const served = new Set(['darwin', 'freebsd', 'openbsd', 'netbsd']);

function unavailable(message: string, cause?: unknown): ProactorError {
  const error = new ProactorError('ERR_PROACTOR_KQUEUE_UNAVAILABLE', message);
  if (cause !== undefined) Object.assign(error, { cause });
  return error;
}

/** Loads the addon as node-gyp-build resolves it: build/Release first, then prebuilds/. */
function loadAddon(): NativeAddon {
  const require = createRequire(import.meta.url);
  // PROACTOR_KQUEUE_ADDON selects another build of the addon (a sanitizer build).
  const override = process.env.PROACTOR_KQUEUE_ADDON;
  if (override) return require(override) as NativeAddon;
  let path: string;
  try {
    path = (require('node-gyp-build') as { path(dir: string): string }).path(packageDir);
  } catch (error) {
    if (!served.has(process.platform)) {
      throw unavailable(
        `kqueue is the BSDs' and macOS's (this is ${process.platform}, and no libkqueue build of the addon is in ${join(packageDir, 'build', 'Release')}); use @proactor/aio, which picks another backend`,
        error,
      );
    }
    throw unavailable(
      `no kqueue addon for ${process.platform}-${process.arch}: looked in ${join(packageDir, 'build', 'Release')} and ${join(packageDir, 'prebuilds')}, found none; install cmake, make and a C++17 compiler, allow the package's install script and run \`npm rebuild @proactor/aio-kqueue\`; or use @proactor/aio, which falls back to another backend`,
      error,
    );
  }
  try {
    return require(path) as NativeAddon;
  } catch (error) {
    throw unavailable(
      `the kqueue addon at ${path} does not load (${(error as Error).message.split('\n')[0]}); rebuild it: \`npm rebuild @proactor/aio-kqueue --build-from-source\``,
      error,
    );
  }
}

const addon = loadAddon();

/** The pollers this build of the addon has. */
export const pollers: readonly string[] = Object.freeze(addon.pollers());

export type { NativeOperation };

/** The addon's operation table (native/common/operation_table.h), indexed by aio-core `Opcode`. */
export const operations: readonly NativeOperation[] = Object.freeze(addon.operations());

/**
 * What the reactor does (the engine is aio-epoll's): every file and socket operation, linked
 * operations, waitSync, multishot accepts and recvs as the reactor emulates them (one parked
 * request serving every item, receiving into the queue's pool only while a call runs); an
 * operation parked on a socket is cancelled, a file operation already on the thread pool runs to
 * its end (`cancelInFlight` false). sendfile to a socket in the kernel (non-blocking sendfile(2),
 * retried when the socket becomes writable); to a regular file, sendfile(2) on the thread pool on
 * Linux (libkqueue), a read-and-write copy there on macOS and FreeBSD, whose sendfile(2) writes
 * to sockets only. No zero-copy send, registered buffers or files.
 */
export const capabilities: Capabilities = Object.freeze({
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
});

/** A kqueue Backend, or one over poll(2) (`{ poller: 'poll' }`). */
export function createBackend(options: KqueueBackendOptions = {}): Backend {
  if (options === null || typeof options !== 'object')
    throw invalidArgType('options', 'of type object', options);
  const poller = options.poller ?? 'kqueue';
  if (!pollers.includes(poller)) {
    throw invalidArgValue(
      'options.poller',
      poller,
      `must be one of this addon's pollers: ${pollers.join(', ')}`,
    );
  }
  return Object.freeze({
    name: 'kqueue' as const,
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

/** The kqueue backend with default settings. */
const backend: Backend = createBackend();

export default backend;
export { backend };
