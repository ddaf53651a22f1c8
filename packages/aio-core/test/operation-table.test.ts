import { describe, expect, it } from 'vitest';
import { OPCODE_COUNT, OPERATION_TABLE, OPERATIONS, Opcode, SOCKET_OPERATIONS } from '../src/index.js';

// aio-core's table of opcode facts; each native backend's test checks its addon's table against
// it (aio-conformance's operationTableDifferences).
describe('OPERATION_TABLE', () => {
  it('has one entry per opcode, at its index, named by its Opcode key in lower case', () => {
    expect(OPERATION_TABLE).toHaveLength(OPCODE_COUNT);
    for (const [key, opcode] of Object.entries(Opcode)) {
      expect([OPERATION_TABLE[opcode].opcode, OPERATION_TABLE[opcode].name]).toEqual([
        opcode,
        key.toLowerCase(),
      ]);
    }
  });

  it('names operations capabilities list: the socket ones exactly those in SOCKET_OPERATIONS', () => {
    for (const facts of OPERATION_TABLE) {
      const listed = (SOCKET_OPERATIONS as ReadonlySet<string>).has(facts.operation);
      expect([facts.name, facts.socket]).toEqual([facts.name, listed]);
      if (!listed) expect(OPERATIONS.has(facts.operation)).toBe(true);
    }
    const single = OPERATION_TABLE.filter((f) => !f.multishot).map((f) => f.operation);
    // lstat and rmdir are the flagged forms of stat and unlink: every other listed name has an opcode.
    const named = new Set([...single, 'lstat', 'rmdir']);
    expect(named).toEqual(new Set([...OPERATIONS, ...SOCKET_OPERATIONS]));
  });

  it('a multishot opcode needs the capability of its single form, and waits on its descriptor', () => {
    const multishot = OPERATION_TABLE.filter((f) => f.multishot);
    expect(multishot.map((f) => [f.name, f.operation, f.waitsOnDescriptor])).toEqual([
      ['accept_multi', 'accept', true],
      ['recv_multi', 'recv', true],
    ]);
  });

  it('gives a result kind that matches what fills the slot: stats for stat records, an address for address records', () => {
    for (const facts of OPERATION_TABLE) {
      expect([facts.name, facts.fillsStat]).toEqual([facts.name, facts.result === 'stats']);
      if (facts.result === 'address' || facts.result === 'accept' || facts.result === 'datagram')
        expect([facts.name, facts.fillsAddress]).toEqual([facts.name, true]);
    }
  });
});
