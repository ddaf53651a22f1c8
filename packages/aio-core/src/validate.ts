import { constants as fsConstants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';

/** What aio-core accepts as a file path: what node:fs accepts. */
export type PathLike = string | Buffer | URL;

const INT32_MAX = 2 ** 31 - 1;
/** Largest byte count of one read or write; the same limit as node:fs (kIoMaxLength). */
export const IO_MAX_LENGTH = INT32_MAX;
/** The most bytes one sendfile moves: Linux's limit for one transfer (MAX_RW_COUNT, 2 GiB less a page). */
export const SENDFILE_MAX_LENGTH = 0x7ffff000;
const POSITION_MAX = 2n ** 63n - 1n;

export function validateFd(fd: unknown, name = 'fd'): number {
  if (typeof fd !== 'number') throw invalidArgType(name, 'of type number', fd);
  if (!Number.isInteger(fd) || fd < 0 || fd > INT32_MAX)
    throw outOfRange(name, `>= 0 && <= ${INT32_MAX}`, fd);
  return fd;
}

export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

export function validateBuffer(buffer: unknown, name = 'buffer'): ArrayBufferView {
  if (!ArrayBuffer.isView(buffer)) {
    throw invalidArgType(name, 'an instance of Buffer, TypedArray, or DataView', buffer);
  }
  return buffer;
}

export function validateBufferList(buffers: unknown, name = 'buffers', max = 1024): ArrayBufferView[] {
  if (!Array.isArray(buffers)) throw invalidArgType(name, 'an instance of Array', buffers);
  for (let i = 0; i < buffers.length; i++) {
    if (!ArrayBuffer.isView(buffers[i])) {
      throw invalidArgType(`${name}[${i}]`, 'an instance of Buffer, TypedArray, or DataView', buffers[i]);
    }
  }
  if (buffers.length > max) throw outOfRange(`${name}.length`, `<= ${max}`, buffers.length);
  return buffers as ArrayBufferView[];
}

/**
 * A file position: null, undefined or -1 mean the file's current position (returned as -1);
 * otherwise a non-negative integer number or bigint below 2 ** 63.
 */
export function validatePosition(position: unknown, name = 'position'): number {
  if (position == null) return -1;
  if (typeof position === 'number') {
    if (position === -1) return -1;
    if (!Number.isInteger(position)) throw outOfRange(name, 'an integer', position);
    if (position < 0 || position > Number.MAX_SAFE_INTEGER) {
      throw outOfRange(name, `>= 0 && <= ${Number.MAX_SAFE_INTEGER}`, position);
    }
    return position;
  }
  if (typeof position === 'bigint') {
    if (position === -1n) return -1;
    if (position < 0n || position > POSITION_MAX)
      throw outOfRange(name, `>= 0 && <= ${POSITION_MAX}`, position);
    if (position > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw outOfRange(
        name,
        `>= 0 && <= ${Number.MAX_SAFE_INTEGER} (positions beyond 2 ** 53 are not supported)`,
        position,
      );
    }
    return Number(position);
  }
  throw invalidArgType(name, 'of type number or bigint', position);
}

/** Resolves a path argument to what the backend receives: a string or a Buffer, never containing NUL. */
export function validatePath(path: unknown, name = 'path'): string | Buffer {
  let value: string | Buffer;
  if (typeof path === 'string') value = path;
  else if (Buffer.isBuffer(path)) value = path;
  else if (path instanceof Uint8Array) value = Buffer.from(path.buffer, path.byteOffset, path.byteLength);
  else if (path instanceof URL) {
    if (path.protocol !== 'file:') {
      const err = new TypeError('The URL must be of scheme file') as TypeError & { code: string };
      err.code = 'ERR_INVALID_URL_SCHEME';
      throw err;
    }
    value = fileURLToPath(path);
  } else throw invalidArgType(name, 'of type string or an instance of Buffer or URL', path);
  if (typeof value === 'string' ? value.includes('\u0000') : value.includes(0)) {
    throw invalidArgValue(name, path, 'must be a string, Uint8Array, or URL without null bytes');
  }
  return value;
}

/** A Map, not an object literal: a flag string must never find Object.prototype's names. */
const openFlags: ReadonlyMap<string, number> = (() => {
  const { O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_SYNC, O_TRUNC, O_WRONLY } = fsConstants;
  return new Map([
    ['r', O_RDONLY],
    ['rs', O_RDONLY | O_SYNC],
    ['sr', O_RDONLY | O_SYNC],
    ['r+', O_RDWR],
    ['rs+', O_RDWR | O_SYNC],
    ['sr+', O_RDWR | O_SYNC],
    ['w', O_TRUNC | O_CREAT | O_WRONLY],
    ['wx', O_TRUNC | O_CREAT | O_WRONLY | O_EXCL],
    ['xw', O_TRUNC | O_CREAT | O_WRONLY | O_EXCL],
    ['w+', O_TRUNC | O_CREAT | O_RDWR],
    ['wx+', O_TRUNC | O_CREAT | O_RDWR | O_EXCL],
    ['xw+', O_TRUNC | O_CREAT | O_RDWR | O_EXCL],
    ['a', O_APPEND | O_CREAT | O_WRONLY],
    ['ax', O_APPEND | O_CREAT | O_WRONLY | O_EXCL],
    ['xa', O_APPEND | O_CREAT | O_WRONLY | O_EXCL],
    ['as', O_APPEND | O_CREAT | O_WRONLY | O_SYNC],
    ['sa', O_APPEND | O_CREAT | O_WRONLY | O_SYNC],
    ['a+', O_APPEND | O_CREAT | O_RDWR],
    ['ax+', O_APPEND | O_CREAT | O_RDWR | O_EXCL],
    ['xa+', O_APPEND | O_CREAT | O_RDWR | O_EXCL],
    ['as+', O_APPEND | O_CREAT | O_RDWR | O_SYNC],
    ['sa+', O_APPEND | O_CREAT | O_RDWR | O_SYNC],
  ]);
})();

/** Node's open flags: a flag string ('r', 'w+', 'ax', ...) or a number built from fs.constants. */
export function parseOpenFlags(flags: unknown): number {
  if (flags == null) return fsConstants.O_RDONLY;
  if (typeof flags === 'number') return validateInteger(flags, 'flags', 0, 0xffffffff);
  if (typeof flags === 'string') {
    const value = openFlags.get(flags);
    if (value === undefined) throw invalidArgValue('flags', flags);
    return value;
  }
  throw invalidArgType('flags', 'of type string or number', flags);
}

/** A permission mode: an integer or an octal string, as node:fs takes it. */
export function parseMode(mode: unknown, name: string, fallback: number): number {
  if (mode == null) return fallback;
  if (typeof mode === 'string') {
    if (!/^[0-7]+$/.test(mode))
      throw invalidArgValue(name, mode, 'must be a 32-bit unsigned integer or an octal string');
    mode = Number.parseInt(mode, 8);
  }
  return validateInteger(mode, name, 0, 0xffffffff);
}

export function validateAbortSignal(signal: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
    throw invalidArgType(name, 'an instance of AbortSignal', signal);
  }
  return signal as AbortSignal;
}

export function validateObject(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
  return value as Record<string, unknown>;
}
