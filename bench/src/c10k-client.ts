/**
 * C10K client: opens `connections` node:net connections to 127.0.0.1:`port` in batches (each
 * connection's first message must come back before the next batch starts, so the server's accept
 * queue never holds more than one batch), then sends one `size`-byte message per connection per
 * second for `seconds`, spread evenly over each second, and verifies every byte echoed back.
 *
 *   node dist/c10k-client.js <port> <connections> <seconds> [batch 500] [size 64]
 *
 * A message is the connection's index and a sequence number (uint32 each) followed by random bytes.
 * Talks to the parent over IPC: `{ phase: 'connected' }` once every connection is open (the held
 * phase starts), then `{ phase: 'result', ... }` with the counts; closes everything and exits once
 * the parent answers with any message (or after 60 s).
 * Every wait is bounded in time.
 */
import { randomFillSync } from 'node:crypto';
import net from 'node:net';

const [port, connections, seconds] = process.argv.slice(2, 5).map(Number);
const batch = Number(process.argv[5] ?? 500);
const size = Number(process.argv[6] ?? 64);
if (!(size >= 8)) throw new RangeError('message size must be at least 8 bytes');

interface Conn {
  index: number;
  socket: net.Socket;
  /** Messages sent and not yet fully echoed, oldest first, with their send times. */
  pending: Buffer[];
  sentAt: number[];
  /** Bytes of pending[0] already matched. */
  matched: number;
  seq: number;
  broken: boolean;
}

const counts = { sent: 0, verified: 0, mismatched: 0, unexpectedBytes: 0, closedEarly: 0 };
const errors = new Map<string, number>();
const rtts: number[] = [];
const conns: Conn[] = [];
let steady = false;
let onVerified: (() => void) | undefined;

function error(code: string): void {
  errors.set(code, (errors.get(code) ?? 0) + 1);
}

function send(c: Conn): void {
  if (c.broken) return;
  const message = Buffer.allocUnsafe(size);
  message.writeUInt32LE(c.index, 0);
  message.writeUInt32LE(c.seq++, 4);
  randomFillSync(message, 8);
  c.pending.push(message);
  c.sentAt.push(performance.now());
  counts.sent++;
  c.socket.write(message);
}

function receive(c: Conn, chunk: Buffer): void {
  let at = 0;
  while (at < chunk.length) {
    const expected = c.pending[0];
    if (expected === undefined) {
      counts.unexpectedBytes += chunk.length - at;
      c.broken = true;
      return;
    }
    const take = Math.min(expected.length - c.matched, chunk.length - at);
    if (chunk.compare(expected, c.matched, c.matched + take, at, at + take) !== 0) {
      counts.mismatched++;
      c.broken = true;
      c.socket.destroy();
      return;
    }
    at += take;
    c.matched += take;
    if (c.matched === expected.length) {
      c.pending.shift();
      const sentAt = c.sentAt.shift()!;
      if (steady) rtts.push(performance.now() - sentAt);
      c.matched = 0;
      counts.verified++;
      onVerified?.();
    }
  }
}

/** Opens one connection and resolves once its first message has come back (or it failed). */
function open(index: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const c: Conn = { index, socket, pending: [], sentAt: [], matched: 0, seq: 0, broken: false };
    conns.push(c);
    socket.setNoDelay(true);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      resolve();
    };
    socket.on('connect', () => send(c));
    socket.on('data', (chunk: Buffer) => {
      receive(c, chunk);
      if (c.seq === 1 && c.pending.length === 0) settle();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error(e.code ?? e.message);
      c.broken = true;
      settle();
    });
    socket.on('close', () => {
      if (!closing) {
        counts.closedEarly++;
        c.broken = true;
      }
      settle();
    });
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      error(`timeout: ${what}`);
      resolve(undefined);
    }, ms);
    void promise.then((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

let closing = false;
const connectStart = performance.now();
for (let first = 0; first < connections; first += batch) {
  const n = Math.min(batch, connections - first);
  const done = await within(
    Promise.all(Array.from({ length: n }, (_, k) => open(first + k))),
    30_000,
    `batch at ${first}`,
  );
  // A server that stopped accepting: report what was reached instead of waiting out every batch.
  if (done === undefined) break;
}
const connectMs = performance.now() - connectStart;
const open0 = conns.filter((c) => !c.broken).length;
process.send?.({ phase: 'connected', open: open0, connectMs });

// Held phase: message k of the run goes to connection k % N at k / N seconds after the start,
// so every second each connection sends once and the sends are spread evenly over the second.
steady = true;
const total = connections * seconds;
const start = performance.now();
let k = 0;
await new Promise<void>((resolve) => {
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * connections));
    for (; k < due; k++) {
      const c = conns[k % connections];
      if (c) send(c);
    }
    if (k >= total || performance.now() - start > seconds * 1000 + 10_000) resolve();
    else setTimeout(tick, 2);
  };
  tick();
});
const sendMs = performance.now() - start;

// Wait (bounded) for the last echoes.
await within(
  new Promise<void>((resolve) => {
    const check = () => {
      if (
        counts.verified + counts.mismatched >= counts.sent ||
        conns.every((c) => c.broken || !c.pending.length)
      )
        resolve();
    };
    onVerified = check;
    check();
  }),
  10_000,
  'last echoes',
);
onVerified = undefined;
const open1 = conns.filter((c) => !c.broken && !c.socket.destroyed).length;

rtts.sort((a, b) => a - b);
const at = (q: number) => rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))] ?? Number.NaN;
const result = {
  phase: 'result',
  connections,
  seconds,
  openAtStart: open0,
  openAtEnd: open1,
  connectMs,
  sendMs,
  ...counts,
  heldVerified: rtts.length,
  lost: counts.sent - counts.verified,
  errors: Object.fromEntries(errors),
  rttP50Ms: at(0.5),
  rttP99Ms: at(0.99),
  rttMaxMs: rtts[rtts.length - 1] ?? Number.NaN,
};
if (process.send) {
  process.send(result);
  // The parent reads the server's counters before the connections close (a thread-per-connection
  // server's threads take their counts with them when they exit): it answers 'close' (bounded).
  await within(
    new Promise<void>((resolve) => process.once('message', () => resolve())),
    60_000,
    'close from the parent',
  );
}
closing = true;
for (const c of conns) c.socket.destroy();
if (process.send) process.exit(0);
else {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
