import type { ConformanceCase } from '../case.js';
import { openCloseCases } from './open-close.js';

/** Every case, in the order the runners execute them. */
export const cases: readonly ConformanceCase[] = [...openCloseCases];
