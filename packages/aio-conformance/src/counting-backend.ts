import {
  type Backend,
  CQE_F_MORE,
  CQE_SIZE,
  CqeOffset,
  Opcode,
  SQE_SIZE,
  SqeOffset,
} from '@proactor/aio-core';
import { observeBoundary } from './observed-backend.js';

/** Operations that crossed the boundary between the queues and their engines. */
export interface OperationCounts {
  /** Operations submitted (cancel requests are not operations). */
  started: number;
  /** Final completions delivered: exactly `started` once every queue went idle or was destroyed. */
  finished: number;
  /** Completions that were not final (multishot items). */
  items: number;
}

/**
 * Wraps `backend` so that every operation started and every final result delivered is counted,
 * cheaply enough for long runs (nothing is kept per operation). A lost or doubled completion
 * shows as `started !== finished` once the queues are idle.
 */
export function countOperations(backend: Backend): { backend: Backend; counts: OperationCounts } {
  const counts: OperationCounts = { started: 0, finished: 0, items: 0 };
  const wrapped = observeBoundary(backend, {
    submitted(ring, count) {
      const sq = new Uint8Array(ring.submissions);
      for (let i = 0; i < count; i++)
        if (sq[i * SQE_SIZE + SqeOffset.opcode] !== Opcode.CANCEL) counts.started++;
    },
    completed(ring, count) {
      const cq = new DataView(ring.completions);
      for (let i = 0; i < count; i++) {
        if ((cq.getUint32(i * CQE_SIZE + CqeOffset.flags, true) & CQE_F_MORE) !== 0) counts.items++;
        else counts.finished++;
      }
    },
  });
  return { backend: wrapped, counts };
}
