/// <reference types="node" preserve="true" />
export * from '@proactor/aio-core';
export {
  type CandidateOutcome,
  createQueue,
  type SelectedQueue,
  type Selection,
  type SelectOptions,
  selectBackend,
} from './select.js';
