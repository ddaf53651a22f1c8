import { describe, expect, it } from 'vitest';
import {
  type Completion,
  errnoOf,
  OPERATIONS,
  Opcode,
  Queue,
  readAddress,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOCKET_OPERATIONS,
  validateSocketAddress,
  writeAddress,
} from '../src/index.js';
import { ManualBackend, tick } from './manual-backend.js';

const ops = new Set([...OPERATIONS, ...SOCKET_OPERATIONS]);

describe('datagram sockets', () => {
  it("encodes socket(family, 'dgram') as SOCK_DGRAM and refuses unknown types", () => {
    const backend = new ManualBackend({ ops });
    const q = new Queue(backend);
    void q.socket(4, 'dgram');
    void q.socket(6);
    q.submit();
    expect(backend.submitted.map((s) => [s.opcode, s.mode])).toEqual([
      [Opcode.SOCKET, SOCK_DGRAM],
      [Opcode.SOCKET, SOCK_STREAM],
    ]);
    expect(() => q.socket(4, 'raw' as 'dgram')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
  });

  it('writes the destination of sendto into the address area and encodes the range', () => {
    const backend = new ManualBackend({ ops });
    const q = new Queue(backend);
    const data = Buffer.from('hello world');
    void q.sendto(5, data, { address: '::1', port: 9000 }, 6, 5);
    q.submit();
    const [sub] = backend.submitted;
    expect(sub).toMatchObject({ opcode: Opcode.SENDTO, fd: 5, bufOffset: 6, len: 5 });
    expect(readAddress(backend.ring.addresses, sub.slot)).toEqual({
      address: '::1',
      port: 9000,
      family: 'IPv6',
    });
    expect(() => q.sendto(5, data, { address: '127.0.0.1', port: 0 })).toThrow(RangeError);
  });

  it('resolves recvfrom with the bytes and the sender, and the polled form carries the address', async () => {
    const backend = new ManualBackend({ ops });
    const q = new Queue(backend);
    const promise = q.recvfrom(5, Buffer.alloc(10), { offset: 2 });
    q.recvfrom(5, Buffer.alloc(10), { userData: 7 });
    q.submit();
    const [a, b] = backend.submitted;
    expect(a).toMatchObject({ opcode: Opcode.RECVFROM, bufOffset: 2, len: 8 });
    const sender = validateSocketAddress({ address: '127.0.0.1', port: 1234 }, 'address', 0);
    writeAddress(backend.ring.addresses, a.slot, sender);
    writeAddress(backend.ring.addresses, b.slot, sender);
    backend.complete([
      [a.slot, 3],
      [b.slot, 4],
    ]);
    expect(await promise).toEqual({
      bytes: 3,
      address: { address: '127.0.0.1', port: 1234, family: 'IPv4' },
    });
    await tick();
    const polled: Completion[] = [];
    q.drain((c) => polled.push(c));
    expect(polled).toEqual([
      { userData: 7, result: 4, address: { address: '127.0.0.1', port: 1234, family: 'IPv4' } },
    ]);
  });

  it("rejects like node:dgram: recvfrom with syscall 'recvmsg', sendto with 'send host:port'", async () => {
    const backend = new ManualBackend({ ops });
    const q = new Queue(backend);
    const recv = q.recvfrom(5, Buffer.alloc(4)).catch((e: unknown) => e);
    const send = q.sendto(5, 'x', { address: '127.0.0.1', port: 41234 }).catch((e: unknown) => e);
    q.submit();
    const [a, b] = backend.submitted;
    backend.complete([
      [a.slot, errnoOf('EBADF')],
      [b.slot, errnoOf('EMSGSIZE')],
    ]);
    expect(await recv).toMatchObject({ code: 'EBADF', syscall: 'recvmsg' });
    expect(await send).toMatchObject({
      code: 'EMSGSIZE',
      syscall: 'send',
      message: 'send EMSGSIZE 127.0.0.1:41234',
      address: '127.0.0.1',
      port: 41234,
    });
  });
});
