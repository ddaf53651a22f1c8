/// <reference types="node" preserve="true" />
/**
 * @proactor/aio-iocp: the Windows backend on I/O completion ports. A Node-API addon (native/iocp)
 * owns one completion port per Node environment (the main thread, each worker), shared by that
 * environment's queues; a thread in GetQueuedCompletionStatusEx moves completions into the
 * queue's completion buffer and wakes JavaScript once per batch.
 *
 * What works today: every file operation (reads and writes at a position through the port,
 * the rest on the addon's thread pool), sockets (AcceptEx, ConnectEx, WSARecv, WSASend,
 * WSARecvFrom, WSASendTo through the port), sendfile (TransmitFile to a socket, through the
 * port; to a file on the pool), poll (AFD's poll through the port, with the events Linux's
 * poll(2) reports), timeouts, linked operations, cancellation and waitSync, and multishot
 * accepts() / recvs(): one request in the port per iterator (AcceptEx after AcceptEx; zero-byte
 * WSARecvs that wait holding no buffer, then a WSARecv into the queue's provided pool once data
 * is there), so an idle connection pins no receive buffer.
 *
 * Importing this module throws (code ERR_PROACTOR_IOCP_UNAVAILABLE) anywhere but Windows, and
 * when the addon is missing or does not load: @proactor/aio reports that message when it skips
 * this backend.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, Capabilities, Engine, OperationName, RingContext } from '@proactor/aio-core';
import { OPERATIONS, ProactorError, SOCKET_OPERATIONS } from '@proactor/aio-core';

/** Diagnostics of one attached engine. */
export interface EngineInfo {
  /** Operations with a slot, not yet delivered. */
  inFlight: number;
  /** Completions of this queue waiting to be handed to JavaScript. */
  readyToDeliver: number;
  /** Descriptors with operations of this queue waiting on them (a close through the queue ends those first). */
  waitingDescriptors: number;
  /** Completions of multishot accepts and recvs handed over before their final one. */
  multishotItems: number;
  /** The receive pool of multishot recvs: its buffers (0 until the first recvs()). */
  providedBuffers: number;
  /** The size of each buffer of the receive pool, in bytes. */
  providedBufferSize: number;
  /** Buffers of the pool neither in a receive nor holding data on its way to JavaScript. */
  providedBuffersFree: number;
  /** Reads and writes this queue started through the completion port (the rest ran on the pool). */
  portTransfers: number;
  /** Packets the environment's completion thread took from the port so far. */
  packets: number;
  /** Requests of the environment in the port now. */
  inPort: number;
  /** Wakeups of the environment's JavaScript thread so far. */
  wakeups: number;
}

interface NativeEngine extends Engine {
  waitSync(min: number, timeoutMs: number): number;
  provideBuffers(memory: Uint8Array, size: number, count: number): void;
  info(): EngineInfo;
}

interface NativeAddon {
  IocpEngine: new (ring: RingContext) => NativeEngine;
}

const packageDir = fileURLToPath(new URL('..', import.meta.url));

function unavailable(message: string, cause?: unknown): ProactorError {
  const error = new ProactorError('ERR_PROACTOR_IOCP_UNAVAILABLE', message);
  if (cause !== undefined) Object.assign(error, { cause });
  return error;
}

/**
 * Loads the addon the way node-gyp-build resolves it: `build/Release` first, then
 * `prebuilds/win32-<arch>/`. PROACTOR_IOCP_ADDON names another build of it.
 */
function loadAddon(): NativeAddon {
  if (process.platform !== 'win32') {
    throw unavailable(
      `I/O completion ports are Windows only (this is ${process.platform}); use @proactor/aio, which picks another backend`,
    );
  }
  const require = createRequire(import.meta.url);
  const override = process.env.PROACTOR_IOCP_ADDON;
  if (override) return require(override) as NativeAddon;
  let path: string;
  try {
    path = (require('node-gyp-build') as { path(dir: string): string }).path(packageDir);
  } catch (error) {
    throw unavailable(
      `no IOCP addon for win32-${process.arch} (Node-API 8): looked in ${join(packageDir, 'build', 'Release')} and ${join(packageDir, 'prebuilds')}, found none; build it with \`pnpm run build:native\` (cmake-js and MSVC), or use @proactor/aio, which falls back to another backend`,
      error,
    );
  }
  try {
    return require(path) as NativeAddon;
  } catch (error) {
    throw unavailable(
      `the IOCP addon at ${path} does not load (${(error as Error).message.split('\n')[0]})`,
      error,
    );
  }
}

const addon = loadAddon();

const capabilities: Capabilities = Object.freeze({
  // Every file and socket operation, and sendfile.
  ops: new Set<OperationName>([...OPERATIONS, ...SOCKET_OPERATIONS, 'sendfile']),
  linkedOperations: true,
  waitSync: true,
  // CancelIoEx stops a read or write in the port and timers; pool calls run to their end.
  cancelInFlight: true,
  // accepts() / recvs() on one request each; receives take a pool buffer only once data is there.
  multishot: true,
  zeroCopySend: false,
  // To a socket TransmitFile, to a file a native buffer on the pool: never through JavaScript.
  zeroCopySendfile: true,
  registeredBuffers: false,
  registeredFiles: false,
});

/** Diagnostics of an engine attached by this backend. */
export function engineInfo(engine: Engine): EngineInfo {
  return (engine as NativeEngine).info();
}

/** The IOCP backend. */
const backend: Backend = Object.freeze({
  name: 'iocp' as const,
  capabilities,
  attach(ring: RingContext): Engine {
    return new addon.IocpEngine(ring);
  },
});

export default backend;
export { backend };
