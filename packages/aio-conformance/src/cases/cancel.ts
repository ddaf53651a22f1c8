import type { ConformanceCase } from '../case.js';

export const cancelCases: ConformanceCase[] = [];
