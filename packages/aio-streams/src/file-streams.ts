/**
 * fs.createReadStream / fs.createWriteStream over a proactor queue, with fs's options. A read
 * stream keeps `readAhead` positional reads in flight ahead of the consumer (issued in one
 * batch, delivered in file order), where node:fs has one; a write stream sends the writes
 * queued behind the one in flight as one writev.
 */
import { Readable, Writable } from 'node:stream';
import { invalidArgType, outOfRange, type PathLike, type Queue } from '@proactor/aio-core';

/** The options fs's read and write streams share. */
export interface FileStreamOptions {
  flags?: string | number;
  mode?: number;
  /** An open descriptor of `queue` to use instead of opening `path`. */
  fd?: number;
  encoding?: BufferEncoding;
  autoClose?: boolean;
  emitClose?: boolean;
  start?: number;
  /** Read: bytes per read and the readable buffer's size (default 64 KiB); write: 16 KiB (fs's defaults). */
  highWaterMark?: number;
  signal?: AbortSignal;
}

export interface ReadStreamOptions extends FileStreamOptions {
  /** Inclusive, as fs's. */
  end?: number;
  /** Reads in flight ahead of the consumer (default 4). */
  readAhead?: number;
}

/** createWriteStream()'s options: fs.createWriteStream's. */
export type WriteStreamOptions = FileStreamOptions;

type Slot = { buffer: Buffer; bytes: number; done: boolean };

/** The part of ReadStream and WriteStream that opens and closes the file. */
interface FileStream extends NodeJS.EventEmitter {
  readonly queue: Queue;
  readonly path: PathLike | undefined;
  fd: number | null;
  pending: boolean;
}

/** A `start` / `end` option: a safe non-negative integer (fs's rule). */
function validatePosition(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
    throw outOfRange(name, '>= 0 and <= 2 ** 53 - 1', value);
}

/** _construct of both streams: opens `path` unless a descriptor was given, then 'open' and 'ready'. */
function openFile(
  stream: FileStream,
  flags: string | number,
  mode: number,
  callback: (error?: Error | null) => void,
): void {
  if (stream.fd !== null) {
    stream.pending = false;
    callback();
    return;
  }
  stream.queue.open(stream.path!, flags, mode, (error, fd) => {
    if (error) return callback(error);
    stream.fd = fd;
    stream.pending = false;
    stream.emit('open', fd);
    stream.emit('ready');
    callback();
  });
}

/** _destroy of both streams: closes the descriptor (with autoClose), reporting the first error. */
function closeFile(
  stream: FileStream,
  autoClose: boolean,
  error: Error | null,
  callback: (error?: Error | null) => void,
): (() => void) | undefined {
  const fd = stream.fd;
  if (fd === null || !autoClose) {
    callback(error);
    return undefined;
  }
  stream.fd = null;
  return () => stream.queue.close(fd, (closeError) => callback(error ?? closeError));
}

/**
 * A file's bytes as a Readable, like fs.ReadStream (start, end, highWaterMark, flags, mode, fd),
 * with several reads through the queue in flight ahead of the consumer.
 */
export class ReadStream extends Readable {
  readonly queue: Queue;
  readonly path: PathLike | undefined;
  fd: number | null;
  bytesRead = 0;
  pending = true;
  readonly start: number | undefined;
  readonly end: number;
  readonly #flags: string | number;
  readonly #mode: number;
  readonly #autoClose: boolean;
  readonly #chunk: number;
  readonly #readAhead: number;
  /** Next position to issue a read at (-1: the descriptor's own position, one read at a time). */
  #position: number;
  /** Reads issued, oldest first; delivered in this order. */
  readonly #slots: Slot[] = [];
  #eof = false;
  #wanted = false;
  /** Reads in flight; destroy() closes the descriptor once they ended (see Socket's #busy). */
  #inFlight = 0;
  #closeWhenIdle: (() => void) | undefined;

  constructor(queue: Queue, path: PathLike | undefined, options: ReadStreamOptions = {}) {
    super({
      highWaterMark: options.highWaterMark ?? 65536,
      encoding: options.encoding,
      emitClose: options.emitClose ?? true,
      autoDestroy: true,
      signal: options.signal,
    });
    this.queue = queue;
    this.path = path;
    this.fd = options.fd ?? null;
    this.#flags = options.flags ?? 'r';
    this.#mode = options.mode ?? 0o666;
    this.#autoClose = options.autoClose ?? true;
    this.#chunk = options.highWaterMark ?? 65536;
    this.start = options.start;
    validatePosition('start', this.start);
    this.end = options.end ?? Number.POSITIVE_INFINITY;
    validatePosition('end', options.end);
    if (this.start !== undefined && this.start > this.end)
      throw outOfRange('start', `<= "end" (here: ${this.end})`, this.start);
    const sequential = this.fd !== null && this.start === undefined;
    this.#position = sequential ? -1 : (this.start ?? 0);
    this.#readAhead = sequential ? 1 : Math.max(1, options.readAhead ?? 4);
    if (path === undefined && this.fd === null) throw invalidArgType('path', 'a path or options.fd', path);
  }

  /** @internal node:stream's implementation hook. */
  override _construct(callback: (error?: Error | null) => void): void {
    openFile(this, this.#flags, this.#mode, callback);
  }

  /** @internal node:stream's implementation hook. */
  override _read(): void {
    this.#wanted = true;
    this.#issue();
  }

  /** Keeps up to readAhead reads in flight while the consumer wants data. */
  #issue(): void {
    while (this.#wanted && !this.#eof && this.#slots.length < this.#readAhead && !this.destroyed) {
      const remaining = this.#position < 0 ? this.#chunk : this.end - this.#position + 1;
      if (remaining <= 0) {
        this.#eof = true;
        break;
      }
      const length = Math.min(this.#chunk, remaining);
      const slot: Slot = { buffer: Buffer.allocUnsafeSlow(length), bytes: 0, done: false };
      this.#slots.push(slot);
      const position = this.#position < 0 ? null : this.#position;
      if (this.#position >= 0) this.#position += length;
      this.#inFlight++;
      this.queue.read(this.fd!, slot.buffer, { position }, (error, bytes) => {
        if (--this.#inFlight === 0) this.#closeWhenIdle?.();
        if (this.destroyed) return;
        if (error) {
          this.destroy(error);
          return;
        }
        slot.bytes = bytes;
        slot.done = true;
        if (bytes < length) this.#eof = true;
        this.#deliver();
      });
    }
    if (this.#eof && this.#slots.length === 0) this.push(null);
  }

  /** Pushes the finished reads at the head, in order; then issues more if wanted. */
  #deliver(): void {
    while (this.#slots.length > 0 && this.#slots[0].done) {
      const slot = this.#slots.shift()!;
      this.bytesRead += slot.bytes;
      if (slot.bytes > 0) {
        const chunk = slot.bytes === slot.buffer.length ? slot.buffer : slot.buffer.subarray(0, slot.bytes);
        if (!this.push(chunk)) this.#wanted = false;
      }
      if (slot.bytes < slot.buffer.length) {
        // End of file: reads issued past it found nothing.
        this.#slots.length = 0;
        this.#eof = true;
      }
    }
    this.#issue();
  }

  /** @internal node:stream's implementation hook. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const close = closeFile(this, this.#autoClose, error, callback);
    if (close === undefined) return;
    if (this.#inFlight > 0)
      this.#closeWhenIdle = () => {
        this.#closeWhenIdle = undefined;
        close();
      };
    else close();
  }

  /** Ends the stream and closes its descriptor, as fs streams' close(); `callback` after 'close'. */
  close(callback?: (error?: Error | null) => void): void {
    if (callback) this.once('close', () => callback(this.errored));
    this.destroy();
  }
}

/** A Writable into a file, like fs.WriteStream; queued chunks go out as one writev. */
export class WriteStream extends Writable {
  readonly queue: Queue;
  readonly path: PathLike | undefined;
  fd: number | null;
  bytesWritten = 0;
  pending = true;
  readonly start: number | undefined;
  readonly #flags: string | number;
  readonly #mode: number;
  readonly #autoClose: boolean;
  /** Next write position; -1: the descriptor's own (append or no start with an fd). */
  #position: number;

  constructor(queue: Queue, path: PathLike | undefined, options: WriteStreamOptions = {}) {
    super({
      highWaterMark: options.highWaterMark ?? 16384,
      defaultEncoding: options.encoding ?? 'utf8',
      emitClose: options.emitClose ?? true,
      autoDestroy: true,
      signal: options.signal,
      decodeStrings: true,
    });
    this.queue = queue;
    this.path = path;
    this.fd = options.fd ?? null;
    this.#flags = options.flags ?? 'w';
    this.#mode = options.mode ?? 0o666;
    this.#autoClose = options.autoClose ?? true;
    this.start = options.start;
    validatePosition('start', this.start);
    const appending = typeof this.#flags === 'string' && this.#flags.startsWith('a');
    this.#position = this.start === undefined && (appending || this.fd !== null) ? -1 : (this.start ?? 0);
    if (path === undefined && this.fd === null) throw invalidArgType('path', 'a path or options.fd', path);
  }

  /** @internal node:stream's implementation hook. */
  override _construct(callback: (error?: Error | null) => void): void {
    openFile(this, this.#flags, this.#mode, callback);
  }

  /** @internal node:stream's implementation hook. */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writeFrom(chunk, 0, callback);
  }

  #writeFrom(chunk: Buffer, offset: number, callback: (error?: Error | null) => void): void {
    const position = this.#position < 0 ? null : this.#position;
    this.queue.write(this.fd!, chunk, { offset, length: chunk.length - offset, position }, (error, n) => {
      if (error) return callback(error);
      this.bytesWritten += n;
      if (this.#position >= 0) this.#position += n;
      if (offset + n < chunk.length) this.#writeFrom(chunk, offset + n, callback);
      else callback();
    });
  }

  /** @internal node:stream's implementation hook. */
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    const buffers = chunks.map((c) => c.chunk);
    const total = buffers.reduce((sum, b) => sum + b.length, 0);
    const position = this.#position < 0 ? null : this.#position;
    this.queue.writev(this.fd!, buffers, position, (error, n) => {
      if (error) return callback(error);
      this.bytesWritten += n;
      if (this.#position >= 0) this.#position += n;
      if (n < total) this.#writeFrom(Buffer.concat(buffers).subarray(n), 0, callback);
      else callback();
    });
  }

  /** @internal node:stream's implementation hook. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    closeFile(this, this.#autoClose, error, callback)?.();
  }

  /** Ends the stream and closes its descriptor, as fs streams' close(); `callback` after 'close'. */
  close(callback?: (error?: Error | null) => void): void {
    if (callback) this.once('close', () => callback(this.errored));
    if (!this.writableEnded) this.end();
    else if (this.writableFinished) this.destroy();
  }
}

/** fs.createReadStream(path[, options]) on `queue`. */
export function createReadStream(
  queue: Queue,
  path: PathLike | undefined,
  options?: ReadStreamOptions | BufferEncoding,
): ReadStream {
  return new ReadStream(queue, path, typeof options === 'string' ? { encoding: options } : options);
}

/** fs.createWriteStream(path[, options]) on `queue`. */
export function createWriteStream(
  queue: Queue,
  path: PathLike | undefined,
  options?: WriteStreamOptions | BufferEncoding,
): WriteStream {
  return new WriteStream(queue, path, typeof options === 'string' ? { encoding: options } : options);
}
