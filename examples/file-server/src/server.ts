/**
 * A static file server over HTTP/1.1 written only against aio-core's Queue: a file's content goes
 * from its descriptor to the socket with `sendfile` (inside the kernel where the backend's
 * `zeroCopySendfile` says so), after its headers, which are sent linked to it (one submission).
 * Descriptors of files served recently stay open (OpenFileCache, dropped when the file changes),
 * so that a hot file costs two operations per request. GET and HEAD, keep-alive, 404, 403 for
 * paths that leave the root (by `..` or by a symlink), 405 for other methods.
 */
import { realpath } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { selectBackend } from '@proactor/aio';
import type { Backend, Queue } from '@proactor/aio-core';
import { OpenFileCache } from './open-files.js';
import { sendAll, serveTcp, type TcpServer } from './tcp.js';

export interface FileServerOptions {
  /** The directory served. */
  root: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** The backend; default: @proactor/aio's selectBackend() (PROACTOR_BACKEND overrides). */
  backend?: Backend;
  /** How many files stay open between requests (default 512). */
  openFiles?: number;
}

export interface FileServer extends TcpServer {
  readonly root: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
};

export function contentType(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Index just past the first CRLFCRLF in `buf[from, end)`, or -1. */
function findHeadEnd(buf: Buffer, from: number, end: number): number {
  const at = buf.subarray(0, end).indexOf('\r\n\r\n', from, 'latin1');
  return at === -1 ? -1 : at + 4;
}

interface Request {
  method: string;
  target: string;
  contentLength: number;
  close: boolean;
}

/** Parses a request head; undefined when it is malformed or has a body this server cannot frame. */
function parseRequest(head: string): Request | undefined {
  const lines = head.split('\r\n');
  const match = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]);
  if (!match) return undefined;
  const request: Request = { method: match[1], target: match[2], contentLength: 0, close: match[3] === '0' };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d+$/.test(value)) return undefined;
      request.contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      return undefined;
    } else if (name === 'connection') {
      const tokens = value
        .toLowerCase()
        .split(',')
        .map((token) => token.trim());
      if (tokens.includes('close')) request.close = true;
      else if (tokens.includes('keep-alive')) request.close = false;
    }
  }
  return request;
}

/** Where a request target points inside `root`, or a status that refuses it. */
/**
 * The path `target` names inside `root`, checked by name only (no file system access): 400 for a
 * malformed target, 403 for one that leaves the root through `..` (also `%2e%2e`). A target ending
 * in `/` names its index.html.
 */
function candidatePath(root: string, target: string): string | 400 | 403 {
  let pathPart = target.split('?', 1)[0].split('#', 1)[0];
  if (!pathPart.startsWith('/')) return 400;
  if (pathPart.endsWith('/')) pathPart += 'index.html';
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart);
  } catch {
    return 400;
  }
  if (decoded.includes('\0')) return 400;
  const candidate = resolve(root, `.${decoded}`);
  if (candidate !== root && !candidate.startsWith(root + sep)) return 403;
  return candidate;
}

/** The real path of `candidate`: 404 when it does not exist, 403 when a symlink leads outside `root`. */
async function realPathInside(root: string, candidate: string): Promise<string | 403 | 404> {
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return 404;
  }
  // A symlink inside the root that points outside it is refused like `..`.
  if (real !== root && !real.startsWith(root + sep)) return 403;
  return real;
}

export async function startFileServer(options: FileServerOptions): Promise<FileServer> {
  const root = await realpath(resolve(options.root));
  const backend = options.backend ?? (await selectBackend()).backend;
  let files: OpenFileCache | undefined;

  function header(status: string, type: string, length: number, close: boolean, extra = ''): string {
    return (
      `HTTP/1.1 ${status}\r\nServer: proactor\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: ${type}\r\nContent-Length: ${length}\r\n${extra}` +
      `Connection: ${close ? 'close' : 'keep-alive'}\r\n\r\n`
    );
  }

  async function sendStatus(
    queue: Queue,
    fd: number,
    status: string,
    head: boolean,
    close: boolean,
    extra = '',
  ): Promise<void> {
    const body = `${status}\n`;
    const text = header(status, 'text/plain; charset=utf-8', body.length, close, extra) + (head ? '' : body);
    await sendAll(queue, fd, Buffer.from(text, 'latin1'));
  }

  /**
   * Sends the file `target` names: headers, then (unless HEAD) its content with sendfile, linked
   * to the headers' send so that both go in one submission. A file open from an earlier request
   * costs just these two operations; a miss adds realpath, open and fstat. 400, 403 or 404 when
   * there is nothing to send.
   */
  async function sendFile(
    queue: Queue,
    fd: number,
    target: string,
    head: boolean,
    close: boolean,
  ): Promise<400 | 403 | 404 | undefined> {
    const candidate = candidatePath(root, target);
    if (typeof candidate === 'number') return candidate;
    files ??= new OpenFileCache(queue, options.openFiles);
    const file = await files.acquire(candidate, () => realPathInside(root, candidate));
    if (typeof file === 'number') return file;
    try {
      const headers = Buffer.from(header('200 OK', contentType(candidate), file.size, close), 'latin1');
      if (head || file.size === 0) {
        await sendAll(queue, fd, headers);
        return undefined;
      }
      // One submission: the body starts once the headers went out whole (a short send ends the
      // chain: the sendfile then fails with ECANCELED and the connection is closed).
      const [, first] = await Promise.all([
        queue.send(fd, headers, { link: true }),
        queue.sendfile(fd, file.fd, { position: 0, length: file.size }),
      ]);
      // A slow reader gets the rest in further rounds (sendfile may stop short of the length).
      let sent = first;
      while (sent < file.size) {
        const n = await queue.sendfile(fd, file.fd, { position: sent, length: file.size - sent });
        if (n === 0) throw new Error(`${candidate} shrank while being sent`);
        sent += n;
      }
      return undefined;
    } finally {
      files.release(file);
    }
  }

  async function handle(queue: Queue, fd: number): Promise<void> {
    // The body follows its headers in a second operation: without TCP_NODELAY, Nagle holds a
    // small body back until the headers are acknowledged, and a client delaying its ACK (40 ms
    // on Linux) stalls every response.
    await queue.setsockopt(fd, 'nodelay', true);
    const buf = Buffer.allocUnsafe(16384);
    let start = 0;
    let end = 0;
    let skip = 0;
    for (;;) {
      if (end === buf.length) {
        if (start === 0) {
          await sendStatus(queue, fd, '431 Request Header Fields Too Large', false, true);
          return;
        }
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
      }
      const n = await queue.recv(fd, buf, end, buf.length - end);
      if (n === 0) return;
      end += n;
      for (;;) {
        if (skip > 0) {
          const take = Math.min(skip, end - start);
          skip -= take;
          start += take;
          if (skip > 0) break;
        }
        const headEnd = findHeadEnd(buf, start, end);
        if (headEnd === -1) break;
        const request = parseRequest(buf.toString('latin1', start, headEnd - 4));
        start = headEnd;
        if (!request) {
          await sendStatus(queue, fd, '400 Bad Request', false, true);
          return;
        }
        skip = request.contentLength;
        const { method, close } = request;
        const head = method === 'HEAD';
        if (method !== 'GET' && !head) {
          await sendStatus(queue, fd, '405 Method Not Allowed', false, close, 'Allow: GET, HEAD\r\n');
        } else {
          const status = await sendFile(queue, fd, request.target, head, close);
          if (status === 400) await sendStatus(queue, fd, '400 Bad Request', head, close);
          else if (status === 403) await sendStatus(queue, fd, '403 Forbidden', head, close);
          else if (status === 404) await sendStatus(queue, fd, '404 Not Found', head, close);
        }
        if (close) return;
      }
      if (start === end) start = end = 0;
    }
  }

  const server = await serveTcp(
    { backend, host: options.host ?? '127.0.0.1', port: options.port ?? 0 },
    handle,
  );
  const closeTcp = server.close;
  let closing: Promise<void> | undefined;
  return Object.assign(server, {
    root,
    close(): Promise<void> {
      // The queue is destroyed by then: the cache closes what it holds with node:fs.
      closing ??= closeTcp().then(() => files?.closeAll());
      return closing;
    },
  });
}
