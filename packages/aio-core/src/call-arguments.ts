/**
 * How the queue's operation methods read their trailing arguments: an options object, a
 * Node-style callback, Node's positional forms, and a buffer range.
 */
import { invalidArgType, outOfRange } from './errors.js';
import type { AnyCallback, Operation } from './operation.js';
import { IO_MAX_LENGTH, validateInteger } from './validate.js';

/** An options object: any object that is not a buffer (a buffer is a positional argument). */
export function isOptionsObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !ArrayBuffer.isView(value);
}

export function checkCallback(callback: unknown): AnyCallback | undefined {
  if (callback === undefined) return undefined;
  if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
  return callback as AnyCallback;
}

/**
 * Removes a trailing callback from `args`, leaving at most `positional` arguments; anything
 * past them must have been the callback, so it is refused when it is not a function.
 */
export function popCallback(args: unknown[], positional: number): AnyCallback | undefined {
  let last = args.length - 1;
  while (last >= 0 && args[last] === undefined) last--;
  let callback: AnyCallback | undefined;
  if (last >= 0 && typeof args[last] === 'function') {
    callback = args[last] as AnyCallback;
    args.length = last;
  } else args.length = last + 1;
  if (args.length > positional) checkCallback(args[positional]);
  return callback;
}

/** Validates `offset` and `length` against `view` (Node's rules) and sets the operation's buffer range. */
export function setBufferRange(op: Operation, view: ArrayBufferView, offset: unknown, length: unknown): void {
  const size = view.byteLength;
  const start = offset == null ? 0 : validateInteger(offset, 'offset', 0, size);
  const count = length == null ? size - start : validateInteger(length, 'length', 0, size - start);
  if (count > IO_MAX_LENGTH) throw outOfRange('length', `<= ${IO_MAX_LENGTH}`, count);
  op.bufOffset = start;
  op.len = count;
  op.res0 = view;
}

/** A path as errors show it. */
export function displayPath(path: string | Buffer): string {
  return typeof path === 'string' ? path : path.toString();
}
