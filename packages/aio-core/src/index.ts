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
export type { FileOperations } from './file-operations.js';
export { LinkedChains } from './linked-chains.js';
export {
  type NativeOperation,
  OPERATION_TABLE,
  type OperationFacts,
  type ResultKind,
} from './operation-table.js';
export type {
  AcceptResult,
  Callback,
  Completion,
  MkdirOptions,
  OperationError,
  OpOptions,
  PolledOptions,
  QueueOptions,
  ReadOptions,
  RecvFromResult,
  RecvOptions,
  RecvsOptions,
  SendfileOptions,
  SendOptions,
  ShutdownHow,
  SocketFamily,
  SocketOption,
  SocketType,
  VectorOptions,
  WriteOptions,
} from './options.js';
export { Queue } from './queue.js';
export type { SocketOperations } from './socket-operations.js';
export { Stats } from './stats.js';
export { IO_MAX_LENGTH, type PathLike, SENDFILE_MAX_LENGTH } from './validate.js';
