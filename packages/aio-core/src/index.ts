/// <reference types="node" preserve="true" />
export * from './abi.js';
export {
  type AddressRecord,
  encodeSocketAddress,
  formatIPv6,
  type InetSocketAddress,
  parseIPv6,
  readAddress,
  type SocketAddress,
  type SocketAddressInput,
  type UnixSocketAddress,
  validateSocketAddress,
  writeAddress,
} from './address.js';
export {
  type Backend,
  type BackendName,
  type Capabilities,
  type Engine,
  OPERATIONS,
  type OperationName,
  type RingContext,
  SOCKET_OPERATIONS,
  type SocketOperationName,
} from './backend.js';
export {
  AbortError,
  type CodedRangeError,
  type CodedTypeError,
  errnoOf,
  invalidArgType,
  invalidArgValue,
  outOfRange,
  ProactorError,
  type SystemError,
  systemError,
} from './errors.js';
export {
  type AcceptResult,
  type Callback,
  type Completion,
  type MkdirOptions,
  type OperationError,
  type OpOptions,
  type PolledOptions,
  Queue,
  type QueueOptions,
  type ReadOptions,
  type RecvFromResult,
  type RecvOptions,
  type RecvsOptions,
  type SendfileOptions,
  type SendOptions,
  type ShutdownHow,
  type SocketFamily,
  type SocketOption,
  type SocketType,
  type VectorOptions,
  type WriteOptions,
} from './queue.js';
export { Stats } from './stats.js';
export { IO_MAX_LENGTH, type PathLike, SENDFILE_MAX_LENGTH } from './validate.js';
