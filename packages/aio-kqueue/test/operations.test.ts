import { operationTableDifferences } from '@proactor/aio-conformance';
import { expect, it } from 'vitest';
import { operations } from '../src/index.js';

// The kqueue build of the reactor addon carries the shared table (native/common/operation_table.h)
// too; aio-epoll's test covers the table's shape, this one that this build agrees with aio-core.
it("the kqueue addon's operation table agrees with aio-core's OPERATION_TABLE", () => {
  expect(operationTableDifferences(operations)).toEqual([]);
});
