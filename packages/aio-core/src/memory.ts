/**
 * The memory of an operation must stay where it is until the operation's final completion: the
 * kernel (io_uring), a thread of the blocking pool or node:fs writes into it by address. Node-API
 * cannot pin an ArrayBuffer's backing store (V8's std::shared_ptr<BackingStore> is not exposed),
 * and referencing the ArrayBuffer object does not stop a transfer from detaching it and handing
 * its memory to a new owner, which may be collected (and the memory freed) before the operation
 * ends.
 *
 * So every buffer handed to a backend is marked untransferable (worker_threads'
 * markAsUntransferable, as Node marks its own Buffer pool): a transfer list that names it
 * (structuredClone, postMessage) then copies it (Node 20) or throws DataCloneError (later
 * versions) instead of detaching it. The mark cannot be undone: the buffer stays untransferable
 * after the operation, which costs a copy where a transfer was wanted and never moves memory
 * that an operation still uses. Detaching by other means (ArrayBuffer.prototype.transfer() of
 * Node 21+, another addon's napi_detach_arraybuffer, WebAssembly.Memory growth) is not covered:
 * nothing in Node-API can refuse it; do not detach a buffer while an operation uses it.
 */
import { markAsUntransferable } from 'node:worker_threads';

/** Marks the ArrayBuffer under `resource` (a view, or an array of views) untransferable. */
export function keepAttached(resource: unknown): void {
  if (ArrayBuffer.isView(resource)) markAsUntransferable(resource.buffer);
  else if (Array.isArray(resource)) {
    for (const view of resource) if (ArrayBuffer.isView(view)) markAsUntransferable(view.buffer);
  }
}
