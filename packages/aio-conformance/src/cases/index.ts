import type { ConformanceCase } from '../case.js';
import { openCloseCases } from './open-close.js';
import { readWriteCases } from './read-write.js';
import { vectoredCases } from './vectored.js';
import { syncTruncateCases } from './sync-truncate.js';
import { statCases } from './stat.js';
import { directoryEntryCases } from './directory-entries.js';
import { controlCases } from './control.js';
import { cancelCases } from './cancel.js';
import { linkedCases } from './linked.js';
import { backpressureCases } from './backpressure.js';
import { lifecycleCases } from './lifecycle.js';
import { formCases } from './forms.js';
import { argumentCases } from './arguments.js';
import { workerCases } from './workers.js';

/** Every case, in the order the runners execute them. */
export const cases: readonly ConformanceCase[] = [
  ...openCloseCases,
  ...readWriteCases,
  ...vectoredCases,
  ...syncTruncateCases,
  ...statCases,
  ...directoryEntryCases,
  ...controlCases,
  ...cancelCases,
  ...linkedCases,
  ...backpressureCases,
  ...lifecycleCases,
  ...formCases,
  ...argumentCases,
  ...workerCases,
];
