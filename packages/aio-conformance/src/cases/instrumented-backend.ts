import { type Backend, decodeSubmission, type Submission } from '@proactor/aio-core';
import { observeBoundary } from '../observed-backend.js';

/** What an instrumented backend saw cross the boundary. */
export interface BoundaryCounts {
  /** Calls of engine.submit(). */
  submitCalls: number;
  /** Entries handed over in those calls (operations and cancels). */
  entries: number;
  /** Calls of ring.complete(). */
  completeCalls: number;
  /** Completions delivered. */
  completions: number;
  /** Every submission entry, decoded, in the order the engine received them. */
  submitted: Submission[];
  /** Most entries submitted and not yet completed, sampled at each submit (exact for queues without cancels). */
  maxOutstanding: number;
}

/**
 * Wraps `backend` so a case can observe the boundary between the queue and its engine: how
 * many submit calls, how many entries, how many completion batches.
 */
export function instrument(backend: Backend): { backend: Backend; counts: BoundaryCounts } {
  const counts: BoundaryCounts = {
    submitCalls: 0,
    entries: 0,
    completeCalls: 0,
    completions: 0,
    submitted: [],
    maxOutstanding: 0,
  };
  const wrapped = observeBoundary(backend, {
    submitted(ring, count) {
      const sq = new Uint32Array(ring.submissions);
      counts.submitCalls++;
      counts.entries += count;
      for (let i = 0; i < count; i++) counts.submitted.push(decodeSubmission(sq, i));
      counts.maxOutstanding = Math.max(counts.maxOutstanding, counts.entries - counts.completions);
    },
    completed(_ring, count) {
      counts.completeCalls++;
      counts.completions += count;
    },
  });
  return { backend: wrapped, counts };
}
