export * from '@proactor/aio-core';
export {
  type CandidateOutcome,
  createQueue,
  type Selection,
  type SelectOptions,
  selectBackend,
} from './select.js';
