/// <reference types="node" preserve="true" />
export type { CaseContext, ConformanceCase, Need } from './case.js';
export { skipReason } from './case.js';
export {
  compareBackends,
  type Divergence,
  generateScript,
  generateSocketScript,
  isSocketScript,
  type KnownDifference,
  runScript,
  runSocketScript,
  type SocketAction,
  type SocketKind,
  type SocketScriptOptions,
  type SocketStep,
  type Step,
  snapshot,
} from './differential.js';
export { cases, loadTarget, runCase, type Target } from './runner.js';
export {
  type RunOptions,
  registerConformance,
  runSuite,
  type SuiteResult,
  selectCases,
  type TestHost,
} from './suite.js';
