/**
 * Sockets as Node streams (@proactor/aio-streams) on the backend under test: net.Socket's
 * behaviour, Node's stream contract (destroy and error semantics, finished(), pipeline(), no
 * event after 'close', system errors), and node:tls and node:http running over them unchanged.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import * as tls from 'node:tls';
import { errnoOf } from '@proactor/aio-core';
import { type Socket, serveHttp } from '@proactor/aio-streams';
import type { ConformanceCase } from '../case.js';
import { assertSystemError, pattern } from './expect.js';
import { portNobodyListensOn } from './loopback-ports.js';
import { readAll, recordEvents, STREAM_SOCKETS, withStreams } from './stream-scope.js';
import { TEST_ONLY_TLS_CERT, TEST_ONLY_TLS_KEY } from './test-only-tls-certificate.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export const streamSocketCases: ConformanceCase[] = [
  {
    name: "stream socket: connect emits 'connect' then 'ready', and both ends name each other's address",
    needs: STREAM_SOCKETS,
    run: (t) =>
      withStreams(t, async (s) => {
        let accepted: Socket | undefined;
        const { port } = await s.listen((socket) => {
          accepted = socket;
        });
        const client = s.track(s.net.connect(port, '127.0.0.1'));
        const events = recordEvents(client);
        await once(client, 'ready');
        assert.deepEqual(events, ['connect', 'ready']);
        assert.equal(client.connecting, false);
        assert.equal(client.remoteAddress, '127.0.0.1');
        assert.equal(client.remotePort, port);
        assert.equal(client.remoteFamily, 'IPv4');
        assert.equal(client.localAddress, '127.0.0.1');
        while (accepted === undefined) await new Promise((r) => setImmediate(r));
        assert.equal(accepted.remotePort, client.localPort);
        assert.equal(accepted.localPort, port);
        assert.equal(accepted.remoteAddress, '127.0.0.1');
        assert.equal(client.setNoDelay(true), client);
        assert.equal(client.setKeepAlive(true, 1000), client);
      }),
  },
  {
    name: 'stream socket: 8 MiB written in many writes come back through an echo in order, with bytesRead/bytesWritten',
    needs: STREAM_SOCKETS,
    timeoutMs: 60_000,
    run: (t) =>
      withStreams(t, async (s) => {
        const { port } = await s.listen((socket) => socket.pipe(socket));
        const client = await s.connect(port);
        const data = pattern(8 << 20, 7);
        const received = readAll(client);
        // Writes of uneven sizes, issued at once: queued writes reach _writev as batches.
        for (
          let offset = 0, size = 1;
          offset < data.length;
          offset += size, size = (size * 7 + 13) % 65536 || 1
        ) {
          client.write(data.subarray(offset, offset + size));
        }
        client.end();
        const echoed = await received;
        assert.equal(echoed.length, data.length);
        assert.equal(sha256(echoed), sha256(data));
        assert.equal(client.bytesRead, data.length);
        assert.equal(client.bytesWritten, data.length);
        if (!client.closed) await once(client, 'close');
      }),
  },
  {
    name: "stream socket: write() returns false past the high water mark, 'drain' follows once the peer reads, and a paused reader loses nothing",
    needs: STREAM_SOCKETS,
    timeoutMs: 60_000,
    run: (t) =>
      withStreams(t, async (s) => {
        let accepted!: Socket;
        const { port } = await s.listen((socket) => {
          accepted = socket;
          socket.pause();
        });
        const client = await s.connect(port, { writableHighWaterMark: 16384 });
        while (accepted === undefined) await new Promise((r) => setImmediate(r));
        const chunk = pattern(65536, 3);
        let written = 0;
        // The peer reads nothing: the kernel's buffers fill, then the writable buffer.
        for (let i = 0; i < 4096; i++) {
          written += chunk.length;
          if (!client.write(chunk)) break;
        }
        assert.ok(written < 4096 * chunk.length, 'write() returned false before 256 MiB were queued');
        const drained = once(client, 'drain');
        const reading = readAll(accepted);
        await drained;
        client.end();
        const received = await reading;
        assert.equal(received.length, written);
        for (let offset = 0; offset < received.length; offset += chunk.length) {
          assert.ok(
            received.subarray(offset, offset + chunk.length).equals(chunk),
            `chunk at ${offset} intact`,
          );
        }
      }),
  },
  {
    name: 'stream socket: allowHalfOpen keeps the writable side open after the peer ended; without it the socket ends itself',
    needs: STREAM_SOCKETS,
    run: (t) =>
      withStreams(t, async (s) => {
        const halfOpen = await s.listen(
          (socket) => {
            socket.on('end', () => {
              // Still writable after the peer's end.
              assert.equal(socket.writable, true);
              socket.end('reply after end');
            });
            socket.resume();
          },
          { allowHalfOpen: true },
        );
        const a = await s.connect(halfOpen.port, { allowHalfOpen: true });
        const reply = readAll(a);
        a.end('request');
        assert.equal((await reply).toString(), 'reply after end');
        const closing = await s.listen((socket) => socket.resume());
        const b = await s.connect(closing.port);
        const ended = readAll(b);
        b.end();
        // The server's socket (allowHalfOpen false) ended its side when it saw ours end.
        assert.equal((await ended).length, 0);
        if (!b.closed) await once(b, 'close');
      }),
  },
  {
    name: "stream socket: connecting to a port nothing listens on fails with the system error ECONNREFUSED, then 'close', nothing after",
    needs: STREAM_SOCKETS,
    run: (t) =>
      withStreams(t, async (s) => {
        const port = await portNobodyListensOn(t.queue());
        const client = s.track(s.net.connect(port, '127.0.0.1'));
        const events = recordEvents(client);
        const closed = closeEvent(client);
        const error = await new Promise((resolve) => client.once('error', resolve));
        assertSystemErrorShape(error, 'ECONNREFUSED', 'connect');
        await closed;
        assert.deepEqual(events, ['error', 'close']);
        await assert.rejects(finished(client), (e) => e === error);
      }),
  },
  {
    name: "stream socket: destroy(error) emits 'error' then 'close' once, finished() rejects with it, writes after it fail",
    needs: STREAM_SOCKETS,
    run: (t) =>
      withStreams(t, async (s) => {
        const { port } = await s.listen((socket) => socket.resume());
        const client = await s.connect(port);
        const events = recordEvents(client);
        const failure = new Error('case failure');
        const done = finished(client);
        client.destroy(failure);
        client.destroy(new Error('second destroy is ignored'));
        await assert.rejects(done, (e) => e === failure);
        if (!client.closed) await once(client, 'close');
        assert.deepEqual(events, ['error', 'close']);
        assert.equal(client.destroyed, true);
        assert.equal(client.fd, -1);
        const late = await new Promise<Error | null | undefined>((resolve) => client.write('late', resolve));
        assert.equal((late as Error & { code?: string }).code, 'ERR_STREAM_DESTROYED');
        await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(events, ['error', 'close'], 'nothing after close');
      }),
  },
  {
    name: 'stream socket: writing to a peer that closed fails with the system error (EPIPE or ECONNRESET) and destroys the socket',
    needs: STREAM_SOCKETS,
    run: (t) =>
      withStreams(t, async (s) => {
        const { port } = await s.listen((socket) => socket.destroy());
        const client = await s.connect(port, { allowHalfOpen: true });
        client.resume();
        const chunk = Buffer.alloc(65536, 1);
        const closed = closeEvent(client);
        const errored = new Promise((resolve) => client.once('error', resolve));
        // Writes until the peer's reset comes back as an error (the first ones may still be accepted).
        for (let i = 0; i < 2000 && !client.destroyed; i++) {
          await new Promise((resolve) => client.write(chunk, resolve));
        }
        const error = await errored;
        assert.ok(['EPIPE', 'ECONNRESET'].includes((error as { code: string }).code), String(error));
        assertSystemError(error, { code: ['EPIPE', 'ECONNRESET'] });
        await closed;
      }),
  },
  {
    name: 'stream socket: pipeline() from a Readable through an echo into a Writable completes, and finished() resolves',
    needs: STREAM_SOCKETS,
    timeoutMs: 60_000,
    run: (t) =>
      withStreams(t, async (s) => {
        const { port } = await s.listen((socket) => {
          pipeline(socket, socket).catch(() => {});
        });
        const client = await s.connect(port);
        const data = pattern(2 << 20, 11);
        const out: Buffer[] = [];
        const sink = new Writable({
          write(chunk: Buffer, _e, cb) {
            out.push(chunk);
            // A slow consumer: the socket's readable side pauses its receive now and then.
            if (out.length % 8 === 0) setTimeout(cb, 1);
            else cb();
          },
        });
        const reading = pipeline(client, sink);
        await pipeline(Readable.from(chunks(data, 100_000)), client);
        await reading;
        await finished(client);
        assert.equal(sha256(Buffer.concat(out)), sha256(data));
      }),
  },
  {
    name: "stream socket: setTimeout emits 'timeout' after idle time and activity postpones it",
    needs: STREAM_SOCKETS,
    run: (t) =>
      withStreams(t, async (s) => {
        const { port } = await s.listen((socket) => socket.resume());
        const client = await s.connect(port);
        const started = Date.now();
        client.setTimeout(150);
        const timer = setInterval(() => client.write('x'), 30);
        await new Promise((r) => setTimeout(r, 300));
        clearInterval(timer);
        await once(client, 'timeout');
        assert.ok(Date.now() - started >= 400, 'writes every 30 ms kept it from firing');
        assert.equal(client.timeout, 150);
        client.setTimeout(0);
        assert.equal(client.timeout, undefined);
      }),
  },
  {
    name: 'stream socket: tls.connect({ socket }) and new TLSSocket(socket, { isServer }) exchange data both ways',
    needs: STREAM_SOCKETS,
    timeoutMs: 30_000,
    run: (t) =>
      withStreams(t, async (s) => {
        const { port } = await s.listen(
          (socket) => {
            const secure = new tls.TLSSocket(socket, {
              isServer: true,
              key: TEST_ONLY_TLS_KEY,
              cert: TEST_ONLY_TLS_CERT,
            });
            secure.on('error', () => {});
            secure.pipe(secure);
          },
          { allowHalfOpen: true },
        );
        const raw = await s.connect(port);
        const client = tls.connect({ socket: raw, ca: TEST_ONLY_TLS_CERT, servername: 'localhost' });
        await once(client, 'secureConnect');
        assert.equal(client.authorized, true, String(client.authorizationError));
        const data = pattern(1 << 20, 5);
        const echoed = readAll(client);
        client.end(data);
        assert.equal(sha256(await echoed), sha256(data));
      }),
  },
  {
    name: 'stream socket: a node:http server fed proactor connections serves keep-alive and pipelined requests; http.request uses createConnection',
    needs: STREAM_SOCKETS,
    timeoutMs: 30_000,
    run: (t) =>
      withStreams(t, async (s) => {
        const httpServer = http.createServer((req, res) => {
          let body = '';
          req.on('data', (d) => {
            body += d;
          });
          req.on('end', () => res.end(`${req.method} ${req.url} ${body.length}`));
        });
        // serveHttp: a proactor server feeding node:http (half-open connections, as node:http's own).
        const proactorServer = serveHttp(s.queue, httpServer);
        s.adopt(proactorServer);
        proactorServer.listen(0, '127.0.0.1');
        await once(proactorServer, 'listening');
        const { port } = proactorServer.address() as { port: number };
        // Pipelined: three requests in one write, three responses in order on one connection.
        const raw = await s.connect(port);
        const responses = readAll(raw);
        // (Written, not ended: node:http drops requests still being read when the peer ends.)
        raw.write(
          'GET /a HTTP/1.1\r\nHost: x\r\n\r\n' +
            'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
            'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        );
        const text = (await responses).toString();
        const bodies = [...text.matchAll(/\r\n\r\n([A-Z]+ \/[a-z] \d+)/g)].map((m) => m[1]);
        assert.deepEqual(bodies, ['GET /a 0', 'POST /b 5', 'GET /c 0']);
        // The client side: http.request({ createConnection }) over a proactor connection...
        const once1 = await request({
          method: 'PUT',
          path: '/x',
          port,
          createConnection: () => s.track(s.net.connect(port, '127.0.0.1')),
        });
        assert.equal(once1, 'PUT /x 10');
        // ...and an Agent whose connections are proactor sockets, kept alive between requests.
        let connections = 0;
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        (agent as unknown as { createConnection: () => Socket }).createConnection = () => {
          connections++;
          return s.track(s.net.connect(port, '127.0.0.1'));
        };
        for (const path of ['/y', '/z', '/w']) {
          assert.equal(await request({ method: 'PUT', path, port, agent }), `PUT ${path} 10`);
        }
        assert.equal(connections, 1, 'one connection served the three requests');
        agent.destroy();
        httpServer.close();
      }),
  },
];

/** One request with a 10-byte body; resolves with the response body (status 200 asserted). */
async function request(options: http.RequestOptions): Promise<string> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request(options, resolve);
    req.on('error', reject);
    req.end('0123456789');
  });
  assert.equal(res.statusCode, 200);
  return (await readAll(res)).toString();
}

/** 'close', without once()'s rejection on 'error'. */
function closeEvent(emitter: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

function assertSystemErrorShape(error: unknown, code: string, syscall: string): void {
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  const e = error as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
  assert.equal(e.code, code, e.message);
  assert.equal(e.errno, errnoOf(code));
  assert.equal(e.syscall, syscall);
}
