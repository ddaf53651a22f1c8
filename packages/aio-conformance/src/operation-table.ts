/**
 * The check every native backend's tests make of its addon's operation table: the facts
 * TypeScript relies on (aio-core's OPERATION_TABLE) must be the native ones (native/common/
 * operation.h). A new backend calls `operationTableDifferences(addon.operations())` in its
 * tests and expects no difference.
 */
import { OPCODE_COUNT, OPERATION_TABLE, type OperationFacts } from '@proactor/aio-core';

/**
 * One entry of an addon's `operations()` table, as far as it is compared: its opcode (a number,
 * the table's index), its name and the traits, with the meanings of aio-core's OperationFacts.
 */
export type NativeOperationFacts = Pick<
  OperationFacts,
  'name' | 'transfer' | 'fillsAddress' | 'fillsStat' | 'waitsOnDescriptor' | 'socket' | 'multishot'
> & {
  /** The aio-core Opcode value: the entry's index. */
  readonly opcode: number;
};

/** The traits compared: each one aio-core or a TypeScript backend acts on. */
const TRAITS = [
  'transfer',
  'fillsAddress',
  'fillsStat',
  'waitsOnDescriptor',
  'socket',
  'multishot',
] as const satisfies readonly (keyof NativeOperationFacts)[];

/**
 * Where `native` (an addon's operation table, indexed by opcode) disagrees with aio-core's
 * OPERATION_TABLE, one line per difference ('recv: transfer is false natively, true in
 * aio-core'); empty when they agree.
 */
export function operationTableDifferences(native: readonly NativeOperationFacts[]): string[] {
  const differences: string[] = [];
  if (native.length !== OPCODE_COUNT) {
    differences.push(`the native table has ${native.length} entries, aio-core ${OPCODE_COUNT} opcodes`);
  }
  for (let opcode = 0; opcode < Math.max(native.length, OPERATION_TABLE.length); opcode++) {
    const theirs = native[opcode];
    const ours: OperationFacts | undefined = OPERATION_TABLE[opcode];
    if (theirs === undefined || ours === undefined) {
      differences.push(
        `opcode ${opcode}: ${theirs === undefined ? 'missing natively' : 'unknown to aio-core'}`,
      );
      continue;
    }
    if (theirs.opcode !== opcode) differences.push(`entry ${opcode} has opcode ${theirs.opcode} natively`);
    if (theirs.name !== ours.name) {
      differences.push(`opcode ${opcode}: named ${theirs.name} natively, ${ours.name} in aio-core`);
    }
    for (const trait of TRAITS) {
      if (theirs[trait] !== ours[trait]) {
        differences.push(
          `${ours.name}: ${trait} is ${String(theirs[trait])} natively, ${String(ours[trait])} in aio-core`,
        );
      }
    }
  }
  return differences;
}
