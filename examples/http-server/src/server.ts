/**
 * A minimal HTTP/1.1 keep-alive responder written only against aio-core's Queue: every request gets
 * the same small response. Request heads are found by scanning bytes for CRLFCRLF in a per-connection
 * buffer that is reused (pipelined requests and requests split across recvs both work); bodies
 * announced by Content-Length are skipped. Responses come from buffers built once at start: a run of
 * pipelined requests is answered with one send of N copies of the response.
 */
import { selectBackend } from '@proactor/aio';
import type { Backend, Queue } from '@proactor/aio-core';
import { findHeadEnd, parseHead, type RequestHead } from './parse.js';
import { sendAll, serveTcp, type TcpServer } from './tcp.js';

export interface HttpServerOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** The backend; default: @proactor/aio's selectBackend() (PROACTOR_BACKEND overrides). */
  backend?: Backend;
  /** The response body (default "Hello, World!"). */
  body?: string;
}

export type HttpServer = TcpServer;

/** Largest request head accepted; a longer one gets 431 and the connection ends. */
const BUFFER_SIZE = 16384;
/** Most responses sent in one send (a pipelined run longer than this takes several). */
const BATCH = 64;
const DATE_PLACEHOLDER = 'Thu, 01 Jan 1970 00:00:00 GMT';

function response(status: string, body: string, close: boolean, head: boolean): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status}\r\nServer: proactor\r\nDate: ${DATE_PLACEHOLDER}\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: ${close ? 'close' : 'keep-alive'}\r\n\r\n${head ? '' : body}`,
    'latin1',
  );
}

/** Byte offsets of the Date value in each copy of `buf` (a response repeated `copies` times). */
function dateOffsets(buf: Buffer, single: number, copies: number): number[] {
  const at = buf.indexOf(DATE_PLACEHOLDER, 0, 'latin1');
  return Array.from({ length: copies }, (_, i) => at + i * single);
}

export async function startHttpServer(options: HttpServerOptions = {}): Promise<HttpServer> {
  const backend = options.backend ?? (await selectBackend()).backend;
  const body = options.body ?? 'Hello, World!';
  const one = response('200 OK', body, false, false);
  // The one preallocated response buffer: BATCH copies, so any run of pipelined GETs is one send.
  const batch = Buffer.alloc(one.length * BATCH);
  for (let i = 0; i < BATCH; i++) one.copy(batch, i * one.length);
  const others = {
    close: response('200 OK', body, true, false),
    head: response('200 OK', body, false, true),
    headClose: response('200 OK', body, true, true),
    bad: response('400 Bad Request', 'Bad Request', true, false),
    tooLarge: response('431 Request Header Fields Too Large', 'Request Header Fields Too Large', true, false),
  };
  const dated: [Buffer, number[]][] = [
    [batch, dateOffsets(batch, one.length, BATCH)],
    ...Object.values(others).map((buf): [Buffer, number[]] => [buf, dateOffsets(buf, buf.length, 1)]),
  ];
  const stampDate = () => {
    const now = new Date().toUTCString();
    for (const [buf, offsets] of dated) for (const at of offsets) buf.write(now, at, 'latin1');
  };
  stampDate();
  const clock = setInterval(stampDate, 1000);
  clock.unref();

  const single = one.length;

  async function handle(queue: Queue, fd: number): Promise<void> {
    const buf = Buffer.allocUnsafe(BUFFER_SIZE);
    const head: RequestHead = { contentLength: 0, close: false, head: false };
    let start = 0; // first unconsumed byte
    let end = 0; // end of received bytes
    let scanned = 0; // bytes from start already known to hold no CRLFCRLF
    let skip = 0; // body bytes still to discard
    for (;;) {
      if (end === buf.length) {
        if (start === 0) {
          await sendAll(queue, fd, others.tooLarge);
          return;
        }
        buf.copyWithin(0, start, end);
        end -= start;
        scanned -= start;
        start = 0;
      }
      const n = await queue.recv(fd, buf, end, buf.length - end);
      if (n === 0) return;
      end += n;
      let count = 0; // keep-alive GET responses owed, answered from `batch`
      for (;;) {
        if (skip > 0) {
          const take = Math.min(skip, end - start);
          skip -= take;
          start += take;
          scanned = start;
          if (skip > 0) break;
        }
        const headEnd = findHeadEnd(buf, Math.max(start, scanned - 3), end);
        if (headEnd === -1) {
          scanned = end;
          break;
        }
        parseHead(buf, start, headEnd, head);
        start = scanned = headEnd;
        if (head.contentLength < 0) {
          if (count > 0) await sendAll(queue, fd, batch, count * single);
          await sendAll(queue, fd, others.bad);
          return;
        }
        skip = head.contentLength;
        if (!head.close && !head.head) {
          if (++count === BATCH) {
            await sendAll(queue, fd, batch, count * single);
            count = 0;
          }
          continue;
        }
        if (count > 0) await sendAll(queue, fd, batch, count * single);
        count = 0;
        if (head.close) {
          await sendAll(queue, fd, head.head ? others.headClose : others.close);
          return;
        }
        await sendAll(queue, fd, others.head);
      }
      if (count > 0) await sendAll(queue, fd, batch, count * single);
      if (start === end) start = end = scanned = 0;
    }
  }

  const server = await serveTcp(
    { backend, host: options.host ?? '127.0.0.1', port: options.port ?? 0 },
    handle,
  );
  const close = server.close.bind(server);
  return Object.assign(server, {
    close: async () => {
      clearInterval(clock);
      await close();
    },
  });
}
