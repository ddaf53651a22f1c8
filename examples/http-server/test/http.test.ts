import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '@proactor/aio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHeadEnd } from '../src/parse.js';
import { type HttpServer, startHttpServer } from '../src/server.js';

const BACKENDS: [string, string | undefined][] = [
  ['node', undefined],
  ['io_uring', process.platform === 'linux' ? undefined : 'io_uring exists only on Linux'],
];

/** A raw client: write bytes, read until `responses` complete responses (or the close) arrive. */
class RawClient {
  readonly socket: net.Socket;
  #data = '';
  #closed = false;
  #waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      this.#data += chunk.toString('latin1');
      this.#wake();
    });
    this.socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    this.socket.on('error', () => undefined);
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async connected(): Promise<void> {
    if (!this.socket.connecting) return;
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  /** Waits (at most `timeoutMs`) until `test` holds for the received text. */
  async until(test: (data: string, closed: boolean) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.#data, this.#closed)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received so far: ${JSON.stringify(this.#data)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#data;
  }

  /** Waits for `n` complete "Hello, World!" responses in total. */
  responses(n: number): Promise<string> {
    return this.until((data) => count(data, 'Hello, World!') >= n);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

const GET = 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n';

for (const [name, skip] of BACKENDS) {
  describe.skipIf(skip !== undefined)(`http server on ${name}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    let server: HttpServer;
    beforeAll(async () => {
      const { backend } = await selectBackend({ backend: name });
      server = await startHttpServer({ port: 0, host: '127.0.0.1', backend });
    });
    afterAll(async () => {
      await server?.close();
    });

    it('answers node:http with 200, the body, Content-Length and keep-alive, reusing one connection', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const ports = new Set<number>();
        for (let i = 0; i < 5; i++) {
          const { status, headers, body, localPort } = await new Promise<{
            status: number | undefined;
            headers: http.IncomingHttpHeaders;
            body: string;
            localPort: number | undefined;
          }>((resolve, reject) => {
            const req = http.get({ host: '127.0.0.1', port: server.port, path: `/n${i}`, agent }, (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                text += chunk;
              });
              res.on('end', () =>
                resolve({
                  status: res.statusCode,
                  headers: res.headers,
                  body: text,
                  localPort: req.socket?.localPort,
                }),
              );
            });
            req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
            req.on('error', reject);
          });
          expect(status).toBe(200);
          expect(body).toBe('Hello, World!');
          expect(headers['content-length']).toBe('13');
          expect(headers.connection).toBe('keep-alive');
          expect(new Date(headers.date ?? '').getTime()).toBeGreaterThan(Date.UTC(2020, 0, 1));
          if (localPort !== undefined) ports.add(localPort);
        }
        expect(ports.size).toBe(1);
      } finally {
        agent.destroy();
      }
    });

    it('answers several sequential requests on one raw connection', async () => {
      const client = new RawClient(server.port);
      try {
        await client.connected();
        for (let i = 1; i <= 5; i++) {
          client.socket.write(GET);
          await client.responses(i);
        }
        expect(client.closed).toBe(false);
      } finally {
        client.destroy();
      }
    });

    it('answers 100 pipelined requests written at once, in one piece each', async () => {
      const client = new RawClient(server.port);
      try {
        client.socket.write(GET.repeat(100));
        const data = await client.responses(100);
        expect(count(data, 'HTTP/1.1 200 OK\r\n')).toBe(100);
        expect(count(data, 'Connection: keep-alive\r\n')).toBe(100);
      } finally {
        client.destroy();
      }
    });

    it('answers a request sent one byte at a time', async () => {
      const client = new RawClient(server.port);
      try {
        await client.connected();
        const request = Buffer.from('POST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
        // The response is fixed, so it may go out as soon as the head is complete; never before.
        const headLength = request.indexOf('\r\n\r\n') + 4;
        for (let i = 0; i < request.length; i++) {
          client.socket.write(request.subarray(i, i + 1));
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (i < headLength - 1) expect(count(await client.until(() => true), 'Hello')).toBe(0);
        }
        await client.responses(1);
        // The body was skipped, not taken for a request: the next request is answered once.
        client.socket.write(GET);
        const data = await client.responses(2);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(count(data, 'HTTP/1.1 ')).toBe(2);
      } finally {
        client.destroy();
      }
    });

    it('skips Content-Length bodies between pipelined requests, even bodies that look like requests', async () => {
      const client = new RawClient(server.port);
      try {
        const body = GET; // a body that would be a request if it were not skipped
        const post = `POST / HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
        client.socket.write(post + GET + post);
        await client.responses(3);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(count(await client.until(() => true), 'HTTP/1.1 200 OK')).toBe(3);
      } finally {
        client.destroy();
      }
    });

    it('answers Connection: close and then closes the connection', async () => {
      const client = new RawClient(server.port);
      try {
        client.socket.write(`${GET}GET / HTTP/1.1\r\nConnection: close\r\n\r\n${GET}`);
        const data = await client.until((_, closed) => closed);
        expect(count(data, 'HTTP/1.1 200 OK')).toBe(2);
        expect(count(data, 'Connection: close\r\n')).toBe(1);
        expect(data.endsWith('Connection: close\r\n\r\nHello, World!')).toBe(true);
      } finally {
        client.destroy();
      }
    });

    it('closes after HTTP/1.0 without keep-alive; HEAD has headers and no body', async () => {
      const client = new RawClient(server.port);
      try {
        client.socket.write('HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n');
        const data = await client.until((_, closed) => closed);
        expect(count(data, 'HTTP/1.1 200 OK')).toBe(2);
        expect(count(data, 'Hello, World!')).toBe(1);
        expect(data.startsWith('HTTP/1.1 200 OK')).toBe(true);
        expect(data.indexOf('Content-Length: 13')).toBeLessThan(data.indexOf('Hello'));
      } finally {
        client.destroy();
      }
    });

    it('refuses a malformed request with 400 and closes', async () => {
      const client = new RawClient(server.port);
      try {
        client.socket.write('NONSENSE\r\n\r\n');
        const data = await client.until((_, closed) => closed);
        expect(data.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
      } finally {
        client.destroy();
      }
    });

    it('serves 50 concurrent keep-alive connections', async () => {
      const clients = Array.from({ length: 50 }, () => new RawClient(server.port));
      try {
        for (const client of clients) client.socket.write(GET + GET);
        await Promise.all(clients.map((client) => client.responses(2)));
      } finally {
        for (const client of clients) client.destroy();
      }
    });
  });
}

for (const [name, skip] of BACKENDS) {
  describe.skipIf(skip !== undefined)(`http server close on ${name}`, () => {
    it('close() ends idle keep-alive connections, closes the listener, and resolves', async () => {
      const { backend } = await selectBackend({ backend: name });
      const server = await startHttpServer({ port: 0, host: '127.0.0.1', backend });
      const client = new RawClient(server.port);
      try {
        client.socket.write(GET);
        await client.responses(1);
        expect(server.connections).toBe(1);
        let timer: NodeJS.Timeout | undefined;
        const bounded = new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve('timed out'), 5000);
        });
        expect(await Promise.race([server.close().then(() => 'closed'), bounded])).toBe('closed');
        clearTimeout(timer);
        await client.until((_, closed) => closed);
        expect(server.connections).toBe(0);
        const refused = await new Promise<string>((resolve) => {
          const probe = net.connect({ host: '127.0.0.1', port: server.port });
          probe.on('connect', () => {
            probe.destroy();
            resolve('connected');
          });
          probe.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
        });
        expect(refused).toBe('ECONNREFUSED');
      } finally {
        client.destroy();
        await server.close();
      }
    });
  });
}

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
describe.skipIf(!existsSync(main))('http server as a process (dist/main.js)', () => {
  it('prints its URL, answers, and exits cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, [main, '0'], {
      env: { ...process.env, PROACTOR_BACKEND: 'node' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 10000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on http:\/\/127\.0\.0\.1:(\d+)\/ \(backend: node\)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        });
      });
      const client = new RawClient(port);
      try {
        client.socket.write(GET);
        await client.responses(1);
      } finally {
        client.destroy();
      }
      const exited = new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('did not exit after SIGINT')), 10000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(output).toContain('SIGINT: closing');
      expect(output).toContain('closed');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('findHeadEnd', () => {
  it('finds CRLFCRLF wherever the scan starts and only inside the range', () => {
    const buf = Buffer.from('GET / HTTP/1.1\r\nA: b\r\n\r\nrest');
    const end = buf.indexOf('rest');
    expect(findHeadEnd(buf, 0, buf.length)).toBe(end);
    expect(findHeadEnd(buf, end - 4, buf.length)).toBe(end);
    expect(findHeadEnd(buf, end - 3, buf.length)).toBe(-1);
    expect(findHeadEnd(buf, 0, end - 1)).toBe(-1);
  });
});
