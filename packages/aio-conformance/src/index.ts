/// <reference types="node" preserve="true" />
export type { CaseContext, ConformanceCase, Need } from './case.js';
export { skipReason } from './case.js';
export { directIoUnavailable, pageAlignedBuffer } from './cases/direct-io.js';
export { type ChurnOptions, type ChurnReport, churnFailure, socketChurn } from './churn.js';
export { countOperations, type OperationCounts } from './counting-backend.js';
export {
  canRunSocketScripts,
  compareBackends,
  compareOnScript,
  type Divergence,
  type FileScriptOptions,
  generateDirectScript,
  generateScript,
  generateSocketScript,
  isSocketScript,
  type KnownDifference,
  runScript,
  runSocketScript,
  type ScriptKind,
  type SocketAction,
  type SocketKind,
  type SocketScriptOptions,
  type SocketStep,
  type Step,
  snapshot,
  socketScriptOptionsHere,
} from './differential.js';
export {
  type FaultCase,
  type FaultCaseContext,
  type FaultControl,
  type FaultReport,
  faultCases,
} from './fault-cases.js';
export { type NativeOperationFacts, operationTableDifferences } from './operation-table.js';
export { cases, loadTarget, runCase, type Target } from './runner.js';
export {
  type RunOptions,
  registerConformance,
  runSuite,
  type SuiteResult,
  selectCases,
  type TestHost,
} from './suite.js';
