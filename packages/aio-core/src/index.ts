export * from './abi.js';
export {
  type Backend,
  type BackendName,
  type Capabilities,
  type Engine,
  OPERATIONS,
  type OperationName,
  type RingContext,
} from './backend.js';
export {
  AbortError,
  errnoOf,
  invalidArgType,
  invalidArgValue,
  outOfRange,
  ProactorError,
  type SystemError,
  systemError,
} from './errors.js';
export {
  type Callback,
  type Completion,
  type MkdirOptions,
  type OpOptions,
  type PolledOptions,
  Queue,
  type QueueOptions,
  type ReadOptions,
  type VectorOptions,
  type WriteOptions,
} from './queue.js';
export { Stats } from './stats.js';
export { IO_MAX_LENGTH, type PathLike } from './validate.js';
