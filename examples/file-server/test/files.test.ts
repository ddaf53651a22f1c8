import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '@proactor/aio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentType, type FileServer, startFileServer } from '../src/server.js';

const BACKENDS: [string, string | undefined][] = [
  ['node', undefined],
  ['io_uring', process.platform === 'linux' ? undefined : 'io_uring exists only on Linux'],
];

interface Response {
  status: number | undefined;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(port: number, path: string, method = 'GET', agent?: http.Agent): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.setTimeout(20000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes (paths node:http would not send as written) and returns the response's status line. */
function rawStatus(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response to ${JSON.stringify(text)}`));
    }, 5000);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      const line = data.indexOf('\r\n');
      if (line !== -1) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data.slice(0, line));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

let base: string;
let root: string;
const small = Buffer.from('<!doctype html><title>hi</title><p>small file</p>\n');
const large = randomBytes(5 * 1024 * 1024 + 123);
const secret = Buffer.from('outside the root\n');

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'proactor-file-server-'));
  root = join(base, 'public');
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, 'index.html'), small);
  writeFileSync(join(root, 'large.bin'), large);
  writeFileSync(join(root, 'docs', 'a b.txt'), 'spaced name\n');
  writeFileSync(join(base, 'secret.txt'), secret);
  symlinkSync(join(base, 'secret.txt'), join(root, 'escape.txt'));
  symlinkSync(join(root, 'index.html'), join(root, 'inside-link.html'));
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

for (const [name, skip] of BACKENDS) {
  describe.skipIf(skip !== undefined)(`file server on ${name}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    let server: FileServer;
    beforeAll(async () => {
      const { backend } = await selectBackend({ backend: name });
      server = await startFileServer({ root, port: 0, host: '127.0.0.1', backend });
    });
    afterAll(async () => {
      await server?.close();
    });

    it('serves a small file identical to disk, with Content-Length and Content-Type', async () => {
      const res = await request(server.port, '/index.html');
      expect(res.status).toBe(200);
      expect(res.body.equals(small)).toBe(true);
      expect(res.headers['content-length']).toBe(String(small.length));
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    });

    it('serves a 5 MiB file identical to disk, streamed in chunks', async () => {
      const res = await request(server.port, '/large.bin');
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toBe(String(large.length));
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.body.length).toBe(large.length);
      expect(res.body.equals(large)).toBe(true);
    });

    it('serves a changed file anew: the open-file cache drops a file that changes', async () => {
      const path = join(root, `changing-${name}.txt`);
      writeFileSync(path, 'first version\n');
      expect((await request(server.port, `/changing-${name}.txt`)).body.toString()).toBe('first version\n');
      expect((await request(server.port, `/changing-${name}.txt`)).body.toString()).toBe('first version\n');
      writeFileSync(path, 'the second, longer version\n');
      // The watcher's event arrives through the event loop: within a few turns of it.
      let body = '';
      for (let i = 0; i < 50 && body !== 'the second, longer version\n'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        body = (await request(server.port, `/changing-${name}.txt`)).body.toString();
      }
      expect(body).toBe('the second, longer version\n');
      unlinkSync(path);
      let status: number | undefined = 200;
      for (let i = 0; i < 50 && status === 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        status = (await request(server.port, `/changing-${name}.txt`)).status;
      }
      expect(status).toBe(404);
    });

    it('serves index.html for a directory path and decodes percent-escapes', async () => {
      expect((await request(server.port, '/')).body.equals(small)).toBe(true);
      const spaced = await request(server.port, '/docs/a%20b.txt');
      expect(spaced.status).toBe(200);
      expect(spaced.body.toString()).toBe('spaced name\n');
      expect(spaced.headers['content-type']).toBe('text/plain; charset=utf-8');
    });

    it('answers HEAD with the headers of GET and no body', async () => {
      const res = await request(server.port, '/large.bin', 'HEAD');
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toBe(String(large.length));
      expect(res.body.length).toBe(0);
      // The connection stays usable: a raw HEAD then GET on one socket gets exactly two responses.
      const both = await new Promise<string>((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: server.port });
        let data = '';
        const timer = setTimeout(() => reject(new Error(`timed out: ${data}`)), 5000);
        socket.on('connect', () =>
          socket.write(
            'HEAD /index.html HTTP/1.1\r\n\r\nGET /index.html HTTP/1.1\r\nConnection: close\r\n\r\n',
          ),
        );
        socket.on('data', (chunk: Buffer) => {
          data += chunk.toString('latin1');
        });
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(data);
        });
        socket.on('error', reject);
      });
      expect(both.split('HTTP/1.1 200 OK').length - 1).toBe(2);
      expect(both.endsWith(`\r\n\r\n${small.toString('latin1')}`)).toBe(true);
      expect(both.split(small.toString('latin1')).length - 1).toBe(1);
    });

    it('answers 404 for a missing file', async () => {
      const res = await request(server.port, '/nope.txt');
      expect(res.status).toBe(404);
      expect(res.body.toString()).toContain('404');
    });

    it('refuses paths that escape the root with 403, by .., by %2e%2e, and by a symlink', async () => {
      expect(await rawStatus(server.port, 'GET /../secret.txt HTTP/1.1\r\n\r\n')).toBe(
        'HTTP/1.1 403 Forbidden',
      );
      expect(await rawStatus(server.port, 'GET /docs/../../secret.txt HTTP/1.1\r\n\r\n')).toBe(
        'HTTP/1.1 403 Forbidden',
      );
      expect(await rawStatus(server.port, 'GET /%2e%2e/secret.txt HTTP/1.1\r\n\r\n')).toBe(
        'HTTP/1.1 403 Forbidden',
      );
      const link = await request(server.port, '/escape.txt');
      expect(link.status).toBe(403);
      expect(link.body.includes(secret)).toBe(false);
      // A symlink that stays inside the root is served.
      expect((await request(server.port, '/inside-link.html')).body.equals(small)).toBe(true);
    });

    it('answers 405 to other methods and keeps several requests on one connection', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        expect((await request(server.port, '/index.html', 'DELETE', agent)).status).toBe(405);
        for (let i = 0; i < 3; i++) {
          const res = await request(server.port, '/index.html', 'GET', agent);
          expect(res.status).toBe(200);
          expect(res.headers.connection).toBe('keep-alive');
        }
        expect(server.connections).toBe(1);
      } finally {
        agent.destroy();
      }
    });

    it('serves the large file to 4 concurrent clients intact', async () => {
      const all = await Promise.all(Array.from({ length: 4 }, () => request(server.port, '/large.bin')));
      for (const res of all) expect(res.body.equals(large)).toBe(true);
    });
  });
}

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
describe.skipIf(!existsSync(main))('file server as a process (dist/main.js)', () => {
  it('serves the directory given on the command line and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [main, root, '0'], {
      env: { ...process.env, PROACTOR_BACKEND: 'node' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 10000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        });
      });
      expect(output).toContain(`file server for ${realpathSync(root)}`);
      expect((await request(port, '/index.html')).body.equals(small)).toBe(true);
      const exited = new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('did not exit after SIGTERM')), 10000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('closed');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('contentType', () => {
  it('maps a few extensions and defaults to octet-stream', () => {
    expect(contentType('/a/b.HTML')).toBe('text/html; charset=utf-8');
    expect(contentType('x.json')).toBe('application/json');
    expect(contentType('x.unknown')).toBe('application/octet-stream');
  });
});
