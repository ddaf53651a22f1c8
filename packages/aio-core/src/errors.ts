import { getSystemErrorMap, getSystemErrorName, inspect } from 'node:util';

/** An Error shaped like the ones node:fs produces for failed system calls. */
export interface SystemError extends Error {
  /** The error's name: 'ENOENT', 'ECONNREFUSED', ... */
  code: string;
  /** Negative libuv error code, as Node reports it (on Linux: -errno). */
  errno: number;
  /** The system call that failed, as Node names it: 'open', 'read', 'connect', 'recvmsg', ... */
  syscall: string;
  /** The path the operation was given, for path operations. */
  path?: string;
  /** rename's destination. */
  dest?: string;
}

const systemErrors = getSystemErrorMap();
const errnoByCode = new Map<string, number>();
for (const [errno, [code]] of systemErrors) errnoByCode.set(code, errno);

/** The negative error number Node uses on this platform for `code` ('ENOENT' -> -2 on Linux). */
export function errnoOf(code: string): number {
  const errno = errnoByCode.get(code);
  if (errno === undefined) throw invalidArgValue('code', code, 'is not a system error code of this platform');
  return errno;
}

/** Builds the Node-style error for a negative result `errno` of system call `syscall`. */
export function systemError(errno: number, syscall: string, path?: string, dest?: string): SystemError {
  const known = systemErrors.get(errno);
  const code = known ? known[0] : safeErrorName(errno);
  const description = known ? known[1] : 'unknown error';
  let message = `${code}: ${description}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const err = new Error(message) as SystemError;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (dest !== undefined) err.dest = dest;
  return err;
}

function safeErrorName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `Unknown system error ${errno}`;
  }
}

/** Node's AbortError: what an operation cancelled through its AbortSignal rejects with. */
export class AbortError extends Error {
  /** Always 'ABORT_ERR', as Node's own AbortError. */
  readonly code = 'ABORT_ERR';
  /** `options.cause` is the signal's reason, where there is one. */
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** An error of proactor itself (not of the operating system), with a stable `code`. */
export class ProactorError extends Error {
  /** 'ERR_PROACTOR_UNSUPPORTED', 'ERR_PROACTOR_QUEUE_DESTROYED', 'ERR_PROACTOR_URING_UNAVAILABLE', ... */
  readonly code: string;
  /** An error with `code` and a one-line `message` that says what to do. */
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'ProactorError';
  }
}

/** A TypeError with Node's `code` (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE): a bad argument. */
export type CodedTypeError = TypeError & {
  /** 'ERR_INVALID_ARG_TYPE' or 'ERR_INVALID_ARG_VALUE'. */
  code: string;
};
/** A RangeError with Node's `code` (ERR_OUT_OF_RANGE): a number outside its allowed range. */
export type CodedRangeError = RangeError & {
  /** 'ERR_OUT_OF_RANGE'. */
  code: string;
};

function describeReceived(value: unknown): string {
  if (value == null) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? ` Received an instance of ${name}` : ` Received ${inspect(value, { depth: -1 })}`;
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${shown})`;
}

/** TypeError with code ERR_INVALID_ARG_TYPE, worded as Node words it. */
export function invalidArgType(name: string, expected: string, actual: unknown): CodedTypeError {
  const err = new TypeError(
    `The "${name}" argument must be ${expected}.${describeReceived(actual)}`,
  ) as CodedTypeError;
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

/** TypeError with code ERR_INVALID_ARG_VALUE, worded as Node words it. */
export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): CodedTypeError {
  const err = new TypeError(
    `The argument '${name}' ${reason}. Received ${inspect(value, { depth: 0 })}`,
  ) as CodedTypeError;
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** RangeError with code ERR_OUT_OF_RANGE, worded as Node words it. */
export function outOfRange(name: string, range: string, actual: unknown): CodedRangeError {
  const shown = typeof actual === 'bigint' ? `${actual}n` : inspect(actual);
  const err = new RangeError(
    `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`,
  ) as CodedRangeError;
  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}
