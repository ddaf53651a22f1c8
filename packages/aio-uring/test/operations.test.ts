import { operationTableDifferences } from '@proactor/aio-conformance';
import { OPCODE_COUNT, OPERATIONS, Opcode, SOCKET_OPERATIONS } from '@proactor/aio-core';
import { describe, expect, it } from 'vitest';
import { kernelSupport, operations } from '../src/index.js';

// The addon's operation table (native/common/operation.h, io_uring opcodes from
// native/uring/engine.cc) is the native source of each operation's facts, aio-core's
// OPERATION_TABLE the TypeScript one; aio-core's Opcode is the ABI's (abi.h, checked by
// aio-core's abi.test.ts). These keep them in agreement.
describe('the native operation table', () => {
  it("agrees with aio-core's OPERATION_TABLE: names, opcodes and every trait TypeScript acts on", () => {
    expect(operationTableDifferences(operations)).toEqual([]);
  });

  it('a difference is reported, naming the operation and the trait', () => {
    const changed = operations.map((op) => (op.name === 'recv' ? { ...op, transfer: false } : op));
    expect(operationTableDifferences(changed)).toEqual([
      'recv: transfer is false natively, true in aio-core',
    ]);
    expect(operationTableDifferences(operations.slice(0, -1))).toEqual([
      `the native table has ${OPCODE_COUNT - 1} entries, aio-core ${OPCODE_COUNT} opcodes`,
      `opcode ${OPCODE_COUNT - 1}: missing natively`,
    ]);
  });

  it('has one entry per aio-core opcode, named by its Opcode key', () => {
    expect(operations).toHaveLength(OPCODE_COUNT);
    for (const [key, opcode] of Object.entries(Opcode)) {
      expect([key, operations[opcode]?.opcode, operations[opcode]?.name]).toEqual([
        key,
        opcode,
        key.toLowerCase(),
      ]);
    }
  });

  it('names a system call for every operation', () => {
    for (const op of operations)
      expect([op.name, typeof op.syscall, op.syscall.length > 0]).toEqual([op.name, 'string', true]);
  });

  it('marks exactly the socket operations, and the waiting ones among them', () => {
    const sockets = operations.filter((op) => op.socket && !op.multishot).map((op) => op.name);
    expect(new Set(sockets)).toEqual(new Set(SOCKET_OPERATIONS));
    const waiting = operations.filter((op) => op.waitsOnDescriptor).map((op) => op.name);
    expect(new Set(waiting)).toEqual(
      new Set([
        'accept',
        'connect',
        'recv',
        'send',
        'recvfrom',
        'sendto',
        'poll',
        'accept_multi',
        'recv_multi',
      ]),
    );
    for (const op of operations)
      if (op.waitsOnDescriptor || op.runsAtLaunch) expect([op.name, op.socket]).toEqual([op.name, true]);
  });

  it('gives an io_uring opcode to every operation but those made as plain calls', () => {
    const without = operations.filter((op) => op.kernelOpcode === null).map((op) => op.name);
    expect(new Set(without)).toEqual(new Set(['cancel', 'setsockopt', 'getsockname']));
  });

  it('is what kernelSupport reports on: every named operation with an io_uring opcode', () => {
    const named = new Set<string>([...OPERATIONS, ...SOCKET_OPERATIONS]);
    const expected = operations
      .filter((op) => op.kernelOpcode !== null && named.has(op.name))
      .map((op) => op.name);
    expect(Object.keys(kernelSupport).sort()).toEqual(expected.sort());
  });
});
