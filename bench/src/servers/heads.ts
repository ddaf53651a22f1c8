/**
 * The request-head counter of the minimal HTTP responders (servers/net-responder.ts and the
 * SO_REUSEPORT responder): how many CRLFCRLF end in `bytes[0, length)`, carrying a match that
 * spans chunks in `state.tail` (bytes of a CRLFCRLF matched at the end of the previous chunk).
 */
export function countHeads(bytes: Uint8Array, length: number, state: { tail: number }): number {
  let tail = state.tail;
  let heads = 0;
  for (let i = 0; i < length; i++) {
    const c = bytes[i];
    if ((tail === 0 || tail === 2) && c === 13) tail++;
    else if ((tail === 1 || tail === 3) && c === 10) tail++;
    else tail = c === 13 ? 1 : 0;
    if (tail === 4) {
      heads++;
      tail = 0;
    }
  }
  state.tail = tail;
  return heads;
}
