import { describe, expect, it } from 'vitest';
import {
  ADDRESS_SIZE,
  AddressOffset,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  encodeSocketAddress,
  errnoOf,
  formatIPv6,
  OPERATIONS,
  Opcode,
  type OperationName,
  parseIPv6,
  Queue,
  readAddress,
  SHUT_RDWR,
  SO_KEEPALIVE,
  SOCK_STREAM,
  SOCKET_OPERATIONS,
  validateSocketAddress,
  writeAddress,
} from '../src/index.js';
import { ManualBackend } from './manual-backend.js';

/** Writes `input` into record `index` of a fresh area and reads it back. */
function roundTrip(input: Parameters<typeof encodeSocketAddress>[2], index = 2) {
  const area = new Uint8Array(4 * ADDRESS_SIZE);
  encodeSocketAddress(area, index, input);
  return { area, base: index * ADDRESS_SIZE, decoded: readAddress(area, index) };
}

describe('socket addresses in the address area', () => {
  it('round-trips IPv4 with the bytes and port where abi.h puts them', () => {
    const { area, base, decoded } = roundTrip({ address: '192.168.1.20', port: 8080 });
    expect(decoded).toEqual({ address: '192.168.1.20', port: 8080, family: 'IPv4' });
    expect(area[base + AddressOffset.family]).toBe(AF_INET);
    expect([...area.subarray(base + AddressOffset.addr, base + AddressOffset.addr + 4)]).toEqual([
      192, 168, 1, 20,
    ]);
    const view = new DataView(area.buffer, base);
    expect(view.getUint16(AddressOffset.port, true)).toBe(8080);
    // Neighbouring records are untouched.
    expect(area.subarray(0, base).every((b) => b === 0)).toBe(true);
    expect(area.subarray(base + ADDRESS_SIZE).every((b) => b === 0)).toBe(true);
  });

  it('round-trips IPv6 addresses in their canonical text form', () => {
    const cases: [string, string][] = [
      ['::1', '::1'],
      ['::', '::'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['fe80::1:2', 'fe80::1:2'],
      ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ];
    for (const [input, canonical] of cases) {
      const { area, base, decoded } = roundTrip({ address: input, port: 443, family: 6 });
      expect(decoded).toEqual({ address: canonical, port: 443, family: 'IPv6' });
      expect(area[base + AddressOffset.family]).toBe(AF_INET6);
    }
    const { area, base } = roundTrip({ address: '2001:db8::ff00:42:8329', port: 1 });
    expect([...area.subarray(base + AddressOffset.addr, base + AddressOffset.addr + 16)]).toEqual([
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29,
    ]);
  });

  it('carries a numeric IPv6 scope id', () => {
    const { area, base, decoded } = roundTrip({ address: 'fe80::1%3', port: 9 });
    expect(decoded).toEqual({ address: 'fe80::1%3', port: 9, family: 'IPv6' });
    expect(new DataView(area.buffer, base).getUint32(AddressOffset.scope_id, true)).toBe(3);
  });

  it('round-trips unix paths, given as strings or Buffers', () => {
    const path = '/tmp/proactor-\u00e9.sock';
    const { area, base, decoded } = roundTrip({ path });
    expect(decoded).toEqual({ path });
    expect(area[base + AddressOffset.family]).toBe(AF_UNIX);
    expect(new DataView(area.buffer, base).getUint16(AddressOffset.path_len, true)).toBe(
      Buffer.byteLength(path),
    );
    expect(roundTrip({ path: Buffer.from('/run/x.sock') }).decoded).toEqual({ path: '/run/x.sock' });
  });

  it('reads an empty record as no address, and a rewritten record without leftovers', () => {
    const area = new Uint8Array(ADDRESS_SIZE);
    expect(readAddress(area, 0)).toBeUndefined();
    writeAddress(area, 0, validateSocketAddress({ path: `/${'p'.repeat(90)}` }, 'address', 0));
    writeAddress(area, 0, validateSocketAddress({ address: '10.0.0.1', port: 1 }, 'address', 0));
    expect(area.subarray(AddressOffset.path).every((b) => b === 0)).toBe(true);
    expect(readAddress(area, 0)).toEqual({ address: '10.0.0.1', port: 1, family: 'IPv4' });
  });

  it('parses and formats IPv6 as inet_pton / inet_ntop do', () => {
    expect(formatIPv6(parseIPv6('0:0:0:0:0:0:0:1'))).toBe('::1');
    expect(formatIPv6(parseIPv6('::7f00:1'))).toBe('::127.0.0.1');
    expect(formatIPv6(parseIPv6('1::'))).toBe('1::');
    expect(formatIPv6(parseIPv6('1:0:2:3:4:5:6:7'))).toBe('1:0:2:3:4:5:6:7');
  });

  it('refuses what node:net refuses, with Node error codes', () => {
    const check = (value: unknown, code: string, minPort = 0) =>
      expect(() => validateSocketAddress(value, 'address', minPort)).toThrow(
        expect.objectContaining({ code }),
      );
    check('127.0.0.1:80', 'ERR_INVALID_ARG_TYPE');
    check({ address: 'example.com', port: 80 }, 'ERR_INVALID_ARG_VALUE');
    check({ address: '127.0.0.1', port: 70000 }, 'ERR_OUT_OF_RANGE');
    check({ address: '127.0.0.1', port: 0 }, 'ERR_OUT_OF_RANGE', 1);
    check({ address: '::1', port: 1, family: 'IPv4' }, 'ERR_INVALID_ARG_VALUE');
    check({ address: '127.0.0.1%1', port: 1 }, 'ERR_INVALID_ARG_VALUE');
    check({ address: 'fe80::1%no-such-interface', port: 1 }, 'ERR_INVALID_ARG_VALUE');
    check({ path: 'x'.repeat(108) }, 'ERR_OUT_OF_RANGE');
    expect(validateSocketAddress({ path: 'x'.repeat(107) }, 'address', 0).path.length).toBe(107);
    check({ path: '/x', port: 1 }, 'ERR_INVALID_ARG_VALUE');
    check({ path: 7 }, 'ERR_INVALID_ARG_TYPE');
  });
});

describe('socket operations in the queue', () => {
  const sockets = new Set<OperationName>([...OPERATIONS, ...SOCKET_OPERATIONS]);

  it('encodes bind and connect addresses into the slot of their submission', async () => {
    const backend = new ManualBackend({ ops: sockets });
    const q = new Queue(backend, { entries: 4 });
    q.nop();
    const bound = q.bind(5, { address: '::1', port: 1234 });
    q.submit();
    const sub = backend.submitted[1];
    expect(sub).toMatchObject({ opcode: Opcode.BIND, fd: 5 });
    expect(readAddress(backend.ring.addresses, sub.slot)).toEqual({
      address: '::1',
      port: 1234,
      family: 'IPv6',
    });
    backend.complete([[sub.slot, errnoOf('EADDRINUSE')]]);
    await expect(bound).rejects.toMatchObject({
      code: 'EADDRINUSE',
      syscall: 'bind',
      address: '::1',
      port: 1234,
      message: 'bind EADDRINUSE ::1:1234',
    });
  });

  it('decodes the peer address of accept and settles { fd, address }', async () => {
    const backend = new ManualBackend({ ops: sockets });
    const q = new Queue(backend);
    const accepted = q.accept(3);
    q.submit();
    const [sub] = backend.submitted;
    expect(sub.opcode).toBe(Opcode.ACCEPT);
    encodeSocketAddress(backend.ring.addresses, sub.slot, { address: '10.1.2.3', port: 5555 });
    backend.complete([[sub.slot, 9]]);
    await expect(accepted).resolves.toEqual({
      fd: 9,
      address: { address: '10.1.2.3', port: 5555, family: 'IPv4' },
    });
  });

  it('encodes socket, listen, shutdown and setsockopt arguments', async () => {
    const backend = new ManualBackend({ ops: sockets });
    const q = new Queue(backend);
    q.socket('unix');
    q.listen(4, 16);
    q.shutdown(4, 'both');
    q.setsockopt(4, 'keepalive', true);
    q.recv(4, Buffer.alloc(10), 2, 5);
    q.submit();
    expect(
      backend.submitted.map(({ opcode, opFlags, mode, len, bufOffset }) => ({
        opcode,
        opFlags,
        mode,
        len,
        bufOffset,
      })),
    ).toEqual([
      { opcode: Opcode.SOCKET, opFlags: AF_UNIX, mode: SOCK_STREAM, len: 0, bufOffset: 0 },
      { opcode: Opcode.LISTEN, opFlags: 0, mode: 0, len: 16, bufOffset: 0 },
      { opcode: Opcode.SHUTDOWN, opFlags: SHUT_RDWR, mode: 0, len: 0, bufOffset: 0 },
      { opcode: Opcode.SETSOCKOPT, opFlags: SO_KEEPALIVE, mode: 0, len: 1, bufOffset: 0 },
      { opcode: Opcode.RECV, opFlags: 0, mode: 0, len: 5, bufOffset: 2 },
    ]);
  });

  it('refuses socket operations with ERR_PROACTOR_UNSUPPORTED on a backend without them', () => {
    const backend = new ManualBackend();
    const q = new Queue(backend);
    expect(() => q.socket()).toThrow(expect.objectContaining({ code: 'ERR_PROACTOR_UNSUPPORTED' }));
    expect(() => q.connect(3, { address: '127.0.0.1', port: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_PROACTOR_UNSUPPORTED' }),
    );
    q.submit();
    expect(backend.submitted).toEqual([]);
  });
});
