import { operationTableDifferences } from '@proactor/aio-conformance';
import { OPCODE_COUNT } from '@proactor/aio-core';
import { describe, expect, it } from 'vitest';
import { operations } from '../src/index.js';

// The reactor addon's operation table (native/common/operation_table.h, shared with the io_uring
// and kqueue addons) against aio-core's OPERATION_TABLE: the traits the engine core acts on
// natively (which operations wait on a descriptor, move bytes, fill an address) must be the ones
// TypeScript acts on.
describe("the reactor addon's operation table", () => {
  it("agrees with aio-core's OPERATION_TABLE: names, opcodes and every trait", () => {
    expect(operations).toHaveLength(OPCODE_COUNT);
    expect(operationTableDifferences(operations)).toEqual([]);
  });

  it('names a system call for every operation, and marks the plain calls made at launch as socket ones', () => {
    for (const op of operations) {
      expect([op.name, op.syscall.length > 0]).toEqual([op.name, true]);
      if (op.runsAtLaunch) expect([op.name, op.socket]).toEqual([op.name, true]);
    }
  });
});
