/**
 * Socket churn: a server on the queue under clients that come and go. The server uses
 * accepts()/recvs() (multishot where the backend has it, with a receive pool far too small for
 * the load), echoes what it gets, sends some of it again as zero-copy, polls, breaks out of its
 * loops early and closes sockets while a receive waits. node:net clients connect, send up to
 * 20 KB and go away (reset, end, or a little later). Used by the io_uring sanitizer run and by
 * `pnpm soak`.
 */
import * as net from 'node:net';
import { type Backend, type InetSocketAddress, POLL_IN, POLL_OUT, Queue } from '@proactor/aio-core';

/** How `socketChurn()` runs. */
export interface ChurnOptions {
  /** How long new clients keep coming. */
  seconds: number;
  /** Ends the churn early (clients stop; what is open drains). */
  signal?: AbortSignal;
  /** Receive pool (defaults: 8 buffers of 512 bytes, far too few on purpose). */
  recvBufferSize?: number;
  /** Buffers in the receive pool (a power of two). */
  recvBufferCount?: number;
}

/**
 * What `socketChurn()` saw; `churnFailure()` says whether it shows a problem. The counts say
 * which paths the random churn exercised.
 */
export interface ChurnReport {
  /** Connections the server accepted. */
  connections: number;
  /** Bytes the server received (and echoed). */
  bytes: number;
  /** Receive loops the server left early, before the client was done (its recvs() iterator ended by break). */
  breaks: number;
  /** Connections closed through the queue while a receive waited on them. */
  closesWhileWaiting: number;
  /** poll() calls on accepted connections. */
  polls: number;
  /** Zero-copy sends issued. */
  zeroCopy: number;
  /** Errors seen, by `code:syscall`. */
  errors: Record<string, number>;
  /** Errors churn does not explain (anything but resets, broken pipes and cancellations). */
  unexpected: string[];
  /** Operations and connections still open at the end: all 0 when everything ended. */
  inFlight: number;
  waiting: number;
  serving: number;
}

/** The errors that clients going away and sockets closed under a receive cause. */
const EXPECTED_ERRORS = new Set([
  'EPIPE:write',
  'ECONNRESET:write',
  'ECONNRESET:read',
  'ECANCELED:read',
  'ECANCELED:write',
  'ABORT_ERR:undefined', // a poll whose 50 ms signal fired first (errors are keyed by code)
]);

const rand = (n: number): number => Math.floor(Math.random() * n);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the churn on `backend` and reports what happened; it never throws for churn's errors. */
export async function socketChurn(backend: Backend, options: ChurnOptions): Promise<ChurnReport> {
  const q = new Queue(backend, {
    entries: 1024,
    recvBufferSize: options.recvBufferSize ?? 512,
    recvBufferCount: options.recvBufferCount ?? 8,
  });
  const listener = await q.socket(4);
  await q.bind(listener, { address: '127.0.0.1', port: 0 });
  await q.listen(listener, 1024);
  const { port } = (await q.localAddress(listener)) as InetSocketAddress;
  const report: ChurnReport = {
    connections: 0,
    bytes: 0,
    breaks: 0,
    closesWhileWaiting: 0,
    polls: 0,
    zeroCopy: 0,
    errors: {},
    unexpected: [],
    inFlight: 0,
    waiting: 0,
    serving: 0,
  };
  const note = (error: unknown): void => {
    const e = error as { code?: string; name?: string; syscall?: string };
    const key = `${e.code ?? e.name}:${e.syscall}`;
    report.errors[key] = (report.errors[key] ?? 0) + 1;
  };

  async function serve(fd: number): Promise<void> {
    let closed = false;
    try {
      const mode = rand(10);
      if (mode === 0) {
        // Closed through the queue while a receive waits: it ends (data or ECANCELED), nothing leaks.
        const waiting = q.recvs(fd).next().catch(note);
        await sleep(rand(5));
        report.closesWhileWaiting++;
        closed = true;
        await q.close(fd);
        await waiting;
        return;
      }
      if (mode === 1) {
        report.polls++;
        await q.poll(fd, POLL_IN | POLL_OUT, { signal: AbortSignal.timeout(50) }).catch(note);
      }
      let chunks = 0;
      for await (const chunk of q.recvs(fd, { size: 1 + rand(2000) })) {
        report.bytes += chunk.length;
        let sent = 0;
        while (sent < chunk.length) {
          sent += await q.send(fd, chunk, sent, chunk.length - sent).catch((e: unknown) => {
            note(e);
            return chunk.length;
          });
        }
        if (rand(4) === 0) {
          report.zeroCopy++;
          await q.send(fd, chunk, { zeroCopy: true }).catch(note);
        }
        if (++chunks > 3 && rand(20) === 0) {
          report.breaks++;
          break;
        }
      }
    } catch (e) {
      note(e);
    } finally {
      if (!closed) await q.close(fd).catch(note);
    }
  }

  const stop = new AbortController();
  const serving = new Set<Promise<void>>();
  const accepting = (async () => {
    while (!stop.signal.aborted) {
      try {
        let taken = 0;
        for await (const { fd } of q.accepts(listener, { signal: stop.signal })) {
          report.connections++;
          const s = serve(fd);
          serving.add(s);
          void s.finally(() => serving.delete(s));
          if (++taken > 5 + rand(50)) break; // a new loop takes what this one accepted ahead
        }
      } catch (e) {
        if (!stop.signal.aborted) note(e);
      }
    }
  })();

  const clients = new Set<net.Socket>();
  const deadline = Date.now() + options.seconds * 1000;
  while (Date.now() < deadline && !options.signal?.aborted) {
    for (let i = 0; i < 20; i++) {
      const c = net.connect(port, '127.0.0.1');
      clients.add(c);
      c.on('error', () => {});
      c.on('close', () => clients.delete(c));
      c.on('data', () => {});
      c.on('connect', () => {
        c.write(Buffer.alloc(rand(20000), 7));
        const how = rand(4);
        if (how === 0) c.destroy();
        else if (how === 1) c.end();
        else setTimeout(() => c.destroy(), rand(30));
      });
    }
    await sleep(10);
  }
  for (const c of clients) c.destroy();
  const settle = Date.now() + 10_000;
  while ((clients.size > 0 || serving.size > 0) && Date.now() < settle) await sleep(20);
  stop.abort();
  await accepting;
  await q.close(listener);
  report.inFlight = q.inFlight;
  report.waiting = q.waiting;
  report.serving = serving.size;
  report.unexpected = Object.keys(report.errors).filter((key) => !EXPECTED_ERRORS.has(key));
  await q.destroy();
  return report;
}

/** Why `report` shows a churn that went wrong, or undefined when everything ended as it should. */
export function churnFailure(report: ChurnReport): string | undefined {
  const problems: string[] = [];
  if (report.inFlight !== 0 || report.waiting !== 0 || report.serving !== 0) problems.push('not drained');
  if (report.unexpected.length > 0) problems.push(`unexpected errors ${report.unexpected.join(', ')}`);
  if (report.connections === 0 || report.bytes === 0) problems.push('no traffic');
  return problems.length > 0 ? problems.join('; ') : undefined;
}
