import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// The reference backend, from source: aio-conformance does not depend on it.
import nodeBackend from '../../aio-node/src/index.js';
import {
  compareBackends,
  generateScript,
  generateSocketScript,
  isSocketScript,
  runSocketScript,
  type SocketStep,
} from '../src/differential.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'proactor-differential-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('generateSocketScript', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(generateSocketScript(7, 200)).toEqual(generateSocketScript(7, 200));
    expect(generateSocketScript(7, 200)).not.toEqual(generateSocketScript(8, 200));
    expect(generateSocketScript(7, 200)).toHaveLength(200);
  });

  it('starts with a socket and only names sockets created before', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const steps = generateSocketScript(seed, 300);
      expect(steps[0].op === 'socket' || steps[0].op === 'badfd' || steps[0].op === 'notsock').toBe(true);
      // Sockets come from socket and (some) accept steps: never more than those seen so far.
      let created = 0;
      for (const step of steps) {
        if ('sock' in step) expect(step.sock).toBeLessThan(created);
        if ('to' in step && typeof step.to === 'number') expect(step.to).toBeLessThan(created);
        if (step.op === 'bind' && step.like !== undefined) expect(step.like).toBeLessThan(created);
        if (step.op === 'socket' || (step.op === 'accept' && step.waitMs === undefined)) created++;
      }
    }
  });

  it('covers every operation, address family and the deliberate failures', () => {
    const steps = Array.from({ length: 40 }, (_, seed) => generateSocketScript(seed + 1, 300)).flat();
    const ops = new Set(steps.map((s) => s.op));
    for (const op of [
      'socket',
      'bind',
      'listen',
      'connect',
      'accept',
      'send',
      'recv',
      'shutdown',
      'close',
      'setsockopt',
      'localAddress',
      'sendto',
      'recvfrom',
      'badfd',
      'notsock',
    ])
      expect(ops, op).toContain(op);
    const kinds = new Set(steps.flatMap((s) => (s.op === 'socket' ? [s.kind] : [])));
    expect([...kinds].sort()).toEqual(['tcp4', 'tcp6', 'udp4', 'udp6', 'unix']);
    expect(steps.some((s) => s.op === 'bind' && s.like !== undefined)).toBe(true);
    expect(steps.some((s) => s.op === 'connect' && s.to === 'nowhere')).toBe(true);
    expect(steps.some((s) => 'waitMs' in s && s.waitMs !== undefined)).toBe(true);
  });

  it('leaves out IPv6 and unix sockets when asked', () => {
    const steps = Array.from({ length: 20 }, (_, seed) =>
      generateSocketScript(seed + 1, 200, { ipv6: false, unix: false }),
    ).flat();
    const kinds = new Set(steps.flatMap((s) => (s.op === 'socket' ? [s.kind] : [])));
    expect([...kinds].sort()).toEqual(['tcp4', 'udp4']);
  });

  it('generates a known difference only when it is included', () => {
    const seeds = Array.from({ length: 30 }, (_, i) => i + 1);
    for (const seed of seeds)
      expect(generateSocketScript(seed, 200, { include: [] })).toEqual(generateSocketScript(seed, 200));
    // Sends without an address on UDP sockets never bound ('send-unbound-udp') change the scripts.
    expect(
      seeds.some(
        (seed) =>
          JSON.stringify(generateSocketScript(seed, 200, { include: ['send-unbound-udp'] })) !==
          JSON.stringify(generateSocketScript(seed, 200)),
      ),
    ).toBe(true);
  });
});

describe('isSocketScript', () => {
  it('tells socket scripts from file scripts', () => {
    expect(isSocketScript(generateSocketScript(3, 50))).toBe(true);
    expect(isSocketScript(generateScript(3, 50))).toBe(false);
    expect(isSocketScript([{ op: 'close', sock: 0 }])).toBe(true);
    expect(isSocketScript([{ op: 'close', fd: 0 }])).toBe(false);
  });
});

describe('runSocketScript', () => {
  it('reports byte streams, end of stream, addresses and errors without port numbers', async () => {
    const dir = tempDir();
    const steps: SocketStep[] = [
      { op: 'socket', kind: 'tcp4' }, // #0: listener
      { op: 'bind', sock: 0 },
      { op: 'listen', sock: 0 },
      { op: 'socket', kind: 'tcp4' }, // #1: client
      { op: 'connect', sock: 1, to: 0 },
      { op: 'accept', sock: 0 }, // #2
      { op: 'send', sock: 1, length: 3000, seed: 1 },
      { op: 'send', sock: 1, length: 5000, seed: 2 },
      { op: 'shutdown', sock: 1, how: 'write' },
      { op: 'recv', sock: 2, length: 8000 },
      { op: 'recv', sock: 2, length: 10 },
      { op: 'localAddress', sock: 2 },
      { op: 'socket', kind: 'tcp4' }, // #3
      { op: 'bind', sock: 3, like: 0 },
      { op: 'connect', sock: 3, to: 'nowhere' },
      { op: 'close', sock: 3 },
      { op: 'recv', sock: 3, length: 4 },
      { op: 'socket', kind: 'udp4' }, // #4
      { op: 'bind', sock: 4 },
      { op: 'sendto', sock: 4, to: 4, length: 100, seed: 3 },
      { op: 'recvfrom', sock: 4, length: 40 },
      { op: 'recvfrom', sock: 4, length: 40, waitMs: 20 },
      { op: 'notsock', action: 'recv' },
      { op: 'badfd', action: 'close' },
    ];
    const out = await runSocketScript(nodeBackend, dir, steps);
    expect(out[0]).toBe('socket #0');
    expect(out[5]).toBe('socket #2 from IPv4 127.0.0.1 port of #1');
    expect(out[9]).toMatch(/^8000 bytes [0-9a-f]{12}$/);
    expect(out[10]).toBe('0 bytes da39a3ee5e6b, end of stream');
    expect(out[11]).toBe('IPv4 127.0.0.1 port of #0');
    expect(out[13]).toBe('error EADDRINUSE (bind)');
    expect(out[14]).toBe('error ECONNREFUSED (connect)');
    expect(out[16]).toBe('error EBADF (read)');
    expect(out[19]).toBe('100 bytes');
    expect(out[20]).toMatch(/^40 bytes [0-9a-f]{12} from IPv4 127\.0\.0\.1 port of #4$/);
    expect(out[21]).toBe('aborted');
    expect(out[22]).toBe('error ENOTSOCK (read)');
    expect(out[23]).toBe('error EBADF (close)');
  });

  it('gives the same outcomes on two runs, whatever ports they got (aio-node against itself)', async () => {
    for (const seed of [1, 2, 3]) {
      const subject = join(tempDir(), 's');
      const oracle = join(tempDir(), 'o');
      mkdirSync(subject);
      mkdirSync(oracle);
      const steps = generateSocketScript(seed, 150);
      const divergence = await compareBackends(nodeBackend, nodeBackend, { subject, oracle }, steps);
      expect(divergence, `seed ${seed}`).toBeUndefined();
    }
  });
});
