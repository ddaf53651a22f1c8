/**
 * The file operations of a Queue (open, read, write, stat, ...): their signatures, argument
 * checks and how each becomes an Operation for the queue core. Socket operations extend this
 * (socket-operations.ts), and Queue extends those.
 */
import { Opcode, STAT_F_NOFOLLOW, UNLINK_F_DIR } from './abi.js';
import {
  checkCallback,
  displayPath,
  isOptionsObject,
  popCallback,
  setBufferRange,
} from './call-arguments.js';
import { invalidArgType, outOfRange, type SystemError } from './errors.js';
import type { AnyCallback } from './operation.js';
import { Operation } from './operation.js';
import { OPERATION_FACTS } from './operation-table.js';
import type {
  Callback,
  MkdirOptions,
  OpOptions,
  PolledOptions,
  ReadOptions,
  WriteOptions,
} from './options.js';
import { QUEUE_CORE, type QueueCore } from './queue-core.js';
import type { Stats } from './stats.js';
import {
  IO_MAX_LENGTH,
  type PathLike,
  parseMode,
  parseOpenFlags,
  validateBuffer,
  validateBufferList,
  validateFd,
  validateInteger,
  validatePath,
  validatePosition,
} from './validate.js';

/**
 * The file operations of `Queue`, which extends this class through `SocketOperations`; it is
 * not a queue by itself. See Queue for what every operation method has in common.
 */
export abstract class FileOperations {
  /** @internal The queue's machinery, set by the Queue constructor. */
  protected abstract readonly [QUEUE_CORE]: QueueCore;

  /**
   * Opens a file, as `fs.open` does. `flags` is one of Node's flag strings ('r', the default,
   * 'r+', 'w', 'w+', 'wx', 'a', 'ax+', ...) or a number built from `fs.constants.O_*`; `mode` (an
   * integer or an octal string, default 0o666, less the umask) applies when the file is created.
   * Resolves with the new descriptor, which stays open until `close()`; rejects with a
   * {@link SystemError} of syscall 'open' and the `path` (ENOENT, EACCES, EEXIST for 'wx', ...).
   * An unknown flag string throws ERR_INVALID_ARG_VALUE; a path with a NUL byte,
   * ERR_INVALID_ARG_VALUE.
   */
  open(
    path: PathLike,
    flags: string | number | undefined,
    mode: number | string | undefined,
    options: PolledOptions,
  ): void;
  open(path: PathLike, flags?: string | number, mode?: number | string, options?: OpOptions): Promise<number>;
  open(path: PathLike, callback: Callback<number>): void;
  open(path: PathLike, flags: string | number | undefined, callback: Callback<number>): void;
  open(
    path: PathLike,
    flags: string | number | undefined,
    mode: number | string | undefined,
    callback: Callback<number>,
  ): void;
  open(
    path: PathLike,
    flags: string | number | undefined,
    mode: number | string | undefined,
    options: OpOptions | undefined,
    callback: Callback<number>,
  ): void;
  open(path: PathLike, ...rest: unknown[]): Promise<number> | undefined {
    const callback = popCallback(rest, 3);
    const target = validatePath(path);
    const op = new Operation(OPERATION_FACTS[Opcode.OPEN]);
    op.opFlags = parseOpenFlags(rest[0]);
    op.mode = parseMode(rest[1], 'mode', 0o666);
    op.res0 = target;
    op.path = displayPath(target);
    return this[QUEUE_CORE].issue(op, rest[2], callback) as Promise<number> | undefined;
  }

  /**
   * Closes descriptor `fd`. Operations of this queue still waiting on a socket `fd` (accept,
   * recv, poll, ...) end with ECANCELED, and connections a multishot `accepts()` took ahead on it
   * are closed too. Rejects with EBADF when `fd` is not open.
   */
  close(fd: number, options: PolledOptions): void;
  close(fd: number, options?: OpOptions): Promise<void>;
  close(fd: number, callback: Callback<void>): void;
  close(fd: number, options: OpOptions | undefined, callback: Callback<void>): void;
  close(fd: number, options?: unknown, callback?: unknown): Promise<void> | undefined {
    this[QUEUE_CORE].multishot?.closing(fd);
    return fdOperation(this[QUEUE_CORE], Opcode.CLOSE, fd, options, callback) as Promise<void> | undefined;
  }

  /**
   * Reads from `fd` into `buffer`, as `fs.read` does: `length` bytes (default: the rest of the
   * buffer) into the buffer at byte `offset` (default 0), from file position `position` (a number
   * or bigint in bytes; null, -1 or absent: the file's current position, which then advances).
   * Takes `(buffer, options)` or Node's positional `(buffer, offset, length, position)`.
   * Resolves with the number of bytes read: 0 at the end of the file, fewer than asked near it.
   * `buffer` stays in use by the backend (and must not be detached) until the operation completed.
   * An offset or length outside the buffer, or a length above {@link IO_MAX_LENGTH}, throws
   * ERR_OUT_OF_RANGE.
   */
  read(fd: number, buffer: ArrayBufferView, options: ReadOptions & PolledOptions): void;
  read(fd: number, buffer: ArrayBufferView, options?: ReadOptions): Promise<number>;
  read(
    fd: number,
    buffer: ArrayBufferView,
    offset: number,
    length?: number,
    position?: number | bigint | null,
  ): Promise<number>;
  read(fd: number, buffer: ArrayBufferView, callback: Callback<number>): void;
  read(fd: number, buffer: ArrayBufferView, options: ReadOptions, callback: Callback<number>): void;
  read(
    fd: number,
    buffer: ArrayBufferView,
    offset: number | undefined,
    length: number | undefined,
    position: number | bigint | null | undefined,
    callback: Callback<number>,
  ): void;
  read(
    fd: number,
    buffer: ArrayBufferView,
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
  ): Promise<number> | undefined {
    return transfer(this[QUEUE_CORE], Opcode.READ, fd, buffer, a, b, c, d) as Promise<number> | undefined;
  }

  /**
   * Writes to `fd`, as `fs.write` does: `length` bytes (default: the rest of the buffer) of
   * `buffer` from byte `offset` (default 0), at file position `position` (null, -1 or absent: the
   * current position; on Linux a file opened with 'a' appends whatever it says, as with
   * `fs.write`). A string is encoded with `encoding` (default 'utf8') and all its bytes are
   * asked for: `(fd, string, position?, encoding?)`. Resolves with the number of bytes written,
   * which may be fewer than asked (a short write: issue the rest again). `buffer` stays in use
   * until the operation completed; a string is copied at the call. Range errors as for `read()`.
   */
  write(fd: number, buffer: ArrayBufferView, options: WriteOptions & PolledOptions): void;
  write(fd: number, buffer: ArrayBufferView, options?: WriteOptions): Promise<number>;
  write(
    fd: number,
    buffer: ArrayBufferView,
    offset: number,
    length?: number,
    position?: number | bigint | null,
  ): Promise<number>;
  write(
    fd: number,
    data: string,
    position?: number | bigint | null,
    encoding?: BufferEncoding,
  ): Promise<number>;
  write(fd: number, buffer: ArrayBufferView | string, callback: Callback<number>): void;
  write(fd: number, buffer: ArrayBufferView, options: WriteOptions, callback: Callback<number>): void;
  write(
    fd: number,
    buffer: ArrayBufferView,
    offset: number | undefined,
    length: number | undefined,
    position: number | bigint | null | undefined,
    callback: Callback<number>,
  ): void;
  write(
    fd: number,
    data: string,
    position: number | bigint | null | undefined,
    encoding: BufferEncoding | undefined,
    callback: Callback<number>,
  ): void;
  write(
    fd: number,
    buffer: ArrayBufferView | string,
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
  ): Promise<number> | undefined {
    if (typeof buffer === 'string') {
      const callback = [a, b, c].find((x) => typeof x === 'function') as AnyCallback | undefined;
      const position = typeof a === 'function' ? undefined : a;
      const encoding = typeof b === 'function' || b === undefined ? 'utf8' : b;
      if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) {
        throw invalidArgType('encoding', 'a valid Buffer encoding', encoding);
      }
      const data = Buffer.from(buffer, encoding);
      return transfer(this[QUEUE_CORE], Opcode.WRITE, fd, data, 0, data.length, position, callback) as
        | Promise<number>
        | undefined;
    }
    return transfer(this[QUEUE_CORE], Opcode.WRITE, fd, buffer, a, b, c, d) as Promise<number> | undefined;
  }

  /**
   * Reads from `fd` into several buffers in one operation, filling each in turn, as
   * `fs.readv` does, from file position `position` (null, -1 or absent: the current position).
   * At most 1024 buffers (ERR_OUT_OF_RANGE beyond, and when their lengths add up to more than
   * {@link IO_MAX_LENGTH}). The array is copied at the call; the buffers stay in use until the
   * operation completed. Resolves with the total number of bytes read (0 at the end of the file).
   */
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    options: PolledOptions,
  ): void;
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position?: number | bigint | null,
    options?: OpOptions,
  ): Promise<number>;
  readv(fd: number, buffers: readonly ArrayBufferView[], callback: Callback<number>): void;
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    callback: Callback<number>,
  ): void;
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    options: OpOptions | undefined,
    callback: Callback<number>,
  ): void;
  readv(fd: number, buffers: readonly ArrayBufferView[], ...rest: unknown[]): Promise<number> | undefined {
    return vector(this[QUEUE_CORE], Opcode.READV, fd, buffers, rest) as Promise<number> | undefined;
  }

  /**
   * Writes several buffers to `fd` in one operation, in order, as `fs.writev` does, at file
   * position `position` (null, -1 or absent: the current position). At most 1024 buffers and
   * {@link IO_MAX_LENGTH} bytes in all (ERR_OUT_OF_RANGE). The array is copied at the call; the
   * buffers stay in use until the operation completed. Resolves with the total number of bytes
   * written, which may be fewer than asked.
   */
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    options: PolledOptions,
  ): void;
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position?: number | bigint | null,
    options?: OpOptions,
  ): Promise<number>;
  writev(fd: number, buffers: readonly ArrayBufferView[], callback: Callback<number>): void;
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    callback: Callback<number>,
  ): void;
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    position: number | bigint | null | undefined,
    options: OpOptions | undefined,
    callback: Callback<number>,
  ): void;
  writev(fd: number, buffers: readonly ArrayBufferView[], ...rest: unknown[]): Promise<number> | undefined {
    return vector(this[QUEUE_CORE], Opcode.WRITEV, fd, buffers, rest) as Promise<number> | undefined;
  }

  /**
   * Flushes the data and metadata of file `fd` to its storage device (fsync(2)). Resolves once
   * the device reported them written; rejects with EBADF, EINVAL (a descriptor that cannot be
   * synced, such as a pipe) or EIO.
   */
  fsync(fd: number, options: PolledOptions): void;
  fsync(fd: number, options?: OpOptions): Promise<void>;
  fsync(fd: number, callback: Callback<void>): void;
  fsync(fd: number, options: OpOptions | undefined, callback: Callback<void>): void;
  fsync(fd: number, options?: unknown, callback?: unknown): Promise<void> | undefined {
    return fdOperation(this[QUEUE_CORE], Opcode.FSYNC, fd, options, callback) as Promise<void> | undefined;
  }

  /**
   * Flushes the data of file `fd`, and only the metadata needed to read it back (its size, not
   * its times), to its storage device (fdatasync(2)): cheaper than `fsync()` for overwrites.
   */
  fdatasync(fd: number, options: PolledOptions): void;
  fdatasync(fd: number, options?: OpOptions): Promise<void>;
  fdatasync(fd: number, callback: Callback<void>): void;
  fdatasync(fd: number, options: OpOptions | undefined, callback: Callback<void>): void;
  fdatasync(fd: number, options?: unknown, callback?: unknown): Promise<void> | undefined {
    return fdOperation(this[QUEUE_CORE], Opcode.FDATASYNC, fd, options, callback) as
      | Promise<void>
      | undefined;
  }

  /**
   * The status of open descriptor `fd`, as `fs.fstat` gives it: resolves with a {@link Stats}
   * (sizes in bytes, times in milliseconds since the epoch). In the polled form the completion's
   * `stats` holds it.
   */
  fstat(fd: number, options: PolledOptions): void;
  fstat(fd: number, options?: OpOptions): Promise<Stats>;
  fstat(fd: number, callback: Callback<Stats>): void;
  fstat(fd: number, options: OpOptions | undefined, callback: Callback<Stats>): void;
  fstat(fd: number, options?: unknown, callback?: unknown): Promise<Stats> | undefined {
    return fdOperation(this[QUEUE_CORE], Opcode.FSTAT, fd, options, callback) as Promise<Stats> | undefined;
  }

  /**
   * Sets the size of file `fd` to `length` bytes (default 0): bytes beyond it are discarded,
   * and a larger size reads back as zeros. `length` is an integer from 0 to
   * `Number.MAX_SAFE_INTEGER` (ERR_OUT_OF_RANGE otherwise). Rejects with EINVAL or EBADF on a
   * descriptor not open for writing.
   */
  ftruncate(fd: number, length: number | undefined, options: PolledOptions): void;
  ftruncate(fd: number, length?: number, options?: OpOptions): Promise<void>;
  ftruncate(fd: number, callback: Callback<void>): void;
  ftruncate(fd: number, length: number | undefined, callback: Callback<void>): void;
  ftruncate(
    fd: number,
    length: number | undefined,
    options: OpOptions | undefined,
    callback: Callback<void>,
  ): void;
  ftruncate(fd: number, ...rest: unknown[]): Promise<void> | undefined {
    const callback = popCallback(rest, 2);
    const op = new Operation(OPERATION_FACTS[Opcode.FTRUNCATE]);
    op.fd = validateFd(fd);
    op.offset = rest[0] === undefined ? 0 : validateInteger(rest[0], 'len', 0, Number.MAX_SAFE_INTEGER);
    return this[QUEUE_CORE].issue(op, rest[1], callback) as Promise<void> | undefined;
  }

  /**
   * The status of the file at `path`, following symbolic links, as `fs.stat` gives it: resolves
   * with a {@link Stats}; rejects with a {@link SystemError} of syscall 'stat' and the `path`
   * (ENOENT, ENOTDIR, EACCES, ...). In the polled form the completion's `stats` holds it.
   */
  stat(path: PathLike, options: PolledOptions): void;
  stat(path: PathLike, options?: OpOptions): Promise<Stats>;
  stat(path: PathLike, callback: Callback<Stats>): void;
  stat(path: PathLike, options: OpOptions | undefined, callback: Callback<Stats>): void;
  stat(path: PathLike, options?: unknown, callback?: unknown): Promise<Stats> | undefined {
    return pathOperation(this[QUEUE_CORE], Opcode.STAT, 0, path, options, callback) as
      | Promise<Stats>
      | undefined;
  }

  /**
   * As `stat()`, but of a symbolic link itself rather than of what it points to (syscall
   * 'lstat'): for a link, `isSymbolicLink()` of the result is true and `size` is the link's.
   */
  lstat(path: PathLike, options: PolledOptions): void;
  lstat(path: PathLike, options?: OpOptions): Promise<Stats>;
  lstat(path: PathLike, callback: Callback<Stats>): void;
  lstat(path: PathLike, options: OpOptions | undefined, callback: Callback<Stats>): void;
  lstat(path: PathLike, options?: unknown, callback?: unknown): Promise<Stats> | undefined {
    return pathOperation(this[QUEUE_CORE], Opcode.STAT, STAT_F_NOFOLLOW, path, options, callback, 'lstat') as
      | Promise<Stats>
      | undefined;
  }

  /**
   * Removes the name `path` from the file system, as `fs.unlink` does (not a directory: EISDIR
   * or EPERM, depending on the OS; use `rmdir()`). The file's data goes once no descriptor
   * holds it open. Rejects with a {@link SystemError} of syscall 'unlink' and the `path`.
   */
  unlink(path: PathLike, options: PolledOptions): void;
  unlink(path: PathLike, options?: OpOptions): Promise<void>;
  unlink(path: PathLike, callback: Callback<void>): void;
  unlink(path: PathLike, options: OpOptions | undefined, callback: Callback<void>): void;
  unlink(path: PathLike, options?: unknown, callback?: unknown): Promise<void> | undefined {
    return pathOperation(this[QUEUE_CORE], Opcode.UNLINK, 0, path, options, callback) as
      | Promise<void>
      | undefined;
  }

  /**
   * Removes the empty directory `path`, as `fs.rmdir` does without options. Rejects with
   * ENOTEMPTY when it holds entries, ENOTDIR when it is not a directory.
   */
  rmdir(path: PathLike, options: PolledOptions): void;
  rmdir(path: PathLike, options?: OpOptions): Promise<void>;
  rmdir(path: PathLike, callback: Callback<void>): void;
  rmdir(path: PathLike, options: OpOptions | undefined, callback: Callback<void>): void;
  rmdir(path: PathLike, options?: unknown, callback?: unknown): Promise<void> | undefined {
    return pathOperation(this[QUEUE_CORE], Opcode.UNLINK, UNLINK_F_DIR, path, options, callback, 'rmdir') as
      | Promise<void>
      | undefined;
  }

  /**
   * Creates directory `path` with permission `mode` (an integer or an octal string, default
   * 0o777, less the umask), given directly or as `options.mode`. Not recursive: rejects with
   * ENOENT when the parent is missing and EEXIST when `path` exists.
   */
  mkdir(path: PathLike, options: MkdirOptions & PolledOptions): void;
  mkdir(path: PathLike, mode?: number | string | MkdirOptions): Promise<void>;
  mkdir(path: PathLike, callback: Callback<void>): void;
  mkdir(path: PathLike, mode: number | string | MkdirOptions | undefined, callback: Callback<void>): void;
  mkdir(path: PathLike, mode?: unknown, callback?: unknown): Promise<void> | undefined {
    if (typeof mode === 'function') {
      callback = mode;
      mode = undefined;
    }
    let options: unknown;
    if (isOptionsObject(mode)) {
      options = mode;
      mode = mode.mode;
    }
    const target = validatePath(path);
    const op = new Operation(OPERATION_FACTS[Opcode.MKDIR]);
    op.mode = parseMode(mode, 'mode', 0o777);
    op.res0 = target;
    op.path = displayPath(target);
    return this[QUEUE_CORE].issue(op, options, checkCallback(callback)) as Promise<void> | undefined;
  }

  /**
   * Renames `from` to `to`, replacing `to` if it exists (atomically, on POSIX file systems),
   * as `fs.rename` does. Rejects with a {@link SystemError} of syscall 'rename' that carries both
   * `path` and `dest` (EXDEV across file systems, ENOENT, ...).
   */
  rename(from: PathLike, to: PathLike, options: PolledOptions): void;
  rename(from: PathLike, to: PathLike, options?: OpOptions): Promise<void>;
  rename(from: PathLike, to: PathLike, callback: Callback<void>): void;
  rename(from: PathLike, to: PathLike, options: OpOptions | undefined, callback: Callback<void>): void;
  rename(from: PathLike, to: PathLike, options?: unknown, callback?: unknown): Promise<void> | undefined {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const source = validatePath(from, 'oldPath');
    const dest = validatePath(to, 'newPath');
    const op = new Operation(OPERATION_FACTS[Opcode.RENAME]);
    op.res0 = source;
    op.res1 = dest;
    op.path = displayPath(source);
    op.dest = displayPath(dest);
    return this[QUEUE_CORE].issue(op, options, checkCallback(callback)) as Promise<void> | undefined;
  }
}

/** An operation on descriptor `fd` alone: (fd, options?, callback?). */
export function fdOperation(
  core: QueueCore,
  opcode: Opcode,
  fd: unknown,
  options: unknown,
  callback: unknown,
): Promise<unknown> | undefined {
  if (typeof options === 'function') {
    callback = options;
    options = undefined;
  }
  const op = new Operation(OPERATION_FACTS[opcode]);
  op.fd = validateFd(fd);
  return core.issue(op, options, checkCallback(callback));
}

/** An operation on a path: (path, options?, callback?); `variant` names lstat and rmdir. */
function pathOperation(
  core: QueueCore,
  opcode: Opcode,
  opFlags: number,
  path: unknown,
  options: unknown,
  callback: unknown,
  variant?: 'lstat' | 'rmdir',
): Promise<unknown> | undefined {
  if (typeof options === 'function') {
    callback = options;
    options = undefined;
  }
  const target = validatePath(path);
  const op = new Operation(OPERATION_FACTS[opcode], variant);
  op.opFlags = opFlags;
  op.res0 = target;
  op.path = displayPath(target);
  return core.issue(op, options, checkCallback(callback), variant);
}

/** read and write: (buffer, options?, cb?) or (buffer, offset, length?, position?, cb?). */
function transfer(
  core: QueueCore,
  opcode: typeof Opcode.READ | typeof Opcode.WRITE,
  fd: unknown,
  buffer: unknown,
  a: unknown,
  b: unknown,
  c: unknown,
  d: unknown,
): Promise<unknown> | undefined {
  const op = new Operation(OPERATION_FACTS[opcode]);
  op.fd = validateFd(fd);
  const view = validateBuffer(buffer);
  let offset: unknown;
  let length: unknown;
  let position: unknown;
  let options: unknown;
  let callback: unknown;
  if (typeof a === 'function') callback = a;
  else if (isOptionsObject(a)) {
    options = a;
    offset = a.offset;
    length = a.length;
    position = a.position;
    callback = b;
  } else {
    offset = a;
    if (typeof b === 'function') callback = b;
    else {
      length = b;
      if (typeof c === 'function') callback = c;
      else {
        position = c;
        callback = d;
      }
    }
  }
  setBufferRange(op, view, offset, length);
  op.offset = validatePosition(position);
  return core.issue(op, options, checkCallback(callback));
}

/** readv and writev: (buffers, position?, options?, callback?). */
function vector(
  core: QueueCore,
  opcode: typeof Opcode.READV | typeof Opcode.WRITEV,
  fd: unknown,
  buffers: unknown,
  rest: unknown[],
): Promise<unknown> | undefined {
  const callback = popCallback(rest, 2);
  const op = new Operation(OPERATION_FACTS[opcode]);
  op.fd = validateFd(fd);
  const list = validateBufferList(buffers);
  op.offset = validatePosition(rest[0]);
  let total = 0;
  for (const view of list) total += view.byteLength;
  if (total > IO_MAX_LENGTH) throw outOfRange('total length of buffers', `<= ${IO_MAX_LENGTH}`, total);
  op.len = list.length;
  // A copy: the caller may change its array while the operation is in flight.
  op.res0 = list.slice();
  return core.issue(op, rest[1], callback);
}
