/**
 * readFile, writeFile, appendFile and copyFile with node:fs/promises' signatures and errors,
 * over a proactor queue. Each issues its I/O as batches: every read or write of a file (up to
 * `CHUNK` bytes each, at most `IN_FLIGHT` at once) is submitted in one tick, so the queue hands
 * them to the backend in one call; copyFile links each read to the write of the same bytes.
 */
import { constants } from 'node:fs';
import {
  errnoOf,
  invalidArgType,
  type OperationError,
  type PathLike,
  type Queue,
  type SystemError,
  systemError,
} from '@proactor/aio-core';

/** Bytes per read or write. */
const CHUNK = 1 << 20;
/** Reads or writes in flight at once per call. */
const IN_FLIGHT = 16;
/**
 * Bytes per read of readFile: smaller than CHUNK. On io_uring a positioned read of at least
 * 256 KiB runs on the kernel's workers (IOSQE_ASYNC), several copying at once; 16 reads of
 * 256 KiB read a page-cached GiB at 1.2-1.3x fs.promises.readFile where 16 of 1 MiB (with or
 * without the workers) reached 0.8-0.9x (interleaved A/B on the loaded 2-core machine, README).
 */
const READ_CHUNK = 256 << 10;

/** readFile()'s options, as node:fs/promises' readFile takes them. */
export interface ReadFileOptions {
  encoding?: BufferEncoding | null;
  flag?: string | number;
  signal?: AbortSignal;
}

/** writeFile() and appendFile()'s options, as node:fs/promises takes them. */
export interface WriteFileOptions {
  encoding?: BufferEncoding | null;
  mode?: number;
  flag?: string | number;
  signal?: AbortSignal;
}

/**
 * Reads a whole file through `queue`, as node:fs/promises' readFile does: a Buffer, or a string
 * with an encoding. The reads are issued in batches, several in flight; errors are the queue's
 * Node-style system errors (ENOENT, EISDIR, ...), and an aborted `signal` rejects with AbortError.
 */
export function readFile(
  queue: Queue,
  path: PathLike,
  options?: ReadFileOptions | BufferEncoding | null,
): Promise<Buffer | string>;
export async function readFile(
  queue: Queue,
  path: PathLike,
  options?: ReadFileOptions | BufferEncoding | null,
): Promise<Buffer | string> {
  const opts = typeof options === 'string' ? { encoding: options } : (options ?? {});
  const signal = opts.signal;
  signal?.throwIfAborted();
  const fd = await queue.open(path, opts.flag ?? 'r');
  try {
    const stats = await queue.fstat(fd, { signal });
    if (stats.isDirectory()) throw systemError(errnoOf('EISDIR'), 'read'); // as fs.promises.readFile
    let buffer = Buffer.allocUnsafeSlow(stats.size);
    let filled = await readRange(queue, fd, buffer, 0, stats.size, signal);
    // Files whose size says nothing (procfs) or that grew: read on until a read comes back short.
    while (filled === buffer.length) {
      const more = Buffer.allocUnsafeSlow(Math.max(CHUNK, buffer.length));
      const n = await queue.read(fd, more, { position: filled, signal });
      if (n === 0) break;
      buffer = Buffer.concat([buffer.subarray(0, filled), more.subarray(0, n)]);
      filled += n;
    }
    const data = filled === buffer.length ? buffer : buffer.subarray(0, filled);
    return opts.encoding ? data.toString(opts.encoding) : data;
  } finally {
    await queue.close(fd);
  }
}

/**
 * Reads [position, position + length) into buffer[offset...] with up to IN_FLIGHT reads of
 * READ_CHUNK at once; resolves with the bytes read before the first short read.
 */
async function readRange(
  queue: Queue,
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  let next = 0;
  let end = length;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const at = next;
      const size = Math.min(READ_CHUNK, end - at);
      next += size;
      const n = await queue.read(fd, buffer, { offset: offset + at, length: size, position: at, signal });
      if (n < size) end = Math.min(end, at + n);
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < IN_FLIGHT && i * READ_CHUNK < length; i++) workers.push(worker());
  await Promise.all(workers);
  return end;
}

/** What writeFile() and appendFile() write: a string, bytes, or an (async) iterable of them. */
export type WriteData =
  | string
  | NodeJS.ArrayBufferView
  | Iterable<string | NodeJS.ArrayBufferView>
  | AsyncIterable<string | NodeJS.ArrayBufferView>;

function toBuffer(
  data: string | NodeJS.ArrayBufferView,
  encoding: BufferEncoding | null | undefined,
): Buffer {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
}

/** Writes all of `data` at `position` (or the descriptor's own position when null), in chunks, IN_FLIGHT at once. */
async function writeAll(
  queue: Queue,
  fd: number,
  data: Buffer,
  position: number | null,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (position === null) {
    // Appending: one write after another (O_APPEND writes in flight together may land in any order).
    for (let done = 0; done < data.length; ) {
      done += await queue.write(fd, data, {
        offset: done,
        length: data.length - done,
        position: null,
        signal,
      });
    }
    return;
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < data.length) {
      let at = next;
      const end = Math.min(data.length, at + CHUNK);
      next = end;
      while (at < end)
        at += await queue.write(fd, data, { offset: at, length: end - at, position: position + at, signal });
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < IN_FLIGHT && i * CHUNK < data.length; i++) workers.push(worker());
  await Promise.all(workers);
}

async function writeWith(
  queue: Queue,
  path: PathLike,
  data: WriteData,
  options: WriteFileOptions | BufferEncoding | null | undefined,
  defaultFlag: string,
): Promise<void> {
  const opts = typeof options === 'string' ? { encoding: options } : (options ?? {});
  const signal = opts.signal;
  signal?.throwIfAborted();
  const flag = opts.flag ?? defaultFlag;
  const appending = typeof flag === 'string' ? flag.startsWith('a') : (flag & constants.O_APPEND) !== 0;
  const single = typeof data === 'string' || ArrayBuffer.isView(data);
  if (!single && (data === null || typeof data !== 'object'))
    throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
  const fd = await queue.open(path, flag, opts.mode ?? 0o666);
  try {
    if (single) {
      await writeAll(queue, fd, toBuffer(data, opts.encoding), appending ? null : 0, signal);
      return;
    }
    let position = 0;
    for await (const piece of data as AsyncIterable<string | NodeJS.ArrayBufferView>) {
      const buffer = toBuffer(piece, opts.encoding);
      await writeAll(queue, fd, buffer, appending ? null : position, signal);
      position += buffer.length;
    }
  } finally {
    await queue.close(fd);
  }
}

/** fs.promises.writeFile(file, data[, options]) on `queue`. */
export function writeFile(
  queue: Queue,
  path: PathLike,
  data: WriteData,
  options?: WriteFileOptions | BufferEncoding | null,
): Promise<void> {
  return writeWith(queue, path, data, options, 'w');
}

/** fs.promises.appendFile(path, data[, options]) on `queue`. */
export function appendFile(
  queue: Queue,
  path: PathLike,
  data: WriteData,
  options?: WriteFileOptions | BufferEncoding | null,
): Promise<void> {
  return writeWith(queue, path, data, options, 'a');
}

/**
 * fs.promises.copyFile(src, dest[, mode]) on `queue`: `constants.COPYFILE_EXCL` fails with
 * EEXIST when dest exists; COPYFILE_FICLONE is a hint (copied either way); COPYFILE_FICLONE_FORCE
 * fails with ENOSYS, as the queue has no clone. Where the backend's sendfile moves bytes inside
 * the kernel (`capabilities.zeroCopySendfile`), the copy is sendfile calls (one per 2 GiB) and no
 * byte passes through JavaScript; elsewhere each chunk is a read linked to the write of its bytes,
 * IN_FLIGHT pairs at once. Errors are fs's: `copyfile` with path and dest.
 */
export async function copyFile(queue: Queue, src: PathLike, dest: PathLike, mode = 0): Promise<void> {
  if (typeof mode !== 'number') throw invalidArgType('mode', 'an integer', mode);
  const srcPath = String(src);
  const destPath = String(dest);
  const asCopyfile = (error: unknown): unknown => {
    const e = error as SystemError;
    return typeof e?.errno === 'number' && e.errno < 0
      ? systemError(e.errno, 'copyfile', srcPath, destPath)
      : error;
  };
  if ((mode & constants.COPYFILE_FICLONE_FORCE) === constants.COPYFILE_FICLONE_FORCE)
    throw systemError(errnoOf('ENOSYS'), 'copyfile', srcPath, destPath);
  let input = -1;
  let output = -1;
  try {
    input = await queue.open(src, 'r');
    const stats = await queue.fstat(input);
    if (stats.isDirectory()) throw systemError(errnoOf('EISDIR'), 'copyfile', srcPath, destPath);
    const exclusive = (mode & constants.COPYFILE_EXCL) !== 0;
    output = await queue.open(dest, exclusive ? 'wx' : 'w', stats.mode & 0o7777);
    if (queue.capabilities.zeroCopySendfile && queue.capabilities.ops.has('sendfile'))
      await copyInKernel(queue, input, output);
    else await copyRange(queue, input, output, stats.size);
  } catch (error) {
    throw asCopyfile(error);
  } finally {
    if (input >= 0) await queue.close(input);
    if (output >= 0) await queue.close(output);
  }
}

/**
 * Copies the whole input with sendfile: the output (just opened, empty) is written at its own
 * position, which each call advances; until a call finds the end of the input (a file that grew
 * since fstat is copied whole, as copyRange does).
 */
async function copyInKernel(queue: Queue, input: number, output: number): Promise<void> {
  for (let at = 0; ; ) {
    const n = await queue.sendfile(output, input, { position: at });
    if (n === 0) return;
    at += n;
  }
}

/** Copies `size` bytes: per chunk a read linked to its write; then whatever lies past `size`. */
async function copyRange(queue: Queue, input: number, output: number, size: number): Promise<void> {
  const buffers: Buffer[] = [];
  for (let i = 0; i < IN_FLIGHT && i * CHUNK < size; i++) buffers.push(Buffer.allocUnsafeSlow(CHUNK));
  let next = 0;
  const worker = async (buffer: Buffer): Promise<void> => {
    while (next < size) {
      const at = next;
      const length = Math.min(CHUNK, size - at);
      next += length;
      const [read, written] = await Promise.allSettled([
        queue.read(input, buffer, { length, position: at, link: true }),
        queue.write(output, buffer, { length, position: at }),
      ]).then((results) => results.map(settledValue));
      // A short read (the file shrank) cancels the linked write: copy what was read.
      if (read instanceof Error) throw read;
      if (read === length) {
        if (written instanceof Error) throw written;
        // A short write: the rest of the chunk, one write after another.
        for (let done = written; done < length; )
          done += await queue.write(output, buffer, {
            offset: done,
            length: length - done,
            position: at + done,
          });
      } else {
        for (let done = 0; done < read; )
          done += await queue.write(output, buffer, {
            offset: done,
            length: read - done,
            position: at + done,
          });
      }
    }
  };
  await Promise.all(buffers.map(worker));
  // The file may have grown since fstat: copy on until a read finds nothing.
  const tail = buffers[0] ?? Buffer.allocUnsafeSlow(CHUNK);
  for (let at = size; ; ) {
    const n = await queue.read(input, tail, { position: at });
    if (n === 0) return;
    for (let done = 0; done < n; )
      done += await queue.write(output, tail, { offset: done, length: n - done, position: at + done });
    at += n;
  }
}

function settledValue(result: PromiseSettledResult<number>): number | Error {
  if (result.status === 'fulfilled') return result.value;
  const error = result.reason as OperationError;
  return error;
}
