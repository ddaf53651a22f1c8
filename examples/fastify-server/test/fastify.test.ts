import { spawn } from 'node:child_process';
import * as http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FastifyOverProactor, startFastifyServer } from '../src/server.js';

const BACKENDS: [string, string | undefined][] = [
  ['node', undefined],
  ['io_uring', process.platform === 'linux' ? undefined : 'io_uring exists only on Linux'],
];

/** One request on `agent`; resolves with the status, the headers and the body. */
function request(
  port: number,
  agent: http.Agent,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: text, socket: req.socket }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

for (const [backend, skip] of BACKENDS) {
  describe.skipIf(skip !== undefined)(`fastify over proactor connections (${backend})`, () => {
    let server: FastifyOverProactor;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    beforeAll(async () => {
      process.env.PROACTOR_BACKEND = backend;
      server = await startFastifyServer();
      delete process.env.PROACTOR_BACKEND;
    });
    afterAll(async () => {
      agent.destroy();
      await server?.close();
    });

    it('runs on the backend asked for', () => {
      expect(server.backend).toBe(backend);
    });

    it('answers routes with parameters, JSON bodies and 404s, keeping one connection alive', async () => {
      const first = await request(server.port, agent, 'GET', '/');
      expect(first.status).toBe(200);
      expect(JSON.parse(first.body)).toEqual({ hello: 'world' });
      const greet = await request(server.port, agent, 'GET', '/greet/proactor');
      expect(JSON.parse(greet.body)).toEqual({ greeting: 'hello, proactor' });
      const payload = { list: Array.from({ length: 5000 }, (_, i) => i), text: 'é'.repeat(1000) };
      const echo = await request(server.port, agent, 'POST', '/echo', JSON.stringify(payload));
      expect(echo.status).toBe(200);
      expect(JSON.parse(echo.body)).toEqual(payload);
      const missing = await request(server.port, agent, 'GET', '/nowhere');
      expect(missing.status).toBe(404);
      // The four requests went over one kept-alive connection.
      expect(greet.socket).toBe(first.socket);
      expect(missing.socket).toBe(first.socket);
    });

    it('serves concurrent clients', async () => {
      const many = new http.Agent({ keepAlive: true, maxSockets: 20 });
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) => request(server.port, many, 'GET', `/greet/${i}`)),
      );
      many.destroy();
      for (const [i, reply] of replies.entries()) {
        expect(JSON.parse(reply.body)).toEqual({ greeting: `hello, ${i}` });
      }
    });
  });
}

describe('the example as its README runs it', () => {
  it('prints its URL, serves, and closes on SIGTERM', async () => {
    const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
    const child = spawn(process.execPath, [main], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: string) => {
        output += d;
        const match = output.match(/listening on (http:\/\/\S+\/)/);
        if (match) resolve(match[1]);
      });
      child.on('exit', () => reject(new Error(`exited early: ${output}`)));
    });
    const res = await fetch(url);
    expect(await res.json()).toEqual({ hello: 'world' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    expect(output).toContain('closed');
  });
});
