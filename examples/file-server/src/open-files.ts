/**
 * Open descriptors of the files served recently, so that a hot file costs no open, fstat, close or
 * realpath per request: the request's path maps to an open descriptor, its size and its type.
 *
 * An entry is dropped as soon as its file changes: an fs.watch (inotify on Linux) per entry fires
 * on a write, a truncate, a rename or an unlink, and the next request opens the file again. What
 * it does not see: a symbolic link or directory along the path replaced by another (the file
 * itself is unchanged, so the old one is still served until it changes or is evicted).
 *
 * Descriptors are reference-counted: an entry dropped while a response is being sent from it is
 * closed once that response is done.
 */
import { closeSync, type FSWatcher, watch } from 'node:fs';
import type { Queue } from '@proactor/aio-core';

export interface OpenFile {
  readonly fd: number;
  readonly size: number;
  /** Responses being sent from it. */
  refs: number;
  /** Dropped from the cache: close the descriptor once `refs` is 0. */
  dropped: boolean;
  watcher: FSWatcher | undefined;
}

export class OpenFileCache {
  readonly #queue: Queue;
  readonly #max: number;
  /** By the resolved path; the Map's order is the order of insertion, the oldest evicted first. */
  readonly #entries = new Map<string, OpenFile>();
  #closed = false;

  constructor(queue: Queue, max = 512) {
    this.#queue = queue;
    this.#max = max;
  }

  /**
   * The open file for `path` (a path inside the root, as the request names it). On a miss,
   * `resolveReal` gives its real path (or the status that refuses it) and the file is opened and
   * stat'ed through the queue; 404 when it is not a regular file or cannot be opened. The caller
   * hands it back with `release()`.
   */
  async acquire(path: string, resolveReal: () => Promise<string | 403 | 404>): Promise<OpenFile | 403 | 404> {
    const cached = this.#entries.get(path);
    if (cached !== undefined) {
      cached.refs++;
      return cached;
    }
    const real = await resolveReal();
    if (typeof real === 'number') return real;
    let fd: number;
    try {
      fd = await this.#queue.open(real, 'r');
    } catch {
      return 404;
    }
    let size: number;
    try {
      const stats = await this.#queue.fstat(fd);
      if (!stats.isFile()) {
        await this.#queue.close(fd).catch(() => undefined);
        return 404;
      }
      size = stats.size;
    } catch {
      await this.#queue.close(fd).catch(() => undefined);
      return 404;
    }
    const file: OpenFile = { fd, size, refs: 1, dropped: false, watcher: undefined };
    // Another request may have opened it meanwhile: serve this one from its own descriptor.
    if (this.#closed || this.#entries.has(path)) {
      file.dropped = true;
      return file;
    }
    try {
      // The real file: a write to it through any name drops the entry.
      file.watcher = watch(real, { persistent: false }, () => this.#drop(path, file));
      file.watcher.on('error', () => this.#drop(path, file));
    } catch {
      // Not watchable: never cached.
      file.dropped = true;
      return file;
    }
    this.#entries.set(path, file);
    if (this.#entries.size > this.#max) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, OpenFile];
      this.#drop(oldest, entry);
    }
    return file;
  }

  /** A response sent from `file` is done. */
  release(file: OpenFile): void {
    file.refs--;
    if (file.dropped && file.refs === 0) this.#close(file);
  }

  /** Closes every descriptor (after the queue was destroyed: with node:fs). */
  closeAll(): void {
    this.#closed = true;
    for (const [path, file] of this.#entries) {
      this.#entries.delete(path);
      file.watcher?.close();
      file.dropped = true;
      if (file.refs === 0) closeSync(file.fd);
    }
  }

  #drop(path: string, file: OpenFile): void {
    if (this.#entries.get(path) === file) this.#entries.delete(path);
    file.watcher?.close();
    file.watcher = undefined;
    if (file.dropped) return;
    file.dropped = true;
    if (file.refs === 0) this.#close(file);
  }

  #close(file: OpenFile): void {
    if (this.#closed) closeSync(file.fd);
    else void this.#queue.close(file.fd).catch(() => undefined);
  }
}
