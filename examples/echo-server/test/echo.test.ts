import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '@proactor/aio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoServer, startEchoServer } from '../src/server.js';

const BACKENDS: [string, string | undefined][] = [
  ['node', undefined],
  ['io_uring', process.platform === 'linux' ? undefined : 'io_uring exists only on Linux'],
];

/** Sends `data` on a fresh connection, half-closes, and collects everything echoed until the server ends. */
function echo(port: number, data: Buffer, timeoutMs = 20000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`echo of ${data.length} bytes timed out`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(data));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');

for (const [name, skip] of BACKENDS) {
  describe.skipIf(skip !== undefined)(`echo server on ${name}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    let server: EchoServer;
    beforeAll(async () => {
      const { backend } = await selectBackend({ backend: name });
      server = await startEchoServer({ port: 0, host: '127.0.0.1', backend });
    });
    afterAll(async () => {
      await server?.close();
    });

    it('listens on a real port and reports its backend', () => {
      expect(server.port).toBeGreaterThan(0);
      expect(server.backend).toBe(name);
    });

    it('echoes a short message', async () => {
      const reply = await echo(server.port, Buffer.from('hello, proactor\n'));
      expect(reply.toString()).toBe('hello, proactor\n');
    });

    it('echoes 1 MiB intact', async () => {
      const payload = randomBytes(1 << 20);
      const reply = await echo(server.port, payload);
      expect(reply.length).toBe(payload.length);
      expect(digest(reply)).toBe(digest(payload));
    });

    it('serves 20 concurrent clients, each getting its own bytes back', async () => {
      const payloads = Array.from({ length: 20 }, (_, i) => randomBytes(32768 + i * 1000));
      const replies = await Promise.all(payloads.map((p) => echo(server.port, p)));
      replies.forEach((reply, i) => {
        expect(digest(reply)).toBe(digest(payloads[i]));
      });
    });

    it('echoes several messages back and forth on one connection', async () => {
      const socket = net.connect({ host: '127.0.0.1', port: server.port });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      try {
        for (let i = 0; i < 5; i++) {
          const message = `message ${i}`;
          const reply = new Promise<string>((resolve, reject) => {
            let got = '';
            const timer = setTimeout(() => reject(new Error('no reply')), 5000);
            const onData = (chunk: Buffer) => {
              got += chunk.toString();
              if (got.length >= message.length) {
                clearTimeout(timer);
                socket.off('data', onData);
                resolve(got);
              }
            };
            socket.on('data', onData);
          });
          socket.write(message);
          expect(await reply).toBe(message);
        }
      } finally {
        socket.destroy();
      }
    });
  });
}

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
describe.skipIf(!existsSync(main))('echo server as a process (dist/main.js)', () => {
  it('prints its port, echoes, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [main, '0'], {
      env: { ...process.env, PROACTOR_BACKEND: 'node' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no port printed: ${output}`)), 10000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        });
      });
      expect((await echo(port, Buffer.from('over a process'))).toString()).toBe('over a process');
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
